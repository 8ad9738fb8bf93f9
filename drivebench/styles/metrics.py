"""Style metrics: how an episode was driven, not whether it arrived. Pure functions of (poses, signals, dt,
geometry) -> `StyleMetrics`, so they are tested on synthetic paths and recomputed from any stored trajectory
(a demo set's episodes or the harness's `Trajectory`).

Geometry comes from the scenario's spec through roads.py, never from coordinates written here: `geometry_for`
builds it (a centreline for curves; the lot, the goal bay and that episode's parked cars for parking). Parked
cars are drawn from the episode's seed (`occupancy.count`), so `parked_cars(spec, seed)` reads them off a
reset env: the only part of this module that touches the simulator.

Path shares (through bays, across lines, outside the centre band) weigh each decision period by the distance
driven in it, so a slow car and a fast one that take the same path get the same share; the reversing share is
a share of time. Each of the T periods counts by the state it ended in (as eval/metrics.time_in does).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from drivebench.eval import events
from drivebench.scenarios import roads
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH, ParkingEnv
from drivebench.scenarios.spec import CurveScenario, ParkingScenario

CENTRE_BAND = 0.3
"""Half-width of the lane's centre band [m]: a car centre further than this from its lane centre is outside it."""
CLEARANCE_RANGE = 10.0
"""Clearances are capped at this [m] (a lot without walls or parked cars has nothing to keep clear of)."""


@dataclass(frozen=True)
class StyleMetrics:
    """One episode's style. Metrics of the other family are NaN (`FAMILY_METRICS` lists each family's)."""

    mean_speed: float
    """mean |speed| [m/s]"""
    max_speed: float
    """max |speed| [m/s]"""
    reversing_share: float
    """share of time moving backwards (speed < -events.REVERSING_SPEED) [-]"""
    path_length: float
    """distance driven by the car centre [m]"""
    direction_changes: float
    """times the car switched between driving forwards and backwards (standstill in between ignored) [-]"""
    mean_jerk: float
    """mean jerk magnitude, longitudinal and lateral (events.kinematics) [m/s^3]"""
    min_clearance: float
    """smallest gap between the body and an obstacle [m]: parked cars and walls (parking), the road edge
    (curves); negative when overlapping or past the edge; at most CLEARANCE_RANGE"""
    through_bay_share: float
    """parking: share of the path with the car centre in a bay other than the goal (cutting through bays) [-]"""
    line_crossing_share: float
    """parking: share of the path with the body (a corner or the centre) in a bay other than the goal, i.e. over
    its lines (as the env's `other_bay` signal) [-]"""
    aisle_offset: float
    """parking: mean |distance| of the car centre from the aisle's centre line while in the aisle [m]"""
    apex_cut: float
    """curves: mean offset of the car centre from its lane centre toward the inside of the curve, over the
    steps on arcs [m] (0 if it never reached an arc); > 0 cuts the apex, < 0 drifts outwards"""
    peak_apex_cut: float
    """curves: largest offset toward the inside of the curve on an arc [m] (0 if it never reached an arc)"""
    outside_band_share: float
    """curves: share of the path with the car centre more than CENTRE_BAND from its lane centre [-]"""


COMMON_METRICS = ("mean_speed", "max_speed", "reversing_share", "path_length", "direction_changes", "mean_jerk",
                  "min_clearance")
FAMILY_METRICS = {
    "parking": COMMON_METRICS + ("through_bay_share", "line_crossing_share", "aisle_offset"),
    "curve": COMMON_METRICS + ("apex_cut", "peak_apex_cut", "outside_band_share"),
}
"""The metrics that describe a style in each scenario family, in the order vectors use."""

METRIC_NAMES = tuple(f.name for f in fields(StyleMetrics))
METRIC_DOCS = {
    "mean_speed": "m/s", "max_speed": "m/s", "reversing_share": "-", "path_length": "m", "direction_changes": "-",
    "mean_jerk": "m/s^3", "min_clearance": "m", "through_bay_share": "-", "line_crossing_share": "-",
    "aisle_offset": "m", "apex_cut": "m", "peak_apex_cut": "m", "outside_band_share": "-",
}
"""Unit of each metric."""


# ---------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True, eq=False)
class CurveGeometry:
    centreline: roads.Centreline
    lane_offsets: np.ndarray
    """(lanes,) offset of each lane centre from the centreline, + right [m] (roads.lane_offsets)"""
    half_width: float
    """half the road's width [m]"""


@dataclass(frozen=True)
class ParkingGeometry:
    lot: roads.LotGeometry
    goal_bay: str
    """the goal bay's id"""
    parked: tuple[roads.Rect, ...] = ()
    """the episode's parked cars"""

    @property
    def obstacles(self) -> tuple[roads.Rect, ...]:
        return (*self.parked, *self.lot.walls)


Geometry = CurveGeometry | ParkingGeometry


