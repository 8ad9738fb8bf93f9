"""drivebench.eval.events: pure per-step events on constructed arrays (values derived by hand or analytically)."""
from __future__ import annotations


import numpy as np
import pytest

from drivebench.eval.events import (
    COMFORT_BOUNDS,
    comfort_violations,
    entries,
    kinematics,
    lane_departures,
    reversing,
    runs,
    speeding,
    wrong_way,
)

DT = 0.2  # 5 decisions per second, as every shipped scenario
CAR_LENGTH, CAR_WIDTH, LANE_WIDTH = 5.0, 2.0, 4.0
# Straight car (no heading error): its body reaches |offset| + 1 m from the lane centre, so it straddles a line
# when |offset| > 4 / 2 + 0.1 - 1 = 1.1 m.


def poses_from(speed, heading, dt=DT):
    """(T, 4) poses with x, y integrated from speed and heading (x, y are not read by kinematics)."""
    speed, heading = np.asarray(speed, float), np.asarray(heading, float)
    x = np.concatenate([[0.0], np.cumsum(speed[:-1] * np.cos(heading[:-1]) * dt)])
    y = np.concatenate([[0.0], np.cumsum(speed[:-1] * np.sin(heading[:-1]) * dt)])
    return np.stack([x, y, heading, speed], axis=1)


def departures(lane_offset, lane=None, heading_error=None, lane_width=LANE_WIDTH):
    lane_offset = np.asarray(lane_offset, float)
    lane = np.zeros(len(lane_offset), int) if lane is None else np.asarray(lane)
    heading_error = np.zeros(len(lane_offset)) if heading_error is None else np.asarray(heading_error, float)
    return lane_departures(lane, lane_offset, heading_error, lane_width, CAR_LENGTH, CAR_WIDTH)


def on_two_lane_road(d):
    """(lane, lane_offset) for centreline offsets d on a two-lane road of 4 m lanes (centres at -2 and +2)."""
    centres = np.array([-2.0, 2.0])
    lane = np.argmin(np.abs(centres[None, :] - np.asarray(d, float)[:, None]), axis=1)
    return lane, np.asarray(d, float) - centres[lane]


# ---------------------------------------------------------------------------------------------- runs, entries
@pytest.mark.parametrize("flags, expected", [
    ([], []),
    ([0, 0, 0], []),
    ([1, 1, 1], [(0, 3)]),
    ([0, 1, 1, 0, 1], [(1, 3), (4, 5)]),
    ([1, 0, 0, 1, 1, 1, 0], [(0, 1), (3, 6)]),
])
def test_runs_are_half_open_index_pairs(flags, expected):
    assert runs(np.array(flags, bool)) == expected


@pytest.mark.parametrize("flags, expected", [
    ([], 0),
    ([0, 0, 0], 0),
    ([0, 1, 1, 0, 1], 2),
    ([0, 0, 1, 1, 1], 1),  # still on at the end: it switched on once
    ([1, 1, 1], 0),  # on from the first step: the car was put there, it did not enter
    ([1, 0, 0, 1, 1, 1, 0], 1),
    ([1, 1, 0, 0, 1, 0, 1, 1], 2),
])
def test_entries_counts_switch_ons_after_the_first_step(flags, expected):
    assert entries(np.array(flags, bool)) == expected


def test_entries_of_float_signals():
    assert entries(np.array([0.0, 2.0, 0.0, 1.0], np.float32) > 0) == 2  # as the envs publish them


# ---------------------------------------------------------------------------------------------- kinematics
def test_constant_acceleration_gives_constant_lon_accel_and_no_jerk():
    t = np.arange(30) * DT
    a = 1.5
    kin = kinematics(poses_from(4.0 + a * t, np.zeros_like(t)), DT)
    assert set(kin) == set(COMFORT_BOUNDS)
    assert all(len(v) == len(t) for v in kin.values())
    np.testing.assert_allclose(kin["lon_accel"], a, atol=1e-9)
    np.testing.assert_allclose(kin["lon_jerk"], 0.0, atol=1e-9)
    np.testing.assert_allclose(kin["jerk"], 0.0, atol=1e-9)
    np.testing.assert_allclose(kin["yaw_rate"], 0.0, atol=1e-12)
    np.testing.assert_allclose(kin["lat_accel"], 0.0, atol=1e-12)


