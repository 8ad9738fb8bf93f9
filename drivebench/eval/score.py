"""The driving score: route completion x infraction penalties, in [0, 100] (CARLA Leaderboard style).

Every factor is declared in PENALTIES. Multiplicative factors apply once per event; the time-based ones scale
with the share of the episode spent in the infraction, as CARLA's "outside route lanes" does. Comfort is
reported (EpisodeMetrics.comfort_violations) but not scored: the score is about safety and rules.
"""
from __future__ import annotations

PENALTIES = {
    "collision_vehicle": 0.60,  # CARLA LB 1.0/2.0: collision with a vehicle
    "collision_static": 0.65,  # CARLA: collision with static scenery (walls)
    "left_road": 0.65,  # the episode ended off-road: as bad as hitting the scenery
    "lane_departure": 0.90,  # per departure (events.lane_departures)
    "wrong_way": 0.70,  # drove against the road for >= 1 s
    "occupied_bay": 0.80,  # entered a bay holding a parked car (a forbidden area)
    "timeout": 0.70,  # CARLA: scenario timeout
    "stuck": 0.70,  # no progress for core.rollout.STUCK_TIME
}
"""Multiplicative penalty per event."""

OFF_ROAD_SHARE_WEIGHT = 1.0
"""x (1 - weight * share of steps off-road): CARLA's outside-route-lanes factor."""
SPEEDING_SHARE_WEIGHT = 0.3
"""x (1 - weight * share of steps above the limit): shaped like CARLA's minimum-speed factor."""


def penalty(*, collision: str, termination: str, lane_departures: int, wrong_way: bool, occupied_bay: bool,
            off_road_share: float, speeding_share: float) -> float:
    """The product of the infraction factors, in [0, 1]."""
    p = 1.0
    if collision in ("vehicle", "static"):
        p *= PENALTIES[f"collision_{collision}"]
    if termination == "off_road":
        p *= PENALTIES["left_road"]
    if termination in ("timeout", "stuck"):
        p *= PENALTIES[termination]
    p *= PENALTIES["lane_departure"] ** lane_departures
    if wrong_way:
        p *= PENALTIES["wrong_way"]
    if occupied_bay:
        p *= PENALTIES["occupied_bay"]
    p *= 1.0 - OFF_ROAD_SHARE_WEIGHT * off_road_share
    p *= 1.0 - SPEEDING_SHARE_WEIGHT * speeding_share
    return max(p, 0.0)


def driving_score(route_completion: float, penalty_factor: float, *, invalid: bool = False) -> float:
    """100 x route completion x penalty; an episode whose policy produced an invalid action scores 0."""
    return 0.0 if invalid else 100.0 * max(route_completion * penalty_factor, 0.0)
