"""The leaderboard: every entry (a baseline, a trained algorithm, a submission) scored on the official suite.

An entry is a name plus, for each official scenario, the agent that drives it (`ResultsDB.set_entry`): `bc`
is a different checkpoint on each scenario, `random` the same policy everywhere. Rows are computed from the
episodes the results database holds for those agents on the official scenarios, conditions and seeds
(suite.toml), so the leaderboard is never out of step with the results, and an entry whose episodes are not
all there is shown as incomplete, ranked below the complete ones.

Scores (0-100; the driving score is route completion x infraction penalties, eval/score.py):
- driving_score: mean over scenarios (each weighted equally) of the mean in-distribution driving score, with
  a 95% stratified bootstrap interval (episodes resampled within scenarios; rliable's method).
- iqm_driving_score: the interquartile mean of the same (episodes x scenarios) matrix.
- success / crash / off-road / lane-departure rates: share of in-distribution episodes, Wilson intervals.
- offdist_driving_score: the same mean over the suite's shifted conditions (`offdist`), every scenario and
  condition weighted equally.
"""
from __future__ import annotations

import dataclasses
import html
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from drivebench.errors import DrivebenchError
from drivebench.eval import stats
from drivebench.eval.keys import scenario_key
from drivebench.core.records import EpisodeRecord
from drivebench.eval.shifts import NONE, Shift, parse_shift, shifted_spec
from drivebench.eval.summary import RATES
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry
from drivebench.seeds import eval_seeds

SUITE_FILE = Path(__file__).with_name("suite.toml")
KINDS = ("baseline", "trained", "submission")


@dataclass(frozen=True)
class Suite:
    """The official suite (suite.toml)."""

    version: int
    scenarios: tuple[str, ...]
    episodes: int
    """official evaluation seeds per scenario and condition"""
    offdist: tuple[Shift, ...]
    """the shifted conditions of the off-distribution score"""
    robustness: tuple[Shift, ...]
    """extra conditions for the report's robustness curves (not scored)"""
    robustness_episodes: int
    """seeds per scenario under each robustness condition: the first of the official seeds"""
    baselines: tuple[str, ...]
    algorithms: tuple[str, ...]

    @property
    def seeds(self) -> list[int]:
        """The official seeds: in distribution and under the off-distribution shifts."""
        return eval_seeds(self.episodes)

    def seeds_for(self, shift: Shift) -> list[int]:
        """The seeds of one condition: the official seeds, or their first `robustness_episodes` under a
        robustness condition."""
        return eval_seeds(self.robustness_episodes) if shift in self.robustness else self.seeds

    @property
    def conditions(self) -> tuple[Shift, ...]:
        """Every condition an entry is evaluated under: in distribution, off-distribution, robustness."""
        return (NONE, *self.offdist, *self.robustness)

    @property
    def episodes_per_scenario(self) -> int:
        """An entry's episodes on one scenario, over every condition."""
        return sum(len(self.seeds_for(shift)) for shift in self.conditions)

    def describe_seeds(self) -> str:
        """'50 seeds (25 under the robustness conditions start_offset:1, start_offset:3)', for logs and reports."""
        if not self.robustness or self.robustness_episodes == self.episodes:
            return f"{self.episodes} seeds"
        return (f"{self.episodes} seeds ({self.robustness_episodes} under the robustness conditions "
                f"{', '.join(map(str, self.robustness))})")

    def narrowed(self, scenarios: list[str] | None = None, episodes: int | None = None) -> Suite:
        """The suite on some of its scenarios (e.g. `drivebench run --scenarios`), or fewer seeds."""
        unknown = sorted(set(scenarios or []) - set(self.scenarios))
        if unknown:
            raise DrivebenchError(f"not in the official suite: {', '.join(unknown)}; "
                                  f"it has {', '.join(self.scenarios)}")
        episodes = episodes or self.episodes
        return dataclasses.replace(self, scenarios=tuple(s for s in self.scenarios if s in scenarios)
                                   if scenarios else self.scenarios, episodes=episodes,
                                   robustness_episodes=min(self.robustness_episodes, episodes))


