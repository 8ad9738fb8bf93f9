"""drivebench.eval.summary: rates and means with intervals, and the IQM of driving scores, on hand-made records."""
from __future__ import annotations

import math

import numpy as np
import pytest

from drivebench.eval.metrics import episode_metrics
from drivebench.core.records import EpisodeMetrics, EpisodeRecord, Trajectory
from drivebench.core.rollout import run_episode
from drivebench.eval.summary import MEANS, RATES, iqm_driving_score, summarize
from drivebench.families.curve.env import CurveEnv
from drivebench.scenarios.spec import parse_spec

BASE = dict(success=True, termination="arrived", route_completion=1.0, steps=50, duration=10.0, time_to_goal=10.0,
            collision="none", off_road_time=0.0, off_road_count=0, lane_departures=0, wrong_way_time=0.0,
            reversing_time=0.0, speeding_time=0.0, occupied_bay_time=0.0, other_bay_time=0.0, mean_speed=10.0,
            max_speed=12.0, comfort_violations=0, mean_abs_jerk=0.5, driving_score=100.0)


def record(seed: int = 0, **metrics) -> EpisodeRecord:
    failed = {} if metrics.get("success", True) else {"time_to_goal": math.nan}
    return EpisodeRecord(agent="a", agent_hash="h", scenario="s", scenario_hash="sh", shift="none", level=0, seed=seed,
                         metrics=EpisodeMetrics(**{**BASE, **failed, **metrics}),
                         trajectory=Trajectory(np.zeros((1, 4), np.float32), {}))


def mixed() -> list[EpisodeRecord]:
    """10 episodes: 6 clean arrivals, 1 arrival with 2 lane departures, 2 crashes, 1 off-road exit."""
    out = [record(i, driving_score=100.0, mean_speed=9.0 + i / 10) for i in range(6)]
    out.append(record(6, lane_departures=2, driving_score=81.0, comfort_violations=3))
    out += [record(7 + i, success=False, termination="crashed", collision=kind, route_completion=0.5,
                   driving_score=30.0) for i, kind in enumerate(("vehicle", "static"))]
    out.append(record(9, success=False, termination="off_road", off_road_time=0.6, off_road_count=1,
                      route_completion=0.4, driving_score=20.0, lane_departures=1))
    return out


def test_summary_keys():
    out = summarize(mixed())
    assert set(out) == {"episodes", *RATES, *MEANS}
    assert {"success_rate", "crash_rate", "offroad_rate", "lane_departure_rate", "driving_score"} <= set(out)
    assert out["episodes"] == 10
    assert all(set(out[k]) == {"mean", "ci_low", "ci_high"} for k in out if k != "episodes")


def test_summary_values():
    out = summarize(mixed())
    assert out["success_rate"]["mean"] == pytest.approx(0.7)
    assert out["crash_rate"]["mean"] == pytest.approx(0.2)
    assert out["offroad_rate"]["mean"] == pytest.approx(0.1)
    assert out["lane_departure_rate"]["mean"] == pytest.approx(0.2)
    assert out["timeout_rate"]["mean"] == 0.0 and out["invalid_rate"]["mean"] == 0.0
    assert out["driving_score"]["mean"] == pytest.approx((600 + 81 + 60 + 20) / 10)
    assert out["route_completion"]["mean"] == pytest.approx((7 + 1.0 + 0.4) / 10)
    assert out["comfort_violations"]["mean"] == pytest.approx(0.3)


def test_intervals_bracket_the_means():
    rng = np.random.default_rng(0)
    records = [record(i, success=bool(ok), termination="arrived" if ok else "timeout", driving_score=float(score),
                      mean_speed=float(speed))
               for i, (ok, score, speed) in enumerate(zip(rng.random(40) < 0.6, rng.uniform(0, 100, 40),
                                                          rng.normal(10, 2, 40)))]
    for name, est in summarize(records).items():
        if name == "episodes":
            continue
        assert est["ci_low"] <= est["mean"] <= est["ci_high"], name
        if name in RATES:
            assert 0.0 <= est["ci_low"] and est["ci_high"] <= 1.0, name
    out = summarize(records)
    assert out["success_rate"]["ci_low"] < out["success_rate"]["mean"] < out["success_rate"]["ci_high"]
    assert out["driving_score"]["ci_low"] < out["driving_score"]["mean"] < out["driving_score"]["ci_high"]
    assert out["driving_score"]["ci_high"] - out["driving_score"]["ci_low"] < 40  # ~ 4 x 29 / sqrt(40) = 18


