"""The parking family's scenario file: a lot with an aisle and rows of bays, parked cars, a goal bay, a start
distribution in the aisle. Units are SI unless a field name says otherwise (`*_deg` are degrees)."""
from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from drivebench.experts.controllers import STEERING_MAX
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.scenarios.spec import Range, ScenarioBase, SpecModel

BAY_SIDE_MARGIN = 0.25
"""room a parked car needs on each side of it in its bay, and past its length [m]"""
MIN_TURN_RADIUS = CAR_LENGTH / 2 / math.sin(math.atan(math.tan(STEERING_MAX) / 2))
"""radius of the tightest circle the car centre drives [m] (5.59 m): the kinematic bicycle about its centre at full
lock (experts/controllers.py), yaw rate v sin(beta) / (L/2) with beta = atan(tan(pi/4) / 2)"""


def min_aisle_width(bay_width: float) -> float:
    """The narrowest aisle [m] from which the car can turn into a bay `bay_width` wide, in as many forward and
    backward full-lock sweeps as it likes (a lower bound: one sweep needs more, about 7 m).

    Halfway through its quarter turn the car stands at 45 degrees across the aisle: its body then spans
    (L + W) / sqrt(2) across it (4.95 m). A sweep at full lock that turns it by those 45 degrees moves its centre
    MIN_TURN_RADIUS (1 - cos 45 deg) across the aisle (1.64 m) on top of that. Its leading corner may be in the
    bay's mouth by the bay's spare width (bay_width - W), and BAY_SIDE_MARGIN is kept from whatever is on each side.
    So 6.59 m for 2.5 m bays, 6.09 m for 3 m bays: a 3.2 m bay with a 9 m aisle and a 3 m bay with an 8 m aisle pass.
    """
    across = (CAR_LENGTH + CAR_WIDTH) / math.sqrt(2) + MIN_TURN_RADIUS * (1 - math.cos(math.pi / 4))
    return across + 2 * BAY_SIDE_MARGIN - (bay_width - CAR_WIDTH)


MAX_BAYS_PER_ROW = 40
BAY_PATTERN = r"^[NS][0-9]{1,3}$"
BayId = Annotated[str, Field(pattern=BAY_PATTERN, description="'N<i>' or 'S<i>': row and index from the west")]


class LotLayout(SpecModel):
    bays_per_row: int = Field(ge=1, le=MAX_BAYS_PER_ROW, description="bays in each row, numbered 0.. from the west;"
                              f" in [1, {MAX_BAYS_PER_ROW}]")
    rows: Literal[1, 2] = Field(default=2, description="1: a north row only; 2: north and south of the aisle")
    bay_width: float = Field(default=3.5, ge=2.5, le=6.0, description="[m], in [2.5, 6]")
    bay_depth: float = Field(default=6.0, ge=5.5, le=10.0, description="[m], in [5.5, 10]")
    aisle_width: float = Field(default=12.0, ge=6.0, le=25.0, description="[m], in [6, 25]")
    margin: float = Field(
        default=10.0, ge=4.0, le=50.0, description="open space at each end of the aisle, beyond the bays [m], "
        "in [4, 50]"
    )
    walls: bool = Field(default=True, description="walls around the lot (a car that leaves it crashes)")


class Occupancy(SpecModel):
    occupied: list[BayId] = Field(default=[], max_length=2 * MAX_BAYS_PER_ROW,
                                  description="bays that always hold a parked car")
    count: int = Field(default=0, ge=0, le=2 * MAX_BAYS_PER_ROW, description="further parked cars, in free bays "
                       f"drawn from the seed; in [0, {2 * MAX_BAYS_PER_ROW}] (and no more than the free bays)")


class Goal(SpecModel):
    bay: BayId
    orientation: Literal["nose-in", "reverse-in", "any"] = Field(
        default="nose-in", description="nose-in: the car faces into the bay; reverse-in: it faces the aisle"
    )
    position_tolerance: float = Field(
        default=0.25, ge=0.0, le=2.0, description="how far a body corner may stick out of the bay [m], in [0, 2]"
    )
    heading_tolerance_deg: float = Field(default=10.0, gt=0, le=45, description="[deg], in (0, 45]")
    stop_speed: float = Field(default=0.3, gt=0, le=2, description="the car counts as stopped below this [m/s], "
                              "in (0, 2]")


