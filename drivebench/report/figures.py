"""The report's figures: each function takes plain data and a path and writes one PNG, nothing else.

Maps are drawn in highway-env's frame (x east, y south) with the y axis inverted, so they look like the
simulator's view, at equal aspect; the road or lot is drawn by the scenario's family (families/<family>/draw.py), never from coordinates here.
Matplotlib is used through `Figure` objects (no pyplot, no global backend or state), so drawing is safe in any
process, headless included.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from drivebench.leaderboard import Row
from drivebench.report.data import (
    EXPERT,
    FAILURE_CAUSES,
    FailurePoint,
    RobustnessPoint,
    TrackGroup,
    shift_levels_text,
)
from drivebench.scenarios import family as families
from drivebench.scenarios.spec import Spec

DPI = 110
EXPERT_COLOUR = "#222222"
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
           "#393b79", "#637939", "#8c6d31", "#7b4173", "#aec7e8", "#98df8a")
"""Entry colours after the expert's (no red or orange: those mark crashes and off-road points): 14, so the standard
run's 9 other entries (random, 4 algorithms and their few-demo rows) and a few submissions each get their own."""
CAUSE_COLOURS = {"crashed": "#d62728", "off_road": "#ff7f0e", "stuck": "#9467bd", "timeout": "#1f77b4",
                 "invalid_action": "#7f7f7f"}
ENTRY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p", "d", "8")
ROAD, EDGE, LINE, CENTRE = "#e9e9e9", "#7a7a7a", "#a6a6a6", "#c8c8c8"
MAP_MARGIN = 6.0
"""Space around the road or lot on a map [m]."""


def entry_colours(order: Sequence[str]) -> dict[str, str]:
    """One colour per entry: the expert's is near-black, the others follow PALETTE in `order`."""
    others = [name for name in order if name != EXPERT]
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(others)}
    return {EXPERT: EXPERT_COLOUR, **colours} if EXPERT in order else colours


def _save(fig: Figure, path: Path | str) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=DPI)
    return path


# ---------------------------------------------------------------------------------------------- maps
def scenario_bounds(spec: Spec) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) of the road or lot [m]: the scenario's family draws it."""
    return families.of(spec).bounds(spec)


def draw_scenario(ax: Axes, spec: Spec) -> None:
    """The scenario's map as its family draws it (a road's edges, lane lines and end; a lot's walls, bays, parked
    cars and goal), y axis inverted (y south is down, as in the simulator), equal aspect, limits around it."""
    families.of(spec).draw(ax, spec)
    xmin, xmax, ymin, ymax = scenario_bounds(spec)
    set_map_limits(ax, (xmin, xmax, ymin, ymax))
    ax.set_xlabel("x east [m]", fontsize=8)
    ax.set_ylabel("y south [m]", fontsize=8)
    ax.tick_params(labelsize=7)


def set_map_limits(ax: Axes, bounds: tuple[float, float, float, float], margin: float = MAP_MARGIN) -> None:
    """Limits around (xmin, xmax, ymin, ymax) [m], y inverted, equal aspect."""
    xmin, xmax, ymin, ymax = bounds
    ax.set_xlim(xmin - margin, xmax + margin)
    ax.set_ylim(ymax + margin, ymin - margin)  # inverted: y south points down
    ax.set_aspect("equal", adjustable="box")


