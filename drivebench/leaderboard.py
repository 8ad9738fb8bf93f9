"""The leaderboard: every entry (a baseline, a trained algorithm, a submission) scored on the official suite.

An entry is a name plus, for each official scenario, the agents that drive it, one per training run
(`ResultsDB.set_entry`): `bc` is a different checkpoint on each scenario and for each of the suite's training
seeds, `random` the same policy everywhere in its one run. Rows are computed from the episodes the results
database holds for those agents on the official scenarios, conditions and seeds (suite.toml), so the
leaderboard is never out of step with the results, and an entry whose episodes are not all there is shown as
incomplete, ranked below the complete ones.

Each (entry, scenario, run) gives one in-distribution driving score and success rate: the means over the
official seeds. They form a (runs x scenarios) matrix, scored with rliable's aggregates and stratified bootstrap
(eval/stats.py: runs resampled within scenarios, 95% percentile intervals, a fixed seed):
- driving_score: the mean over scenarios (each weighted equally) of the mean over runs; per_run_driving_score is
  each run's own mean over scenarios.
- iqm_driving_score: rliable's IQM of the (runs x scenarios) matrix.
- success_rate: the same mean of the per-run success rates (with one run: the share of episodes, Wilson).
- crash / off-road / lane-departure / invalid rates: shares of all in-distribution episodes of every run.
- offdist_driving_score: the same mean over the suite's shifted conditions (`offdist`), every (scenario,
  condition) weighted equally.
- probability_of_improvement: rliable's P(a run of this entry beats a run of the next entry down), averaged over
  the scenarios both have; None for the last row.
An entry of one run (the deterministic baselines, a one-policy submission) has no run variance to show: its
intervals resample its episodes within scenarios instead (`stats.stratified_ci(over="episodes")`), and its row
says runs=1.

Tracks: the leaderboard has one ranking per track (`tracks(suite)`). A track is a set of the suite's scenarios
crossed with a data regime: `all` (every suite scenario) and one track per scenario family (`curve`, `parking`:
the families come from the registry, in the suite's order) in the standard regime, and the same with the
few-demo condition's suffix (`all-4demos`, `curve-4demos`, ...) for the entries trained on `few_demos` demos (named
`<name>-<few_demos>demos`). The baselines are on every track, as references. On a track, rows are computed over its
scenarios only (the (runs x scenarios) matrix restricted to them), an entry is complete when it covers all of
them, and an entry with none of them has no row.
"""
from __future__ import annotations

import dataclasses
import html
import tomllib
from collections.abc import Collection
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
from drivebench.scenarios import family as families
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
    train_seeds: tuple[int, ...] = (0,)
    """`drivebench run` trains every (algorithm, scenario) once per seed: the entries' training runs"""
    demos: int = 50
    """demos per scenario every algorithm trains on (equal data)"""
    few_demos: int | None = None
    """the few-demo condition's demos per scenario: each algorithm also enters as `<algo>-<few_demos>demos`"""

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

    def conditions_of_run(self, run: int) -> tuple[Shift, ...]:
        """The conditions a training run is evaluated under: every one for the first run (index 0); the scored ones
        (in distribution and off-distribution) for the others. The robustness conditions only draw the report's
        curves, which show each entry's first run."""
        return self.conditions if run == 0 else (NONE, *self.offdist)

    def episodes_per_scenario_of(self, runs: int) -> int:
        """The episodes on one scenario of an entry with `runs` training runs, over the conditions of each run."""
        return sum(len(self.seeds_for(shift)) for run in range(runs) for shift in self.conditions_of_run(run))

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

    def narrowed(self, scenarios: list[str] | None = None, episodes: int | None = None,
                 train_runs: int | None = None) -> Suite:
        """The suite on some of its scenarios (e.g. `drivebench run --scenarios`), fewer seeds, or its first
        `train_runs` training seeds."""
        unknown = sorted(set(scenarios or []) - set(self.scenarios))
        if unknown:
            raise DrivebenchError(f"not in the official suite: {', '.join(unknown)}; "
                                  f"it has {', '.join(self.scenarios)}")
        episodes = episodes or self.episodes
        return dataclasses.replace(self, scenarios=tuple(s for s in self.scenarios if s in scenarios)
                                   if scenarios else self.scenarios, episodes=episodes,
                                   robustness_episodes=min(self.robustness_episodes, episodes),
                                   train_seeds=self.train_seeds[:train_runs] if train_runs else self.train_seeds)


