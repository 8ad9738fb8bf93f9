"""drivebench.experts.controllers: control laws, checked against the kinematic bicycle they drive."""
from __future__ import annotations

import math

import numpy as np
import pytest
from highway_env.vehicle.kinematics import Vehicle

from drivebench.experts import controllers as ctl
from drivebench.experts.paths import PathBuilder


def yaw_rate_per_speed(steering: float, length: float = ctl.CAR_LENGTH) -> float:
    """The bicycle model of the module docstring: yaw rate / v = sin(beta) / (L/2), beta = atan(tan(steer)/2)."""
    beta = math.atan(math.tan(steering) / 2)
    return math.sin(beta) / (length / 2)


def test_constants_match_the_simulator():
    assert ctl.CAR_LENGTH == Vehicle.LENGTH
    assert ctl.ACCELERATION_MAX == 5.0 and ctl.STEERING_MAX == pytest.approx(math.pi / 4)


def test_straight_needs_no_steering():
    assert ctl.steering_for_curvature(0.0) == 0.0


@pytest.mark.parametrize("k", [0.01, 0.05, 0.1, 0.2, 0.3])
def test_steering_sign_and_symmetry(k):
    assert ctl.steering_for_curvature(k) > 0  # right turn: positive steering
    assert ctl.steering_for_curvature(-k) == pytest.approx(-ctl.steering_for_curvature(k))


def test_steering_grows_with_curvature():
    ks = np.linspace(0, 0.39, 40)
    steer = [ctl.steering_for_curvature(k) for k in ks]
    assert (np.diff(steer) > 0).all()


@pytest.mark.parametrize("k", [-0.3, -0.1, -0.02, 0.004, 0.05, 0.15, 0.35])
def test_steering_inverts_the_bicycle_model(k):
    assert yaw_rate_per_speed(ctl.steering_for_curvature(k)) == pytest.approx(k, rel=1e-9)


@pytest.mark.parametrize("k", [0.1, -0.2, 0.02])
def test_steering_drives_that_curvature_in_highway_env(k):
    """Drive highway-env's own kinematic Vehicle with the steering: heading change / distance == k."""
    v = Vehicle(None, [0.0, 0.0], heading=0.0, speed=6.0)
    v.act({"steering": ctl.steering_for_curvature(k), "acceleration": 0.0})
    dt, n = 1 / 15, 30
    for _ in range(n):
        v.step(dt)
    assert v.heading / (6.0 * dt * n) == pytest.approx(k, rel=1e-9)


def test_steering_saturates_for_impossible_curvature():
    """Above 2/L the model cannot turn tighter; the law saturates instead of failing."""
    big = ctl.steering_for_curvature(10.0)
    assert 0 < big < math.pi / 2
    assert big == ctl.steering_for_curvature(100.0)
    assert ctl.steering_for_curvature(-10.0) == -big


@pytest.mark.parametrize("acc, steer, expected", [
    (0.0, 0.0, [0.0, 0.0]),
    (2.5, math.pi / 8, [0.5, 0.5]),
    (-5.0, -math.pi / 4, [-1.0, -1.0]),
    (100.0, 3.0, [1.0, 1.0]),
    (-7.0, -1.0, [-1.0, -1.0]),
])
def test_action_scales_and_clips(acc, steer, expected):
    a = ctl.action(acc, steer)
    assert a.dtype == np.float32 and a.shape == (2,)
    assert a.tolist() == pytest.approx(expected)
    assert (np.abs(a) <= 1).all()


def test_speed_command():
    assert ctl.speed_command(10.0, 8.0) > 0
    assert ctl.speed_command(8.0, 10.0) < 0
    assert ctl.speed_command(5.0, 5.0) == 0.0
    assert ctl.speed_command(-1.0, 0.0) < 0  # a reverse target accelerates backwards
    assert ctl.speed_command(1.0, 0.5, gain=2.0) == pytest.approx(1.0)
    assert ctl.speed_command(100.0, 0.0) == ctl.ACCELERATION_MAX
    assert ctl.speed_command(-100.0, 0.0) == -ctl.ACCELERATION_MAX


