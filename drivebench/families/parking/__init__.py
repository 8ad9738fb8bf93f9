"""The parking family: a lot with an aisle and rows of bays, parked cars and walls; stop inside the goal bay.

Files: spec.py (the scenario file's model), geometry.py (the lot layout), env.py (ParkingEnv and its observation
types), experts.py (the path-tracking experts and their styles), metrics.py (occupied and other bays), draw.py (the
map), styles.py (the style experiment's hooks).
"""
from __future__ import annotations

from drivebench.families.parking import generate, geometry, metrics, styles
from drivebench.families.parking.env import ParkingEnv
from drivebench.families.parking.experts import PARKING_STYLES, ParkingExpert
from drivebench.families.parking.spec import ParkingScenario
from drivebench.scenarios import family


def _describe(spec: ParkingScenario) -> str:
    lot = geometry.build_lot(spec.lot)
    return f"lot: {lot.interior.length:.1f} m x {lot.interior.width:.1f} m, {len(lot.bays)} bays"


FAMILY = family.register(family.Family(
    name="parking",
    spec_model=ParkingScenario,
    env_class=ParkingEnv,
    experts=tuple(ParkingExpert(style) for style in PARKING_STYLES.values()),
    infractions=metrics.infractions,
    drawing="drivebench.families.parking.draw",
    describe=_describe,
    costs=lambda spec: family.Costs({"bc": 10, "dagger": 28, "gail": 18, "airl": 22}, episode_seconds=0.05),
    # training seconds: session 10's standard run; episode seconds: session 7's (BENCHMARKS.md)
    gif_crop=1.0,
    style=styles.HOOKS,
    generate=generate.generate,
))