@lru_cache(maxsize=1)
def official_suite() -> Suite:
    data = tomllib.loads(SUITE_FILE.read_text())
    return Suite(version=data["version"], scenarios=tuple(data["scenarios"]), episodes=data["episodes"],
                 offdist=tuple(parse_shift(s) for s in data["offdist"]),
                 robustness=tuple(parse_shift(s) for s in data["robustness"]),
                 robustness_episodes=data["robustness_episodes"],
                 baselines=tuple(data["baselines"]), algorithms=tuple(data["algorithms"]))


@dataclass(frozen=True)
class Row:
    """One leaderboard row. Rates in [0, 1], scores in [0, 100]; each `_ci` is a 95% interval [low, high]."""

    rank: int
    """1 = best driving score among complete entries; incomplete entries come after them"""
    agent: str
    """the entry's name"""
    kind: str
    """baseline, trained or submission"""
    complete: bool
    """every official scenario, condition and seed is evaluated"""
    scenarios: int
    """official scenarios with every in-distribution episode evaluated"""
    episodes: int
    """in-distribution episodes scored"""
    driving_score: float
    driving_score_ci: tuple[float, float]
    iqm_driving_score: float
    success_rate: float
    success_rate_ci: tuple[float, float]
    crash_rate: float
    offroad_rate: float
    lane_departure_rate: float
    invalid_rate: float
    offdist_driving_score: float
    """NaN when no shifted condition is complete"""
    offdist_driving_score_ci: tuple[float, float]
    offdist_success_rate: float
    per_scenario: dict
    """{scenario: {"driving_score", "success_rate", "offdist_driving_score"}} (NaN where not evaluated)"""


def scenario_hash(scenario: str, shift: Shift) -> str:
    """The scenario key of the official scenario under a shift (eval/keys.py: its shifted spec and the code that
    simulates and scores it): what the episodes of the suite are stored under."""
    return scenario_key(shifted_spec(registry.get(scenario).spec, shift))


def entry_records(db: ResultsDB, suite: Suite, agent_hash: str, scenario: str,
                  shift: Shift) -> list[EpisodeRecord] | None:
    """The official episodes of one agent on one scenario and condition, or None if any is missing."""
    try:
        return db.get_records(agent_hash, scenario_hash(scenario, shift), shift.name, shift.level,
                              suite.seeds_for(shift))
    except KeyError:
        return None


def compute(db: ResultsDB, suite: Suite | None = None) -> list[Row]:
    """The leaderboard rows of every entry in the database, ranked."""
    suite = suite or official_suite()
    rows = [_row(db, suite, name, entry) for name, entry in db.entries().items()]
    rows = [r for r in rows if r is not None]
    rows.sort(key=lambda r: (not r.complete, -r.driving_score if r.scenarios else np.inf, r.agent))
    return [dataclasses.replace(r, rank=i + 1) for i, r in enumerate(rows)]


