"""How the parking family is drawn on the report's maps (report/figures.py asks through the family record)."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Polygon

from drivebench.families.parking import geometry
from drivebench.report.figures import EDGE, LINE, ROAD
from drivebench.scenarios import roads
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH


def bounds(spec) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) of the lot and its walls [m]."""
    lot = geometry.build_lot(spec.lot)
    points = np.vstack([r.corners() for r in (lot.interior, *lot.walls)])
    return points[:, 0].min(), points[:, 0].max(), points[:, 1].min(), points[:, 1].max()


def draw(ax: Axes, spec) -> None:
    """Lot surface, walls, bays (the goal highlighted), the fixed parked cars."""
    lot = geometry.build_lot(spec.lot)
    ax.add_patch(Polygon(lot.interior.corners(), closed=True, facecolor=ROAD, edgecolor="none", zorder=0))
    for wall in lot.walls:
        ax.add_patch(Polygon(wall.corners(), closed=True, facecolor=EDGE, edgecolor="none", zorder=1))
    if not lot.walls:
        ax.add_patch(Polygon(lot.interior.corners(), closed=True, fill=False, edgecolor=EDGE, ls="--", lw=0.8))
    goal = lot.bay(spec.goal.bay)
    for bay in lot.bays:
        is_goal = bay.id == goal.id
        ax.add_patch(Polygon(bay.rect.corners(), closed=True, facecolor="#b8e0b0" if is_goal else "none",
                             edgecolor="#1b7837" if is_goal else LINE, lw=1.4 if is_goal else 0.7, zorder=1))
    for bay_id in spec.occupancy.occupied:
        r = lot.bay(bay_id).rect
        car = roads.Rect(r.x, r.y, CAR_LENGTH, CAR_WIDTH, r.heading)
        ax.add_patch(Polygon(car.corners(), closed=True, facecolor="#8c8c8c", edgecolor=EDGE, lw=0.5, zorder=1))
    r = goal.rect
    label_y = r.y + math.sin(r.heading) * (r.length / 2 + 1.5)  # beyond the bay's back, away from the aisle
    ax.annotate(f"goal\n{spec.goal.orientation}", (r.x, label_y), fontsize=6.5, color="#1b7837", ha="center",
                va="bottom" if math.sin(r.heading) < 0 else "top", zorder=3)
    if spec.occupancy.count:
        ax.text(0.01, 0.01, f"+{spec.occupancy.count} cars parked at random each episode (not drawn)",
                transform=ax.transAxes, fontsize=6.5, color=EDGE, va="bottom")
