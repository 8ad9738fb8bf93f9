"""The curve experts in traffic (issue 18): gap acceptance before a lane change, its abort, IDM-like following,
side clearance; no crash on three narrow lanes of slower traffic, where the sporty expert used to crash in 10% of
episodes while overtaking."""
from __future__ import annotations

import pytest

from drivebench.eval.metrics import episode_metrics
from drivebench.core.rollout import expert_policy, run_episode
from drivebench.experts.registry import get_expert
from drivebench.families.curve.env import CurveEnv
from drivebench.families.curve.experts import STANDSTILL_GAP, Other, following_speed
from drivebench.scenarios.spec import parse_spec

NARROW_TRAFFIC = {
    "family": "curve", "name": "narrow-traffic", "horizon": 300,
    "road": {"lanes": 3, "lane_width": 2.5, "speed_limit": 15.0, "segments": [
        {"kind": "straight", "length": 50}, {"kind": "arc", "radius": 50, "angle_deg": 45, "direction": "right"},
        {"kind": "straight", "length": 40}, {"kind": "arc", "radius": 50, "angle_deg": 45, "direction": "left"},
        {"kind": "straight", "length": 60}]},
    "traffic": {"count": 10, "speed": [5, 8], "first_gap": [20, 35], "spacing": [8, 20]},
    "start": {"lane": "any", "lateral_offset": [-0.4, 0.4], "heading_deg": [-3, 3], "speed": [9, 11]},
}


@pytest.mark.parametrize("style", ["cautious", "sporty"])
def test_no_crash_and_no_lane_departure_on_narrow_lanes_of_slower_traffic(style):
    """Before issue 18, seeds 11, 25 and 27 crashed the sporty expert here (5 of 50) and 74% of its episodes had a
    lane departure; the sporty expert still overtakes."""
    spec = parse_spec(NARROW_TRAFFIC)
    env, expert = CurveEnv(spec), get_expert(style)
    lane_changes = 0
    for seed in (11, 25, 27, 0, 1, 2):
        episode = run_episode(env, expert_policy(expert), seed)
        metrics = episode_metrics(episode, spec)
        assert metrics.success and metrics.collision == "none", (seed, metrics.termination)
        assert metrics.lane_departures == 0, seed
        lane = episode.signals["lane"]
        lane_changes += int((lane[1:] != lane[:-1]).sum())
    if style == "sporty":
        assert lane_changes > 0


def _expert():
    return get_expert("sporty")


def test_gap_acceptance_weighs_the_relative_speeds():
    expert = _expert()
    speed = 15.0
    assert expert._gap_ok([], 1, speed)
    # a slower car 30 m ahead in the target lane: 25 m of gap, but closing at 8 m/s it is not enough
    assert not expert._gap_ok([Other(30.0, 0.0, 7.0, 1)], 1, speed)
    assert expert._gap_ok([Other(30.0, 0.0, 15.0, 1)], 1, speed)  # the same gap at our speed is
    # a faster car 20 m behind: it would close on us during the change
    assert not expert._gap_ok([Other(-20.0, 0.0, 22.0, 1)], 1, speed)
    assert expert._gap_ok([Other(-20.0, 0.0, 10.0, 1)], 1, speed)
    assert not expert._gap_ok([Other(1.0, 0.0, 15.0, 1)], 1, speed)  # alongside
    assert expert._gap_ok([Other(1.0, 0.0, 15.0, 0)], 1, speed)  # another lane: not in the gap


def test_a_change_under_way_goes_on_through_a_marginal_gap_but_not_a_closing_one():
    expert = _expert()
    marginal = [Other(20.0, 0.0, 12.0, 1)]  # 15 m, closing at 3 m/s
    assert not expert._gap_ok(marginal, 1, 15.0) and expert._gap_ok(marginal, 1, 15.0, abort=True)
    closing = [Other(12.0, 0.0, 3.0, 1)]  # 7 m, closing at 12 m/s: it must go back
    assert not expert._gap_ok(closing, 1, 15.0, abort=True)


def test_following_speed():
    # at the leader's speed and IDM's desired gap (standstill + headway), keep its speed
    assert following_speed(10.0, 10.0, STANDSTILL_GAP + 10.0, time_headway=1.0, braking=3.0) == pytest.approx(10.0)
    # further back: faster, closer: slower, never below 0
    assert following_speed(10.0, 10.0, 40.0, time_headway=1.0, braking=3.0) > 10.0
    assert following_speed(10.0, 10.0, 8.0, time_headway=1.0, braking=3.0) < 10.0
    assert following_speed(15.0, 0.0, 2.0, time_headway=1.0, braking=3.0) == 0.0
    # closing fast on a slow leader far ahead: no faster than what stops the closing in the gap left
    v = following_speed(20.0, 5.0, 30.0, time_headway=0.0, braking=3.0)
    assert v <= 5.0 + (2 * 3.0 * (30.0 - STANDSTILL_GAP)) ** 0.5
