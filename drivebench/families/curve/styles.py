"""The curve family's part of the style experiment (drivebench/styles/hooks.py): its style metrics (apex cut,
outside the lane's centre band, clearance to the road edge), its linear-IRL features and candidate library
(experts.py's controller with speed, lateral acceleration and apex cut varied), and how a cell of the styles
figure is drawn (the road, paths coloured by speed), plus offsets.png: each episode's offset from its lane centre
along the road (arcs shaded, the inside of each arc marked), where apex cutting shows.

The metrics read the env's curve signals (`s`, `lateral_offset`, `lane_offset`, `heading_error`); `curve_signals`
computes them from poses as CurveEnv.measure does, for synthetic paths and trajectories recorded without them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivebench.families.curve import geometry
from drivebench.families.curve.experts import CurveExpert, CurveStyle
from drivebench.scenarios import roads
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.styles.hooks import StyleHooks
from drivebench.styles.linear_irl import CLEARANCE_SCALE
from drivebench.styles.metrics import CLEARANCE_RANGE, COMMON_METRICS, path_share, step_lengths

CENTRE_BAND = 0.3
"""Half-width of the lane's centre band [m]: a car centre further than this from its lane centre is outside it."""

METRICS = COMMON_METRICS + ("apex_cut", "peak_apex_cut", "outside_band_share")
"""The style metrics of a curve episode, in vector order."""
FEATURES = ("progress", "speed", "lane_offset", "reversing", "clearance", "jerk")
"""The linear-IRL features on curves (no through-bay; reversing is there but no candidate varies it)."""

CANDIDATE_GRID = {"speed_factor": (0.6, 0.8, 1.0), "lateral_acceleration": (1.5, 2.5, 3.5),
                  "apex_cut": (0.0, 0.4, 0.8)}
"""The candidate grid: every combination is one candidate manoeuvre (27)."""
QUICK_GRID = {"speed_factor": (0.6, 1.0), "apex_cut": (0.0, 0.8)}
"""The quick preset's grid (4)."""


# ---------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True, eq=False)
class CurveGeometry:
    centreline: geometry.Centreline
    lane_offsets: np.ndarray
    """(lanes,) offset of each lane centre from the centreline, + right [m] (geometry.lane_offsets)"""
    half_width: float
    """half the road's width [m]"""

    def style_metrics(self, poses: np.ndarray, signals: Mapping[str, np.ndarray], dt: float) -> dict[str, float]:
        """Clearance to the road edge, apex cut (mean and peak, on arcs) and the share outside the centre band."""
        step = step_lengths(poses[:, :2])
        s = np.asarray(signals["s"], float)
        offset = np.asarray(signals["lane_offset"], float)
        heading_error = np.asarray(signals["heading_error"], float)
        inside = inside_offset(s, offset, self.centreline)
        on_arc = ~np.isnan(inside)
        d = np.asarray(signals["lateral_offset"], float)
        extent = (np.abs(d) + CAR_LENGTH / 2 * np.abs(np.sin(heading_error))
                  + CAR_WIDTH / 2 * np.abs(np.cos(heading_error)))
        return {
            "min_clearance": min(float((self.half_width - extent).min()), CLEARANCE_RANGE),
            "apex_cut": float(inside[on_arc].mean()) if on_arc.any() else 0.0,
            "peak_apex_cut": float(inside[on_arc].max()) if on_arc.any() else 0.0,
            "outside_band_share": path_share(np.abs(offset) > CENTRE_BAND, step),
        }

    def step_features(self, poses: np.ndarray, signals: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """|offset from the lane centre| / half a lane; gap from the body to the road edge / CLEARANCE_SCALE."""
        half_lane = float(np.diff(self.lane_offsets).min()) / 2 if len(self.lane_offsets) > 1 else self.half_width
        he = np.asarray(signals["heading_error"], float)
        extent = (np.abs(np.asarray(signals["lateral_offset"], float)) + CAR_LENGTH / 2 * np.abs(np.sin(he))
                  + CAR_WIDTH / 2 * np.abs(np.cos(he)))
        return {
            "lane_offset": np.minimum(np.abs(np.asarray(signals["lane_offset"], float)) / half_lane, 1.0),
            "clearance": np.clip((self.half_width - extent) / CLEARANCE_SCALE, 0.0, 1.0),
        }


def geometry_for(spec) -> CurveGeometry:
    road = spec.road
    return CurveGeometry(geometry.build_centreline(road), geometry.lane_offsets(road), road.lanes * road.lane_width / 2)


def inside_offset(s: np.ndarray, lane_offset: np.ndarray, centreline: geometry.Centreline) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------------- library
def candidate(params: Mapping) -> CurveStyle:
    """One candidate's style: the grid point's parameters, the others at their defaults."""
    p = {"speed_factor": 0.8, "lateral_acceleration": 2.5, "apex_cut": 0.0, **params}
    name = f"v={p['speed_factor']:g}xlimit a_lat={p['lateral_acceleration']:g} apex={p['apex_cut']:g}"
    return CurveStyle(name, "library candidate", speed_factor=p["speed_factor"],
                      lateral_acceleration=p["lateral_acceleration"], apex_cut=p["apex_cut"],
                      time_headway=1.5, braking=2.0)


def speed_reference(spec) -> float:
    """The speed feature's reference: the road's speed limit [m/s]."""
    return spec.road.speed_limit


# ---------------------------------------------------------------------------------------------- figures
def scene_extent(spec) -> tuple[float, float]:
    """Width and height [m] of what draw_scene shows."""
    line = geometry.build_centreline(spec.road)
    pts = np.array([line.point(s, 0.0) for s in np.linspace(0.0, line.length, 50)])
    margin = spec.road.lanes * spec.road.lane_width
    span = pts.max(axis=0) - pts.min(axis=0) + margin
    return float(span[0]), float(span[1])


def draw_scene(ax, spec) -> None:
    """The road edges and lane lines, north up, equal axes."""
    line = geometry.build_centreline(spec.road)
    s = np.linspace(0.0, line.length, max(int(line.length), 2))
    half = spec.road.lanes * spec.road.lane_width / 2
    for d in (-half, half):
        ax.plot(*np.array([line.point(x, d) for x in s]).T, color="0.3", lw=1.0)
    for d in geometry.lane_offsets(spec.road)[:-1] + spec.road.lane_width / 2:
        ax.plot(*np.array([line.point(x, d) for x in s]).T, color="0.6", lw=0.6, linestyle="--")
    ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)


