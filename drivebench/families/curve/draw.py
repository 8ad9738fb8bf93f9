"""How the curve family is drawn on the report's maps (report/figures.py asks through the family record)."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Polygon

from drivebench.families.curve import geometry
from drivebench.report.figures import CENTRE, EDGE, LINE, ROAD


def bounds(spec) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) of the road edges [m]."""
    points = np.vstack(_curve_edges(spec))
    return points[:, 0].min(), points[:, 0].max(), points[:, 1].min(), points[:, 1].max()


def _curve_line(centreline: geometry.Centreline, d: float, step: float = 0.5) -> np.ndarray:
    """(n, 2) points at lateral offset d [m] along the whole centreline, every `step` [m]."""
    s = np.linspace(0.0, centreline.length, max(2, math.ceil(centreline.length / step) + 1))
    return np.array([centreline.point(float(v), d) for v in s])


def _curve_edges(spec) -> tuple[np.ndarray, np.ndarray]:
    centreline = geometry.build_centreline(spec.road)
    half = spec.road.lanes * spec.road.lane_width / 2
    return _curve_line(centreline, -half), _curve_line(centreline, half)


def draw(ax: Axes, spec) -> None:
    """Road surface, edges, lane lines, lane centres and the end line."""
    road = spec.road
    centreline = geometry.build_centreline(road)
    half = road.lanes * road.lane_width / 2
    left, right = _curve_line(centreline, -half), _curve_line(centreline, half)
    ax.add_patch(Polygon(np.vstack([left, right[::-1]]), closed=True, facecolor=ROAD, edgecolor="none", zorder=0))
    for edge in (left, right):
        ax.plot(edge[:, 0], edge[:, 1], color=EDGE, lw=0.9, zorder=1)
    for k in range(1, road.lanes):
        line = _curve_line(centreline, -half + k * road.lane_width)
        ax.plot(line[:, 0], line[:, 1], color=LINE, lw=0.8, ls=(0, (6, 5)), zorder=1)
    for offset in geometry.lane_offsets(road):
        line = _curve_line(centreline, float(offset))
        ax.plot(line[:, 0], line[:, 1], color=CENTRE, lw=0.6, ls=":", zorder=1)
    end = np.array([centreline.point(centreline.length, -half), centreline.point(centreline.length, half)])
    ax.plot(end[:, 0], end[:, 1], color="#333333", lw=2.5, solid_capstyle="butt", zorder=1)  # the end line
