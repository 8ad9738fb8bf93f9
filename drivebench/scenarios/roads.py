"""Pure geometry, the kit the families build on: angles, a car body's lateral extent, oriented rectangles (inside
tests, edges) and ray casting. No simulator state and no family here: the curve family's centreline is in
families/curve/geometry.py, the parking lot's layout in families/parking/geometry.py.

Frame: highway-env's (x east, y south; headings in radians, increasing heading turns right). A lateral offset
`d` is positive to the driver's right, as highway-env's lane coordinates are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np



def wrap_angle(a):
    """Wrap an angle (float or array) to [-pi, pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


def body_lateral_extent(d: float, heading_error: float, length: float, width: float) -> float:
    """Largest |lateral offset| reached by any corner of a car centred at offset d [m] with a heading error."""
    return abs(d) + length / 2 * abs(math.sin(heading_error)) + width / 2 * abs(math.cos(heading_error))


# ---------------------------------------------------------------------------------------------- rectangles
@dataclass(frozen=True)
class Rect:
    """An oriented rectangle."""

    x: float
    """centre, east [m]"""
    y: float
    """centre, south [m]"""
    length: float
    """extent along `heading` [m]"""
    width: float
    """extent across `heading` [m]"""
    heading: float = 0.0
    """[rad]"""

    def corners(self) -> np.ndarray:
        """(4, 2) corner positions [m]."""
        c, s = math.cos(self.heading), math.sin(self.heading)
        hl, hw = self.length / 2, self.width / 2
        local = np.array([[hl, hw], [hl, -hw], [-hl, -hw], [-hl, hw]])
        return np.array([self.x, self.y]) + local @ np.array([[c, s], [-s, c]])

    def contains(self, points: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        """Which of the (n, 2) points lie inside the rectangle grown by `tolerance` on every side."""
        c, s = math.cos(self.heading), math.sin(self.heading)
        rel = np.atleast_2d(points) - np.array([self.x, self.y])
        lon = rel @ np.array([c, s])
        lat = rel @ np.array([-s, c])
        return (np.abs(lon) <= self.length / 2 + tolerance) & (np.abs(lat) <= self.width / 2 + tolerance)


def rect_table(rects: list[Rect] | tuple[Rect, ...]) -> np.ndarray:
    """(n, 5) array of x, y, length, width, heading: rectangles in the form `rects_touched` takes."""
    return np.array([(q.x, q.y, q.length, q.width, q.heading) for q in rects]).reshape(-1, 5)


def rects_touched(rects: list[Rect] | tuple[Rect, ...] | np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n,) bool: which rectangles contain at least one of the (m, 2) points (vectorised). Pass a
    `rect_table` when the same rectangles are tested every step."""
    r = rects if isinstance(rects, np.ndarray) else rect_table(rects)
    if len(r) == 0:
        return np.zeros(0, bool)
    c, s = np.cos(r[:, 4:5]), np.sin(r[:, 4:5])
    dx = points[None, :, 0] - r[:, 0:1]
    dy = points[None, :, 1] - r[:, 1:2]
    lon, lat = dx * c + dy * s, -dx * s + dy * c
    inside = (np.abs(lon) <= r[:, 2:3] / 2) & (np.abs(lat) <= r[:, 3:4] / 2)
    return inside.any(axis=1)


def rect_edges(rects: list[Rect] | tuple[Rect, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The edges of rectangles as (start points (4n, 2), edge vectors (4n, 2)) for `ray_distances`."""
    if not rects:
        return np.zeros((0, 2)), np.zeros((0, 2))
    corners = np.stack([r.corners() for r in rects])  # (n, 4, 2)
    starts = corners.reshape(-1, 2)
    vectors = (np.roll(corners, -1, axis=1) - corners).reshape(-1, 2)
    return starts, vectors


def ray_distances(origin: np.ndarray, angles: np.ndarray, starts: np.ndarray, vectors: np.ndarray,
                  max_range: float) -> np.ndarray:
    """Distance along each ray (world angles [rad]) from `origin` to the first edge it meets, capped [m]."""
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (r, 2)
    if len(starts) == 0:
        return np.full(len(angles), max_range)
    w = starts - origin  # (e, 2)
    # Solve origin + t * dir = start + u * vec for every (ray, edge) pair.
    denom = dirs[:, None, 0] * vectors[None, :, 1] - dirs[:, None, 1] * vectors[None, :, 0]  # (r, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (w[None, :, 0] * vectors[None, :, 1] - w[None, :, 1] * vectors[None, :, 0]) / denom
        u = (w[None, :, 0] * dirs[:, None, 1] - w[None, :, 1] * dirs[:, None, 0]) / denom
    hit = (np.abs(denom) > 1e-12) & (t >= 0) & (u >= 0) & (u <= 1)
    return np.minimum(np.where(hit, t, np.inf).min(axis=1), max_range)
