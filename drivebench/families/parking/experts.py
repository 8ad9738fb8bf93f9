"""Parking experts: a reference path for the style, tracked with geared pure pursuit (of the car's centre on a
simple path, as always; of its rear axle on a plan, which tracks tight manoeuvres to a few centimetres).

The path is the style's simple manoeuvre (along the aisle, one quarter turn, or past the bay and one quarter turn
back in) where pursuit of the centre can keep it (`_simple_plan`: it fits the lot, the bay has room, it runs straight
from the start, it keeps clear of the walls and this episode's parked cars); otherwise a plan (experts/planning.py: Hybrid
A* with Reeds-Shepp tails, cusps where needed) whose costs are the style's: tidy pays dearly for driving through
other bays, shortcut little, reverse backs in. Occupied bays are forbidden to every style. The expert is a
state-feedback law: its episode plan depends only on what the episode drew at reset (the scenario, the parked cars,
the car's start pose: `ParkingEnv.start_pose`; a plan from the start region's centre could not be tracked from a start
a metre beside it where it turns at once), and from a state further than REPLAN_DISTANCE / REPLAN_HEADING from it, it
plans from that state (rounded); every plan is cached by what determines it, so the same state gets the same action."""
from __future__ import annotations

import functools
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np

from drivebench.experts.controllers import track_path, track_rear_axle_path
from drivebench.experts.paths import Path, PathBuilder
from drivebench.experts.planning import (Car, Planner, Problem, Region, SearchCosts, Settings, body_poses,
                                        boxes_overlap, points_in, rear_axle_path)
from drivebench.families.parking.geometry import WALL_THICKNESS, LotGeometry, build_lot
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.scenarios.roads import Rect, rect_table, wrap_angle

END_CLEARANCE = 2.6  # a car centre this far from an end wall leaves its bumper clear of it [m]
PLAN_SETTINGS = ((6.0, 0.35), (5.5, 0.35), (6.0, 0.2), (5.5, 0.2))
"""(the planner's tightest turn, of the rear axle [m]; how far the body is kept from walls and parked cars [m]), tried
in this order until one plans: the car's own tightest turn is L / tan(45 deg) = 5 m, the rest is the tracker's room"""
SIMPLE_PATH_MARGIN = 0.3
"""the simple path is used when a car driving it exactly keeps this far from this episode's parked cars and the walls
[m]"""
SIMPLE_PATH_WALL_MARGIN = 1.0
"""... and this far from the walls and from every parked car but the goal's two neighbours while its centre is
outside the goal bay [m]: pursuit of the centre swings a reversing car's nose out by up to ~0.8 m at the start of its
turn (generated lots: the nose met the wall across the aisle of a one-row lot in 5 of 5 seeds, a car in the far row
in 1 of 615 episodes); inside the bay its ends are 0.5 m from the bay's end by design"""
SIMPLE_PATH_BAY_SLACK = 1.5
"""... and when the goal bay is at least this much wider than the car [m] (the default 3.5 m bay is): pursuit of the
car centre cuts inside the turn into the bay and, backing in, ends up to ~0.5 m off the bay's axis, which narrower
bays do not forgive (generated lots: with 1.0, tidy hit the goal's neighbour in 6 of 57 episodes, then, on a second
sample, in 5 of 186, in 3.0-3.07 m bays; planned paths are tracked at the rear axle, to a few centimetres)"""
SIMPLE_PATH_CROSSING = 10.0
"""... and when what its centre drives through other bays costs the style at most this (other_bays_cost x metres):
tidy's line along the aisle runs through the far row where the aisle is narrow (it plans there instead); the
shortcut's sweep crosses 15 m of empty bays at 0.5 a metre in the shipped lots, as it always has"""
SIMPLE_PATH_RUN_IN = 2.0
"""... and when its first turn begins at least this many pursuit lookaheads ahead of the start region's centre: pursuit
of the centre needs that long to take up a start up to 1.5 m and 10 degrees off the path (a goal bay next to the start
turns 0.6-1.9 m after it; generated lots: tidy hit the bay's neighbour in 3 of 6 such episodes; the shipped lots run
in 15-36 m)"""
REPLAN_DISTANCE = 1.0
"""a car further than this from its plan (the rear axle from the plan's) gets a plan of its own [m]..."""
REPLAN_HEADING = 0.4
"""... or one whose heading is off the plan's by more than this [rad]. A car that rejoins its plan from further off
cuts the plan's corners into the parked cars: from 216 displaced states in a tight lot (3 x-positions, 3 lateral
offsets, 4 headings, stopped, 6 seeds), 2 m / 0.8 rad parked 181 and crashed 35, 1 m / 0.8 rad 195 and 20, 1 m /
0.4 rad 200 and 16 (the last two with OFF_PLAN_HEADING_WEIGHT)"""
OFF_PLAN_HEADING_WEIGHT = 6.0
"""[m/rad]: the heading's weight when the off-plan test looks for the plan's point nearest the car (Path.nearest; 2
for tracking). A car turned away from the plan is matched to a point that shares its heading, further off, and so
re-plans sooner: displaced states (REPLAN_HEADING's test) parked 200 of 216 with 6, 179 with 2"""
REPLAN_ROUNDING = (0.5, math.radians(10))
"""a re-plan starts from the state rounded to this grid (position [m], heading [rad]): its cache key"""
RUNWAYS = (CAR_LENGTH, CAR_LENGTH / 2, 0.0)
"""a plan ends driving straight into the bay this far [m] (a car length: from where its bumper is level with its
neighbours' in a 6 m bay; measured: 50/50 parked in the tight lots, 0/12 with 2.5 m), or the next where that
start is not free"""
PLAN_LOOKAHEAD = 2.0
"""pure-pursuit lookahead on a planned path's rear axle [m]"""
CACHE_SIZE = 512
"""plans kept per expert (each a pure function of its key, so evicting one only costs time)"""



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
    other_bays_cost: float = 0.0
    """the cost of each metre its centre drives through an empty bay other than the goal, in metres of aisle, when
    it plans and when it chooses its simple path (SIMPLE_PATH_CROSSING); occupied bays are forbidden to every style"""
    reverse_cost: float = 1.5
    """when it plans: the cost of each metre driven backwards, in metres driven forwards"""
    empty_lots_only: bool = False
    """its sweep through the bays across the aisle is the style: it refuses lots with parked cars where the sweep
    reaches the far row"""


