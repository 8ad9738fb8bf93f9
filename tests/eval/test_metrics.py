"""drivebench.eval.metrics: per-episode metrics on synthetic episodes (hand-made arrays, values derived by hand),
and the detectors behind them on constructed simulator states."""
from __future__ import annotations

import math

import numpy as np
import pytest

from drivebench.eval import score
from drivebench.eval.harness import run_chunk
from drivebench.eval.metrics import episode_metrics
from drivebench.eval.policies import LoadedPolicy
from drivebench.core.records import METRIC_FIELDS, Outcome
from drivebench.core.records import Episode
from drivebench.core.rollout import run_episode
from drivebench.experts.registry import experts_for
from drivebench.scenarios import registry
from drivebench.families.curve.env import CurveEnv
from drivebench.families.parking.env import ParkingEnv
from drivebench.scenarios.envs import Collision
from drivebench.scenarios.spec import parse_spec

DT = 0.2  # the fixtures' specs decide 5 times per second
CURVE_SIGNALS = ("off_road", "progress", "collision", "s", "lateral_offset", "heading_error", "lane", "lane_offset",
                 "speed_limit")
PARKING_SIGNALS = ("off_road", "progress", "collision", "goal_distance", "in_goal_bay", "other_bay", "occupied_bay")


def synthetic(termination: str, speed, signals: dict, names, heading=None) -> Episode:
    """An Episode with T = len(speed) - 1 steps; signals not given are zero."""
    speed = np.asarray(speed, np.float32)
    n = len(speed)
    heading = np.zeros(n) if heading is None else np.asarray(heading, float)
    x = np.concatenate([[0.0], np.cumsum(speed[:-1] * DT)])
    poses = np.stack([x, np.zeros(n), heading, speed], axis=1).astype(np.float32)
    sig = {name: np.asarray(signals.get(name, np.zeros(n)), np.float32) for name in names}
    assert all(len(v) == n for v in sig.values())
    return Episode(seed=0, observations=np.zeros((n, 3), np.float32), actions=np.zeros((n - 1, 2), np.float32),
                   rewards=np.zeros(n - 1, np.float32), poses=poses, signals=sig, termination=termination)


@pytest.fixture
def curve_spec(curve_data):
    spec = parse_spec({**curve_data, "name": "synthetic-curve"})
    assert spec.policy_frequency == 5 and spec.road.speed_limit == 12.0 and spec.road.lane_width == 4.0
    return spec


@pytest.fixture
def parking_spec(parking_data):
    spec = parse_spec({**parking_data, "name": "synthetic-lot"})
    assert spec.policy_frequency == 5
    return spec


# ---------------------------------------------------------------------------------------------- synthetic episodes
def test_curve_episode_that_arrives(curve_spec):
    """10 steps (2 s). Off-road at observations 2-3 and 6 (two excursions, 3 observations); one drift over the
    lane line and back (observations 3-4); 13 m/s > 1.05 x 12 m/s at observations 7-8."""
    speed = [10.0] * 7 + [13.0, 13.0] + [10.0] * 2
    ep = synthetic("arrived", speed, {
        "off_road": [0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0],
        "lane_offset": [0, 0, 0, 1.5, 1.5, 0, 0, 0, 0, 0, 0],
        "progress": np.linspace(0.0, 1.0, 11),
    }, CURVE_SIGNALS)
    m = episode_metrics(ep, curve_spec)
    assert set(METRIC_FIELDS) == set(m.__dataclass_fields__)
    assert m.success and m.termination == "arrived" and m.route_completion == 1.0
    assert m.steps == 10
    assert m.duration == pytest.approx(2.0) and m.time_to_goal == pytest.approx(2.0)
    assert m.collision == "none"
    assert m.off_road_count == 2 and m.off_road_time == pytest.approx(3 * DT)
    assert m.lane_departures == 1
    assert m.speeding_time == pytest.approx(2 * DT)
    assert m.wrong_way_time == 0.0 and m.reversing_time == 0.0
    assert m.occupied_bay_time == 0.0 and m.other_bay_time == 0.0
    assert m.mean_speed == pytest.approx((9 * 10 + 2 * 13) / 11, rel=1e-6) and m.max_speed == 13.0
    # shares are over the 10 decision periods, each counted by the state it ended in
    expected = 100 * 1.0 * 0.9 * (1 - 3 / 10) * (1 - 0.3 * 2 / 10)
    assert m.driving_score == pytest.approx(expected)