@pytest.mark.parametrize("radius", [4.0, 20.0])
def test_pursuit_curvature_is_the_circle_through_the_target(radius):
    # from the origin facing east, the circle of radius R turning right passes through (R, R)
    assert ctl.pursuit_curvature(0, 0, 0, radius, radius) == pytest.approx(1 / radius)
    assert ctl.pursuit_curvature(0, 0, 0, radius, -radius) == pytest.approx(-1 / radius)
    # the same seen from a rotated, shifted car
    th = 0.8
    c, s = math.cos(th), math.sin(th)
    tx, ty = 3 + radius * c - radius * s, 1 + radius * s + radius * c
    assert ctl.pursuit_curvature(3, 1, th, tx, ty) == pytest.approx(1 / radius)


def test_pursuit_straight_ahead():
    assert ctl.pursuit_curvature(1, 2, 0.3, 1 + 10 * math.cos(0.3), 2 + 10 * math.sin(0.3)) == pytest.approx(0.0,
                                                                                                            abs=1e-12)


# ---------------------------------------------------------------------------------------------- track_path
EAST = PathBuilder(0.0, 0.0, 0.0).straight(20.0).build()
KW = dict(cruise=3.0, reverse_cruise=1.5, lookahead=3.0)


def test_track_path_starts_forward_and_straight():
    a = ctl.track_path(EAST, 0.0, 0.0, 0.0, 0.0, **KW)
    assert a[0] > 0 and a[1] == pytest.approx(0.0, abs=1e-6)


def test_track_path_cruises_at_the_limit():
    a = ctl.track_path(EAST, 5.0, 0.0, 0.0, 3.0, **KW)
    assert a[0] == pytest.approx(0.0, abs=1e-6)
    assert ctl.track_path(EAST, 5.0, 0.0, 0.0, 4.0, **KW)[0] < 0


def test_track_path_steers_back_to_the_path():
    right_of_path = ctl.track_path(EAST, 5.0, 0.8, 0.0, 2.0, **KW)  # y > 0 is south: the car is right
    left_of_path = ctl.track_path(EAST, 5.0, -0.8, 0.0, 2.0, **KW)
    assert right_of_path[1] < 0 < left_of_path[1]
    assert right_of_path[1] == pytest.approx(-left_of_path[1])


def test_track_path_stops_at_the_end():
    near_end = ctl.track_path(EAST, 19.5, 0.0, 0.0, 3.0, **KW)
    assert near_end[0] < 0  # sqrt(2 * 1 * 0.5) = 1 m/s allowed 0.5 m before the end
    at_end = ctl.track_path(EAST, 20.0, 0.0, 0.0, 0.0, **KW)
    assert at_end[0] == pytest.approx(0.0, abs=1e-6)
    past_end = ctl.track_path(EAST, 21.0, 0.0, 0.0, 0.0, **KW)
    assert past_end[0] < 0  # the target speed reverses: back up onto the end


def test_track_path_reverse_gear():
    b = PathBuilder(0.0, 0.0, math.pi)  # travel west...
    back = b.straight(10.0, gear=-1).build()  # ...backwards, so the car faces east
    a = ctl.track_path(back, 0.0, 0.0, 0.0, 0.0, **KW)
    assert a[0] < 0 and a[1] == pytest.approx(0.0, abs=1e-6)
    # at the reverse cruise speed it holds it
    assert ctl.track_path(back, -4.0, 0.0, 0.0, -1.5, **KW)[0] == pytest.approx(0.0, abs=1e-6)
    # reversing with the car south of the path (the driver's right), it gets back north by steering left, as in
    # a real car: travel curvature = -sin(beta) / (L/2) when the speed is negative
    assert ctl.track_path(back, -4.0, 0.8, 0.0, -1.0, **KW)[1] < 0