def draw_speed_path(ax, poses: np.ndarray, arrived: bool, speed_max: float) -> None:
    """The car centre's path coloured by |speed|; dotted if the episode did not arrive."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if len(poses) < 2:
        return
    segments = np.stack([poses[:-1, :2], poses[1:, :2]], axis=1)
    lines = LineCollection(segments, cmap="viridis", norm=plt.Normalize(0, speed_max), linewidths=1.0, alpha=0.8,
                           linestyles="-" if arrived else ":")
    lines.set_array(np.abs(poses[1:, 3]))
    ax.add_collection(lines)


def speed_colorbar(fig, axes, speed_max: float) -> None:
    import matplotlib.pyplot as plt

    sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, speed_max))
    fig.colorbar(sm, ax=axes, fraction=0.03, pad=0.02, label="speed [m/s]")


def offset_figure(result, path: Path) -> Path:
    """Offset from the lane centre [m] along the road, per cell; arcs shaded with their inside marked."""
    from drivebench.styles.figure import FORWARD, cells, result_spec  # first: it selects matplotlib's Agg backend

    import matplotlib.pyplot as plt

    spec = result_spec(result)
    line = geometry.build_centreline(spec.road)
    cols, rows = 1 + len(result.config.algos), len(result.styles)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False, sharey=True)
    room = spec.road.lane_width / 2
    for ax, (style, title, episodes) in zip(axes.ravel(), cells(result)):
        for piece in line.pieces:
            if piece.curvature != 0.0:
                ax.axvspan(piece.s0, piece.s0 + piece.length, color="0.92", zorder=0)
                inside = "inside: right (+)" if piece.curvature > 0 else "inside: left (-)"
                ax.text(piece.s0 + piece.length / 2, room * 0.92, inside, ha="center", va="top", fontsize=6)
        for poses, signals, arrived in episodes:
            if "s" in signals and len(poses):
                ax.plot(signals["s"], signals["lane_offset"], lw=0.8, alpha=0.7, color=FORWARD,
                        linestyle="-" if arrived else ":")
        ax.axhline(0.0, color="0.5", lw=0.5)
        ax.set_ylim(-room, room)
        ax.set_xlim(0, line.length)
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax, style in zip(axes[:, 0], result.styles):
        ax.set_ylabel(f"{style}\noffset from lane centre [m], + right", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("distance along the road [m]", fontsize=8)
    fig.suptitle(f"{result.config.scenario}: lateral offset profile (apex cutting)", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


HOOKS = StyleHooks(
    metric_names=METRICS,
    geometry=geometry_for,
    episode_geometry=lambda spec, seed: geometry_for(spec),  # nothing on a curve depends on the seed
    features=FEATURES,
    speed_reference=speed_reference,
    candidate_grid=CANDIDATE_GRID,
    quick_grid=QUICK_GRID,
    candidate=candidate,
    expert=CurveExpert,
    scene_extent=scene_extent,
    draw_scene=draw_scene,
    draw_path=draw_speed_path,
    legend=speed_colorbar,
    cell_size=3.0,
    extra_width=1.0,  # the speed colour bar
    figures={"offsets.png": offset_figure},
)
