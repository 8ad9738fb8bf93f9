"""Curve experts: pure pursuit on a lane-centre reference (with apex cutting), a curvature speed profile,
IDM-like car following, and (for styles with a short headway) overtaking with gap acceptance. They read the
simulator's true state.

Lane changes are decided from the state alone (no memory, so an expert labels any state): a car more than a quarter
lane off its lane's centre and moving further off is changing to the lane on that side; one moving back is
returning. It leaves its lane only into an accepted gap, the vehicles ahead and behind in the target lane far enough
away for the relative speeds (`_gap_ok`), one lane at a time; a change under way whose gap closes (a looser test,
`abort=True`) is abandoned for the lane the car came from. Behind a vehicle it follows with IDM's desired gap
(`following_speed`). Beside a vehicle in a neighbouring lane it keeps its side clearance (SIDE_CLEARANCE), moving over
within its lane when the lanes are narrow, and stays behind a vehicle it could not pass with that clearance."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from drivebench.experts import controllers as ctl
from drivebench.families.curve.geometry import Centreline, lane_offsets

PROFILE_STEP = 1.0  # [m]
COMMIT_TIME = 1.0  # [s] of lateral motion that tells a lane change under way from a return to the lane
CAR_WIDTH = 2.0  # [m]
CLEARANCE = 0.3  # kept between the car's side and its lane line when cutting an apex [m]
STANDSTILL_GAP = 4.0  # bumper-to-bumper distance kept to a stopped leader (IDM's s0) [m]
ACCELERATION = 3.0  # IDM's comfortable acceleration [m/s^2]
CHANGE_TIME = 2.5  # [s] a lane change takes, during which the gaps close at the relative speeds
REACTION_TIME = 0.5  # [s] of the follower's speed kept as extra gap in an accepted lane change
SIDE_CLEARANCE = 0.5  # lateral gap kept between the car's side and a vehicle beside it [m]
LINE_MARGIN = 0.05  # the car's side stays this far inside its lane line when it moves over [m]
OVERTAKE_RANGE = 40.0  # [m] gap to a slower leader under which an overtaking style looks for a lane change
GAIN = 1.0  # [m/s] a lane beside must offer more than the car's own (lane_speed) for it to change lanes
SCAN_RANGE = 80.0  # [m] along the road that the expert looks at other vehicles
LOOKAHEAD_MIN, LOOKAHEAD_TIME = 5.0, 0.5
"""pure-pursuit lookahead: the larger of LOOKAHEAD_MIN [m] and LOOKAHEAD_TIME [s] of the speed (it was 6 m and 0.8 s:
at sporty speeds that cut the straight-to-arc joins by 0.35 m, a lane departure in 2.5 m lanes)"""
CHANGE_SLOPE = 4.0
"""a lane change aims at least this many metres ahead per metre it has still to move across: the short lookahead
alone swerved across two lanes at once"""


@dataclass(frozen=True)
class CurveStyle:
    name: str
    description: str
    speed_factor: float
    """cruise speed as a fraction of the speed limit [-]"""
    lateral_acceleration: float
    """largest lateral acceleration it accepts in a curve; sets its curve speed [m/s^2]"""
    apex_cut: float
    """share of the free room in its lane it uses to move toward the inside of a curve [-], 0 = lane centre"""
    time_headway: float
    """time gap it keeps to the vehicle ahead in its lane [s]"""
    braking: float
    """deceleration it plans with before curves, behind slower vehicles and in a lane change's gaps [m/s^2]"""


CURVE_STYLES = {
    "cautious": CurveStyle("cautious", "slow, keeps the lane centre, long headway", speed_factor=0.7,
                           lateral_acceleration=1.5, apex_cut=0.0, time_headway=2.0, braking=1.5),
    "sporty": CurveStyle("sporty", "at the limit, cuts the apex within its lane, short headway, overtakes",
                         speed_factor=1.0, lateral_acceleration=3.5, apex_cut=0.8, time_headway=1.0, braking=3.0),
}
"""Its driving styles as data: an expert is this family's control law plus one of these records."""


def speed_profile(centreline: Centreline, cruise: float, lateral_acceleration: float, braking: float) -> np.ndarray:
    """Largest speed [m/s] at every PROFILE_STEP along the road (and 100 m past it) that respects the lateral
    acceleration limit in every curve ahead while braking at `braking` [m/s^2]."""
    s = np.arange(0.0, centreline.length + 100.0, PROFILE_STEP)
    curvature = np.abs([centreline.curvature(x) for x in s])
    v = np.minimum(cruise, np.sqrt(lateral_acceleration / np.maximum(curvature, 1e-9)))
    for i in range(len(v) - 2, -1, -1):  # backward pass: brake in time for what comes
        v[i] = min(v[i], math.sqrt(v[i + 1] ** 2 + 2 * braking * PROFILE_STEP))
    return v


