"""What the report draws, read once from the results database: the entries' official episodes, and the plain
records the figures take (tracks on the map, failure points, robustness points). Pure apart from the reads.

Conditions are the suite's (`Suite.conditions`); an entry's episodes on a scenario and condition are used only
when all the suite's seeds are there (`leaderboard.entry_records`), as the leaderboard does. The figures draw each
entry's first training run (run 0: its agent for the suite's first training seed); the leaderboard's rows and
tables cover every run.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drivebench import leaderboard
from drivebench.errors import DrivebenchError
from drivebench.eval import stats
from drivebench.core.records import EpisodeRecord, Outcome
from drivebench.eval.shifts import NONE, SHIFTS, Shift
from drivebench.leaderboard import Row, Suite
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry

EXPERT = "expert"
"""The entry the others are compared with (suite.toml's first baseline: each scenario's first expert)."""

ROBUSTNESS_SHIFT = "start_offset"
"""The shift whose levels the robustness curves run over (level 0: in distribution)."""

MAP_CONDITION = Shift("start_offset", 2)
"""The condition of the trajectory maps: the start offset where BC leaves the curve and DAgger does not."""

FAILURE_CAUSES = tuple(o.value for o in Outcome if o is not Outcome.ARRIVED)
"""How an episode can end without arriving, in the order the figures list them."""

Records = dict[tuple[str, str, Shift], list[EpisodeRecord]]
"""(entry, scenario, condition) -> the suite's episodes in seed order; only complete groups are present."""


@dataclass(frozen=True, eq=False)
class Track:
    """One episode's path, for the trajectory maps."""

    entry: str
    seed: int
    xy: np.ndarray
    """(T + 1, 2): x east [m], y south [m] of the car centre at each observation"""
    termination: str
    """an Outcome value"""
    crash_index: int | None
    """first observation with a collision (signal `collision` > 0), None if none"""
    offroad_index: int | None
    """first observation where the car left the drivable area (signal `off_road` turning on; starting off the
    road is not leaving it), or the last one if the episode ended off-road without that; None if neither"""

    @property
    def success(self) -> bool:
        return self.termination == Outcome.ARRIVED.value


@dataclass(frozen=True)
class TrackGroup:
    """The tracks of one entry on one scenario and condition: one panel of a trajectory map."""

    entry: str
    tracks: tuple[Track, ...]


@dataclass(frozen=True)
class FailurePoint:
    """Where an episode ended without arriving."""

    entry: str
    scenario: str
    condition: str
    """the shift as written (`none`, `start_offset:2`)"""
    seed: int
    x: float
    """east [m]"""
    y: float
    """south [m]"""
    cause: str
    """an Outcome value other than arrived"""


@dataclass(frozen=True)
class RobustnessPoint:
    """Failure rate of one entry on one scenario family at one level of ROBUSTNESS_SHIFT."""

    entry: str
    family: str
    level: int
    """0 = in distribution"""
    failure_rate: float
    """share of episodes that did not arrive, in [0, 1], pooled over the family's scenarios (the same seeds on
    each, so every scenario weighs the same)"""
    low: float
    """95% Wilson interval [0, 1]"""
    high: float
    episodes: int
    scenarios: int
    """scenarios of the family evaluated at this level"""


def entry_order(rows: Sequence[Row]) -> list[str]:
    """Entries in the order every figure lists them: the expert first, then by leaderboard rank."""
    names = [r.agent for r in rows]
    return ([EXPERT] if EXPERT in names else []) + [n for n in names if n != EXPERT]


