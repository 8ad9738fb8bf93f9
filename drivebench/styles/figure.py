"""Figures of the style experiment: one row per demonstrator style, its demos then each algorithm's learned
agents (every training run's episodes in one cell), trajectories drawn on the scenario's geometry. PNG files,
matplotlib's Agg backend.

What a cell shows is the family's (its style hooks: `draw_scene`, `draw_path`, `legend`, the cell size); e.g.
parking draws the lot and colours reversing, curves draw the road and colour by speed. A family's further
figures (`StyleHooks.figures`, e.g. the curves' lateral offset profile) build on `cells` and `result_spec` here.
Frame: y points south, so the y axis is inverted to show the scene as highway-env renders it (north up).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from drivebench.styles.hooks import hooks_for

FORWARD, REVERSE = "#1f5fbf", "#d62728"
"""Path colours families share: forward driving (or any path drawn in one colour), reversing."""


def cells(result) -> list[tuple[str, str, list[tuple[np.ndarray, dict, bool]]]]:
    """(row style, column title, [(poses, signals, arrived)]) for every cell, row by row."""
    n = result.config.demos_per_style
    out = []
    for style in result.styles:
        demos = result.demos[style][:n]
        out.append((style, f"{style} demos ({len(demos)})", [(e.poses, e.signals, e.success) for e in demos]))
        for algo in result.config.algos:
            runs = [r for r in result.learned if r.algo == algo and r.style == style]
            success = [np.mean([rec.metrics.success for rec in r.records]) for r in runs]
            own = sum(result.styles[int(np.argmin(r.distances))] == style for r in runs)
            per_run = f"\nruns: {' / '.join(f'{v:.0%}' for v in success)}" if len(runs) > 1 else ""
            out.append((style, f"{algo}: {np.mean(success):.0%} arrive, own style nearest {own}/{len(runs)}{per_run}",
                        [(rec.trajectory.poses, rec.trajectory.signals, rec.metrics.success)
                         for r in runs for rec in r.records]))
    return out


def styles_figure(result, path: Path) -> Path:
    """The trajectories figure (see the module docstring); returns the file written."""
    spec = result_spec(result)
    hooks = hooks_for(spec)
    cols = 1 + len(result.config.algos)
    rows = len(result.styles)
    width, height = hooks.scene_extent(spec)
    cell = hooks.cell_size
    size = (cell * cols + hooks.extra_width, rows * (cell * height / width + 0.45) + 0.6)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    all_cells = cells(result)
    speed_max = max(float(np.abs(p[:, 3]).max()) for _, _, eps in all_cells for p, _, _ in eps if len(p))
    for ax, (style, title, episodes) in zip(axes.ravel(), all_cells):
        hooks.draw_scene(ax, spec)
        for poses, _, arrived in episodes:
            hooks.draw_path(ax, poses, arrived, speed_max)
        ax.set_title(title, fontsize=8)
    for ax, style in zip(axes[:, 0], result.styles):
        ax.set_ylabel(style, fontsize=10, fontweight="bold")
    hooks.legend(fig, axes, speed_max)
    fig.suptitle(f"{result.config.scenario}: demos ({result.config.demos_per_style} per style) and learned agents "
                 f"({result.config.preset} preset, {len(result.config.seeds)} training runs x {result.config.episodes} "
                 "episodes)", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def result_spec(result):
    from drivebench.scenarios import registry

    return registry.get(result.config.scenario).spec