def test_curve_episode_that_leaves_the_road(curve_spec):
    """Turned around for 6 observations (1.2 s, wrong way), reversing for 3, ends off-road at 40% progress."""
    he = [0, 0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 0.5, 0.5]
    speed = [8, 6, 4, 2, -0.5, -1.0, -1.0, 1.0, 3.0, 5.0]
    ep = synthetic("off_road", speed, {
        "heading_error": he,
        "off_road": [0] * 7 + [1, 1, 1],
        "progress": [0, .1, .15, .2, .2, .19, .18, .25, .3, .4],
    }, CURVE_SIGNALS)
    m = episode_metrics(ep, curve_spec)
    assert not m.success and m.termination == "off_road" and math.isnan(m.time_to_goal)
    assert m.steps == 9 and m.duration == pytest.approx(1.8)
    assert m.wrong_way_time == pytest.approx(6 * DT)
    assert m.reversing_time == pytest.approx(3 * DT)
    assert m.off_road_count == 1 and m.off_road_time == pytest.approx(3 * DT)
    assert m.route_completion == pytest.approx(0.4)
    factor = score.PENALTIES["left_road"] * score.PENALTIES["wrong_way"] * (1 - 3 / 9)
    assert m.driving_score == pytest.approx(100 * 0.4 * factor, rel=1e-6)


def test_starting_off_road_is_time_but_not_an_entry(curve_spec):
    ep = synthetic("timeout", [5.0] * 8, {"off_road": [1, 1, 0, 0, 1, 1, 0, 0],
                                          "progress": np.linspace(0, 0.5, 8)}, CURVE_SIGNALS)
    m = episode_metrics(ep, curve_spec)
    assert m.off_road_count == 1  # the excursion at 4-5; the first two observations are where it was put
    # 7 decision periods; those ending at observations 1, 4 and 5 end off-road (observation 0 lasts no time)
    assert m.off_road_time == pytest.approx(3 * DT)


def test_collision_kind_is_the_worst_signal(curve_spec):
    vehicle = synthetic("crashed", [5.0] * 4, {"collision": [0, 0, 0, Collision.VEHICLE]}, CURVE_SIGNALS)
    static = synthetic("crashed", [5.0] * 4, {"collision": [0, 0, 1, 2]}, CURVE_SIGNALS)
    assert episode_metrics(vehicle, curve_spec).collision == "vehicle"
    assert episode_metrics(static, curve_spec).collision == "static"


def test_parking_episode_through_an_occupied_bay_into_a_parked_car(parking_spec):
    """8 steps; the centre crosses an occupied bay for 3 observations, the body reaches other bays for 5; it
    hits a parked car at 50% progress."""
    ep = synthetic("crashed", [2.0] * 9, {
        "occupied_bay": [0, 0, 1, 1, 1, 0, 0, 0, 0],
        "other_bay": [0, 1, 1, 1, 1, 1, 0, 0, 0],
        "collision": [0] * 8 + [1],
        "progress": np.linspace(0.0, 0.5, 9),
    }, PARKING_SIGNALS)
    m = episode_metrics(ep, parking_spec)
    assert m.termination == "crashed" and not m.success and math.isnan(m.time_to_goal)
    assert m.steps == 8 and m.duration == pytest.approx(1.6)
    assert m.collision == "vehicle"
    assert m.occupied_bay_time == pytest.approx(3 * DT) and m.other_bay_time == pytest.approx(5 * DT)
    assert m.lane_departures == 0 and m.speeding_time == 0.0 and m.wrong_way_time == 0.0  # curve-only
    assert m.driving_score == pytest.approx(100 * 0.5 * 0.60 * 0.80)


