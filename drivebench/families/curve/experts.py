"""Curve experts: pure pursuit on a lane-centre reference (with apex cutting), a curvature speed profile,
car following, and (for styles with a short headway) overtaking. They read the simulator's true state."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from drivebench.experts import controllers as ctl
from drivebench.families.curve.geometry import Centreline, lane_offsets

PROFILE_STEP = 1.0  # [m]
COMMIT_TIME = 1.0  # [s] ahead that the lateral position decides which lane the car is in
CAR_WIDTH = 2.0  # [m]
CLEARANCE = 0.3  # kept between the car's side and its lane line when cutting an apex [m]



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
    """deceleration it plans with before curves and behind slower vehicles [m/s^2]"""


CURVE_STYLES = {
    "cautious": CurveStyle("cautious", "slow, keeps the lane centre, long headway", speed_factor=0.7,
                           lateral_acceleration=1.5, apex_cut=0.0, time_headway=2.0, braking=1.5),
    "sporty": CurveStyle("sporty", "at the limit, cuts the apex within its lane, short headway", speed_factor=1.0,
                         lateral_acceleration=3.5, apex_cut=0.8, time_headway=1.0, braking=3.0),
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
        # The lane it will be in a second from now: a lane change under way is finished, not aborted.
        d_soon = d + v.speed * math.sin(facts["heading_error"]) * COMMIT_TIME
        lane = int(np.argmin(np.abs(offsets - d_soon)))
        cruise = style.speed_factor * road.speed_limit
        profile = _profile(env.centreline, cruise, style.lateral_acceleration, style.braking)
        target_speed = float(np.interp(s, np.arange(len(profile)) * PROFILE_STEP, profile))

        lanes = self._traffic_by_lane(env, s, offsets)
        leader = min((o for o in lanes[lane] if o[0] > 0), default=None)
        if leader is not None:
            gap = leader[0] - ctl.CAR_LENGTH
            if style.time_headway <= 1.0 and leader[1] < cruise - 1.5 and gap < 40:
                for other in (lane - 1, lane + 1):
                    if 0 <= other < len(offsets) and not any(-15 < o[0] < 30 for o in lanes[other]):
                        lane = other  # overtake: the other lane is free around us
                        leader = min((o for o in lanes[lane] if o[0] > 0), default=None)
                        break
        if leader is not None:
            gap = leader[0] - ctl.CAR_LENGTH
            desired = 4.0 + style.time_headway * max(v.speed, 0.0)
            target_speed = min(target_speed, max(leader[1] + 0.5 * (gap - desired), 0.0))

        room = style.apex_cut * max(road.lane_width / 2 - CAR_WIDTH / 2 - CLEARANCE, 0.0)
        lookahead = max(6.0, 0.8 * abs(v.speed))
        s_target = s + lookahead
        tx, ty = env.centreline.point(s_target, offsets[lane] + apex_offset(env.centreline, s_target, room))
        travel = v.heading + ctl.steady_slip(env.centreline.curvature(s))
        steering = ctl.steering_for_curvature(ctl.pursuit_curvature(*v.position, travel, tx, ty))
        return ctl.action(ctl.speed_command(target_speed, v.speed), steering)

    @staticmethod
    def _traffic_by_lane(env, s: float, offsets: np.ndarray) -> list[list[tuple[float, float]]]:
        """(distance along the road [m], speed [m/s]) of the other vehicles, grouped by their nearest lane."""
        lanes: list[list[tuple[float, float]]] = [[] for _ in offsets]
        for other in env.road.vehicles:
            if other is env.vehicle:
                continue
            so, do, _ = env.centreline.project(*other.position)
            if abs(so - s) < 80:
                lanes[int(np.argmin(np.abs(offsets - do)))].append((so - s, other.speed))
        return lanes
