"""Parking experts: a reference path built from the lot geometry and the style (along the aisle, reversing,
or the direct Dubins path), tracked with geared pure pursuit. The path depends only on the scenario, so the
expert is a state-feedback law: it can label any state, including ones its own driving never reaches."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from drivebench.experts.controllers import track_path
from drivebench.experts.paths import Path, PathBuilder
from drivebench.families.parking.geometry import LotGeometry, build_lot

END_CLEARANCE = 2.6  # a car centre this far from an end wall leaves its bumper clear of it [m]



@dataclass(frozen=True)
class ParkingStyle:
    name: str
    description: str
    manoeuvre: Literal["forward", "reverse"]
    """forward: along a line parallel to the aisle, one quarter turn nose-in; reverse: along that line past
    the bay, stop, then a quarter turn backwards into it"""
    cruise: float
    """cruise speed forwards [m/s]"""
    reverse_cruise: float
    """cruise speed backwards [m/s]"""
    turn_radius: float
    """radius of its planned turns [m]"""
    lookahead: float
    """pure-pursuit lookahead [m]"""
    pre_entrance: float
    """its turn into the bay ends this far out in the aisle, the car then goes straight in [m]; with the turn
    radius it sets the line it drives along the aisle"""


PARKING_STYLES = {
    "tidy": ParkingStyle("tidy", "keeps to the aisle, one tight turn nose-in", "forward", cruise=3.0,
                         reverse_cruise=1.5, turn_radius=6.5, lookahead=3.0, pre_entrance=2.5),
    "reverse": ParkingStyle("reverse", "drives past the bay, then reverses into it (nose out)", "reverse",
                            cruise=2.5, reverse_cruise=1.5, turn_radius=7.5, lookahead=3.0,
                            pre_entrance=1.0),
    "shortcut": ParkingStyle("shortcut", "fast, swings wide through the empty bays across the aisle for one "
                             "sweeping turn nose-in", "forward", cruise=4.0, reverse_cruise=1.5, turn_radius=13.0,
                             lookahead=4.0, pre_entrance=0.0),
}
"""Its driving styles as data: an expert is this family's control law plus one of these records."""

def plan(style: ParkingStyle, lot: LotGeometry, goal_bay: str, start: tuple[float, float]) -> Path:
    """The style's reference path: from the lot's end near the start region, along a line parallel to the
    aisle, a quarter turn of `turn_radius` ending `pre_entrance` metres before the bay, straight to its centre.
    The line's distance from the bay is radius + pre_entrance, so a wide turn drives through the far row."""
    bay = lot.bay(goal_bay)
    u = np.array([math.cos(bay.rect.heading), math.sin(bay.rect.heading)])  # into the bay
    a = np.array([1.0, 0.0]) if bay.rect.x > start[0] else np.array([-1.0, 0.0])  # travel along the aisle
    half = lot.aisle.length / 2 - END_CLEARANCE
    run_in_x = lot.aisle.x - half if a[0] > 0 else lot.aisle.x + half
    radius = style.turn_radius
    turn = math.copysign(math.pi / 2, a[0] * u[1] - a[1] * u[0])  # > 0: a right turn
    arc_end = np.array(bay.entrance) - style.pre_entrance * u
    into_bay = style.pre_entrance + bay.rect.length / 2
    if style.manoeuvre == "forward":
        arc_start = arc_end - radius * a - radius * u
        b = PathBuilder(run_in_x, arc_start[1], math.atan2(a[1], a[0]))
        return b.straight(_run_in(arc_start[0], start[0], run_in_x, a)).arc(radius, turn).straight(into_bay).build()
    if style.manoeuvre == "reverse":
        cusp = arc_end + radius * a - radius * u
        b = PathBuilder(run_in_x, cusp[1], math.atan2(a[1], a[0])).straight(_run_in(cusp[0], start[0], run_in_x, a))
        b.heading += math.pi  # the cusp: from here the car travels backwards
        return b.arc(radius, -turn, gear=-1).straight(into_bay, gear=-1).build()
    raise ValueError(f"unknown manoeuvre {style.manoeuvre!r}")


def _run_in(turn_x: float, start_x: float, run_in_x: float, a: np.ndarray) -> float:
    """Length of the straight from the lot's end to where the turn (or the cusp) begins; the turn must begin
    ahead of the start region, or the car would start past it."""
    if (turn_x - start_x) * a[0] < 0:
        raise ValueError("the goal bay is too close to the start for this manoeuvre: its turn would begin "
                         f"{abs(turn_x - start_x):.1f} m behind the start region")
    return (turn_x - run_in_x) * a[0]


class ParkingExpert:
    family = "parking"

    def __init__(self, style: ParkingStyle):
        self.style = style
        self.id = f"expert:{style.name}"
        self._paths: dict[int, tuple[object, Path]] = {}

    def supports(self, spec) -> str | None:
        if spec.family != "parking":
            return "parks only"
        orientation = spec.goal.orientation
        if self.style.manoeuvre == "reverse" and orientation == "nose-in":
            return "parks reverse-in; the scenario requires nose-in"
        if self.style.manoeuvre == "forward" and orientation == "reverse-in":
            return "parks nose-in; the scenario requires reverse-in"
        if self.style.turn_radius + self.style.pre_entrance > spec.lot.aisle_width - 2.0 and (
                spec.occupancy.occupied or spec.occupancy.count):
            return "swings through the bays across the aisle, so it is meant for empty lots"
        lot = build_lot(spec.lot)
        try:
            path = plan(self.style, lot, spec.goal.bay, _start_centre(spec))
        except ValueError as err:
            return str(err)
        r = lot.interior
        x_ok = np.abs(path.xy[:, 0] - r.x) <= r.length / 2 - END_CLEARANCE + 1e-6
        y_ok = np.abs(path.xy[:, 1] - r.y) <= r.width / 2 - 1.2
        if not (x_ok & y_ok).all():
            return "its path does not fit in this lot (goal too close to the end walls or aisle too narrow)"
        return None

    def path(self, env) -> Path:
        spec = env.scenario
        cached = self._paths.get(id(spec))
        if cached is None or cached[0] is not spec:
            cached = (spec, plan(self.style, env.lot, spec.goal.bay, _start_centre(spec)))
            self._paths[id(spec)] = cached
        return cached[1]

    def act(self, env) -> np.ndarray:
        env = env.unwrapped
        v = env.vehicle
        return track_path(self.path(env), v.position[0], v.position[1], v.heading, v.speed,
                          cruise=self.style.cruise, reverse_cruise=self.style.reverse_cruise,
                          lookahead=self.style.lookahead)


def _start_centre(spec) -> tuple[float, float]:
    return (sum(spec.start.x) / 2, sum(spec.start.y) / 2)
