"""The harness's typed records: what one evaluated episode produced. The results database's columns are
derived from these dataclasses, so adding a metric is adding a field here (and bumping SCHEMA_VERSION)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

import numpy as np

SCHEMA_VERSION = 4
"""Version of EpisodeMetrics / EpisodeRecord as stored; bump when a field or a metric's meaning changes (4:
scenario_hash is the scenario key, spec and code, no longer the spec's hash alone)."""


class Outcome(str, Enum):
    """Why an evaluated episode ended (MetaDrive-like). The env ends episodes with the first four; the
    harness adds `stuck` (no progress for a declared time) and `invalid_action` (the policy raised or returned
    an action of the wrong shape or with NaN)."""

    ARRIVED = "arrived"
    CRASHED = "crashed"
    OFF_ROAD = "off_road"
    TIMEOUT = "timeout"
    STUCK = "stuck"
    INVALID_ACTION = "invalid_action"


@dataclass(frozen=True)
class EpisodeMetrics:
    """Per-episode metrics: pure functions of the episode's per-step signals (metrics.py)."""

    success: bool
    """arrived: reached the goal as the scenario family defines it"""
    termination: str
    """an Outcome value"""
    route_completion: float
    """progress at the end of the episode, in [0, 1]: along the road (curves), along the reference routes (parking)"""
    steps: int
    """decisions taken"""
    duration: float
    """[s]"""
    time_to_goal: float
    """[s] until arrival; NaN when the episode did not arrive"""
    collision: str
    """none, vehicle or static"""
    off_road_time: float
    """time with a body corner past the drivable area [s], including any the episode started with"""
    off_road_count: int
    """times the car left the drivable area (starting off it is not leaving it)"""
    lane_departures: int
    """times the body crossed a lane line without completing a lane change (events.lane_departures)"""
    wrong_way_time: float
    """time driving against the road's direction [s] (curves)"""
    reversing_time: float
    """time moving backwards [s]"""
    speeding_time: float
    """time above the speed limit [s] (curves)"""
    occupied_bay_time: float
    """time with the body in a bay holding a parked car [s] (parking)"""
    other_bay_time: float
    """time with the body in a bay other than the goal [s] (parking)"""
    mean_speed: float
    """mean |speed| [m/s]"""
    max_speed: float
    """max |speed| [m/s]"""
    comfort_violations: int
    """steps breaking any of nuPlan's comfort bounds (events.COMFORT_BOUNDS)"""
    mean_abs_jerk: float
    """mean |longitudinal jerk| [m/s^3]"""
    driving_score: float
    """route completion x infraction penalties, in [0, 100] (score.py)"""


@dataclass(frozen=True, eq=False)
class Trajectory:
    """A compact per-step trace for plots: float32 arrays with one row per observation."""

    poses: np.ndarray
    """(T + 1, 4): x [m], y [m], heading [rad], speed [m/s]"""
    signals: dict[str, np.ndarray]
    """(T + 1,) per env signal"""


@dataclass(frozen=True, eq=False)
class EpisodeRecord:
    """One evaluated episode with its provenance: one row of the results database."""

    agent: str
    """agent id as given (`expert:tidy`, `random`, a checkpoint path, `module:callable`)"""
    agent_hash: str
    """sha256 identifying the agent's exact parameters or code"""
    scenario: str
    """scenario name"""
    scenario_hash: str
    """the scenario key (eval/keys.py): the spec the episode ran on, after the shift was applied, and the code
    that simulated and scored it"""
    shift: str
    """shift name, or 'none'"""
    level: int
    """shift level, 0 for none"""
    seed: int
    """episode seed"""
    metrics: EpisodeMetrics
    trajectory: Trajectory
    invalid_reason: str = ""
    """why the episode is invalid (policy error, NaN action, wrong shape); empty when valid"""

    @property
    def key(self) -> tuple:
        """What makes an episode unique in the database: re-running it adds nothing."""
        return (self.agent_hash, self.scenario_hash, self.shift, self.level, self.seed)


METRIC_FIELDS = tuple(f.name for f in fields(EpisodeMetrics))


@dataclass(frozen=True, eq=False)
class Episode:
    seed: int
    """the `env.reset(seed=...)` seed"""
    observations: np.ndarray
    """(T + 1, obs_dim) float32: the observation before each action, and the final one"""
    actions: np.ndarray
    """(T, 2) float32: [acceleration, steering] in [-1, 1]"""
    rewards: np.ndarray
    """(T,) float32"""
    poses: np.ndarray
    """(T + 1, 4) float32: x [m], y [m], heading [rad], speed [m/s] with each observation"""
    signals: dict[str, np.ndarray]
    """(T + 1,) float32 per signal the env documents in its SIGNALS, with each observation"""
    termination: str
    """an Outcome value (records.py): the env's (arrived, crashed, off_road, timeout) or the rollout's
    (stuck, invalid_action)"""
    invalid_reason: str = ""
    """for invalid_action: what the policy did wrong"""

    @property
    def steps(self) -> int:
        return len(self.actions)

    @property
    def success(self) -> bool:
        return self.termination == "arrived"

    @property
    def off_road(self) -> np.ndarray:
        return self.signals["off_road"] > 0