def load_records(db: ResultsDB, suite: Suite, entries: dict[str, dict]) -> Records:
    """Every complete (entry, scenario, condition) group of the suite's episodes of each entry's first training
    run (`ResultsDB.entries()` form)."""
    out: Records = {}
    for name, entry in entries.items():
        for scenario in suite.scenarios:
            if not entry["agents"].get(scenario):
                continue
            _, agent_hash = entry["agents"][scenario][0]
            for shift in suite.conditions:
                try:
                    records = leaderboard.entry_records(db, suite, agent_hash, scenario, shift)
                except DrivebenchError:  # a shift that does not apply to the scenario's family
                    records = None
                if records is not None:
                    out[name, scenario, shift] = records
    return out


def first_index(values: np.ndarray) -> int | None:
    """Index of the first positive value, None if none."""
    hits = np.flatnonzero(np.asarray(values) > 0)
    return int(hits[0]) if len(hits) else None


def first_rise(values: np.ndarray) -> int | None:
    """Index of the first value > 0 that follows a value <= 0, None if none."""
    on = np.asarray(values) > 0
    hits = np.flatnonzero(on[1:] & ~on[:-1])
    return int(hits[0]) + 1 if len(hits) else None


def track(entry: str, record: EpisodeRecord) -> Track:
    signals = record.trajectory.signals
    none = np.zeros(len(record.trajectory.poses))
    offroad = first_rise(signals.get("off_road", none))
    if offroad is None and record.metrics.termination == Outcome.OFF_ROAD.value:
        offroad = len(record.trajectory.poses) - 1
    return Track(entry=entry, seed=record.seed, xy=np.asarray(record.trajectory.poses[:, :2], float),
                 termination=record.metrics.termination,
                 crash_index=first_index(signals.get("collision", none)), offroad_index=offroad)


def track_groups(records: Records, order: Sequence[str], scenario: str,
                 condition: Shift = MAP_CONDITION) -> list[TrackGroup]:
    """One group per entry (in `order`) evaluated on the scenario under the condition."""
    return [TrackGroup(name, tuple(track(name, r) for r in records[name, scenario, condition]))
            for name in order if (name, scenario, condition) in records]


def failure_points(records: Records, scenario: str) -> list[FailurePoint]:
    """Where every episode on the scenario that did not arrive ended, over all entries and conditions."""
    points = []
    for (name, sc, shift), group in sorted(records.items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2]))):
        if sc != scenario:
            continue
        for r in group:
            if r.metrics.success:
                continue
            x, y = (float(v) for v in r.trajectory.poses[-1, :2])
            points.append(FailurePoint(name, scenario, str(shift), r.seed, x, y, r.metrics.termination))
    return points


def robustness_levels(suite: Suite) -> list[Shift]:
    """The suite's conditions on the robustness axis, by level: NONE (level 0) and ROBUSTNESS_SHIFT's levels."""
    levels = {0: NONE} | {s.level: s for s in suite.conditions if s.name == ROBUSTNESS_SHIFT}
    return [levels[k] for k in sorted(levels)]


def robustness_points(records: Records, suite: Suite, order: Sequence[str]) -> list[RobustnessPoint]:
    """Failure rate per entry, scenario family and robustness level, for the levels evaluated."""
    families: dict[str, list[str]] = {}
    for scenario in suite.scenarios:
        families.setdefault(registry.get(scenario).spec.family, []).append(scenario)
    points = []
    for name in order:
        for family, scenarios in families.items():
            for shift in robustness_levels(suite):
                groups = [records[name, s, shift] for s in scenarios if (name, s, shift) in records]
                if not groups:
                    continue
                failed = [not r.metrics.success for g in groups for r in g]
                rate = stats.rate_ci(failed)
                points.append(RobustnessPoint(name, family, shift.level, rate.value, rate.low, rate.high,
                                              len(failed), len(groups)))
    return points


def shift_levels_text(name: str = ROBUSTNESS_SHIFT) -> str:
    """The parameters of each level of a shift, for axis labels: '1: lateral 1.0, heading 0.1; ...'."""
    levels = SHIFTS[name].levels
    return "; ".join(f"{k}: " + ", ".join(f"{p} {v:g}" for p, v in params.items()) for k, params in levels.items())