STANDARD, FEW_DEMO = "standard", "few-demo"
"""The data regimes: the suite's `demos` per scenario (and any data, for a submission), or the few-demo
condition's `few_demos`."""
ALL = "all"
"""The track of every suite scenario."""


@dataclass(frozen=True)
class Track:
    """One ranking of the leaderboard: some of the suite's scenarios, in one data regime."""

    name: str
    """`all` or a scenario family's name, with `-<few_demos>demos` in the few-demo regime (`curve-4demos`)"""
    scenarios: tuple[str, ...]
    """the suite's scenarios it is scored on, in the suite's order"""
    regime: str
    """STANDARD or FEW_DEMO: which entries it ranks (the baselines are on every track)"""

    def describe(self, suite: Suite) -> str:
        """'every scenario (7); standard data: 50 demos per scenario (submissions: their own)', for headings."""
        what = (f"every scenario ({len(self.scenarios)})" if self.scenarios == suite.scenarios
                else ", ".join(self.scenarios))
        data = (f"few-demo data: {suite.few_demos} demos per scenario" if self.regime == FEW_DEMO
                else f"standard data: {suite.demos} demos per scenario (submissions: their own)")
        return f"{what}; {data}"

    def narrowed(self, suite: Suite) -> Suite:
        """The suite restricted to the track's scenarios: what its rows are computed on."""
        return dataclasses.replace(suite, scenarios=self.scenarios)


def regime_of(name: str, suite: Suite) -> str:
    """The data regime of an entry, from its name: FEW_DEMO for `<name>-<few_demos>demos`, STANDARD otherwise."""
    return FEW_DEMO if suite.few_demos and name.endswith(f"-{suite.few_demos}demos") else STANDARD


def tracks(suite: Suite | None = None) -> tuple[Track, ...]:
    """The suite's tracks: `all`, then one per scenario family (the registry's family of each suite scenario, in
    the suite's order); then, when the suite has a few-demo condition, the same again as `<track>-<n>demos`."""
    suite = suite or official_suite()
    by_family: dict[str, list[str]] = {}
    for scenario in suite.scenarios:
        by_family.setdefault(families.of(registry.get(scenario).spec).name, []).append(scenario)
    standard = [Track(ALL, suite.scenarios, STANDARD)] + [
        Track(family, tuple(scenarios), STANDARD) for family, scenarios in by_family.items() if family != ALL]
    few = [Track(f"{t.name}-{suite.few_demos}demos", t.scenarios, FEW_DEMO) for t in standard] \
        if suite.few_demos else []
    return tuple(standard + few)


def get_track(name: str, suite: Suite | None = None) -> Track:
    """The track called `name`; a DrivebenchError naming the tracks if there is none."""
    known = tracks(suite)
    for track in known:
        if track.name == name:
            return track
    raise DrivebenchError(f"unknown track {name!r}; the tracks are {', '.join(t.name for t in known)}")


def on_track(track: Track, name: str, entry: dict, suite: Suite) -> bool:
    """Whether the entry `name` (`ResultsDB.entries()` form) is ranked on the track: a baseline always, any other
    entry in its regime."""
    return entry["kind"] == "baseline" or regime_of(name, suite) == track.regime