def geometry_for(spec: CurveScenario | ParkingScenario,
                 parked: tuple[roads.Rect, ...] = ()) -> Geometry:
    """The geometry style metrics need, from the spec (and, for parking, the episode's parked cars)."""
    if spec.family == "curve":
        road = spec.road
        return CurveGeometry(roads.build_centreline(road), roads.lane_offsets(road), road.lanes * road.lane_width / 2)
    return ParkingGeometry(roads.build_lot(spec.lot), spec.goal.bay, tuple(parked))


def episode_geometry(spec: CurveScenario | ParkingScenario, seed: int) -> Geometry:
    """The geometry of the episode with this seed (parking: with the parked cars that seed draws)."""
    return geometry_for(spec, parked_cars(spec, seed) if spec.family == "parking" else ())


_ENVS: dict[str, ParkingEnv] = {}


def parked_cars(spec: ParkingScenario, seed: int) -> tuple[roads.Rect, ...]:
    """The parked cars of the episode with this seed (a reset env draws them; the lot is empty when the spec
    parks none, and then no env is made)."""
    if not spec.occupancy.occupied and not spec.occupancy.count:
        return ()
    key = spec.model_dump_json()
    env = _ENVS.get(key)
    if env is None:
        env = _ENVS[key] = ParkingEnv(spec)
    env.reset(seed=seed)
    return tuple(env.parked)


# ---------------------------------------------------------------------------------------------- metrics
def style_metrics(poses: np.ndarray, signals: dict[str, np.ndarray], dt: float, geometry: Geometry) -> StyleMetrics:
    """An episode's style from its (T + 1, 4) poses (x, y, heading, speed), its per-step env signals (curves
    read `s`, `lateral_offset`, `lane_offset`, `heading_error`; parking reads none) and the decision period
    dt [s]."""
    poses = np.asarray(poses, float)
    xy, heading, speed = poses[:, :2], poses[:, 2], poses[:, 3]
    step = step_lengths(xy)
    kin = events.kinematics(poses, dt)
    common = {
        "mean_speed": float(np.abs(speed).mean()) if len(speed) else 0.0,
        "max_speed": float(np.abs(speed).max()) if len(speed) else 0.0,
        "reversing_share": time_share(events.reversing(speed)),
        "path_length": float(step.sum()),
        "direction_changes": float(direction_changes(speed)),
        "mean_jerk": float(np.mean(kin["jerk"])) if len(speed) else 0.0,
    }
    nan = dict.fromkeys(METRIC_NAMES, math.nan)
    if isinstance(geometry, ParkingGeometry):
        lot, goal = geometry.lot, geometry.goal_bay
        others = [b.rect for b in lot.bays if b.id != goal]
        corners = body_corners(xy, heading)
        in_aisle = lot.aisle.contains(xy)
        return StyleMetrics(**{
            **nan, **common,
            "min_clearance": min(min_clearance(corners, geometry.obstacles), CLEARANCE_RANGE),
            "through_bay_share": path_share(in_rects(xy[:, None, :], others), step),
            "line_crossing_share": path_share(in_rects(np.concatenate([corners, xy[:, None, :]], axis=1), others),
                                              step),
            "aisle_offset": float(np.abs(xy[in_aisle, 1] - lot.aisle.y).mean()) if in_aisle.any() else 0.0,
        })
    s = np.asarray(signals["s"], float)
    offset = np.asarray(signals["lane_offset"], float)
    heading_error = np.asarray(signals["heading_error"], float)
    inside = inside_offset(s, offset, geometry.centreline)
    on_arc = ~np.isnan(inside)
    d = np.asarray(signals["lateral_offset"], float)
    extent = np.abs(d) + CAR_LENGTH / 2 * np.abs(np.sin(heading_error)) + CAR_WIDTH / 2 * np.abs(np.cos(heading_error))
    return StyleMetrics(**{
        **nan, **common,
        "min_clearance": min(float((geometry.half_width - extent).min()), CLEARANCE_RANGE),
        "apex_cut": float(inside[on_arc].mean()) if on_arc.any() else 0.0,
        "peak_apex_cut": float(inside[on_arc].max()) if on_arc.any() else 0.0,
        "outside_band_share": path_share(np.abs(offset) > CENTRE_BAND, step),
    })


def metric_vector(m: StyleMetrics, family: str) -> np.ndarray:
    """The family's metrics of one episode as a vector (FAMILY_METRICS order)."""
    return np.array([getattr(m, name) for name in FAMILY_METRICS[family]], float)


# ---------------------------------------------------------------------------------------------- pieces
def step_lengths(xy: np.ndarray) -> np.ndarray:
    """(T,) distance driven in each decision period [m]."""
    return np.hypot(*np.diff(np.asarray(xy, float), axis=0).T) if len(xy) > 1 else np.zeros(0)


def time_share(flags: np.ndarray) -> float:
    """Share of the T periods whose end state has the flag (0 for an episode of no steps)."""
    flags = np.asarray(flags, bool)
    return float(flags[1:].mean()) if len(flags) > 1 else 0.0


def path_share(flags: np.ndarray, step: np.ndarray) -> float:
    """Share of the distance driven in periods whose end state has the flag (0 if the car never moved)."""
    total = float(step.sum())
    return float(step[np.asarray(flags, bool)[1:]].sum() / total) if total > 1e-9 else 0.0