def test_parking_episode_that_arrives(parking_spec):
    speed = [1.0, 2.0, 2.0, -1.0, -1.0, 1.0, 0.5, 0.0]  # a back-and-forth manoeuvre, then stopped
    ep = synthetic("arrived", speed, {"progress": [0, .2, .4, .45, .5, .7, .9, 1.0], "in_goal_bay": [0] * 7 + [1]},
                   PARKING_SIGNALS)
    m = episode_metrics(ep, parking_spec)
    assert m.success and m.time_to_goal == pytest.approx(7 * DT) == m.duration
    assert m.reversing_time == pytest.approx(2 * DT)
    assert m.speeding_time == 0.0  # no speed limit in a lot
    assert m.driving_score == 100.0


def test_stuck_and_timeout_are_penalised(parking_spec):
    for termination in ("stuck", "timeout"):
        ep = synthetic(termination, [0.0] * 6, {"progress": [0, .3, .3, .3, .3, .3]}, PARKING_SIGNALS)
        m = episode_metrics(ep, parking_spec)
        assert m.driving_score == pytest.approx(100 * 0.3 * 0.70)
        assert math.isnan(m.time_to_goal)


def test_invalid_action_at_the_first_decision(curve_spec):
    """No step was taken: one observation, no actions; the metrics still exist and the score is 0."""
    ep = synthetic(Outcome.INVALID_ACTION.value, [9.0], {"progress": [0.0]}, CURVE_SIGNALS)
    assert ep.steps == 0
    m = episode_metrics(ep, curve_spec)
    assert m.steps == 0 and m.duration == 0.0 and m.driving_score == 0.0
    assert m.comfort_violations == 0 and m.mean_abs_jerk == 0.0 and m.mean_speed == 9.0


def test_invalid_action_mid_episode_scores_zero_whatever_the_progress(curve_spec):
    ep = synthetic("invalid_action", [9.0] * 5, {"progress": [0, .2, .4, .6, .8]}, CURVE_SIGNALS)
    m = episode_metrics(ep, curve_spec)
    assert m.route_completion == pytest.approx(0.8) and m.driving_score == 0.0


def test_comfort_metrics_on_a_braking_episode(curve_spec):
    speed = [12.0, 12.0, 12.0, 11.0, 10.0, 9.0, 8.0, 7.0, 7.0, 7.0, 7.0]  # -5 m/s^2 for 1 s
    m = episode_metrics(synthetic("timeout", speed, {}, CURVE_SIGNALS), curve_spec)
    assert m.comfort_violations >= 4
    assert m.mean_abs_jerk > 0
    calm = episode_metrics(synthetic("timeout", [10.0] * 11, {}, CURVE_SIGNALS), curve_spec)
    assert calm.comfort_violations == 0 and calm.mean_abs_jerk == 0.0


def test_time_in_an_infraction_never_exceeds_the_episode(curve_spec):
    ep = synthetic("off_road", [5.0] * 6, {"off_road": [1] * 6, "progress": np.linspace(0, .2, 6)}, CURVE_SIGNALS)
    m = episode_metrics(ep, curve_spec)
    assert m.duration == pytest.approx(5 * DT)
    assert m.off_road_time <= m.duration


# ---------------------------------------------------------------------------------------------- simulator states
STAND_STILL = np.zeros(2, np.float32)


def place(env, x: float, y: float, heading: float, speed: float = 0.0) -> dict:
    """Put the car at a pose and step once with no input; returns the step's info."""
    v = env.vehicle
    v.position, v.heading, v.speed = np.array([x, y], float), heading, speed
    *_, info = env.step(STAND_STILL)
    return info


def test_car_placed_in_a_wall_collides_with_a_static_object():
    env = ParkingEnv(registry.get("parking-empty").spec)
    env.reset(seed=0)
    west_wall = min(env.lot.walls, key=lambda w: w.x)
    assert west_wall.x < 0 < west_wall.x + west_wall.length  # it spans x = -1..0
    info = place(env, 1.0, 0.0, 0.0)  # facing east, its rear half (2.5 m long) reaches x = -1.5
    assert info["collision"] == Collision.STATIC == 2
    assert info["termination"] == "crashed" and info["crashed"]