@lru_cache(maxsize=1)
def official_suite() -> Suite:
    data = tomllib.loads(SUITE_FILE.read_text())
    return Suite(version=data["version"], scenarios=tuple(data["scenarios"]), episodes=data["episodes"],
                 offdist=tuple(parse_shift(s) for s in data["offdist"]),
                 robustness=tuple(parse_shift(s) for s in data["robustness"]),
                 robustness_episodes=data["robustness_episodes"],
                 baselines=tuple(data["baselines"]), algorithms=tuple(data["algorithms"]),
                 train_seeds=tuple(data["train_seeds"]), demos=data["demos"], few_demos=data.get("few_demos"))


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
    """every scenario (of the track), condition and seed is evaluated for every run, with as many runs on each
    scenario"""
    runs: int
    """training runs behind the figures (1: a baseline or a one-policy submission; intervals over episodes)"""
    scenarios: int
    """official scenarios with every in-distribution episode of every run evaluated"""
    episodes: int
    """in-distribution episodes scored, over all runs"""
    driving_score: float
    driving_score_ci: tuple[float, float]
    per_run_driving_score: tuple[float, ...]
    """each run's driving score (its mean over the scenarios)"""
    iqm_driving_score: float
    iqm_driving_score_ci: tuple[float, float]
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
    probability_of_improvement: float | None
    """rliable's probability that a run of this entry beats a run of the next row's on a scenario they share,
    averaged over those scenarios; None for the last row (or when they share no scenario)"""
    probability_of_improvement_ci: tuple[float, float] | None
    per_scenario: dict
    """{scenario: {"driving_score", "success_rate", "offdist_driving_score" (means over runs; NaN where not
    evaluated), "runs", "per_run": {"driving_score": [...], "success_rate": [...]}}}"""


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


def unscored_entries(db: ResultsDB, rows: list[Row]) -> list[str]:
    """Entries of the database that have no row: none of their episodes is current, because the simulator, the
    scoring or the suite changed since they were scored (the episode keys cover that code: eval/keys.py).
    `drivebench run` re-scores its own entries; a submission has to be submitted again."""
    return sorted(set(db.entries()) - {r.agent for r in rows})


def compute(db: ResultsDB, suite: Suite | None = None, track: Track | None = None, *,
            names: Collection[str] | None = None) -> list[Row]:
    """The leaderboard rows, ranked, each with its probability of improving on the next one down: of the track's
    entries over its scenarios, or (no track) of every entry in the database over every suite scenario (what the
    report's figures draw); `names`: of those entries only."""
    suite = suite or official_suite()
    entries = {name: entry for name, entry in db.entries().items() if names is None or name in names}
    if track is not None:
        entries = {name: entry for name, entry in entries.items() if on_track(track, name, entry, suite)}
        suite = track.narrowed(suite)
    rows = [_row(db, suite, name, entry) for name, entry in entries.items()]
    rows = [r for r in rows if r is not None]
    rows.sort(key=lambda r: (not r.complete, -r.driving_score if r.scenarios else np.inf, r.agent))
    out = []
    for i, row in enumerate(rows):
        improvement = improvement_over(row, rows[i + 1]) if i + 1 < len(rows) else None
        out.append(dataclasses.replace(
            row, rank=i + 1, probability_of_improvement=improvement.value if improvement else None,
            probability_of_improvement_ci=(improvement.low, improvement.high) if improvement else None))
    return out


def improvement_over(a: Row, b: Row) -> stats.Estimate | None:
    """rliable's probability of improvement of entry `a` over `b` from their per-run driving scores on the
    scenarios both have (None if they share none)."""
    shared = [s for s in a.per_scenario if s in b.per_scenario]
    if not shared:
        return None

    def matrix(row: Row) -> np.ndarray:  # (runs x shared scenarios)
        return np.array([row.per_scenario[s]["per_run"]["driving_score"] for s in shared]).T
    return stats.probability_of_improvement(matrix(a), matrix(b))


