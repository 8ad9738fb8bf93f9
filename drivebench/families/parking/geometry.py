"""The parking family's geometry: the lot's layout (bays, aisle, walls) from the spec's `lot`. Pure functions of the
spec; frame as in scenarios/roads.py (x east, y south)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivebench.scenarios.roads import Rect


@dataclass(frozen=True)
class Bay:
    id: str
    """'N<i>' (north of the aisle) or 'S<i>', numbered from the west"""
    rect: Rect
    """the bay's area; `rect.heading` is the direction a nose-in car faces, into the bay, away from the aisle"""

    @property
    def entrance(self) -> tuple[float, float]:
        """Middle of the bay's edge on the aisle [m]."""
        c, s = math.cos(self.rect.heading), math.sin(self.rect.heading)
        return self.rect.x - c * self.rect.length / 2, self.rect.y - s * self.rect.length / 2


@dataclass(frozen=True)
class LotGeometry:
    bays: tuple[Bay, ...]
    aisle: Rect
    """the aisle along x; its centre line is y = 0"""
    interior: Rect
    """everything inside the walls"""
    walls: tuple[Rect, ...]

    def bay(self, bay_id: str) -> Bay:
        return next(b for b in self.bays if b.id == bay_id)

    def neighbours(self, bay_id: str) -> set[str]:
        """The bays on either side of a bay in its row (ids are the row's letter and the index from the west)."""
        row, i = bay_id[0], int(bay_id[1:])
        return {b.id for b in self.bays if b.id[0] == row and abs(int(b.id[1:]) - i) == 1}


WALL_THICKNESS = 1.0  # [m]


def build_lot(lot) -> LotGeometry:
    """Lay out the lot: the aisle runs east from x = 0 along y = 0, north bays above it, south bays below."""
    length = 2 * lot.margin + lot.bays_per_row * lot.bay_width
    half_aisle = lot.aisle_width / 2
    bays = []
    for row, sign in (("N", -1.0), ("S", 1.0))[: lot.rows]:
        y = sign * (half_aisle + lot.bay_depth / 2)
        for i in range(lot.bays_per_row):
            x = lot.margin + (i + 0.5) * lot.bay_width
            bays.append(Bay(f"{row}{i}", Rect(x, y, lot.bay_depth, lot.bay_width, sign * math.pi / 2)))
    north = -(half_aisle + lot.bay_depth)
    south = half_aisle + lot.bay_depth if lot.rows == 2 else half_aisle + 2.0
    interior = Rect(length / 2, (north + south) / 2, length, south - north)
    t = WALL_THICKNESS
    walls = (
        Rect(length / 2, north - t / 2, length + 2 * t, t),
        Rect(length / 2, south + t / 2, length + 2 * t, t),
        Rect(-t / 2, interior.y, t, interior.width),
        Rect(length + t / 2, interior.y, t, interior.width),
    ) if lot.walls else ()
    return LotGeometry(tuple(bays), Rect(length / 2, 0.0, length, lot.aisle_width), interior, walls)


# ---------------------------------------------------------------------------------------------- route
ROUTE_SPACING = 0.5
"""distance between a route's waypoints [m]"""
ROUTE_WINDOW = 10.0
"""how far along the route past the last reached waypoint the next one may be [m]: the car cannot skip more of it"""


@dataclass(frozen=True, eq=False)
class Route:
    """A reference route: waypoints from the lot's end to the goal bay's centre, in driving order (a reversing
    manoeuvre's route runs on past the bay to its cusp and back in)."""

    points: np.ndarray
    """(n, 2) waypoints, ROUTE_SPACING apart along the route [m]"""
    s: np.ndarray
    """(n,) distance along the route from its first waypoint [m]"""

    @classmethod
    def along(cls, polyline: np.ndarray, spacing: float = ROUTE_SPACING) -> Route:
        """The route through a (k, 2) polyline [m], resampled every `spacing` metres (its last point kept)."""
        polyline = np.asarray(polyline, float)
        steps = np.hypot(*np.diff(polyline, axis=0).T)
        keep = np.concatenate([[True], steps > 1e-9])  # repeated points would stall the interpolation
        polyline, cum = polyline[keep], np.concatenate([[0.0], np.cumsum(steps[steps > 1e-9])])
        s = np.append(np.arange(0.0, cum[-1], spacing), cum[-1])
        points = np.stack([np.interp(s, cum, polyline[:, 0]), np.interp(s, cum, polyline[:, 1])], 1)
        return cls(points, s)

    def nearest(self, position) -> int:
        """Index of the waypoint closest to a position (where a car starting there joins the route)."""
        return int(np.argmin(np.hypot(*(self.points - np.asarray(position, float)).T)))

    def track(self, reached: int, position, tolerance: float, window: float = ROUTE_WINDOW) -> int:
        """The last waypoint a car has reached, CARLA's way: the furthest waypoint after `reached`, at most `window`
        metres on along the route, that the car centre at `position` is within `tolerance` [m] of; `reached` if none
        is. Waypoints are reached in order, so a car does not skip the route where it comes near itself further on;
        taking the furthest carries a car past a reversing manoeuvre's cusp, where the route runs back over itself."""
        end = self._window_end(reached, window)
        near = np.nonzero(self._distances(reached + 1, end, position) <= tolerance)[0]
        return int(reached + 1 + near[-1]) if len(near) else int(reached)

    def remaining(self, reached: int, position, tolerance: float, window: float = ROUTE_WINDOW) -> float:
        """Distance [m] still to drive for a car at `position` that has reached waypoint `reached` (track): the
        shortest way back onto the route (to within `tolerance` of a waypoint from `reached` to `window` metres
        on) plus the route left after that waypoint. A car that drives away from the route, or back along it,
        has more to drive again; one cutting a corner rejoins further on."""
        end = self._window_end(reached, window)
        off = self._distances(reached, end, position)
        return float(np.min(self.s[-1] - self.s[reached:end] + np.maximum(off - tolerance, 0.0)))

    def _window_end(self, reached: int, window: float) -> int:
        """One past the last waypoint at most `window` [m] along the route from waypoint `reached` (s increases)."""
        return int(np.searchsorted(self.s, self.s[reached] + window, side="right"))

    def _distances(self, start: int, end: int, position) -> np.ndarray:
        """Distances [m] from `position` to the waypoints start..end-1: per step, only the window is looked at."""
        return np.hypot(*(self.points[start:end] - np.asarray(position, float)).T)


def route_completion(remaining: float, start_remaining: float) -> float:
    """Route completion in [0, 1]: the share of the distance to drive at the start (Route.remaining) that is done."""
    return 1.0 if start_remaining <= 0 else min(max(1.0 - remaining / start_remaining, 0.0), 1.0)
