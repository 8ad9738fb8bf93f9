"""The parking family: a lot with an aisle and rows of bays, parked cars and walls; stop inside the goal bay.

Files: spec.py (the scenario file's model), env.py (ParkingEnv and its observation types), experts.py (the
path-tracking experts and their styles), metrics.py (occupied and other bays), draw.py (the map), styles.py (the
style experiment's hooks).
"""
from __future__ import annotations

from drivebench.families.parking import metrics, styles
from drivebench.families.parking.env import ParkingEnv
from drivebench.families.parking.experts import PARKING_STYLES, ParkingExpert
from drivebench.families.parking.spec import ParkingScenario
from drivebench.scenarios import family, roads


def _describe(spec: ParkingScenario) -> str:
    lot = roads.build_lot(spec.lot)
    return f"lot: {lot.interior.length:.1f} m x {lot.interior.width:.1f} m, {len(lot.bays)} bays"


def _bounds(spec):
    from drivebench.families.parking import draw

    return draw.bounds(spec)


def _draw(ax, spec) -> None:
    from drivebench.families.parking import draw

    draw.draw(ax, spec)


FAMILY = family.register(family.Family(
    name="parking",
    spec_model=ParkingScenario,
    env_class=ParkingEnv,
    experts=tuple(ParkingExpert(style) for style in PARKING_STYLES.values()),
    infractions=metrics.infractions,
    describe=_describe,
    cost_kind=lambda spec: "parking",
    bounds=_bounds,
    draw=_draw,
    gif_crop=1.0,
    style=styles.HOOKS,
))
