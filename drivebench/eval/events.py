"""Per-step driving events: pure functions over an episode's arrays (one value per observation, spaced by
the decision period `dt` [s]). The envs publish the raw signals (envs.py SIGNALS); these turn them into
events. Each is tested on constructed arrays.
"""
from __future__ import annotations

import numpy as np

COMFORT_BOUNDS = {
    "lon_accel": (-4.05, 2.40),  # [m/s^2]
    "lat_accel": (-4.89, 4.89),  # [m/s^2]
    "yaw_rate": (-0.95, 0.95),  # [rad/s]
    "yaw_accel": (-1.93, 1.93),  # [rad/s^2]
    "lon_jerk": (-4.13, 4.13),  # [m/s^3]
    "jerk": (0.0, 8.37),  # magnitude [m/s^3]
}
"""nuPlan's comfort bounds (nuplan-devkit's ego_is_comfortable)."""

LANE_LINE_TOLERANCE = 0.1  # how far the body may reach over a lane line (its paint) [m]
WRONG_WAY_ANGLE = np.pi / 2  # heading error beyond which the car drives against the road [rad]
WRONG_WAY_TIME = 1.0  # [s] it must last
REVERSING_SPEED = 0.1  # [m/s] below minus this, the car moves backwards
SPEEDING_MARGIN = 1.05  # speeding is going faster than this times the limit
OFF_ROAD_RECOVERY = 2.0  # [s] a car put off the road (by a shift) has to get back on before it counts as off-road


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the runs of True in a boolean array."""
    padded = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def entries(flags: np.ndarray) -> int:
    """How many times the flag switched on after the first step: a flag already on when the episode starts
    (the car was put there, e.g. by a start-offset shift) is not an entry."""
    return sum(start > 0 for start, _ in runs(flags))


def kinematics(poses: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    """Longitudinal and lateral acceleration, yaw rate and acceleration, jerk: finite differences of the
    poses (x, y, heading, speed) sampled every dt [s]. Each array has one value per pose."""
    speed = poses[:, 3].astype(float)
    heading = np.unwrap(poses[:, 2].astype(float))
    if len(speed) < 2:
        zero = np.zeros(len(speed))
        return {name: zero for name in COMFORT_BOUNDS}
    lon_accel = gradient(speed, dt)
    yaw_rate = gradient(heading, dt)
    lat_accel = speed * yaw_rate
    lon_jerk = gradient(lon_accel, dt)
    return {
        "lon_accel": lon_accel,
        "lat_accel": lat_accel,
        "yaw_rate": yaw_rate,
        "yaw_accel": gradient(yaw_rate, dt),
        "lon_jerk": lon_jerk,
        "jerk": np.hypot(lon_jerk, gradient(lat_accel, dt)),
    }


def gradient(values: np.ndarray, dt: float) -> np.ndarray:
    """np.gradient(values, dt) for a 1-D array of >= 2 samples, the same arithmetic without its argument
    handling (a tenth of the time): central differences inside, one-sided at the two ends."""
    out = np.empty_like(values)
    out[1:-1] = (values[2:] - values[:-2]) / (2.0 * dt)
    out[0] = (values[1] - values[0]) / dt
    out[-1] = (values[-1] - values[-2]) / dt
    return out


def comfort_violations(kin: dict[str, np.ndarray]) -> np.ndarray:
    """Steps where any kinematic quantity is outside COMFORT_BOUNDS."""
    out = np.zeros(len(next(iter(kin.values()))), bool)
    for name, (low, high) in COMFORT_BOUNDS.items():
        out |= (kin[name] < low) | (kin[name] > high)
    return out


def lane_departures(lane: np.ndarray, lane_offset: np.ndarray, heading_error: np.ndarray, lane_width: float,
                    car_length: float, car_width: float, tolerance: float = LANE_LINE_TOLERANCE) -> np.ndarray:
    """Steps where a lane departure begins.

    The body straddles a line when its lateral extent from its nearest lane's centre passes half a lane width
    (plus `tolerance`). Each run of straddling steps is a lane change if, when it ends, the car's nearest
    lane differs from the one just before the run; otherwise (back in the same lane, or over the road's edge,
    where there is no lane to change to) it is a departure, marked at its first step. A run the episode
    starts in (the car was put there) or that its end cuts off (no outcome yet) is not counted; leaving the
    road and timeouts are penalised on their own.
    """
    lane = np.asarray(lane).astype(int)
    extent = np.abs(lane_offset) + car_length / 2 * np.abs(np.sin(heading_error)) + car_width / 2 * np.abs(
        np.cos(heading_error))
    straddle = extent > lane_width / 2 + tolerance
    out = np.zeros(len(lane), bool)
    for start, stop in runs(straddle):
        if 0 < start and stop < len(lane):
            out[start] = lane[stop] == lane[start - 1]
    return out


def wrong_way(heading_error: np.ndarray, dt: float, angle: float = WRONG_WAY_ANGLE,
              min_time: float = WRONG_WAY_TIME) -> np.ndarray:
    """Steps inside runs of at least `min_time` [s] with |heading error| above `angle` [rad]."""
    against = np.abs(heading_error) > angle
    out = np.zeros(len(against), bool)
    for start, stop in runs(against):
        if (stop - start) * dt >= min_time:
            out[start:stop] = True
    return out


def reversing(speed: np.ndarray, threshold: float = REVERSING_SPEED) -> np.ndarray:
    return np.asarray(speed) < -threshold


def speeding(speed: np.ndarray, limit: float, margin: float = SPEEDING_MARGIN) -> np.ndarray:
    return np.asarray(speed) > limit * margin
