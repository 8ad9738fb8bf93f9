"""Per-episode metrics from an episode's per-step arrays: pure functions (the envs publish the signals)."""
from __future__ import annotations

import math

import numpy as np

from drivebench.eval import events, score
from drivebench.eval.records import EpisodeMetrics, Outcome
from drivebench.eval.rollout import Episode
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH, Collision
from drivebench.scenarios.spec import CurveScenario, ParkingScenario


def episode_metrics(episode: Episode, spec: CurveScenario | ParkingScenario) -> EpisodeMetrics:
    """Everything the harness reports about one episode, including its driving score."""
    dt = 1.0 / spec.policy_frequency
    sig, poses = episode.signals, episode.poses
    speed = poses[:, 3]
    steps = episode.steps
    n = len(speed)
    collision = Collision(int(sig["collision"].max())).name.lower()
    off_road = sig["off_road"] > 0
    kin = events.kinematics(poses, dt)

    lane_departures, wrong_way, speeding, occupied, other = 0, np.zeros(n, bool), np.zeros(n, bool), 0.0, 0.0
    if spec.family == "curve":
        lane_departures = int(events.lane_departures(sig["lane"], sig["lane_offset"], sig["heading_error"],
                                                     spec.road.lane_width, CAR_LENGTH, CAR_WIDTH).sum())
        wrong_way = events.wrong_way(sig["heading_error"], dt)
        speeding = events.speeding(speed, spec.road.speed_limit)
    else:
        occupied = float(sig["occupied_bay"].sum()) * dt
        other = float(sig["other_bay"].sum()) * dt

    termination = episode.termination
    invalid = termination == Outcome.INVALID_ACTION.value
    route_completion = float(sig["progress"][-1])
    factor = score.penalty(collision=collision, termination=termination, lane_departures=lane_departures,
                           wrong_way=bool(wrong_way.any()), occupied_bay=occupied > 0,
                           off_road_share=float(off_road.mean()), speeding_share=float(speeding.mean()))
    return EpisodeMetrics(
        success=episode.success,
        termination=termination,
        route_completion=route_completion,
        steps=steps,
        duration=steps * dt,
        time_to_goal=steps * dt if episode.success else math.nan,
        collision=collision,
        off_road_time=float(off_road.sum()) * dt,
        off_road_count=events.entries(off_road),
        lane_departures=lane_departures,
        wrong_way_time=float(wrong_way.sum()) * dt,
        reversing_time=float(events.reversing(speed).sum()) * dt,
        speeding_time=float(speeding.sum()) * dt,
        occupied_bay_time=occupied,
        other_bay_time=other,
        mean_speed=float(np.abs(speed).mean()),
        max_speed=float(np.abs(speed).max()),
        comfort_violations=int(events.comfort_violations(kin).sum()),
        mean_abs_jerk=float(np.abs(kin["lon_jerk"]).mean()),
        driving_score=score.driving_score(route_completion, factor, invalid=invalid),
    )
