"""The curve family's geometry: the road centreline from the spec's segments (pose, projection, curvature) and
its lanes. Pure functions of the spec; frame and sign conventions as in scenarios/roads.py."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from drivebench.scenarios.roads import wrap_angle


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


def sample_points(centreline: Centreline, s: np.ndarray) -> np.ndarray:
    """(n, 2) centreline positions at distances `s` (sorted or not); straight extrapolation before 0 and after the
    end, as `Centreline.pose`. Vectorised over each piece."""
    s = np.asarray(s, dtype=float)
    out = np.empty((len(s), 2))
    pieces = centreline._with_extensions
    starts = np.array([p.s0 for p in pieces[1:]])  # the extension before the start covers s < 0
    index = np.searchsorted(starts, s, side="right")  # 0: before the road; len(pieces) - 1: past its end
    for k, piece in enumerate(pieces):
        mask = index == k
        if not mask.any():
            continue
        u, th0, kappa = s[mask] - piece.s0, piece.heading0, piece.curvature
        if kappa == 0.0:
            out[mask, 0], out[mask, 1] = piece.x0 + u * math.cos(th0), piece.y0 + u * math.sin(th0)
        else:
            th = th0 + kappa * u
            out[mask, 0] = piece.x0 + (np.sin(th) - math.sin(th0)) / kappa
            out[mask, 1] = piece.y0 - (np.cos(th) - math.cos(th0)) / kappa
    return out


@dataclass(frozen=True)
class Overlap:
    """Two places on the road (or on its straight continuations, along which progress is measured before the
    start and past the end) whose centrelines come closer than the road's width: their surfaces overlap."""

    s_a: float
    """distance along the road of the earlier place [m] (< 0: on the continuation before the start)"""
    s_b: float
    """distance along the road of the later place [m] (> the road's length: on the continuation past its end)"""
    distance: float
    """how far apart their centrelines are there [m]"""
    width: float
    """the road's width, lanes x lane width [m]"""


def closest_overlap(road) -> Overlap | None:
    """Where the road comes back over itself: the closest pair of centreline points less than the road's width w
    apart that are not neighbours along the road (a pair on the road itself before one on a continuation), or None
    if there is none.

    Neighbours: on a curve whose radius is nowhere below w/2 (CurveScenario's inner-edge check makes sure), two
    points up to half a turn of its tightest circle apart are at least as far apart as on that circle (Schur's
    comparison theorem), and on a circle of radius w/2 points pi w/2 apart along it are w apart. So two points
    more than pi w/2 apart along the road and closer than w mean the road turned back over itself.
    The road's straight continuations count too (up to where they leave the road's bounding box for good), since
    `Centreline.project` measures progress along them: a car on the road where the continuation past its end
    crosses it would count as arrived. The centreline is sampled every w/4 metres, so an overlap shallower than
    that may go unseen."""
    from scipy.spatial import cKDTree

    line = build_centreline(road)
    width = road.lanes * road.lane_width
    step = width / 4
    length = line.length
    core = np.linspace(0.0, length, int(math.ceil(length / step)) + 1)
    span = np.ptp(sample_points(line, core), axis=0)
    reach = math.hypot(*span) + 2 * width  # past this, a straight continuation is too far from the road to overlap
    ahead = np.arange(step, reach + step, step)
    s = np.concatenate([-ahead[::-1], core, length + ahead])
    points = sample_points(line, s)
    pairs = cKDTree(points).query_pairs(width, output_type="ndarray")
    if not len(pairs):
        return None
    i, j = pairs[:, 0], pairs[:, 1]
    on_road = (s >= 0) & (s <= length)
    distance = np.linalg.norm(points[i] - points[j], axis=1)
    keep = (np.abs(s[i] - s[j]) > math.pi * width / 2 + 2 * step) & (on_road[i] | on_road[j]) & (distance < width)
    if not keep.any():
        return None
    both = keep & on_road[i] & on_road[j]
    keep = both if both.any() else keep  # the road over itself first, then a continuation over the road
    k = np.flatnonzero(keep)[np.argmin(distance[keep])]
    a, b = sorted((float(s[i[k]]), float(s[j[k]])))
    return Overlap(a, b, float(distance[k]), width)
