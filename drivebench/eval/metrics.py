"""Per-episode metrics from an episode's per-step arrays: pure functions (the envs publish the signals)."""
from __future__ import annotations

import math

import numpy as np

from drivebench.core.records import Episode, EpisodeMetrics, Outcome
from drivebench.eval import events, score
from drivebench.scenarios import family as families
from drivebench.scenarios.envs import Collision
from drivebench.scenarios.spec import Spec


def time_in(flags: np.ndarray, dt: float) -> float:
    """Time [s] a per-observation flag was on: each of the T decision periods counts by the state it ended in
    (the first observation, before any decision, lasts no time)."""
    return float(np.asarray(flags[1:], bool).sum()) * dt


def share_of(flags: np.ndarray) -> float:
    """Share of the T decision periods a per-observation flag was on (0 for an episode of no steps)."""
    return float(np.asarray(flags[1:], bool).mean()) if len(flags) > 1 else 0.0


def episode_metrics(episode: Episode, spec: Spec) -> EpisodeMetrics:
    """Everything the harness reports about one episode, including its driving score."""
    dt = 1.0 / spec.policy_frequency
    sig, poses = episode.signals, episode.poses
    speed = poses[:, 3]
    steps = episode.steps
    n = len(speed)
    collision = Collision(int(sig["collision"].max())).name.lower()
    off_road = sig["off_road"] > 0
    kin = events.kinematics(poses, dt)

    rules = families.of(spec).infractions(sig, poses, spec, dt)  # the family's own rules (lanes, bays, ...)
    lane_departures, occupied, other = rules.lane_departures, rules.occupied_bay_time, rules.other_bay_time
    wrong_way = rules.wrong_way if rules.wrong_way is not None else np.zeros(n, bool)
    speeding = rules.speeding if rules.speeding is not None else np.zeros(n, bool)

    termination = episode.termination
    invalid = termination == Outcome.INVALID_ACTION.value
    route_completion = float(sig["progress"][-1])
    factor = score.penalty(collision=collision, termination=termination, lane_departures=lane_departures,
                           wrong_way=bool(wrong_way.any()), occupied_bay=occupied > 0,
                           off_road_share=share_of(off_road), speeding_share=share_of(speeding))
    return EpisodeMetrics(
        success=episode.success,
        termination=termination,
        route_completion=route_completion,
        steps=steps,
        duration=steps * dt,
        time_to_goal=steps * dt if episode.success else math.nan,
        collision=collision,
        off_road_time=time_in(off_road, dt),
        off_road_count=events.entries(off_road),
        lane_departures=lane_departures,
        wrong_way_time=time_in(wrong_way, dt),
        reversing_time=time_in(events.reversing(speed), dt),
        speeding_time=time_in(speeding, dt),
        occupied_bay_time=occupied,
        other_bay_time=other,
        mean_speed=float(np.abs(speed).mean()),
        max_speed=float(np.abs(speed).max()),
        comfort_violations=int(events.comfort_violations(kin).sum()),
        mean_abs_jerk=float(np.abs(kin["lon_jerk"]).mean()),
        driving_score=score.driving_score(route_completion, factor, invalid=invalid),
    )
