"""Pure geometry, the kit the families build on: road centrelines from segments, lanes, parking-lot layouts,
rectangles and ray casting. No simulator state here, and no family's spec type: a road is anything with
`segments` (each with `kind` "straight" (length) or "arc" (radius, angle_deg, direction)), `lanes` and
`lane_width`; a lot anything with the parking family's layout fields.

Frame: highway-env's (x east, y south; headings in radians, increasing heading turns right). A lateral offset
`d` is positive to the driver's right, as highway-env's lane coordinates are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np



def wrap_angle(a):
    """Wrap an angle (float or array) to [-pi, pi)."""
    return (a + math.pi) % (2 * math.pi) - math.pi


# ---------------------------------------------------------------------------------------------- centreline
@dataclass(frozen=True)
class Piece:
    """One segment of a road centreline."""

    s0: float
    """distance along the road where the piece starts [m]"""
    x0: float
    """start position, east [m]"""
    y0: float
    """start position, south [m]"""
    heading0: float
    """heading at the start [rad]"""
    length: float
    """centreline length [m]"""
    curvature: float
    """signed curvature [1/m]; > 0 turns right (heading increases), 0 is straight"""

    def pose(self, u: float) -> tuple[float, float, float]:
        """(x, y, heading) at distance u from the piece start (u may be outside [0, length])."""
        k, th0 = self.curvature, self.heading0
        if k == 0.0:
            return self.x0 + u * math.cos(th0), self.y0 + u * math.sin(th0), th0
        th = th0 + k * u
        return self.x0 + (math.sin(th) - math.sin(th0)) / k, self.y0 - (math.cos(th) - math.cos(th0)) / k, th

    def local(self, x: float, y: float) -> tuple[float, float]:
        """(u, d): distance along the piece from its start and lateral offset (+ right) of a point."""
        k, th0 = self.curvature, self.heading0
        if k == 0.0:
            dx, dy = x - self.x0, y - self.y0
            return dx * math.cos(th0) + dy * math.sin(th0), -dx * math.sin(th0) + dy * math.cos(th0)
        r0 = 1.0 / k
        cx, cy = self.x0 - r0 * math.sin(th0), self.y0 + r0 * math.cos(th0)
        phi = math.atan2(y - cy, x - cx)
        th = phi + math.copysign(math.pi / 2, k)
        mid = th0 + k * self.length / 2
        u = self.length / 2 + wrap_angle(th - mid) / k
        radius = abs(r0)
        return u, math.copysign(1.0, k) * (radius - math.hypot(x - cx, y - cy))


@dataclass(frozen=True)
class Centreline:
    """The road's centreline: pieces end to end. Positions past either end extrapolate straight."""

    pieces: tuple[Piece, ...]

    @property
    def length(self) -> float:
        last = self.pieces[-1]
        return last.s0 + last.length

    def piece_at(self, s: float) -> Piece:
        for piece in self.pieces:
            if s < piece.s0 + piece.length:
                return piece
        return self.pieces[-1]

    def pose(self, s: float) -> tuple[float, float, float]:
        """(x, y, heading) of the centreline at distance s; straight extrapolation before 0 and after the end."""
        if s < 0:
            x, y, th = self.pieces[0].pose(0.0)
            return x + s * math.cos(th), y + s * math.sin(th), th
        if s > self.length:
            x, y, th = self.pieces[-1].pose(self.pieces[-1].length)
            extra = s - self.length
            return x + extra * math.cos(th), y + extra * math.sin(th), th
        piece = self.piece_at(s)
        return piece.pose(s - piece.s0)

    def point(self, s: float, d: float) -> tuple[float, float]:
        """World position at distance s and lateral offset d (+ right)."""
        x, y, th = self.pose(s)
        return x - d * math.sin(th), y + d * math.cos(th)

    def curvature(self, s: float) -> float:
        if s < 0 or s > self.length:
            return 0.0
        return self.piece_at(s).curvature

    @cached_property
    def _with_extensions(self) -> tuple[Piece, ...]:
        """The pieces plus straight extensions before the start and after the end, as `pose` extrapolates."""
        far = 1e6
        x0, y0, th0 = self.pose(0.0)
        x1, y1, th1 = self.pose(self.length)
        before = Piece(-far, x0 - far * math.cos(th0), y0 - far * math.sin(th0), th0, far, 0.0)
        after = Piece(self.length, x1, y1, th1, far, 0.0)
        return (before, *self.pieces, after)

    def project(self, x: float, y: float) -> tuple[float, float, float]:
        """(s, d, road heading) of the point's closest centreline position (the inverse of `point`)."""
        best = None
        for piece in self._with_extensions:
            u, d = piece.local(x, y)
            uc = min(max(u, 0.0), piece.length)
            if uc != u:  # outside this piece: measure the distance to its nearest end
                px, py, _ = piece.pose(uc)
                dist = math.hypot(x - px, y - py)
            else:
                dist = abs(d)
            if best is None or dist < best[0]:
                best = (dist, piece.s0 + uc, d if uc == u else None)
        _, s, d = best
        rx, ry, th = self.pose(s)
        if d is None:
            d = -(x - rx) * math.sin(th) + (y - ry) * math.cos(th)
        return s, d, th


def build_centreline(road, start: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Centreline:
    """Walk the segments from a start pose (x, y, heading): each arc turns by angle_deg at its radius."""
    pieces = []
    x, y, th = start
    s = 0.0
    for seg in road.segments:
        if seg.kind == "arc":
            sign = 1.0 if seg.direction == "right" else -1.0
            piece = Piece(s, x, y, th, seg.radius * math.radians(seg.angle_deg), sign / seg.radius)
        else:
            piece = Piece(s, x, y, th, seg.length, 0.0)
        pieces.append(piece)
        x, y, th = piece.pose(piece.length)
        s += piece.length
    return Centreline(tuple(pieces))


def lane_offsets(road) -> np.ndarray:
    """Lateral offset of each lane centre from the road centreline [m]; lane 0 is the leftmost."""
    n, w = road.lanes, road.lane_width
    return (np.arange(n) - (n - 1) / 2) * w


def body_lateral_extent(d: float, heading_error: float, length: float, width: float) -> float:
    """Largest |lateral offset| reached by any corner of a car centred at offset d [m] with a heading error."""
    return abs(d) + length / 2 * abs(math.sin(heading_error)) + width / 2 * abs(math.cos(heading_error))


# ---------------------------------------------------------------------------------------------- parking
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
