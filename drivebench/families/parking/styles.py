"""The parking family's part of the style experiment (drivebench/styles/hooks.py): its style metrics (clearance to
parked cars and walls, the share of the path through other bays and over their lines, the offset from the aisle's
centre line), its linear-IRL features and candidate library (experts.py's planner with forward or reverse entry,
turn radius, where the turn ends and cruise speed varied), and how a cell of the styles figure is drawn (walls, bay
lines, the goal bay in green and the lot's fixed parked cars; forward driving in blue, reversing in red).

Parked cars are drawn from the episode's seed (`occupancy.count`), so `parked_cars(spec, seed)` reads them off a
reset env: the only part of the style metrics that touches the simulator. Cars drawn per seed vary by episode and
are not drawn on the figure.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from drivebench.families.parking import geometry
from drivebench.eval import events
from drivebench.families.parking.env import ParkingEnv
from drivebench.families.parking.experts import ParkingExpert, ParkingStyle
from drivebench.scenarios import roads
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.styles.hooks import StyleHooks
from drivebench.styles.linear_irl import CLEARANCE_SCALE
from drivebench.styles.metrics import (
    CLEARANCE_RANGE,
    COMMON_METRICS,
    body_corners,
    in_rects,
    min_clearance,
    path_share,
    rect_gap,
    step_lengths,
)

METRICS = COMMON_METRICS + ("through_bay_share", "line_crossing_share", "aisle_offset")
"""The style metrics of a parking episode, in vector order."""
FEATURES = ("progress", "speed", "lane_offset", "reversing", "through_bay", "clearance", "jerk")
"""The linear-IRL features on parking."""
PARKING_SPEED = 5.0
"""Reference speed of the parking speed feature [m/s]."""

CANDIDATE_GRID = {"manoeuvre": ("forward", "reverse"), "turn_radius": (6.0, 8.0, 10.0, 13.0),
                  "pre_entrance": (0.0, 1.5, 3.0), "cruise": (2.0, 3.0, 4.0)}
"""The candidate grid: every combination is one candidate manoeuvre (72, before the feasibility check)."""
QUICK_GRID = {"manoeuvre": ("forward", "reverse"), "turn_radius": (6.0, 13.0), "pre_entrance": (1.5,),
              "cruise": (2.0, 4.0)}
"""The quick preset's grid (8)."""


