"""Figures of the style experiment: one row per demonstrator style, its demos then each algorithm's learned
agent, trajectories drawn on the scenario's geometry (roads.py). PNG files, matplotlib's Agg backend.

Parking: walls, bay lines, the goal bay (green) and the lot's fixed parked cars (cars drawn per seed vary by
episode and are not drawn); forward driving in blue, reversing in red; episodes that did not arrive dotted.
Curves: the road edges and lane lines, trajectories coloured by speed; a second figure plots each episode's
offset from its lane centre along the road (arcs shaded, the inside of each arc marked), where apex cutting shows.
Frame: y points south, so the y axis is inverted to show the scene as highway-env renders it (north up).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon

from drivebench.eval import events
from drivebench.scenarios import roads
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH

FORWARD, REVERSE = "#1f5fbf", "#d62728"


def _cells(result) -> list[tuple[str, str, list[tuple[np.ndarray, dict, bool]]]]:
    """(row style, column title, [(poses, signals, arrived)]) for every cell, row by row."""
    n = result.config.demos_per_style
    out = []
    for style in result.styles:
        demos = result.demos[style][:n]
        out.append((style, f"{style} demos ({len(demos)})", [(e.poses, e.signals, e.success) for e in demos]))
        for algo in result.config.algos:
            row = next(r for r in result.learned if r.algo == algo and r.style == style)
            success = np.mean([rec.metrics.success for rec in row.records])
            nearest = result.styles[int(np.argmin(row.distances))]
            out.append((style, f"{algo}: {success:.0%} arrive, nearest {nearest}",
                        [(rec.trajectory.poses, rec.trajectory.signals, rec.metrics.success) for rec in row.records]))
    return out


def styles_figure(result, path: Path) -> Path:
    """The trajectories figure (see the module docstring); returns the file written."""
    spec = result_spec(result)
    cols = 1 + len(result.config.algos)
    rows = len(result.styles)
    width, height = scene_extent(spec)
    cell = 3.4 if spec.family == "parking" else 3.0
    size = (cell * cols + (0.0 if spec.family == "parking" else 1.0), rows * (cell * height / width + 0.45) + 0.6)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    cells = _cells(result)
    speed_max = max(float(np.abs(p[:, 3]).max()) for _, _, eps in cells for p, _, _ in eps if len(p))
    for ax, (style, title, episodes) in zip(axes.ravel(), cells):
        draw_scene(ax, spec)
        for poses, _, arrived in episodes:
            if spec.family == "parking":
                draw_parking_path(ax, poses, arrived)
            else:
                draw_speed_path(ax, poses, arrived, speed_max)
        ax.set_title(title, fontsize=8)
    for ax, style in zip(axes[:, 0], result.styles):
        ax.set_ylabel(style, fontsize=10, fontweight="bold")
    if spec.family == "parking":
        handles = [plt.Line2D([], [], color=FORWARD, label="forward"),
                   plt.Line2D([], [], color=REVERSE, label="reversing"),
                   plt.Line2D([], [], color="k", linestyle=":", label="did not arrive")]
        fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    else:
        sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, speed_max))
        fig.colorbar(sm, ax=axes, fraction=0.03, pad=0.02, label="speed [m/s]")
    fig.suptitle(f"{result.config.scenario}: demos ({result.config.demos_per_style} per style) and learned agents "
                 f"({result.config.preset} preset, {result.config.episodes} episodes)", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def offset_figure(result, path: Path) -> Path:
    """Curves: offset from the lane centre [m] along the road, per cell; arcs shaded with their inside marked."""
    spec = result_spec(result)
    line = roads.build_centreline(spec.road)
    cols, rows = 1 + len(result.config.algos), len(result.styles)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False, sharey=True)
    room = spec.road.lane_width / 2
    for ax, (style, title, episodes) in zip(axes.ravel(), _cells(result)):
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


def result_spec(result):
    from drivebench.scenarios import registry

    return registry.get(result.config.scenario).spec


# ---------------------------------------------------------------------------------------------- drawing
def scene_extent(spec) -> tuple[float, float]:
    """Width and height [m] of what draw_scene shows."""
    if spec.family == "parking":
        box = roads.build_lot(spec.lot).interior
        return box.length, box.width
    line = roads.build_centreline(spec.road)
    pts = np.array([line.point(s, 0.0) for s in np.linspace(0.0, line.length, 50)])
    margin = spec.road.lanes * spec.road.lane_width
    span = pts.max(axis=0) - pts.min(axis=0) + margin
    return float(span[0]), float(span[1])


def draw_scene(ax, spec) -> None:
    """The scenario's fixed geometry, north up, equal axes."""
    if spec.family == "parking":
        lot = roads.build_lot(spec.lot)
        for wall in lot.walls:
            ax.add_patch(Polygon(wall.corners(), closed=True, color="0.35"))
        for bay in lot.bays:
            goal = bay.id == spec.goal.bay
            ax.add_patch(Polygon(bay.rect.corners(), closed=True, fill=goal, facecolor="#b7e4b0" if goal else "none",
                                 edgecolor="0.6", lw=0.6))
        for bay_id in spec.occupancy.occupied:
            r = lot.bay(bay_id).rect
            car = roads.Rect(r.x, r.y, CAR_LENGTH, CAR_WIDTH, r.heading)
            ax.add_patch(Polygon(car.corners(), closed=True, color="0.55"))
        box = lot.interior
        pad = roads.WALL_THICKNESS + 0.5
        ax.set_xlim(box.x - box.length / 2 - pad, box.x + box.length / 2 + pad)
        ax.set_ylim(box.y + box.width / 2 + pad, box.y - box.width / 2 - pad)  # y south: north up
    else:
        line = roads.build_centreline(spec.road)
        s = np.linspace(0.0, line.length, max(int(line.length), 2))
        half = spec.road.lanes * spec.road.lane_width / 2
        for d in (-half, half):
            ax.plot(*np.array([line.point(x, d) for x in s]).T, color="0.3", lw=1.0)
        for d in roads.lane_offsets(spec.road)[:-1] + spec.road.lane_width / 2:
            ax.plot(*np.array([line.point(x, d) for x in s]).T, color="0.6", lw=0.6, linestyle="--")
        ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)


def draw_parking_path(ax, poses: np.ndarray, arrived: bool) -> None:
    """The car centre's path, reversing stretches in red; dotted if the episode did not arrive."""
    if len(poses) < 2:
        return
    back = events.reversing(poses[:, 3])
    segments = np.stack([poses[:-1, :2], poses[1:, :2]], axis=1)
    rgba = matplotlib.colors.to_rgba_array
    colours = np.where(back[1:, None], rgba(REVERSE), rgba(FORWARD))
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.0, alpha=0.75,
                                     linestyles="-" if arrived else ":"))
    ax.plot(*poses[-1, :2], marker="o", ms=2, color="k" if arrived else "0.5")


def draw_speed_path(ax, poses: np.ndarray, arrived: bool, speed_max: float) -> None:
    if len(poses) < 2:
        return
    segments = np.stack([poses[:-1, :2], poses[1:, :2]], axis=1)
    lines = LineCollection(segments, cmap="viridis", norm=plt.Normalize(0, speed_max), linewidths=1.0, alpha=0.8,
                           linestyles="-" if arrived else ":")
    lines.set_array(np.abs(poses[1:, 3]))
    ax.add_collection(lines)