def _row(db: ResultsDB, suite: Suite, name: str, entry: dict) -> Row | None:
    # indist[scenario][run], shifted[scenario, shift][run]: the official episodes, kept only where every run has
    # them all
    indist: dict[str, list[list[EpisodeRecord]]] = {}
    shifted: dict[tuple[str, Shift], list[list[EpisodeRecord]]] = {}
    for scenario in suite.scenarios:
        agents = entry["agents"].get(scenario)
        if not agents:
            continue
        if (found := _runs_records(db, suite, agents, scenario, NONE)) is not None:
            indist[scenario] = found
        for shift in suite.offdist:
            if (found := _runs_records(db, suite, agents, scenario, shift)) is not None:
                shifted[scenario, shift] = found
    if not indist:
        return None
    runs = min(len(found) for found in indist.values())  # a matrix needs as many runs on every scenario
    even = all(len(entry["agents"][s]) == runs for s in entry["agents"] if s in suite.scenarios)
    indist = {s: found[:runs] for s, found in indist.items()}
    shifted = {key: found[:runs] for key, found in shifted.items() if len(found) >= runs}
    complete = (even and len(indist) == len(suite.scenarios)
                and len(shifted) == len(suite.scenarios) * len(suite.offdist))

    def means(groups: list[list[list[EpisodeRecord]]], value) -> np.ndarray:
        """(runs x groups) of the mean of `value` over each run's episodes of each group."""
        return np.array([[np.mean([value(r) for r in found[run]]) for found in groups] for run in range(runs)])

    def score(r: EpisodeRecord) -> float:
        return r.metrics.driving_score

    success_of = RATES["success_rate"]
    scores = means(list(indist.values()), score)  # (runs x scenarios)
    successes = means(list(indist.values()), lambda r: float(success_of(r.metrics)))
    if runs == 1:  # no run variance: the intervals resample episodes within scenarios
        matrix = _score_matrix([found[0] for found in indist.values()])
        driving = stats.stratified_ci(matrix, "mean", over="episodes")
        iqm = stats.stratified_ci(matrix, "iqm", over="episodes")
        success = stats.rate_ci([success_of(r.metrics) for found in indist.values() for r in found[0]])
        offdist = (stats.stratified_ci(_score_matrix([found[0] for found in shifted.values()]), "mean",
                                       over="episodes") if shifted else None)
    else:
        driving, iqm = stats.stratified_ci(scores, "mean"), stats.stratified_ci(scores, "iqm")
        success = stats.stratified_ci(successes, "mean")
        offdist = stats.stratified_ci(means(list(shifted.values()), score), "mean") if shifted else None

    episodes = [r for found in indist.values() for records in found for r in records]
    off_episodes = [r for found in shifted.values() for records in found for r in records]
    nan = (float("nan"), float("nan"))

    def rate(name: str, records: list[EpisodeRecord]) -> float:
        return float(np.mean([RATES[name](r.metrics) for r in records])) if records else float("nan")

    per_scenario = {}
    for column, scenario in enumerate(indist):
        off = [r for shift in suite.offdist for records in shifted.get((scenario, shift), []) for r in records]
        per_scenario[scenario] = {
            "driving_score": float(scores[:, column].mean()),
            "success_rate": float(successes[:, column].mean()),
            "offdist_driving_score": float(np.mean([r.metrics.driving_score for r in off])) if off else float("nan"),
            "runs": runs,
            "per_run": {"driving_score": [float(v) for v in scores[:, column]],
                        "success_rate": [float(v) for v in successes[:, column]]}}
    return Row(
        rank=0, agent=name, kind=entry["kind"], complete=complete, runs=runs, scenarios=len(indist),
        episodes=len(episodes), driving_score=driving.value, driving_score_ci=(driving.low, driving.high),
        per_run_driving_score=tuple(float(v) for v in scores.mean(axis=1)),
        iqm_driving_score=iqm.value, iqm_driving_score_ci=(iqm.low, iqm.high),
        success_rate=success.value, success_rate_ci=(success.low, success.high),
        crash_rate=rate("crash_rate", episodes), offroad_rate=rate("offroad_rate", episodes),
        lane_departure_rate=rate("lane_departure_rate", episodes), invalid_rate=rate("invalid_rate", episodes),
        offdist_driving_score=offdist.value if offdist else float("nan"),
        offdist_driving_score_ci=(offdist.low, offdist.high) if offdist else nan,
        offdist_success_rate=rate("success_rate", off_episodes),
        probability_of_improvement=None, probability_of_improvement_ci=None,
        per_scenario=per_scenario)


def _runs_records(db: ResultsDB, suite: Suite, agents: list[tuple[str, str]], scenario: str,
                  shift: Shift) -> list[list[EpisodeRecord]] | None:
    """The official episodes of every run's agent on the scenario and condition, or None if any is missing."""
    found = [entry_records(db, suite, agent_hash, scenario, shift) for _, agent_hash in agents]
    return None if any(records is None for records in found) else found


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


ONE_RUN_NOTE = "* one run (a baseline or a one-policy submission): its intervals are over episodes, not training runs"
"""The footnote of a table with a one-run entry, whose runs cell reads `1*`."""