def test_constant_yaw_rate_circle_gives_lateral_acceleration_v_omega():
    """A circle at v = 10 m/s and omega = 0.5 rad/s (radius 20 m): a_lat = v * omega = v^2 / R = 5 m/s^2.
    The heading is given wrapped to (-pi, pi], as a simulator may report it: kinematics must unwrap it."""
    v, omega = 10.0, 0.5
    t = np.arange(60) * DT  # 12 s: almost two turns, so the heading wraps several times
    heading = np.angle(np.exp(1j * omega * t))
    assert np.abs(np.diff(heading)).max() > np.pi  # the input really wraps
    kin = kinematics(poses_from(np.full_like(t, v), heading), DT)
    np.testing.assert_allclose(kin["yaw_rate"], omega, atol=1e-9)
    np.testing.assert_allclose(kin["lat_accel"], v * omega, atol=1e-8)
    np.testing.assert_allclose(kin["lat_accel"], v ** 2 / (v / omega), atol=1e-8)
    np.testing.assert_allclose(kin["lon_accel"], 0.0, atol=1e-12)
    np.testing.assert_allclose(kin["yaw_accel"], 0.0, atol=1e-8)
    np.testing.assert_allclose(kin["jerk"], 0.0, atol=1e-6)


def test_kinematics_of_a_single_pose_is_zero():
    kin = kinematics(np.array([[0.0, 0.0, 0.3, 5.0]]), DT)
    assert all(v.shape == (1,) and v[0] == 0.0 for v in kin.values())


def test_comfort_flags_hard_braking_and_not_a_gentle_profile():
    t = np.arange(40) * DT
    # cruise at 15 m/s, brake at 5 m/s^2 for 1.2 s (beyond nuPlan's -4.05), cruise at 9 m/s
    speed = np.clip(15.0 - 5.0 * (t - 2.0), 9.0, 15.0)
    kin = kinematics(poses_from(speed, np.zeros_like(t)), DT)
    braking = (t > 2.0 + DT) & (t < 3.2 - DT)  # interior of the braking phase: central differences are exact
    np.testing.assert_allclose(kin["lon_accel"][braking], -5.0, atol=1e-9)
    flagged = comfort_violations(kin)
    assert flagged[braking].all()
    assert not flagged[t < 1.5].any() and not flagged[t > 4.0].any()  # steady cruising before and after

    gentle_speed = 10.0 + 0.5 * np.sin(0.5 * t)  # |a| <= 0.25 m/s^2, |jerk| <= 0.125 m/s^3
    gentle_heading = 0.05 * np.sin(0.3 * t)  # yaw rate <= 0.015 rad/s
    gentle = kinematics(poses_from(gentle_speed, gentle_heading), DT)
    assert not comfort_violations(gentle).any()


def test_a_single_hard_braking_decision_is_flagged():
    """One decision at -5 m/s^2 (speed drops 1 m/s in 0.2 s): at least its onset breaks a comfort bound."""
    speed = np.array([10.0] * 5 + [9.0] * 5)
    flagged = comfort_violations(kinematics(poses_from(speed, np.zeros(10)), DT))
    assert flagged[3:7].any()
    assert not flagged[:2].any() and not flagged[-2:].any()


@pytest.mark.parametrize("name", list(COMFORT_BOUNDS))
def test_comfort_violations_checks_every_bound_on_both_sides(name):
    low, high = COMFORT_BOUNDS[name]
    kin = {n: np.zeros(3) for n in COMFORT_BOUNDS}
    kin["jerk"] = np.full(3, 1.0)  # inside [0, 8.37]
    kin[name] = np.array([low + 1e-3 if low < 0 else 1.0, high + 0.01, low - 0.01])
    assert comfort_violations(kin).tolist() == [False, True, True]


# ---------------------------------------------------------------------------------------------- lane departures
def test_drift_over_a_line_and_back_is_one_departure():
    flags = departures([0.0, 0.0, 0.5, 1.2, 1.5, 1.2, 0.5, 0.0, 0.0, 0.0])
    assert flags.tolist() == [False, False, False, True] + [False] * 6  # marked at its first straddling step