def direction_changes(speed: np.ndarray, threshold: float = events.REVERSING_SPEED) -> int:
    """Switches between forwards and backwards motion; speeds within +-threshold [m/s] (standstill) are skipped,
    so stopping and going on the same way is not a change."""
    signs = np.sign(np.asarray(speed, float))
    moving = signs[np.abs(speed) > threshold]
    return int(np.count_nonzero(np.diff(moving))) if len(moving) > 1 else 0


def body_corners(xy: np.ndarray, heading: np.ndarray, length: float = CAR_LENGTH,
                 width: float = CAR_WIDTH) -> np.ndarray:
    """(T + 1, 4, 2) corners of the car body at each pose, in the order of roads.Rect.corners."""
    c, s = np.cos(heading)[:, None], np.sin(heading)[:, None]
    local = np.array([[length, width], [length, -width], [-length, -width], [-length, width]]) / 2
    x = xy[:, 0:1] + local[None, :, 0] * c - local[None, :, 1] * s
    y = xy[:, 1:2] + local[None, :, 0] * s + local[None, :, 1] * c
    return np.stack([x, y], axis=-1)


def in_rects(points: np.ndarray, rects: list[roads.Rect] | tuple[roads.Rect, ...]) -> np.ndarray:
    """(T + 1,) bool: whether any of each step's points (T + 1, m, 2) lies in any of the rectangles."""
    out = np.zeros(len(points), bool)
    flat = points.reshape(-1, 2)
    for rect in rects:
        out |= rect.contains(flat).reshape(points.shape[:2]).any(axis=1)
    return out


def min_clearance(corners: np.ndarray, obstacles: tuple[roads.Rect, ...] | list[roads.Rect]) -> float:
    """Smallest gap [m] between the car body (corners (T + 1, 4, 2)) and any obstacle rectangle over the
    episode; minus the penetration depth when they overlap; inf when there are no obstacles or no poses."""
    if not len(obstacles) or not len(corners):
        return math.inf
    return float(min(rect_gap(corners, np.broadcast_to(r.corners(), corners.shape)).min() for r in obstacles))


def rect_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T,) signed gap between rectangles a and b given by their corners (each (T, 4, 2), in order around the
    outline): the distance between their outlines when apart, minus the penetration depth (the smallest overlap
    of their projections on the four edge normals, the separating axis test) when they overlap."""
    axes = np.concatenate([np.diff(a[:, :3], axis=1), np.diff(b[:, :3], axis=1)], axis=1)  # (T, 4, 2)
    axes = axes / np.maximum(np.linalg.norm(axes, axis=-1, keepdims=True), 1e-12)
    pa = np.einsum("tpk,tak->tap", a, axes)  # (T, axes, points)
    pb = np.einsum("tpk,tak->tap", b, axes)
    overlap = np.minimum(pa.max(-1), pb.max(-1)) - np.maximum(pa.min(-1), pb.min(-1))  # (T, axes)
    depth = overlap.min(axis=1)
    apart = np.minimum(_vertex_edge(a, b), _vertex_edge(b, a))
    return np.where(depth > 0, -depth, apart)


def _vertex_edge(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """(T,) smallest distance from any of the points (T, p, 2) to any edge of the polygon (T, e, 2)."""
    vec = np.roll(poly, -1, axis=1) - poly
    rel = points[:, :, None, :] - poly[:, None, :, :]  # (T, p, e, 2)
    length2 = np.maximum((vec ** 2).sum(-1), 1e-12)[:, None, :]
    t = np.clip((rel * vec[:, None]).sum(-1) / length2, 0.0, 1.0)
    gap = rel - t[..., None] * vec[:, None]
    return np.sqrt((gap ** 2).sum(-1)).min(axis=(1, 2))


def inside_offset(s: np.ndarray, lane_offset: np.ndarray, centreline: roads.Centreline) -> np.ndarray:
    """(T + 1,) offset from the lane centre toward the inside of the curve at each step [m] (+ inside); NaN
    where the car is not on an arc. Lateral offsets are + right, and a right turn (curvature > 0) has its
    inside on the right."""
    curvature = np.array([centreline.curvature(float(x)) for x in s])
    return np.where(curvature != 0.0, np.sign(curvature) * lane_offset, np.nan)


def curve_signals(poses: np.ndarray, geometry: CurveGeometry) -> dict[str, np.ndarray]:
    """The curve signals style_metrics reads, computed from poses as CurveEnv.measure does: for synthetic paths
    and trajectories recorded without them."""
    lane_offsets = geometry.lane_offsets
    out: dict[str, list[float]] = {"s": [], "lateral_offset": [], "lane_offset": [], "heading_error": []}
    for x, y, heading, _ in np.asarray(poses, float):
        s, d, road_heading = geometry.centreline.project(x, y)
        lane = int(np.argmin(np.abs(lane_offsets - d)))
        out["s"].append(s)
        out["lateral_offset"].append(d)
        out["lane_offset"].append(d - lane_offsets[lane])
        out["heading_error"].append(float(roads.wrap_angle(heading - road_heading)))
    return {k: np.asarray(v) for k, v in out.items()}
