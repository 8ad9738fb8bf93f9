"""Reference paths for the parking experts: sampled polylines of straights and arcs, each point with a gear.

A path point carries the direction of *travel*; when its gear is -1 the car travels backwards, so its nose
points the other way (heading = travel heading + pi). Paths are pure data built from the lot geometry.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivebench.scenarios.roads import wrap_angle

STEP = 0.1  # sampling distance [m]


@dataclass(frozen=True, eq=False)
class Path:
    xy: np.ndarray
    """(n, 2) positions [m]"""
    travel_heading: np.ndarray
    """(n,) direction of travel [rad]"""
    gear: np.ndarray
    """(n,) +1 forwards, -1 backwards"""
    curvature: np.ndarray
    """(n,) curvature of the direction of travel [1/m], > 0 turning right"""
    s: np.ndarray
    """(n,) distance along the path [m]"""

    @property
    def car_heading(self) -> np.ndarray:
        return self.travel_heading + np.where(self.gear < 0, math.pi, 0.0)

    def run_end(self, i: int) -> int:
        """Index of the last point of the run (same gear) that contains point i."""
        changes = np.nonzero(self.gear[i:] != self.gear[i])[0]
        return i + int(changes[0]) - 1 if len(changes) else len(self.s) - 1

    def nearest(self, x: float, y: float, heading: float, speed: float = 0.0, heading_weight: float = 2.0,
                gear_penalty: float = 4.0) -> int:
        """Index of the point closest to a car pose: distance^2 + (heading_weight * heading error)^2, plus
        `gear_penalty` [m^2] where the point's gear disagrees with the way the car is moving. The gear term
        tells apart the two sides of a cusp, where a reverse run starts by retracing the forward one."""
        d2 = (self.xy[:, 0] - x) ** 2 + (self.xy[:, 1] - y) ** 2
        dh = wrap_angle(self.car_heading - heading)
        cost = d2 + (heading_weight * dh) ** 2
        if abs(speed) > 0.2:
            cost = cost + gear_penalty * (self.gear != math.copysign(1, speed))
        return int(np.argmin(cost))


class PathBuilder:
    """Appends straights and arcs to a pose; `build()` returns the sampled Path."""

    def __init__(self, x: float, y: float, heading: float):
        self.x, self.y, self.heading = x, y, heading
        self._xy, self._h, self._g, self._k = [], [], [], []

    def straight(self, length: float, gear: int = 1) -> PathBuilder:
        if length <= 0:
            return self
        n = max(int(math.ceil(length / STEP)), 1)
        u = np.linspace(0.0, length, n + 1)[:-1]
        c, s = math.cos(self.heading), math.sin(self.heading)
        self._add(np.stack([self.x + u * c, self.y + u * s], 1), np.full(n, self.heading), gear, 0.0)
        self.x, self.y = self.x + length * c, self.y + length * s
        return self

    def arc(self, radius: float, angle: float, gear: int = 1) -> PathBuilder:
        """Turn the travel direction by `angle` [rad] (> 0 right, heading increasing) on a circle of `radius`."""
        if abs(angle) < 1e-9:
            return self
        length = radius * abs(angle)
        n = max(int(math.ceil(length / STEP)), 1)
        k = math.copysign(1.0 / radius, angle)
        u = np.linspace(0.0, length, n + 1)[:-1]
        th = self.heading + k * u
        xy = np.stack([self.x + (np.sin(th) - math.sin(self.heading)) / k,
                       self.y - (np.cos(th) - math.cos(self.heading)) / k], 1)
        self._add(xy, th, gear, k)
        end = self.heading + angle
        self.x += (math.sin(end) - math.sin(self.heading)) / k
        self.y -= (math.cos(end) - math.cos(self.heading)) / k
        self.heading = end
        return self

    def _add(self, xy: np.ndarray, headings: np.ndarray, gear: int, curvature: float) -> None:
        self._xy.append(xy)
        self._h.append(headings)
        self._g.append(np.full(len(headings), gear))
        self._k.append(np.full(len(headings), curvature))

    def build(self) -> Path:
        xy = np.concatenate(self._xy + [np.array([[self.x, self.y]])])
        h = np.concatenate(self._h + [np.array([self.heading])])
        g = np.concatenate(self._g + [self._g[-1][-1:]])
        k = np.concatenate(self._k + [self._k[-1][-1:]])
        s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        return Path(xy, h, g.astype(int), k, s)
