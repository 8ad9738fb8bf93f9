"""State-feedback control laws shared by every expert: pure functions of the car state and a reference.

The car is highway-env's kinematic bicycle about its centre: yaw rate = v sin(beta) / (L/2) with slip angle
beta = atan(tan(steering) / 2). Actions are highway-env ContinuousAction's [acceleration, steering] in [-1, 1].
"""
from __future__ import annotations

import math

import numpy as np

from drivebench.experts.paths import Path

ACCELERATION_MAX = 5.0  # [m/s^2], ContinuousAction's range
STEERING_MAX = math.pi / 4  # [rad], ContinuousAction's range
CAR_LENGTH = 5.0  # [m]
CUSP_SWITCH = 0.4  # within this distance of a gear change [m], the car takes the next run of the path
CUSP_STOP_SPEED = 0.3
"""[m/s]: a rear-axle tracker takes the next run only below this speed: steering for the next run while the car still
rolls the old way turns it off the path (a 7-9 degree heading error, then a reverse arc past the steering limit)"""


def action(acceleration: float, steering: float) -> np.ndarray:
    """Physical commands [m/s^2], [rad] -> the normalized action in [-1, 1]^2."""
    return np.clip(np.array([acceleration / ACCELERATION_MAX, steering / STEERING_MAX], dtype=np.float32), -1, 1)


def steering_for_curvature(curvature: float, length: float = CAR_LENGTH) -> float:
    """Steering angle [rad] that makes the bicycle model drive a path of this curvature [1/m] (> 0 right)."""
    sin_beta = min(max(curvature * length / 2, -0.999), 0.999)
    return math.atan(2 * math.tan(math.asin(sin_beta)))


def steady_slip(curvature: float, length: float = CAR_LENGTH) -> float:
    """Angle [rad] between the direction of travel and the body heading of a car driving a path of this
    curvature [1/m]: the body lags its direction of travel by this much in a steady turn."""
    return math.asin(min(max(curvature * length / 2, -0.999), 0.999))


def pursuit_curvature(x: float, y: float, heading: float, tx: float, ty: float) -> float:
    """Pure pursuit: curvature of the circle through the car, tangent to `heading`, through the target.
    Pass the direction of travel (heading + `steady_slip` of the reference), not the body heading, or the
    car cuts inside every turn (feeding back the current steering's slip instead makes the loop unstable)."""
    dx, dy = tx - x, ty - y
    lateral = -dx * math.sin(heading) + dy * math.cos(heading)  # + right
    return 2.0 * lateral / max(dx * dx + dy * dy, 1e-6)


def speed_command(target: float, speed: float, gain: float = 3.0) -> float:
    """P control of speed [m/s] -> acceleration [m/s^2]."""
    return min(max(gain * (target - speed), -ACCELERATION_MAX), ACCELERATION_MAX)


def track_path(path: Path, x: float, y: float, heading: float, speed: float, *, cruise: float,
               reverse_cruise: float, lookahead: float, braking: float = 1.0) -> np.ndarray:
    """Follow a geared path and stop at its end (or at a gear change, then take the next run).

    Steering: pure pursuit toward the point `lookahead` metres further along the current run (extended past
    its end along its last heading), from the car's direction of travel on the path's curve. When the run is driven backwards, the pursuit is computed for a virtual
    car facing backwards and its steering negated. Speed: at most `cruise`, brought to 0 at the run's end
    with deceleration `braking` [m/s^2]; past the end the target speed reverses, so the car settles on it.
    """
    i, gear, tx, ty, remaining = _pursuit_target(path, x, y, heading, speed, lookahead)
    # Forwards, aim from the direction of travel on the curve. Backwards the steered axle is the virtual
    # car's rear and the same feedforward swings the car wide at the start of a turn (measured: 0/30
    # parked); pursuit on the body heading parks 30/30.
    virtual_heading = heading + steady_slip(path.curvature[i]) if gear > 0 else heading + math.pi
    steering = gear * steering_for_curvature(pursuit_curvature(x, y, virtual_heading, tx, ty))
    return action(_speed_toward(remaining, gear, speed, cruise, reverse_cruise, braking), steering)


def track_rear_axle_path(path: Path, x: float, y: float, heading: float, speed: float, *, cruise: float,
                         reverse_cruise: float, lookahead: float, braking: float = 1.0,
                         length: float = CAR_LENGTH) -> np.ndarray:
    """`track_path` for the path of the rear axle (x, y: the car's rear axle; `path.car_heading`: the body's).

    The rear axle moves along the body axis on a circle of curvature tan(steering) / L, forwards and backwards
    alike, so pure pursuit on it is the textbook law both ways (a reversing car is a forward one whose heading is
    turned by pi and whose steering is negated): tight multi-point manoeuvres track to a few centimetres where
    pursuit of the centre, which slips, cuts their corners.
    """
    _, gear, tx, ty, remaining = _pursuit_target(path, x, y, heading, speed, lookahead, stop_at_cusps=True)
    virtual_heading = heading if gear > 0 else heading + math.pi
    curvature = gear * pursuit_curvature(x, y, virtual_heading, tx, ty)
    steering = math.atan(curvature * length)
    return action(_speed_toward(remaining, gear, speed, cruise, reverse_cruise, braking), steering)


def _pursuit_target(path: Path, x: float, y: float, heading: float, speed: float, lookahead: float,
                    stop_at_cusps: bool = False) -> tuple[int, int, float, float, float]:
    """The point of the path the car is at (its run: the next one within CUSP_SWITCH of a gear change; with
    `stop_at_cusps`, only once the car has stopped, CUSP_STOP_SPEED, or already rolls the next run's way), its gear,
    the pursuit target `lookahead` metres on along the run (extended past its end along its last heading), and the
    distance left to the run's end [m]."""
    i = path.nearest(x, y, heading, speed)
    end = path.run_end(i)
    if end + 1 < len(path.s) and path.s[end] - path.s[i] < CUSP_SWITCH and (
            not stop_at_cusps or abs(speed) < CUSP_STOP_SPEED or speed * path.gear[end + 1] > 0):
        i, end = end + 1, path.run_end(end + 1)
    gear = int(path.gear[i])
    th_i = path.travel_heading[i]
    ahead_of_car = (path.xy[i, 0] - x) * math.cos(th_i) + (path.xy[i, 1] - y) * math.sin(th_i)
    remaining = path.s[end] - path.s[i] + ahead_of_car
    s_target = path.s[i] + lookahead
    if s_target <= path.s[end]:
        tx, ty = path.xy[min(int(np.searchsorted(path.s, s_target)), end)]
    else:
        th_end, extra = path.travel_heading[end], s_target - path.s[end]
        tx = path.xy[end, 0] + extra * math.cos(th_end)
        ty = path.xy[end, 1] + extra * math.sin(th_end)
    return i, gear, float(tx), float(ty), float(remaining)


def _speed_toward(remaining: float, gear: int, speed: float, cruise: float, reverse_cruise: float,
                  braking: float) -> float:
    """Acceleration [m/s^2] toward at most the gear's cruise speed, brought to 0 at the run's end."""
    limit = cruise if gear > 0 else reverse_cruise
    target = gear * math.copysign(min(limit, math.sqrt(2 * braking * abs(remaining))), remaining)
    return speed_command(target, speed)