def test_a_rate_of_zero_or_one_keeps_its_bounds():
    out = summarize([record(i) for i in range(20)])
    assert out["success_rate"]["mean"] == 1.0 and out["success_rate"]["ci_high"] == 1.0
    assert out["crash_rate"]["mean"] == 0.0 and out["crash_rate"]["ci_low"] == 0.0
    assert out["driving_score"] == {"mean": 100.0, "ci_low": 100.0, "ci_high": 100.0}


def test_offroad_rate_counts_leaving_the_road_not_starting_off_it():
    started_off = record(0, off_road_time=0.4, off_road_count=0)  # put off the road by a shift, drove back on
    left = record(1, off_road_time=0.4, off_road_count=1)
    ended_off = record(2, success=False, termination="off_road", off_road_time=0.2, off_road_count=0)
    assert summarize([started_off])["offroad_rate"]["mean"] == 0.0
    assert summarize([left])["offroad_rate"]["mean"] == 1.0
    assert summarize([ended_off])["offroad_rate"]["mean"] == 1.0


def test_an_episode_driven_entirely_off_the_road_counts_as_off_road():
    """Start 1.9 m right of centre on one 4 m lane and drive straight: the centre stays on the road (it arrives),
    the body sticks out 0.9 m past the edge (> 0.3 m tolerance) at every step, and the score is 0."""
    spec = parse_spec({"family": "curve", "name": "on-the-shoulder", "horizon": 100,
                       "road": {"lanes": 1, "lane_width": 4.0, "speed_limit": 10.0,
                                "segments": [{"kind": "straight", "length": 80.0}]},
                       "start": {"lateral_offset": [0.0, 0.0], "heading_deg": [0, 0], "speed": [8, 8]}})
    # a start off the road is refused by the file's checks (start.lateral_offset): set it past them
    spec = spec.model_copy(update={"start": spec.start.model_copy(update={"lateral_offset": (1.9, 1.9)})})
    episode = run_episode(CurveEnv(spec), lambda env, obs: np.zeros(2, np.float32), seed=0)
    m = episode_metrics(episode, spec)
    assert m.success and episode.off_road.all()
    assert m.off_road_time == pytest.approx(m.duration) and m.driving_score == 0.0
    out = summarize([EpisodeRecord(agent="a", agent_hash="h", scenario=spec.name, scenario_hash="sh", shift="none",
                                   level=0, seed=0, metrics=m, trajectory=Trajectory(episode.poses, episode.signals))])
    assert out["offroad_rate"]["mean"] == 1.0


def test_timeouts_stuck_and_invalid_rates():
    records = [record(0, success=False, termination="timeout"), record(1, success=False, termination="stuck"),
               record(2, success=False, termination="invalid_action", driving_score=0.0), record(3)]
    out = summarize(records)
    assert out["timeout_rate"]["mean"] == 0.5 and out["invalid_rate"]["mean"] == 0.25


def test_iqm_driving_score_on_two_scenarios():
    """All 8 scores sorted: 0 10 20 30 40 50 60 100; the IQM drops two at each end: (20+30+40+50)/4 = 35."""
    per_scenario = {"a": [record(i, driving_score=s) for i, s in enumerate([0.0, 50.0, 60.0, 100.0])],
                    "b": [record(i, driving_score=s) for i, s in enumerate([10.0, 20.0, 30.0, 40.0])]}
    out = iqm_driving_score(per_scenario)
    assert out["mean"] == pytest.approx(35.0)
    assert out["ci_low"] <= 35.0 <= out["ci_high"]
    assert 0.0 <= out["ci_low"] and out["ci_high"] <= 100.0


def test_iqm_is_robust_to_one_outlier_per_scenario():
    per_scenario = {name: [record(i, driving_score=s) for i, s in enumerate([80.0, 80.0, 80.0, 0.0])]
                    for name in ("a", "b", "c")}
    assert iqm_driving_score(per_scenario)["mean"] == pytest.approx(80.0)  # the mean would be 60


def test_iqm_uses_the_common_episodes():
    """Scenario b has two more episodes than a; only the first 4 of each (the shared seeds) count."""
    per_scenario = {"a": [record(i, driving_score=50.0) for i in range(4)],
                    "b": [record(i, driving_score=50.0) for i in range(4)] + [record(9, driving_score=0.0)] * 2}
    out = iqm_driving_score(per_scenario)
    assert out == {"mean": 50.0, "ci_low": 50.0, "ci_high": 50.0}