def drive(path, x, y, heading, steps=300, **kw):
    """Close the loop with highway-env's kinematic Vehicle, deciding at 5 Hz and integrating at 15 Hz."""
    v = Vehicle(None, [x, y], heading=heading, speed=0.0)
    for i in range(steps):
        if i % 3 == 0:
            a = ctl.track_path(path, v.position[0], v.position[1], v.heading, v.speed, **kw)
            v.act({"acceleration": float(a[0]) * ctl.ACCELERATION_MAX, "steering": float(a[1]) * ctl.STEERING_MAX})
        v.step(1 / 15)
    return v


def test_track_path_closed_loop_forward():
    path = PathBuilder(0.0, 0.0, 0.0).straight(8.0).arc(7.0, -math.pi / 2).straight(6.0).build()
    v = drive(path, -1.0, 0.7, 0.15, **KW)
    assert v.position == pytest.approx(path.xy[-1], abs=0.1)
    assert math.cos(v.heading - path.car_heading[-1]) > math.cos(0.05)
    assert abs(v.speed) < 0.3  # the parking goal's default stop_speed


def test_track_path_closed_loop_reverse_with_a_cusp():
    b = PathBuilder(0.0, 0.0, 0.0).straight(12.0)
    b.heading += math.pi
    path = b.arc(7.5, math.pi / 2, gear=-1).straight(4.0, gear=-1).build()  # back north into a bay, nose south
    v = drive(path, 0.0, -0.6, -0.1, steps=450, **KW)
    # backing out of the arc leaves a lateral error the short last run does not remove; a 3.5 m bay leaves
    # (3.5 - 2) / 2 + 0.25 = 1 m of slack, so 0.5 m is good enough to park
    assert v.position == pytest.approx(path.xy[-1], abs=0.5)
    assert math.cos(v.heading - path.car_heading[-1]) > math.cos(0.05)  # facing south, the way it came in
    assert abs(v.speed) < 0.3


def test_track_path_takes_the_next_run_at_a_cusp():
    b = PathBuilder(0.0, 0.0, 0.0).straight(5.0)
    b.heading += math.pi
    cusp = b.straight(5.0, gear=-1).build()
    early = ctl.track_path(cusp, 1.0, 0.0, 0.0, 1.0, **KW)
    assert early[0] > 0  # still driving the forward run
    at_cusp = ctl.track_path(cusp, 4.9, 0.0, 0.0, 0.0, **KW)
    assert at_cusp[0] < 0  # within CUSP_SWITCH of the gear change: start reversing


def test_rear_axle_tracker_stops_before_it_takes_the_next_run():
    """At a cusp a rear-axle tracker keeps the old run (its steering, braking) while the car still rolls that way
    faster than CUSP_STOP_SPEED, and takes the next run once the car has stopped: steering for the next run while
    rolling the old way turns the car off the path."""
    from drivebench.experts import planning

    moves = [planning.Move(1, 0.0, 5.0), planning.Move(-1, 0.2, 5.0)]  # straight, then back at full lock
    rear = planning.rear_axle_path(planning.path_from_moves((0.0, 0.0, 0.0), moves, 5.0), 5.0)
    kw = {"cruise": 3.0, "reverse_cruise": 1.5, "lookahead": 2.0}
    at_cusp = 5.0 - ctl.CUSP_SWITCH / 2
    rolling = ctl.track_rear_axle_path(rear, at_cusp, 0.0, 0.0, 1.0, **kw)
    assert rolling[1] == pytest.approx(0.0, abs=1e-6) and rolling[0] < 0  # the straight's steering, braking
    stopped = ctl.track_rear_axle_path(rear, at_cusp, 0.0, 0.0, 0.0, **kw)
    assert abs(stopped[1]) > 0.5 and stopped[0] < 0  # the reverse arc's steering, backing up
    backing = ctl.track_rear_axle_path(rear, at_cusp, 0.0, 0.0, -0.5, **kw)
    assert abs(backing[1]) > 0.5  # already rolling the next run's way (here Path.nearest's gear term picks that run)
