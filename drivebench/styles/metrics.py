"""Style metrics: how an episode was driven, not whether it arrived. Pure functions of (poses, signals, dt,
geometry) -> `StyleMetrics`, so they are tested on synthetic paths and recomputed from any stored trajectory
(a demo set's episodes or the harness's `Trajectory`).

Geometry comes from the scenario's spec through its family's style hooks (hooks.py), never from coordinates
written here: `geometry_for` / `episode_geometry` ask the family to build it (e.g. a centreline; a lot, its goal
bay and the parked cars an episode's seed draws). This module computes the metrics every family has (speed,
reversing, path length, direction changes, jerk) and asks the geometry for the family's own (its clearance, the
share of the path through bays or outside the lane's centre band, ...); `metric_vector` lays out the metrics the
family lists (`StyleHooks.metric_names`).

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
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.styles.hooks import StyleGeometry, hooks_for

CLEARANCE_RANGE = 10.0
"""Clearances are capped at this [m] (a lot without walls or parked cars has nothing to keep clear of)."""


@dataclass(frozen=True)
class StyleMetrics:
    """One episode's style. Metrics the episode's family does not measure are NaN (its hooks' `metric_names` lists
    the ones it does). The fields are the metrics' shared vocabulary: a family with a new metric adds it here, with
    its unit (METRIC_DOCS) and its scale floor (compare.SCALE_FLOOR)."""

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
    """curves: share of the path with the car centre more than the curve family's CENTRE_BAND from its lane
    centre [-]"""


COMMON_METRICS = ("mean_speed", "max_speed", "reversing_share", "path_length", "direction_changes", "mean_jerk",
                  "min_clearance")
"""The metrics every family's style is described by (a family's `metric_names` start with these); all but
min_clearance are computed here, clearance by the family's geometry."""

METRIC_NAMES = tuple(f.name for f in fields(StyleMetrics))
METRIC_DOCS = {
    "mean_speed": "m/s", "max_speed": "m/s", "reversing_share": "-", "path_length": "m", "direction_changes": "-",
    "mean_jerk": "m/s^3", "min_clearance": "m", "through_bay_share": "-", "line_crossing_share": "-",
    "aisle_offset": "m", "apex_cut": "m", "peak_apex_cut": "m", "outside_band_share": "-",
}
"""Unit of each metric."""


# ---------------------------------------------------------------------------------------------- geometry
def geometry_for(spec) -> StyleGeometry:
    """The geometry style metrics need, from the spec alone (its family's hooks build it)."""
    return hooks_for(spec).geometry(spec)


def episode_geometry(spec, seed: int) -> StyleGeometry:
    """The geometry of the episode with this seed (e.g. with the parked cars that seed draws)."""
    return hooks_for(spec).episode_geometry(spec, seed)


# ---------------------------------------------------------------------------------------------- metrics
def style_metrics(poses: np.ndarray, signals: dict[str, np.ndarray], dt: float,
                  geometry: StyleGeometry) -> StyleMetrics:
    """An episode's style from its (T + 1, 4) poses (x, y, heading, speed), its per-step env signals (what the
    family's geometry reads, e.g. `s`, `lateral_offset`, `lane_offset`, `heading_error` on curves) and the decision
    period dt [s]."""
    poses = np.asarray(poses, float)
    speed = poses[:, 3]
    step = step_lengths(poses[:, :2])
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
    return StyleMetrics(**{**nan, **common, **geometry.style_metrics(poses, signals, dt)})


def metric_vector(m: StyleMetrics, names: tuple[str, ...]) -> np.ndarray:
    """These metrics of one episode as a vector (a family's `metric_names`, in that order)."""
    return np.array([getattr(m, name) for name in names], float)


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