@lru_cache(maxsize=64)
def _profile(centreline: Centreline, cruise: float, lateral_acceleration: float, braking: float) -> np.ndarray:
    return speed_profile(centreline, cruise, lateral_acceleration, braking)


def apex_offset(centreline: Centreline, s: float, room: float) -> float:
    """Shift toward the inside of the curve at s [m], a half sine over each arc peaking at its apex."""
    if s < 0 or s > centreline.length:
        return 0.0
    piece = centreline.piece_at(s)
    if piece.curvature == 0.0:
        return 0.0
    return math.copysign(room, piece.curvature) * math.sin(math.pi * (s - piece.s0) / piece.length)


def following_speed(speed: float, leader_speed: float, gap: float, *, time_headway: float, braking: float) -> float:
    """Speed [m/s] to drive behind a leader `gap` metres ahead (bumper to bumper): its speed, plus half the gap in
    excess of IDM's desired gap (standstill gap, time headway and IDM's approach term, which grows with the closing
    speed), and never more than what stops the closing in the gap left at `braking`."""
    desired = STANDSTILL_GAP + max(speed, 0.0) * time_headway + max(speed, 0.0) * (speed - leader_speed) / (
        2 * math.sqrt(ACCELERATION * braking))
    kinematic = leader_speed + math.sqrt(2 * braking * max(gap - STANDSTILL_GAP, 0.0))
    return max(min(leader_speed + 0.5 * (gap - desired), kinematic), 0.0)


def lane_speed(leader, cruise: float) -> float:
    """What a lane offers [m/s]: the cruise speed, or its leader's speed plus what the gap to it is worth."""
    if leader is None:
        return cruise
    return min(cruise, leader.speed + max(leader.ds - ctl.CAR_LENGTH - STANDSTILL_GAP, 0.0) / 8.0)


@dataclass(frozen=True)
class Other:
    """Another vehicle as the expert sees it, relative to its own car."""

    ds: float
    """its distance along the road minus the car's, + ahead [m] (centre to centre)"""
    d: float
    """its lateral offset from the road centreline, + right [m]"""
    speed: float
    """its speed along the road [m/s]"""
    lane: int
    """its nearest lane"""