# ---------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class ParkingGeometry:
    lot: geometry.LotGeometry
    goal_bay: str
    """the goal bay's id"""
    parked: tuple[roads.Rect, ...] = ()
    """the episode's parked cars"""

    @property
    def obstacles(self) -> tuple[roads.Rect, ...]:
        return (*self.parked, *self.lot.walls)

    def _other_bays(self) -> list[roads.Rect]:
        return [b.rect for b in self.lot.bays if b.id != self.goal_bay]

    def style_metrics(self, poses: np.ndarray, signals: Mapping[str, np.ndarray], dt: float) -> dict[str, float]:
        """Clearance to parked cars and walls, through-bay and line-crossing shares, aisle offset."""
        xy, heading = poses[:, :2], poses[:, 2]
        step = step_lengths(xy)
        lot, others = self.lot, self._other_bays()
        corners = body_corners(xy, heading)
        in_aisle = lot.aisle.contains(xy)
        return {
            "min_clearance": min(min_clearance(corners, self.obstacles), CLEARANCE_RANGE),
            "through_bay_share": path_share(in_rects(xy[:, None, :], others), step),
            "line_crossing_share": path_share(in_rects(np.concatenate([corners, xy[:, None, :]], axis=1), others),
                                              step),
            "aisle_offset": float(np.abs(xy[in_aisle, 1] - lot.aisle.y).mean()) if in_aisle.any() else 0.0,
        }

    def step_features(self, poses: np.ndarray, signals: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """|offset from the aisle centre line| / half the aisle; in another bay; gap to the nearest obstacle /
        CLEARANCE_SCALE."""
        xy, heading = poses[:, :2], poses[:, 2]
        lot = self.lot
        corners = body_corners(xy, heading)
        gaps = np.full(len(xy), np.inf)
        for rect in self.obstacles:
            gaps = np.minimum(gaps, rect_gap(corners, np.broadcast_to(rect.corners(), corners.shape)))
        return {
            "lane_offset": np.minimum(np.abs(xy[:, 1] - lot.aisle.y) / (lot.aisle.width / 2), 1.0),
            "through_bay": in_rects(xy[:, None, :], self._other_bays()).astype(float),
            "clearance": np.clip(gaps / CLEARANCE_SCALE, 0.0, 1.0),
        }


def geometry_for(spec, parked: tuple[roads.Rect, ...] = ()) -> ParkingGeometry:
    """The lot, the goal bay and these parked cars (none: the lot as the spec alone gives it)."""
    return ParkingGeometry(geometry.build_lot(spec.lot), spec.goal.bay, tuple(parked))


def episode_geometry(spec, seed: int) -> ParkingGeometry:
    """With the parked cars the episode's seed draws."""
    return geometry_for(spec, parked_cars(spec, seed))


_ENVS: dict[str, ParkingEnv] = {}


def parked_cars(spec, seed: int) -> tuple[roads.Rect, ...]:
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


# ---------------------------------------------------------------------------------------------- library
def candidate(params: Mapping) -> ParkingStyle:
    """One candidate's style: the grid point's parameters, the others at their defaults (the lookahead follows
    the turn radius, reversing is at most 1.5 m/s)."""
    p = {"manoeuvre": "forward", "turn_radius": 6.5, "pre_entrance": 2.5, "cruise": 3.0, **params}
    name = f"{p['manoeuvre']} r={p['turn_radius']:g} pre={p['pre_entrance']:g} v={p['cruise']:g}"
    return ParkingStyle(name, "library candidate", p["manoeuvre"], cruise=p["cruise"],
                        reverse_cruise=min(p["cruise"], 1.5), turn_radius=p["turn_radius"],
                        lookahead=3.0 if p["turn_radius"] < 10 else 4.0, pre_entrance=p["pre_entrance"])


# ---------------------------------------------------------------------------------------------- figures
def scene_extent(spec) -> tuple[float, float]:
    """Width and height [m] of what draw_scene shows: the lot's interior."""
    box = geometry.build_lot(spec.lot).interior
    return box.length, box.width


def draw_scene(ax, spec) -> None:
    """Walls, bay lines, the goal bay (green) and the fixed parked cars, north up, equal axes."""
    from matplotlib.patches import Polygon

    lot = geometry.build_lot(spec.lot)
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
    pad = geometry.WALL_THICKNESS + 0.5
    ax.set_xlim(box.x - box.length / 2 - pad, box.x + box.length / 2 + pad)
    ax.set_ylim(box.y + box.width / 2 + pad, box.y - box.width / 2 - pad)  # y south: north up
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)


def draw_parking_path(ax, poses: np.ndarray, arrived: bool, speed_max: float = 0.0) -> None:
    """The car centre's path, reversing stretches in red; dotted if the episode did not arrive (speed_max unused)."""
    import matplotlib
    from matplotlib.collections import LineCollection

    from drivebench.styles.figure import FORWARD, REVERSE

    if len(poses) < 2:
        return
    back = events.reversing(poses[:, 3])
    segments = np.stack([poses[:-1, :2], poses[1:, :2]], axis=1)
    rgba = matplotlib.colors.to_rgba_array
    colours = np.where(back[1:, None], rgba(REVERSE), rgba(FORWARD))
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.0, alpha=0.75,
                                     linestyles="-" if arrived else ":"))
    ax.plot(*poses[-1, :2], marker="o", ms=2, color="k" if arrived else "0.5")


def gear_legend(fig, axes, speed_max: float) -> None:
    import matplotlib.pyplot as plt

    from drivebench.styles.figure import FORWARD, REVERSE

    handles = [plt.Line2D([], [], color=FORWARD, label="forward"),
               plt.Line2D([], [], color=REVERSE, label="reversing"),
               plt.Line2D([], [], color="k", linestyle=":", label="did not arrive")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)


HOOKS = StyleHooks(
    metric_names=METRICS,
    geometry=geometry_for,
    episode_geometry=episode_geometry,
    features=FEATURES,
    speed_reference=lambda spec: PARKING_SPEED,
    candidate_grid=CANDIDATE_GRID,
    quick_grid=QUICK_GRID,
    candidate=candidate,
    expert=ParkingExpert,
    scene_extent=scene_extent,
    draw_scene=draw_scene,
    draw_path=draw_parking_path,
    legend=gear_legend,
    cell_size=3.4,
)