# ---------------------------------------------------------------------------------------------- scores
def score_bars(rows: Sequence[Row], path: Path | str, *, colours: Mapping[str, str] | None = None) -> Path:
    """Driving score per entry with its 95% interval (left) and the off-distribution score beside it (right),
    best-ranked entry on top; incomplete entries are hatched."""
    colours = colours or entry_colours([r.agent for r in rows])
    n = max(len(rows), 1)
    fig = Figure(figsize=(9.0, 1.3 + 0.42 * n), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(rows))[::-1]
    panels = (("driving score, in distribution", "driving_score", "driving_score_ci"),
              ("off-distribution driving score", "offdist_driving_score", "offdist_driving_score_ci"))
    for ax, (label, value, ci) in zip(axes, panels):
        for yi, row in zip(y, rows):
            v, (low, high) = getattr(row, value), getattr(row, ci)
            if math.isnan(v):
                ax.text(1, yi, "not evaluated", va="center", fontsize=8, color="#777777")
                continue
            ax.barh(yi, v, height=0.6, color=colours.get(row.agent, PALETTE[-1]), alpha=0.85,
                    hatch=None if row.complete else "//", edgecolor="white")
            if not (math.isnan(low) or math.isnan(high)):
                ax.errorbar(v, yi, xerr=[[v - low], [high - v]], fmt="none", ecolor="#111111", capsize=3, lw=1)
            ax.text(min(high if not math.isnan(high) else v, 100) + 1.5, yi, f"{v:.1f}", va="center", fontsize=8)
        ax.set_xlim(0, 112)
        ax.set_xticks(range(0, 101, 20))
        ax.set_xlabel(f"{label} (0-100)", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(y, [r.agent + ("" if r.complete else " (incomplete)") + f" ({r.runs} run{'s' * (r.runs > 1)})"
                           for r in rows])
    if not rows:
        axes[0].text(50, 0, "no entries", ha="center", va="center")
    fig.suptitle("Driving score per entry; whiskers: 95% stratified bootstrap interval over training runs "
                 "(one-run entries: over episodes)", fontsize=10)
    return _save(fig, path)


def robustness_curves(points: Sequence[RobustnessPoint], path: Path | str, *,
                      colours: Mapping[str, str] | None = None) -> Path:
    """Failure rate (1 - success rate) vs start-offset level, one line per entry with its 95% band, one panel
    per scenario family. Levels not evaluated are left out (the line breaks there)."""
    order = list(dict.fromkeys(p.entry for p in points))
    colours = colours or entry_colours(order)
    families = list(dict.fromkeys(p.family for p in points)) or ["(no data)"]
    fig = Figure(figsize=(4.6 * len(families) + 1.8, 3.8), layout="constrained")
    axes = fig.subplots(1, len(families), squeeze=False)[0]
    levels = sorted({p.level for p in points} | {0})
    xs = np.arange(max(levels) + 1)
    for ax, family in zip(axes, families):
        scenarios = max((p.scenarios for p in points if p.family == family), default=0)
        partial = []
        for name in [n for n in order if n != EXPERT] + [n for n in order if n == EXPERT]:  # the expert on top
            mine = {p.level: p for p in points if p.entry == name and p.family == family}
            if not mine:
                continue
            if max(p.scenarios for p in mine.values()) < scenarios:
                partial.append(f"{name} {max(p.scenarios for p in mine.values())}/{scenarios}")
            rate = np.array([mine[x].failure_rate if x in mine else np.nan for x in xs])
            low = np.array([mine[x].low if x in mine else np.nan for x in xs])
            high = np.array([mine[x].high if x in mine else np.nan for x in xs])
            colour = colours.get(name, PALETTE[-1])
            ax.plot(xs, rate, marker="o", color=colour, label=name, lw=1.8 if name == EXPERT else 1.5,
                    ls="--" if name == EXPERT else "-", ms=5 if name == EXPERT else 6)
            ax.fill_between(xs, low, high, color=colour, alpha=0.10, lw=0)
        ax.set_title(f"{family} ({scenarios} scenario{'s' if scenarios != 1 else ''})", fontsize=10)
        ax.set_xticks(xs, ["0\nin dist." if x == 0 else str(x) for x in xs])
        ax.set_xlim(-0.2, xs[-1] + 0.2)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("start offset level" + ("\non fewer scenarios: " + ", ".join(partial) if partial else ""),
                      fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        if not points:
            ax.text(0.5, 0.5, "no episodes", transform=ax.transAxes, ha="center")
    axes[0].set_ylabel("failure rate (1 - success)", fontsize=9)
    if order:
        fig.legend(*_legend_for(order, colours), loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(f"Failure rate vs start offset; bands: 95% Wilson intervals\nlevels: {shift_levels_text()} "
                 "(lateral [m], heading [rad])", fontsize=9)
    return _save(fig, path)


def _legend_for(order: Sequence[str], colours: Mapping[str, str]) -> tuple[list, list]:
    handles = [Line2D([], [], color=colours.get(n, PALETTE[-1]), marker="o", ls="--" if n == EXPERT else "-")
               for n in order]
    return handles, list(order)


# ---------------------------------------------------------------------------------------------- on the map
def _track_bounds(spec: Spec, points: list[np.ndarray]) -> tuple[float, float, float, float]:
    xmin, xmax, ymin, ymax = scenario_bounds(spec)
    if points:
        allp = np.vstack(points)
        xmin, xmax = min(xmin, allp[:, 0].min()), max(xmax, allp[:, 0].max())
        ymin, ymax = min(ymin, allp[:, 1].min()), max(ymax, allp[:, 1].max())
    return xmin, xmax, ymin, ymax


def _panel_grid(spec: Spec, n: int, bounds: tuple[float, float, float, float]) -> tuple[int, int, float, float]:
    """(rows, cols, panel width, panel height) [in] for n map panels of this shape."""
    xmin, xmax, ymin, ymax = bounds
    aspect = (xmax - xmin + 2 * MAP_MARGIN) / (ymax - ymin + 2 * MAP_MARGIN)
    cols = min(n, 2 if aspect > 1.6 else 3)
    width = 13.5 / cols if cols > 1 else 6.5
    height = min(max((width - 0.7) / aspect, 1.6), 7.0) + 0.75  # the axes, then title and x label
    return math.ceil(n / cols), cols, width, height


def trajectory_map(spec: Spec, groups: Sequence[TrackGroup], path: Path | str, *, condition: str = "",
                   colours: Mapping[str, str] | None = None) -> Path:
    """One panel per entry (small multiples on the same map): every episode's path in the entry's colour, its
    first crash point (x) and first off-road point (o)."""
    colours = colours or entry_colours([g.entry for g in groups])
    bounds = _track_bounds(spec, [t.xy for g in groups for t in g.tracks])
    rows, cols, width, height = _panel_grid(spec, max(len(groups), 1), bounds)
    fig = Figure(figsize=(cols * width, rows * height + 0.7), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    if not groups:
        axes[0].set_visible(True)
        draw_scenario(axes[0], spec)
        axes[0].text(0.5, 0.5, "no episodes under this condition", transform=axes[0].transAxes, ha="center")
    for ax, group in zip(axes, groups):
        draw_scenario(ax, spec)
        colour = colours.get(group.entry, PALETTE[-1])
        tracks = group.tracks
        ax.add_collection(LineCollection([t.xy for t in tracks], colors=colour, linewidths=0.9, alpha=0.65,
                                         zorder=2))
        _points(ax, [t.xy[0] for t in tracks], marker=".", color=colour, ms=3, zorder=2)
        _points(ax, [t.xy[t.offroad_index] for t in tracks if t.offroad_index is not None], marker="o", mfc="none",
                mec=CAUSE_COLOURS["off_road"], ms=6, mew=1.4, zorder=4)
        _points(ax, [t.xy[t.crash_index] for t in tracks if t.crash_index is not None], marker="x",
                color=CAUSE_COLOURS["crashed"], ms=7, mew=1.8, zorder=5)
        arrived = sum(t.success for t in group.tracks)
        ax.set_title(f"{group.entry}: {arrived}/{len(group.tracks)} arrived", fontsize=9, color=colour)
        set_map_limits(ax, bounds)
    handles = [Line2D([], [], marker="x", color=CAUSE_COLOURS["crashed"], ls="none", mew=1.8, label="first crash"),
               Line2D([], [], marker="o", mfc="none", mec=CAUSE_COLOURS["off_road"], ls="none", mew=1.4,
                      label="first step off the road"),
               Line2D([], [], marker=".", color="#555555", ls="none", label="start")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"{spec.name}: trajectories" + (f" under {condition}" if condition else ""), fontsize=10)
    return _save(fig, path)


def _points(ax: Axes, points: list[np.ndarray], **style) -> None:
    """Markers at (x, y) points, in one artist."""
    if points:
        xy = np.asarray(points)
        ax.plot(xy[:, 0], xy[:, 1], ls="none", **style)


def failure_map(spec: Spec, failures: Sequence[FailurePoint], path: Path | str) -> Path:
    """Where episodes ended without arriving, over all entries and conditions: colour = cause, marker = entry."""
    entries = list(dict.fromkeys(f.entry for f in failures))
    markers = {name: ENTRY_MARKERS[i % len(ENTRY_MARKERS)] for i, name in enumerate(entries)}
    bounds = _track_bounds(spec, [np.array([[f.x, f.y] for f in failures])] if failures else [])
    _, _, width, height = _panel_grid(spec, 1, bounds)
    fig = Figure(figsize=(width, height + 0.9), layout="constrained")
    ax = fig.subplots()
    draw_scenario(ax, spec)
    counts = {cause: sum(f.cause == cause for f in failures) for cause in FAILURE_CAUSES}
    for entry in entries:
        for cause in dict.fromkeys(f.cause for f in failures):
            _points(ax, [(f.x, f.y) for f in failures if f.entry == entry and f.cause == cause],
                    marker=markers[entry], mfc=CAUSE_COLOURS.get(cause, "#000000"), mec="white", mew=0.4, ms=6,
                    alpha=0.8, zorder=3)
    set_map_limits(ax, bounds)
    if not failures:
        ax.text(0.5, 0.5, "no failures", transform=ax.transAxes, ha="center", va="center")
    causes = [Patch(color=CAUSE_COLOURS[c], label=f"{c.replace('_', ' ')} ({n})") for c, n in counts.items() if n]
    shapes = [Line2D([], [], marker=markers[e], color="#555555", ls="none", label=e) for e in entries]
    if failures:  # causes on the first row, entries on the second (legends fill column by column)
        cols = max(len(causes), len(shapes))
        blank = Line2D([], [], ls="none", label=" ")
        pad = [*causes, *[blank] * (cols - len(causes))], [*shapes, *[blank] * (cols - len(shapes))]
        fig.legend(handles=[h for pair in zip(*pad) for h in pair], loc="outside lower center", ncol=cols,
                   fontsize=8, frameon=False)
    fig.suptitle(f"{spec.name}: where episodes ended without arriving ({len(failures)})", fontsize=10)
    return _save(fig, path)