class ParkingStart(SpecModel):
    x: Range(0, 500) = Field(default=(3.0, 6.0), description="from the lot's west end along the aisle [m], within "
                             "[0, 500] (and inside the lot)")
    y: Range(-12.5, 12.5) = Field(default=(-1.0, 1.0), description="from the aisle centre line, + to the south [m], "
                                  "within [-12.5, 12.5] (and inside the aisle)")
    heading_deg: Range(-180, 180) = Field(default=(-10.0, 10.0), description="0 faces east along the aisle [deg], "
                                          "within [-180, 180]")
    speed: Range(-5, 15) = Field(default=(0.0, 2.0), description="[m/s], within [-5, 15] (< 0: reversing)")


class ParkingScenario(ScenarioBase):
    """A lot with one aisle and rows of bays; success is stopping inside the goal bay, facing the right way."""

    family: Literal["parking"]
    horizon: int = Field(default=250, ge=10, le=5000, description="episode length limit [steps], in [10, 5000]")
    lot: LotLayout
    occupancy: Occupancy = Occupancy()
    goal: Goal
    start: ParkingStart = ParkingStart()

    def problems(self) -> list[tuple[str, str]]:
        """Checks that span several fields (pydantic validated each field alone)."""
        spec, problems = self, []
        lot, occ = spec.lot, spec.occupancy
        bays = valid_bays(lot)
        for i, bay in enumerate(occ.occupied):
            if bay not in bays:
                problems.append((f"occupancy.occupied[{i}]", f"no bay {bay!r}: {_bay_range(lot)}"))
        if spec.goal.bay not in bays:
            problems.append(("goal.bay", f"no bay {spec.goal.bay!r}: {_bay_range(lot)}"))
        if spec.goal.bay in occ.occupied:
            problems.append(("goal.bay", "the goal bay is listed in occupancy.occupied"))
        free = len(bays) - len(set(occ.occupied)) - 1
        if occ.count > free:
            problems.append(("occupancy.count", f"only {free} free bays besides the goal"))
        length = 2 * lot.margin + lot.bays_per_row * lot.bay_width
        if not (1.0 <= spec.start.x[0] and spec.start.x[1] <= length - 1.0):
            problems.append(("start.x", f"must lie in the lot: within [1, {length - 1:.1f}] m"))
        if max(abs(spec.start.y[0]), abs(spec.start.y[1])) > lot.aisle_width / 2 - 1.2:
            problems.append(("start.y", f"must keep the car in the aisle: within +-{lot.aisle_width / 2 - 1.2:.1f} m"))
        return problems + _too_small_for_the_car(lot)


def _too_small_for_the_car(lot: LotLayout) -> list[tuple[str, str]]:
    """The lot's sizes a 5 m x 2 m car cannot park in (CAR_LENGTH, CAR_WIDTH), whatever the driver."""
    problems = []
    if lot.bay_width < CAR_WIDTH + 2 * BAY_SIDE_MARGIN:
        problems.append(("lot.bay_width", f"{lot.bay_width:g} m is too narrow for a {CAR_WIDTH:g} m wide car: "
                                          f"use at least {CAR_WIDTH + 2 * BAY_SIDE_MARGIN:g} m"))
    if lot.bay_depth < CAR_LENGTH + BAY_SIDE_MARGIN:
        problems.append(("lot.bay_depth", f"{lot.bay_depth:g} m is too shallow for a {CAR_LENGTH:g} m long car: "
                                          f"use at least {CAR_LENGTH + BAY_SIDE_MARGIN:g} m"))
    need = min_aisle_width(lot.bay_width)
    if lot.aisle_width < need:
        problems.append(("lot.aisle_width", f"{lot.aisle_width:g} m is too narrow for the car (turning radius "
                                            f"{MIN_TURN_RADIUS:.2f} m) to turn into a {lot.bay_width:g} m bay: use at "
                                            f"least {math.ceil(need * 10) / 10:g} m, or wider bays"))
    return problems


def valid_bays(lot: LotLayout) -> list[str]:
    rows = "NS"[: lot.rows]
    return [f"{row}{i}" for row in rows for i in range(lot.bays_per_row)]


def _bay_range(lot: LotLayout) -> str:
    rows = " and ".join(f"{r}0..{r}{lot.bays_per_row - 1}" for r in "NS"[: lot.rows])
    return f"this lot has bays {rows}"