class CurveExpert:
    family = "curve"

    def __init__(self, style: CurveStyle):
        self.style = style
        self.id = f"expert:{style.name}"

    def supports(self, spec) -> str | None:
        return None if spec.family == "curve" else "drives curve scenarios only"

    def act(self, env) -> np.ndarray:
        env = env.unwrapped
        style, road, v, facts = self.style, env.scenario.road, env.vehicle, env.facts
        s, d = facts["s"], facts["d"]
        offsets = lane_offsets(road)
        speed = v.speed * math.cos(facts["heading_error"])
        # A lane change under way (the car off its lane's centre and moving further off) is finished unless its gap
        # closes; a car moving back toward its lane's centre is returning to it.
        here = int(np.argmin(np.abs(offsets - d)))
        off = d - offsets[here]
        drift = v.speed * math.sin(facts["heading_error"]) * COMMIT_TIME  # where it is heading, a second from now
        lane = here
        if abs(off) >= road.lane_width / 4 and off * drift > 0:
            lane = min(max(here + (1 if off > 0 else -1), 0), len(offsets) - 1)
        others = self._others(env, s, offsets)
        if lane != here and not self._gap_ok(others, lane, speed, abort=True) and \
                self._gap_ok(others, here, speed, abort=True):
            lane = here  # abort: back to the lane it came from
        cruise = style.speed_factor * road.speed_limit
        profile = _profile(env.centreline, cruise, style.lateral_acceleration, style.braking)
        target_speed = float(np.interp(s, np.arange(len(profile)) * PROFILE_STEP, profile))

        leader = self._leader(others, lane)
        settled = abs(off) < road.lane_width / 4  # the last lane change is over
        if (lane == here and settled and leader is not None and style.time_headway <= 1.0
                and leader.speed < cruise - 1.5 and leader.ds - ctl.CAR_LENGTH < OVERTAKE_RANGE):
            offer = lane_speed(leader, cruise)
            for other in (lane - 1, lane + 1):
                if (0 <= other < len(offsets) and lane_speed(self._leader(others, other), cruise) > offer + GAIN
                        and self._gap_ok(others, other, speed)):
                    lane = other  # overtake: an accepted gap in the lane beside, which is faster
                    break

        # Lateral target: the lane centre, cut toward the apex, moved away from a vehicle alongside if need be.
        # (under a quarter lane: further off its centre, the car would read as changing lanes)
        room = max(min(road.lane_width / 2 - CAR_WIDTH / 2 - LINE_MARGIN, road.lane_width / 4 - 0.1), 0.0)
        apex_room = style.apex_cut * max(road.lane_width / 2 - CAR_WIDTH / 2 - CLEARANCE, 0.0)
        lookahead = max(LOOKAHEAD_MIN, LOOKAHEAD_TIME * abs(v.speed), CHANGE_SLOPE * abs(offsets[lane] - d))
        s_target = s + lookahead
        shift = apex_offset(env.centreline, s_target, apex_room)
        blockers = []
        for o in others:
            if o.lane == lane or abs(o.lane - lane) != 1:
                continue
            closing = max(speed - o.speed, 0.0)
            if not (-ctl.CAR_LENGTH - 1.0 < o.ds < ctl.CAR_LENGTH + 1.0 + closing * 1.5):
                continue
            side = math.copysign(1.0, o.d - offsets[lane])  # where it is, seen from our lane centre
            if shift * side > 0:
                shift = 0.0  # no apex cut toward it
            # how far our centre may be from our lane centre toward it, keeping SIDE_CLEARANCE
            allowed = abs(o.d - offsets[lane]) - CAR_WIDTH - SIDE_CLEARANCE
            if allowed < -room:
                blockers.append(o)  # no room to pass it: it is a leader until it is behind
            if shift * side > allowed:
                shift = side * allowed
        shift = min(max(shift, -room), room)
        tx, ty = env.centreline.point(s_target, offsets[lane] + shift)
        travel = v.heading + ctl.steady_slip(env.centreline.curvature(s))
        steering = ctl.steering_for_curvature(ctl.pursuit_curvature(*v.position, travel, tx, ty))

        followed = [o for o in (self._leader(others, lane), self._leader(others, here)) if o is not None]
        for o in followed + [o for o in blockers if o.ds > 0]:
            target_speed = min(target_speed, following_speed(speed, o.speed, o.ds - ctl.CAR_LENGTH,
                                                             time_headway=style.time_headway, braking=style.braking))
        return ctl.action(ctl.speed_command(target_speed, v.speed), steering)

    def _gap_ok(self, others: list[Other], lane: int, speed: float, *, abort: bool = False) -> bool:
        """Whether the gap beside the car in `lane` takes it. For the vehicle ahead (the car follows it) and the one
        behind (it follows the car), the bumper-to-bumper gap must hold the standstill gap, REACTION_TIME of the
        follower's speed, what the closing speed eats in CHANGE_TIME, and the follower's braking distance down to
        the leader's speed at the style's deceleration; a vehicle alongside fails it. `abort`: the looser test under
        which a change under way goes on (standstill gap and braking at the car's limit only), so that a marginal
        gap does not make it hesitate."""
        headway = 0.0 if abort else REACTION_TIME
        braking = ctl.ACCELERATION_MAX if abort else self.style.braking
        horizon = 0.0 if abort else CHANGE_TIME
        for o in others:
            if o.lane != lane:
                continue
            if o.ds >= 0:  # ahead: we follow it
                gap, follower, leader = o.ds - ctl.CAR_LENGTH, speed, o.speed
            else:  # behind: it follows us
                gap, follower, leader = -o.ds - ctl.CAR_LENGTH, o.speed, speed
            closing = max(follower - leader, 0.0)
            need = STANDSTILL_GAP + follower * headway + closing * horizon + closing ** 2 / (2 * braking)
            if gap < need:
                return False
        return True

    @staticmethod
    def _leader(others: list[Other], lane: int) -> Other | None:
        return min((o for o in others if o.lane == lane and o.ds > 0), key=lambda o: o.ds, default=None)

    @staticmethod
    def _others(env, s: float, offsets: np.ndarray) -> list[Other]:
        """The other vehicles within SCAN_RANGE along the road, with their nearest lane."""
        found = []
        for other in env.road.vehicles:
            if other is env.vehicle:
                continue
            so, do, th = env.centreline.project(*other.position)
            if abs(so - s) < SCAN_RANGE:
                found.append(Other(so - s, do, other.speed * math.cos(other.heading - th),
                                   int(np.argmin(np.abs(offsets - do)))))
        return found