PARKING_STYLES = {
    "tidy": ParkingStyle("tidy", "keeps to the aisle, one tight turn nose-in", "forward", cruise=3.0,
                         reverse_cruise=1.5, turn_radius=6.5, lookahead=3.0, pre_entrance=2.5, other_bays_cost=5.0),
    "reverse": ParkingStyle("reverse", "drives past the bay, then reverses into it (nose out)", "reverse",
                            cruise=2.5, reverse_cruise=1.5, turn_radius=7.5, lookahead=3.0,
                            pre_entrance=1.0, other_bays_cost=5.0, reverse_cost=1.0),
    "shortcut": ParkingStyle("shortcut", "fast, swings wide through the empty bays across the aisle for one "
                             "sweeping turn nose-in", "forward", cruise=4.0, reverse_cruise=1.5, turn_radius=13.0,
                             lookahead=4.0, pre_entrance=0.0, other_bays_cost=0.5,
                             empty_lots_only=True),
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


def goal_pose(style: ParkingStyle, lot: LotGeometry, goal_bay: str) -> tuple[float, float, float]:
    """Where the style's plan ends: the goal bay's centre, facing into it (forward styles) or out of it (reverse)."""
    r = lot.bay(goal_bay).rect
    return r.x, r.y, float(wrap_angle(r.heading + (math.pi if style.manoeuvre == "reverse" else 0.0)))


def boundary(lot: LotGeometry) -> tuple[Rect, ...]:
    """The lot's walls; a lot without walls gets them for planning, since the car must stay inside anyway."""
    if lot.walls:
        return lot.walls
    i, t = lot.interior, WALL_THICKNESS
    return (Rect(i.x, i.y - i.width / 2 - t / 2, i.length + 2 * t, t), Rect(i.x, i.y + i.width / 2 + t / 2,
            i.length + 2 * t, t), Rect(i.x - i.length / 2 - t / 2, i.y, t, i.width),
            Rect(i.x + i.length / 2 + t / 2, i.y, t, i.width))


def planned(style: ParkingStyle, lot: LotGeometry, goal_bay: str, occupied: tuple[str, ...],
            start: tuple[float, float, float]) -> Path | None:
    """The style's plan from a centre pose to its goal pose in a lot whose `occupied` bays hold parked cars, or
    None if the planner finds none within its budget. Costs: metres driven (backwards weighted by the style's
    `reverse_cost`), cusps, steering; the centre in an empty bay other than the goal costs `other_bays_cost` per
    metre, in an occupied one it is forbidden."""
    goal = goal_pose(style, lot, goal_bay)
    gear = -1 if style.manoeuvre == "reverse" else 1
    for radius, margin in PLAN_SETTINGS:
        planner = _planner(style, lot, goal_bay, tuple(sorted(occupied)), radius, margin)
        if not (planner.pose_free(start) and planner.pose_free(goal)):
            continue
        for runway in RUNWAYS:  # the longest straight way in whose start is free
            c, s = math.cos(goal[2]), math.sin(goal[2])
            if planner.pose_free((goal[0] - gear * runway * c, goal[1] - gear * runway * s, goal[2])):
                path = planner.plan(start, goal, gear * runway)
                if path is not None:
                    return path
                break
    return None


@functools.lru_cache(maxsize=64)
def _planner(style: ParkingStyle, lot: LotGeometry, goal_bay: str, occupied: tuple[str, ...], radius: float,
             margin: float) -> Planner:
    """The planner for a lot with these bays occupied (kept: its heuristic is reused by re-plans to the goal)."""
    parked = tuple(Rect(b.rect.x, b.rect.y, CAR_LENGTH, CAR_WIDTH, b.rect.heading) for b in lot.bays
                   if b.id in occupied)
    regions = (Region(tuple(b.rect for b in lot.bays if b.id != goal_bay and b.id not in occupied),
                      style.other_bays_cost),
               Region(tuple(b.rect for b in lot.bays if b.id in occupied), math.inf))
    problem = Problem(parked + boundary(lot), lot.interior, regions, SearchCosts(reverse=style.reverse_cost))
    return Planner(Car(CAR_LENGTH, CAR_WIDTH, radius, margin), problem, Settings())


def simple_path_clear(path: Path, lot: LotGeometry, goal_bay: str, occupied: tuple[str, ...],
                      start: tuple[float, float, float], margin: float = SIMPLE_PATH_MARGIN,
                      wall_margin: float = SIMPLE_PATH_WALL_MARGIN) -> bool:
    """Does a car driving the simple path exactly, from where a car at `start` joins it, keep `margin` from the
    walls and the parked cars of these bays, and `wall_margin` from the walls and from every parked car but the goal's
    two neighbours wherever its centre is outside the goal bay? (The path begins at the lot's end, behind the start
    region.)"""
    def parked(bays) -> list[Rect]:
        return [Rect(b.rect.x, b.rect.y, CAR_LENGTH, CAR_WIDTH, b.rect.heading) for b in bays if b.id in occupied]

    goal = lot.bay(goal_bay)
    neighbours = lot.neighbours(goal_bay)
    obstacles = rect_table([*boundary(lot), *parked(lot.bays)])
    outside_obstacles = rect_table([*boundary(lot), *parked(b for b in lot.bays if b.id not in neighbours)])
    poses = body_poses(path, CAR_LENGTH)[path.nearest(*start)::3]
    outside = poses[~points_in(poses[:, :2], rect_table([goal.rect]))]
    return not (boxes_overlap(poses, CAR_LENGTH + 2 * margin, CAR_WIDTH + 2 * margin, obstacles).any()
                or boxes_overlap(outside, CAR_LENGTH + 2 * wall_margin, CAR_WIDTH + 2 * wall_margin,
                                 outside_obstacles).any())


def straight_before_turn(path: Path, start: tuple[float, float, float]) -> float:
    """How far a path runs straight from the point nearest `start` before it first turns [m]."""
    i = path.nearest(*start)
    turning = np.flatnonzero(np.abs(path.curvature[i:]) > 1e-9)
    return float(path.s[i + turning[0]] - path.s[i]) if len(turning) else math.inf


_PLAN_FROM_START = object()
"""in an expert's plan cache: the simple path is not safe among these parked cars, each episode plans from its start"""

_SCENARIO_PLANS: OrderedDict[tuple, _Plan | str] = OrderedDict()
"""(style, spec JSON) -> the scenario's plan or why there is none: a pure function of its key, shared by every
expert of the style (reference_routes asks fresh experts)"""


@dataclass(frozen=True, eq=False)
class _Plan:
    path: Path
    """the centre's path"""
    rear: Path | None
    """a planned path's rear axle path, which the car tracks; None for a simple path (its centre is tracked)"""


class ParkingExpert:
    family = "parking"

    def __init__(self, style: ParkingStyle):
        self.style = style
        self.id = f"expert:{style.name}"
        self._plans: OrderedDict[tuple, _Plan | str | None] = OrderedDict()
        self._spec_keys: dict[int, tuple[object, str]] = {}
        self._last: tuple | None = None  # (spec, occupied list, start pose, plan) of the last episode: per step

    def supports(self, spec) -> str | None:
        if spec.family != "parking":
            return "parks only"
        orientation = spec.goal.orientation
        if self.style.manoeuvre == "reverse" and orientation == "nose-in":
            return "parks reverse-in; the scenario requires nose-in"
        if self.style.manoeuvre == "forward" and orientation == "reverse-in":
            return "parks nose-in; the scenario requires reverse-in"
        sweep = self.style.turn_radius + self.style.pre_entrance
        if self.style.empty_lots_only and sweep > spec.lot.aisle_width - 2.0 and (
                spec.occupancy.occupied or spec.occupancy.count):
            return "swings through the bays across the aisle, so it is meant for empty lots"
        try:
            self.scenario_path(spec)
        except ValueError as err:
            return str(err)
        return None

    def scenario_path(self, spec) -> Path:
        """The scenario's reference path, independent of the cars drawn for an episode: the simple path where it
        fits the lot and misses the always-occupied bays, else the plan among those from the start region's
        centre. Raises ValueError with the reason if there is none."""
        return self._scenario_plan(spec).path

    def _scenario_plan(self, spec) -> _Plan:
        key = (self.style, self._spec_key(spec))
        found = _SCENARIO_PLANS.get(key)
        if found is None:
            lot = build_lot(spec.lot)
            try:
                found = self._plan_for(spec, lot, tuple(spec.occupancy.occupied))
            except ValueError as err:
                found = str(err)
            _SCENARIO_PLANS[key] = found or "its planner finds no way into the goal bay in this lot"
            while len(_SCENARIO_PLANS) > CACHE_SIZE:
                _SCENARIO_PLANS.popitem(last=False)
        if isinstance(found, str):
            raise ValueError(found)
        return found

    def path(self, env) -> Path:
        """This episode's path among the env's parked cars: the simple path, or a plan from the car's start pose."""
        return self._episode_plan(env.unwrapped).path

    def _episode_plan(self, env) -> _Plan:
        last = self._last
        if last is not None and last[0] is env.scenario and last[1] is env.occupied and last[2] == env.start_pose:
            return last[3]  # the same episode's objects
        occupied = tuple(sorted(env.occupied))
        key = ("episode", self._spec_key(env.scenario), occupied)  # the simple path does not depend on the start
        found = self._plans.get(key)
        if found is None:
            found = self._simple_plan(env.scenario, env.lot, occupied) or _PLAN_FROM_START
            self._remember(key, found)
        if found is _PLAN_FROM_START:
            key = (*key, env.start_pose)
            found = self._plans.get(key)
            if found is None:
                found = self._search_plan(env.scenario, env.lot, occupied, env.start_pose)
                if found is None:  # no plan among this episode's cars: the scenario's, for want of better
                    found = self._scenario_plan(env.scenario)
                self._remember(key, found)
        self._last = (env.scenario, env.occupied, env.start_pose, found)
        return found

    def _plan_for(self, spec, lot: LotGeometry, occupied: tuple[str, ...]) -> _Plan | None:
        """The simple path if it is safe here (`_simple_plan`), else a plan from the start region's centre. Raises
        ValueError if the goal is too close to the start for this style's manoeuvre."""
        return self._simple_plan(spec, lot, occupied) or self._search_plan(spec, lot, occupied, None)

    def _search_plan(self, spec, lot: LotGeometry, occupied: tuple[str, ...], start: tuple[float, float, float] | None
                 ) -> _Plan | None:
        """A plan from `start` (None: the start region's centre), or from the region's centre if none is found from
        there; None if neither is found."""
        path = None if start is None else planned(self.style, lot, spec.goal.bay, occupied, start)
        if path is None:
            path = planned(self.style, lot, spec.goal.bay, occupied, _start_pose(spec))
        return _Plan(path, rear_axle_path(path, CAR_LENGTH)) if path is not None else None

    def _simple_plan(self, spec, lot: LotGeometry, occupied: tuple[str, ...]) -> _Plan | None:
        """The style's simple path if it fits the lot, costs the style little in other bays (SIMPLE_PATH_CROSSING),
        has room in the bay (SIMPLE_PATH_BAY_SLACK), a straight run-in (SIMPLE_PATH_RUN_IN) and keeps clear of the
        walls and these bays' cars (simple_path_clear); else None. Raises ValueError as `plan` does."""
        path = plan(self.style, lot, spec.goal.bay, _start_centre(spec))
        r = lot.interior
        x_ok = np.abs(path.xy[:, 0] - r.x) <= r.length / 2 - END_CLEARANCE + 1e-6
        y_ok = np.abs(path.xy[:, 1] - r.y) <= r.width / 2 - 1.2
        others = rect_table([b.rect for b in lot.bays if b.id != spec.goal.bay])
        crossing = self.style.other_bays_cost * float(np.diff(path.s)[points_in(path.xy[1:], others)].sum())
        slack = lot.bay(spec.goal.bay).rect.width - CAR_WIDTH
        if (x_ok & y_ok).all() and crossing <= SIMPLE_PATH_CROSSING and slack >= SIMPLE_PATH_BAY_SLACK - 1e-9 \
                and straight_before_turn(path, _start_pose(spec)) >= SIMPLE_PATH_RUN_IN * self.style.lookahead \
                and simple_path_clear(path, lot, spec.goal.bay, occupied, _start_pose(spec)):
            return _Plan(path, None)
        return None

    def replan(self, env, x: float, y: float, heading: float) -> _Plan | None:
        """A plan from a pose off the episode's plan, rounded to REPLAN_ROUNDING (None if the planner finds none)."""
        dxy, dh = REPLAN_ROUNDING
        start = (round(x / dxy) * dxy, round(y / dxy) * dxy, float(wrap_angle(round(heading / dh) * dh)))
        occupied = tuple(sorted(env.occupied))
        key = ("from", self._spec_key(env.scenario), occupied, start)
        if key not in self._plans:
            path = planned(self.style, env.lot, env.scenario.goal.bay, occupied, start)
            self._remember(key, _Plan(path, rear_axle_path(path, CAR_LENGTH)) if path is not None else None)
        else:
            self._plans.move_to_end(key)
        return self._plans[key]

    def _spec_key(self, spec) -> str:
        """The spec as canonical JSON (computed once per spec object)."""
        known = self._spec_keys.get(id(spec))
        if known is None or known[0] is not spec:
            known = self._spec_keys[id(spec)] = (spec, spec.model_dump_json())
        return known[1]

    def _remember(self, key: tuple, value) -> None:
        self._plans[key] = value
        while len(self._plans) > CACHE_SIZE:
            self._plans.popitem(last=False)

    def act(self, env) -> np.ndarray:
        env = env.unwrapped
        v = env.vehicle
        x, y, heading, speed = float(v.position[0]), float(v.position[1]), float(v.heading), float(v.speed)
        chosen = self._episode_plan(env)
        style = self.style
        if chosen.rear is None:  # a simple path: pursuit of the centre from anywhere, as always
            return track_path(chosen.path, x, y, heading, speed, cruise=style.cruise,
                              reverse_cruise=style.reverse_cruise, lookahead=style.lookahead)
        half = CAR_LENGTH / 2
        rx, ry = x - half * math.cos(heading), y - half * math.sin(heading)  # the rear axle, which a plan is tracked by
        if off_plan(chosen.rear, rx, ry, heading, speed):
            chosen = self.replan(env, x, y, heading) or chosen
        return track_rear_axle_path(chosen.rear, rx, ry, heading, speed, cruise=style.cruise,
                                    reverse_cruise=style.reverse_cruise, lookahead=PLAN_LOOKAHEAD)


def off_plan(path: Path, x: float, y: float, heading: float, speed: float) -> bool:
    """Is a car further than REPLAN_DISTANCE or REPLAN_HEADING from the point of the path nearest its pose (heading
    weighed OFF_PLAN_HEADING_WEIGHT)? Pass the
    rear axle's path and position: its path's `car_heading` is the body heading (the centre's carries the slip angle)."""
    i = path.nearest(x, y, heading, speed, heading_weight=OFF_PLAN_HEADING_WEIGHT)
    return bool(math.hypot(path.xy[i, 0] - x, path.xy[i, 1] - y) > REPLAN_DISTANCE
                or abs(wrap_angle(path.car_heading[i] - heading)) > REPLAN_HEADING)


def _start_centre(spec) -> tuple[float, float]:
    return (sum(spec.start.x) / 2, sum(spec.start.y) / 2)


def _start_pose(spec) -> tuple[float, float, float]:
    """The start region's centre, heading its middle heading."""
    return (*_start_centre(spec), math.radians(sum(spec.start.heading_deg) / 2))