def table(rows: list[Row]) -> pd.DataFrame:
    """The leaderboard as people read it: percentages and scores with their intervals, the training runs behind
    them (`1*`: one run, intervals over episodes) and the probability of improving on the next row."""
    def score(value: float, ci: tuple[float, float]) -> str:
        return "-" if np.isnan(value) else f"{value:5.1f} [{ci[0]:5.1f}, {ci[1]:5.1f}]"

    def pct(value: float) -> str:
        return "-" if np.isnan(value) else f"{100 * value:5.1f}"

    return pd.DataFrame([{
        "rank": r.rank, "agent": r.agent + ("" if r.complete else " (incomplete)"), "kind": r.kind,
        "runs": f"{r.runs}" if r.runs > 1 else "1*",
        "driving score": score(r.driving_score, r.driving_score_ci), "IQM": f"{r.iqm_driving_score:5.1f}",
        "success %": pct(r.success_rate), "crash %": pct(r.crash_rate), "off-road %": pct(r.offroad_rate),
        "lane dep. %": pct(r.lane_departure_rate),
        "off-dist. score": score(r.offdist_driving_score, r.offdist_driving_score_ci),
        "P(improve)": "-" if r.probability_of_improvement is None else f"{r.probability_of_improvement:.2f}",
        "scenarios": r.scenarios} for r in rows],
        columns=["rank", "agent", "kind", "runs", "driving score", "IQM", "success %", "crash %", "off-road %",
                 "lane dep. %", "off-dist. score", "P(improve)", "scenarios"])


def _notes(rows: list[Row]) -> list[str]:
    return [ONE_RUN_NOTE] if any(r.runs == 1 for r in rows) else []


def as_text(rows: list[Row]) -> str:
    if not rows:
        return "(the leaderboard is empty: run `drivebench run`)"
    return "\n".join([table(rows).to_string(index=False), *_notes(rows)])


def as_markdown(rows: list[Row], suite: Suite | None = None, track: Track | None = None) -> str:
    """A paragraph on the suite (and the track, when given), then the rows as a markdown table."""
    suite = suite or official_suite()
    heading = f"Track `{track.name}`: {track.describe(suite)}.\n\n" if track else ""
    return heading + _suite_paragraph(suite) + _markdown_table(rows)


def as_markdown_tracks(boards: list[tuple[Track, list[Row]]], suite: Suite | None = None) -> str:
    """A paragraph on the suite, then a section per track ((track, its rows) in order): heading, scope, table."""
    suite = suite or official_suite()
    return _suite_paragraph(suite) + "".join(f"\n## Track `{track.name}`\n\n{track.describe(suite)}.\n\n"
                                             + _markdown_table(rows) for track, rows in boards)


def _suite_paragraph(suite: Suite) -> str:
    return (f"Official suite v{suite.version}: {len(suite.scenarios)} scenarios x {suite.episodes} seeds, "
            f"{len(suite.train_seeds)} training runs per algorithm, each on {suite.demos} demos per scenario"
            + (f" (`-{suite.few_demos}demos` entries: on {suite.few_demos}, the few-demo condition)"
               if suite.few_demos else "") + "; off-distribution: "
            f"{', '.join(map(str, suite.offdist))}. Scores 0-100 with 95% stratified bootstrap intervals over "
            f"runs and scenarios; P(improve): the probability that a run of the entry beats one of the next entry "
            f"down on a scenario.\n\n")


def _markdown_table(rows: list[Row]) -> str:
    frame = table(rows)
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v).strip().replace("*", "\\*") for v in values) + " |"
              for values in frame.itertuples(index=False)]
    notes = "".join("\n" + note.replace("*", "\\*", 1) + "\n" for note in _notes(rows))
    return "\n".join(lines) + "\n" + notes


def as_html(rows: list[Row]) -> str:
    """A <table> element (no page around it), one <tr> per entry in <tbody>; a one-run footnote as its caption."""
    frame = table(rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v).strip())}</td>" for v in values) + "</tr>"
                   for values in frame.itertuples(index=False))
    caption = "".join(f'<caption style="caption-side: bottom">{html.escape(n)}</caption>' for n in _notes(rows))
    return f'<table class="leaderboard">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
