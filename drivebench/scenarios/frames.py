"""Viewpoints for the families' third-person observation types (issue 19): pure transforms between the world frame
and a moving frame, and the follower, a vehicle that trails the car along its own path.

Frames follow ARCHITECTURE.md's convention (highway-env's): world x east, y south, heading increasing = turning
right. A moving frame at (x0, y0, heading h) has its x axis forward along h and its y axis to its driver's right:
a point (px, py) is at (dx cos h + dy sin h, -dx sin h + dy cos h) with (dx, dy) = (px - x0, py - y0), as the ego
observations' road preview already computes it.
"""
from __future__ import annotations

import math

import numpy as np

TYPES = ("ego", "world", "follower")
"""the observation types every family declares (its env's OBSERVATIONS): the ego frame, the default, and the two
third-person frames"""
FOLLOW_LAG_STEPS = 5
"""the follower drives the car's own path this many decisions behind it (1 s at the default 5 Hz)"""
FOLLOW_GAP = 8.0
"""... and this far further back along its own heading [m], so that it never sits on the car"""


def to_frame(points, origin, heading: float) -> np.ndarray:
    """(n, 2) world points [m] in the frame at `origin` (x, y) [m] facing `heading` [rad]: (forward, right) [m]."""
    p = np.atleast_2d(np.asarray(points, float)) - np.asarray(origin, float)[:2]
    c, s = math.cos(heading), math.sin(heading)
    return np.stack([p[:, 0] * c + p[:, 1] * s, -p[:, 0] * s + p[:, 1] * c], axis=1)


def rotate(vector, heading: float) -> np.ndarray:
    """A world vector (e.g. a velocity) [unit] in a frame facing `heading`: (forward, right) [unit]."""
    return to_frame(np.asarray(vector, float)[None], (0.0, 0.0), heading)[0]


def velocity(speed: float, heading: float) -> tuple[float, float]:
    """World velocity (vx east, vy south) [m/s] of a car at signed `speed` [m/s] facing `heading` [rad]."""
    return speed * math.cos(heading), speed * math.sin(heading)


FOLLOWER_CAR_FEATURES = (
    ("car_x", "car centre ahead of the follower [m]"),
    ("car_y", "car centre to the follower's right [m]"),
    ("car_cos", "cos of the car heading minus the follower's"),
    ("car_sin", "sin of the car heading minus the follower's"),
    ("car_vx", "car velocity along the follower's heading [m/s]"),
    ("car_vy", "car velocity to the follower's right [m/s]"),
)
"""The first features of every family's follower observation: the car as the follower sees it (`follower_view`)."""


def follower_view(trail, env) -> tuple[tuple[float, float], float, list[float]]:
    """This decision's follower (its position [m] and heading [rad], from `trail`) and the car as it sees it: the
    values of FOLLOWER_CAR_FEATURES. `env` is a scenario env (its vehicle, step count and policy frequency)."""
    v = env.vehicle
    fx, fy, fh = trail.follower(env.step_count, v.position[0], v.position[1], v.heading, v.speed,
                                1.0 / env.scenario.policy_frequency)
    car = to_frame(v.position, (fx, fy), fh)[0]
    return (fx, fy), fh, [car[0], car[1], math.cos(v.heading - fh), math.sin(v.heading - fh),
                          *rotate(velocity(v.speed, v.heading), fh)]


class Trail:
    """The follower's pose: the car's pose FOLLOW_LAG_STEPS decisions ago, moved FOLLOW_GAP back along its heading.
    Poses are kept by step count, so observing a step twice gives the same follower; a step before `lag` (the
    episode's start) extrapolates the first pose backwards at its speed, as if the car had driven straight in."""

    def __init__(self, lag: int = FOLLOW_LAG_STEPS, gap: float = FOLLOW_GAP):
        self.lag, self.gap = int(lag), float(gap)
        self.poses: dict[int, tuple[float, float, float, float]] = {}

    def follower(self, step: int, x: float, y: float, heading: float, speed: float, dt: float
                 ) -> tuple[float, float, float]:
        """Record the car's pose at `step` (0 starts a new episode) and return the follower's (x, y, heading)."""
        if step == 0:
            self.poses = {}
        self.poses[step] = (x, y, heading, speed)
        back = step - self.lag
        if back in self.poses:
            fx, fy, fh, _ = self.poses[back]
            extra = 0.0
        else:  # before the trail exists: the first pose, driven backwards at its speed
            fx, fy, fh, fv = self.poses[min(self.poses)]
            extra = abs(fv) * dt * (min(self.poses) - back)
        distance = self.gap + extra
        return fx - distance * math.cos(fh), fy - distance * math.sin(fh), fh
