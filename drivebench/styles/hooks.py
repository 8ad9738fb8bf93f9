"""What a scenario family gives the style experiment: its `StyleHooks`, the `style` field of its Family record.

The style experiment's modules (metrics, linear_irl, experiment, figure, cli) are shared: they ask the scenario's
family for everything family-specific through these hooks and never name a family. A family with hooks defines
them in `drivebench/families/<name>/styles.py` (which may import drivebench.styles; nothing here imports a family)
and registers them with `Family(..., style=HOOKS)`. A family whose `style` is None has no style experiment.

A family's geometry (`StyleGeometry`) is what turns an episode's poses and signals into the family's own style
metrics and linear-IRL step features: the shared code computes what every family has (speed, reversing, jerk...)
and asks the geometry for the rest.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from drivebench.errors import DrivebenchError
from drivebench.scenarios import family as families


class StyleGeometry(Protocol):
    """The scenario geometry (and, where the family has them, an episode's random obstacles) an episode's style is
    measured against; built by `StyleHooks.geometry` / `episode_geometry`."""

    def style_metrics(self, poses: np.ndarray, signals: Mapping[str, np.ndarray], dt: float) -> dict[str, float]:
        """The family's own style metrics of an episode (min_clearance included), by StyleMetrics field name:
        exactly the names in its hooks' `metric_names` that metrics.COMMON_METRICS does not hold."""
        ...

    def step_features(self, poses: np.ndarray, signals: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """(T + 1,) per-step linear-IRL features in [0, 1] that are the family's own (lane_offset, clearance, ...):
        exactly the names in its hooks' `features` that linear_irl.COMMON_FEATURES does not hold."""
        ...


@dataclass(frozen=True, eq=False)
class StyleHooks:
    """A family's part of the style experiment (see the module docstring)."""

    # metrics.py
    metric_names: tuple[str, ...]
    """the style metrics that describe a style in this family (StyleMetrics field names), in the order vectors use;
    the others of an episode are NaN"""
    geometry: Callable[[Any], StyleGeometry]
    """geometry(spec): the scenario's fixed geometry"""
    episode_geometry: Callable[[Any, int], StyleGeometry]
    """episode_geometry(spec, seed): the geometry of the episode with this seed (e.g. with the parked cars it draws)"""

    # linear_irl.py
    features: tuple[str, ...]
    """the linear-IRL features (linear_irl.FEATURE_DOCS names), in weight order"""
    speed_reference: Callable[[Any], float]
    """speed_reference(spec): the speed the speed feature is divided by [m/s]"""
    candidate_grid: Mapping[str, tuple]
    """style parameter -> values: every combination is one candidate manoeuvre (the standard preset's library)"""
    quick_grid: Mapping[str, tuple]
    """the quick preset's smaller grid"""
    candidate: Callable[[Mapping[str, Any]], Any]
    """candidate(params): the style record of one grid point (parameters not in the grid take their defaults)"""
    expert: Callable[[Any], Any]
    """expert(style): the family's expert driving that style (`supports(spec)`, `act(env)`)"""

    # figure.py
    scene_extent: Callable[[Any], tuple[float, float]]
    """scene_extent(spec): width and height [m] of what draw_scene shows"""
    draw_scene: Callable[[Any, Any], None]
    """draw_scene(ax, spec): the scenario's fixed geometry under the trajectories, north up, equal axes"""
    draw_path: Callable[[Any, np.ndarray, bool, float], None]
    """draw_path(ax, poses, arrived, speed_max): one episode's path"""
    legend: Callable[[Any, Any, float], None]
    """legend(fig, axes, speed_max): what explains draw_path's colours"""
    cell_size: float = 3.0
    """width of one figure cell [in]"""
    extra_width: float = 0.0
    """width added to the styles figure, e.g. for a colour bar [in]"""
    figures: Mapping[str, Callable[[Any, Path], Path]] = field(default_factory=dict)
    """more figures `drivebench styles` writes next to styles.png: file name -> figure(result, path) -> path"""


def hooks_for(spec) -> StyleHooks:
    """The style hooks of the spec's family; DrivebenchError if its family has no style experiment."""
    fam = families.of(spec)
    if fam.style is None:
        with_hooks = [f.name for f in families.all_families() if f.style is not None]
        raise DrivebenchError(f"{spec.name} is a {fam.name} scenario, and the {fam.name} family has no style "
                              f"experiment (its Family record has no style hooks); families that have one: "
                              f"{', '.join(with_hooks) or 'none'}")
    return fam.style