def test_straddling_needs_the_body_past_the_line_by_the_tolerance():
    assert departures([0.0, 1.09, 0.0]).sum() == 0  # body edge 0.09 m over the line: paint, not a departure
    assert departures([0.0, 1.11, 0.0]).sum() == 1
    assert departures([0.0, 1.11, 0.0], lane_width=4.5).sum() == 0  # wider lane: room to spare


def test_yaw_alone_can_straddle():
    """0.5 m off centre: straight the corners reach 1.5 m; turned 0.3 rad they reach
    0.5 + 2.5 sin 0.3 + cos 0.3 = 2.19 m > 2.1 m; turned 0.2 rad only 1.98 m."""
    offset = np.full(7, 0.5)
    assert departures(offset, heading_error=[0, 0, 0.3, 0.3, 0.3, 0, 0]).sum() == 1
    assert departures(offset, heading_error=[0, 0, 0.2, 0.2, 0.2, 0, 0]).sum() == 0
    assert departures(offset, heading_error=[0, 0, -0.3, -0.3, 0, 0, 0]).sum() == 1


def test_completed_lane_change_is_not_a_departure():
    d = [-2.0, -2.0, -1.5, -0.8, -0.1, 0.3, 1.0, 2.0, 2.0]  # lane 0 -> lane 1
    lane, offset = on_two_lane_road(d)
    assert lane.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    straddle = np.abs(offset) + 1.0 > 2.1
    assert runs(straddle) == [(3, 6)]  # the index changed while straddling, and the car settled in lane 1
    assert departures(offset, lane=lane).sum() == 0


def test_lane_change_started_and_abandoned_is_a_departure():
    d = [-2.0, -1.5, -0.8, 0.2, -0.5, -1.5, -2.0]  # crosses the line, comes back to lane 0
    lane, offset = on_two_lane_road(d)
    assert lane.tolist() == [0, 0, 0, 1, 0, 0, 0]
    flags = departures(offset, lane=lane)
    assert flags.sum() == 1 and flags[2]


def test_over_the_road_edge_and_back_is_one_departure():
    # one lane: there is no lane beyond the edge to change to
    flags = departures([0.0, 1.0, 2.5, 3.5, 2.5, 1.0, 0.0, 0.0])
    assert flags.sum() == 1 and flags[2]


def test_two_separate_drifts_are_two_departures():
    assert departures([0, 1.5, 0, 0, -1.5, -1.5, 0]).sum() == 2


def test_straddle_from_the_first_step_is_not_counted():
    assert departures([1.5, 1.5, 0.5, 0.0, 0.0]).sum() == 0


def test_straddle_cut_off_by_the_end_is_not_counted():
    assert departures([0.0, 0.0, 1.5, 1.5]).sum() == 0
    assert departures([0.0, 0.0, 1.5, 1.5, 0.0]).sum() == 1  # the same drift with an outcome


# ---------------------------------------------------------------------------------------------- wrong way etc.
def test_wrong_way_needs_at_least_one_second():
    against = np.pi * 0.9
    five = np.array([0, 0] + [against] * 5 + [0, 0])  # 5 steps x 0.2 s = 1.0 s
    four = np.array([0, 0] + [against] * 4 + [0, 0, 0])  # 0.8 s
    assert wrong_way(five, DT).tolist() == [False] * 2 + [True] * 5 + [False] * 2
    assert not wrong_way(four, DT).any()
    assert wrong_way(-five, DT).sum() == 5  # either sign
    assert wrong_way(four, 0.25).sum() == 4  # the same 4 steps last 1 s at 4 Hz


def test_wrong_way_needs_more_than_a_right_angle():
    assert not wrong_way(np.full(10, np.pi / 2 - 0.01), DT).any()
    assert wrong_way(np.full(10, np.pi / 2 + 0.01), DT).all()


def test_reversing_and_speeding_thresholds():
    speed = np.array([-1.0, -0.11, -0.09, 0.0, 5.0])
    assert reversing(speed).tolist() == [True, True, False, False, False]
    limit = 10.0  # speeding is above 10.5 m/s
    assert speeding(np.array([9.0, 10.4, 10.6, 15.0]), limit).tolist() == [False, False, True, True]