def _row(db: ResultsDB, suite: Suite, name: str, entry: dict) -> Row | None:
    indist: dict[str, list[EpisodeRecord]] = {}
    shifted: dict[tuple[str, Shift], list[EpisodeRecord]] = {}
    for scenario in suite.scenarios:
        if scenario not in entry["agents"]:
            continue
        _, agent_hash = entry["agents"][scenario]
        if (records := entry_records(db, suite, agent_hash, scenario, NONE)) is not None:
            indist[scenario] = records
        for shift in suite.offdist:
            if (records := entry_records(db, suite, agent_hash, scenario, shift)) is not None:
                shifted[scenario, shift] = records
    if not indist:
        return None
    episodes = [r for records in indist.values() for r in records]
    scores = _score_matrix(indist.values())
    score = stats.mean_ci(scores)
    success = stats.rate_ci([RATES["success_rate"](r.metrics) for r in episodes])
    nan = (float("nan"), float("nan"))
    offdist = stats.mean_ci(_score_matrix(shifted.values())) if shifted else None
    complete = len(indist) == len(suite.scenarios) and len(shifted) == len(suite.scenarios) * len(suite.offdist)

    def rate(name: str, records: list[EpisodeRecord]) -> float:
        return float(np.mean([RATES[name](r.metrics) for r in records]))

    per_scenario = {}
    for scenario, records in indist.items():
        off = [r for shift in suite.offdist for r in shifted.get((scenario, shift), [])]
        per_scenario[scenario] = {
            "driving_score": float(np.mean([r.metrics.driving_score for r in records])),
            "success_rate": rate("success_rate", records),
            "offdist_driving_score": float(np.mean([r.metrics.driving_score for r in off])) if off else float("nan")}
    return Row(
        rank=0, agent=name, kind=entry["kind"], complete=complete, scenarios=len(indist), episodes=len(episodes),
        driving_score=score.value, driving_score_ci=(score.low, score.high),
        iqm_driving_score=stats.iqm(scores),
        success_rate=success.value, success_rate_ci=(success.low, success.high),
        crash_rate=rate("crash_rate", episodes), offroad_rate=rate("offroad_rate", episodes),
        lane_departure_rate=rate("lane_departure_rate", episodes), invalid_rate=rate("invalid_rate", episodes),
        offdist_driving_score=offdist.value if offdist else float("nan"),
        offdist_driving_score_ci=(offdist.low, offdist.high) if offdist else nan,
        offdist_success_rate=rate("success_rate", [r for rs in shifted.values() for r in rs]) if shifted
        else float("nan"),
        per_scenario=per_scenario)


def _score_matrix(groups) -> np.ndarray:
    """(episodes x groups) driving scores; every group holds the suite's seeds, in order."""
    return np.array([[r.metrics.driving_score for r in records] for records in groups]).T


# ---------------------------------------------------------------------------------------------- formats
def as_dicts(rows: list[Row]) -> list[dict]:
    """Rows as JSON-ready dicts (NaN becomes None)."""
    def clean(value):
        if isinstance(value, float) and np.isnan(value):
            return None
        if isinstance(value, (tuple, list)):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return [clean(dataclasses.asdict(r)) for r in rows]


def table(rows: list[Row]) -> pd.DataFrame:
    """The leaderboard as people read it: percentages and scores with their intervals."""
    def score(value: float, ci: tuple[float, float]) -> str:
        return "-" if np.isnan(value) else f"{value:5.1f} [{ci[0]:5.1f}, {ci[1]:5.1f}]"

    def pct(value: float) -> str:
        return "-" if np.isnan(value) else f"{100 * value:5.1f}"

    return pd.DataFrame([{
        "rank": r.rank, "agent": r.agent + ("" if r.complete else " (incomplete)"), "kind": r.kind,
        "driving score": score(r.driving_score, r.driving_score_ci), "IQM": f"{r.iqm_driving_score:5.1f}",
        "success %": pct(r.success_rate), "crash %": pct(r.crash_rate), "off-road %": pct(r.offroad_rate),
        "lane dep. %": pct(r.lane_departure_rate),
        "off-dist. score": score(r.offdist_driving_score, r.offdist_driving_score_ci),
        "scenarios": r.scenarios} for r in rows],
        columns=["rank", "agent", "kind", "driving score", "IQM", "success %", "crash %", "off-road %",
                 "lane dep. %", "off-dist. score", "scenarios"])


def as_text(rows: list[Row]) -> str:
    return table(rows).to_string(index=False) if rows else "(the leaderboard is empty: run `drivebench run`)"


def as_markdown(rows: list[Row], suite: Suite | None = None) -> str:
    suite = suite or official_suite()
    frame = table(rows)
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v).strip() for v in values) + " |" for values in frame.itertuples(index=False)]
    return (f"Official suite v{suite.version}: {len(suite.scenarios)} scenarios x {suite.episodes} seeds; "
            f"off-distribution: {', '.join(map(str, suite.offdist))}. Scores 0-100 with 95% intervals.\n\n"
            + "\n".join(lines) + "\n")


def as_html(rows: list[Row]) -> str:
    """A <table> element (no page around it), one <tr> per entry in <tbody>."""
    frame = table(rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v).strip())}</td>" for v in values) + "</tr>"
                   for values in frame.itertuples(index=False))
    return f'<table class="leaderboard"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