def test_car_placed_on_a_parked_car_collides_with_a_vehicle(parking_data):
    parking_data["occupancy"] = {"occupied": ["N1"]}
    env = ParkingEnv({**parking_data, "name": "one-parked"})
    env.reset(seed=0)
    bay = env.lot.bay("N1").rect
    info = place(env, bay.x, bay.y, bay.heading)
    assert info["collision"] == Collision.VEHICLE == 1
    assert info["termination"] == "crashed"


def test_car_in_open_space_has_no_collision():
    env = ParkingEnv(registry.get("parking-empty").spec)
    env.reset(seed=0)
    info = place(env, env.lot.aisle.x, 0.0, 0.0)
    assert info["collision"] == 0 and info["termination"] is None and info["off_road"] == 0


@pytest.fixture
def gentle():
    env = CurveEnv(registry.get("curve-gentle").spec)
    env.reset(seed=0)
    return env


def place_on_road(env, s: float, d: float) -> dict:
    """Put the car at (s along, d right of) the centreline, aligned with the road, and step once."""
    x, y = env.centreline.point(s, d)
    return place(env, x, y, env.centreline.pose(s)[2], speed=5.0)


def test_curve_car_past_the_edge_is_off_road_then_ends_beyond_the_grace(gentle):
    road = gentle.scenario.road
    edge = road.lanes * road.lane_width / 2  # 4 m
    assert road.offroad_grace == 2.0
    within = place_on_road(gentle, 15.0, edge + 1.0)  # every corner past the edge; centre within the grace
    assert within["off_road"] == 1 and within["termination"] is None
    assert within["lane"] == road.lanes - 1 and within["lane_offset"] == pytest.approx(3.0, abs=1e-6)
    gentle.reset(seed=0)
    beyond = place_on_road(gentle, 15.0, -(edge + road.offroad_grace + 0.5))  # left, past the grace
    assert beyond["off_road"] == 1 and beyond["termination"] == "off_road"
    assert beyond["lane"] == 0 and beyond["lateral_offset"] == pytest.approx(-6.5, abs=1e-6)


def test_curve_car_in_its_lane_is_on_the_road(gentle):
    info = place_on_road(gentle, 15.0, 2.0)  # centre of the right lane
    assert info["off_road"] == 0 and info["termination"] is None and info["lane"] == 1
    assert info["lane_offset"] == pytest.approx(0.0, abs=1e-6)


def test_hard_left_policy_registers_leaving_the_road():
    """Full throttle-ish and full left steering on curve-s-bend (one lane): the car leaves the road."""
    spec = registry.get("curve-s-bend").spec
    hard_left = LoadedPolicy("hard-left", "h", lambda env, obs: np.array([0.3, -1.0], np.float32))
    env = CurveEnv(spec)
    for seed in (1, 2):
        episode = run_episode(env, hard_left.act, seed)
        m = episode_metrics(episode, spec)
        assert m.termination in ("off_road", "crashed") and not m.success
        assert m.off_road_time > 0 or m.collision != "none"
        assert m.off_road_count >= 1
        if m.termination == "off_road":  # x 0.65 and x (1 - off-road share) < 1
            assert m.driving_score < 100 * score.PENALTIES["left_road"] * m.route_completion


EXPERT_PAIRS = [(e.name, x.id) for e in registry.entries() for x in experts_for(e.spec)]


@pytest.mark.parametrize("scenario, expert", EXPERT_PAIRS, ids=[f"{s}-{x}" for s, x in EXPERT_PAIRS])
def test_experts_trigger_no_detector_on_their_scenarios(scenario, expert):
    spec = registry.get(scenario).spec
    for record in run_chunk(expert, spec.model_dump(mode="json"), "none", 0, [1_000_000, 1_000_001, 1_000_002]):
        m = record.metrics
        assert m.success and m.collision == "none"
        assert m.off_road_time == 0.0 and m.off_road_count == 0
        assert m.lane_departures == 0 and m.wrong_way_time == 0.0 and m.occupied_bay_time == 0.0
        assert m.driving_score >= 95.0
