"""The main job, `drivebench run`: validate -> demos -> train -> evaluate -> leaderboard -> report.

Every stage is keyed by content, so running again redoes only what changed:
- demos are re-recorded only when missing or made by another scenario spec, expert style or code (the env's,
  the expert's, the rollout's: data/record.py);
- every (algorithm, scenario) is trained once per training seed of the suite (suite.toml `train_seeds`; a smoke
  run: the first SMOKE_TRAIN_RUNS), on the suite's `demos` per scenario (the same for every algorithm), and the
  algorithm's entry holds one agent per (scenario, run); the few-demo condition (`few_demos`, standard runs only)
  trains each again on that many demos, as the entry `<algo>-<few_demos>demos` (with the preset's few-demo recipe
  where it has one: agents/presets.resolve);
- a training run's checkpoint lives in `runs/agents/<preset>/<scenario>/<algo>-<key>`, where the key
  (agents/train.train_key) covers everything the result depends on (algorithm, resolved hyperparameters,
  scenario spec, demo data, seed and the code key of the training closure: the agents' code, the env, the
  expert); a folder that exists is reused;
- evaluation asks the results database which episodes it lacks (eval/harness.py): an episode row is keyed by
  the agent's hash and the scenario key (eval/keys.py: the shifted spec, the simulator's and the metrics' code);
- the leaderboard is computed from the database; the report is rewritten from it.

Training runs are units of work on the same executor as evaluation episodes (one run per worker, torch
single-threaded in each), so 2 cores train 2 agents at once.
"""
from __future__ import annotations

import dataclasses

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from drivebench import leaderboard
from drivebench.agents import presets
from drivebench.agents import train as training
from drivebench.agents.train import ALGORITHMS
from drivebench.errors import DrivebenchError
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.policies import load_policy
from drivebench.experts.registry import experts_for
from drivebench.leaderboard import Suite
from drivebench.paths import runs_dir
from drivebench.results.db import ResultsDB
from drivebench.scenarios import family as families
from drivebench.scenarios import registry

QUICK_SECONDS = 3
"""Training time assumed for a run of a preset other than standard [s]; the standard one's is the scenario's family's
(scenarios/family.Costs)."""

SMOKE_EPISODES = 6
"""Evaluation seeds per scenario and condition of a run with a preset other than standard (a smoke run): its
entries are scored on the first 6 official seeds, so `drivebench leaderboard` lists them as incomplete. With
SMOKE_TRAIN_RUNS runs per algorithm it evaluates as many episodes as 10 seeds of one run did (2,100)."""

SMOKE_TRAIN_RUNS = 2
"""Training runs per (algorithm, scenario) of a smoke run: the suite's first 2 training seeds, the fewest that
exercise the runs axis (intervals over runs, P(improve)), so the quick run stays near its 3 minutes."""


@dataclass(frozen=True)
class TrainJob:
    algo: str
    scenario: str
    preset: str
    seed: int
    """the training seed: one of the suite's `train_seeds`"""
    demos: int
    """demos of the scenario's default set it trains on (the suite's `demos`, or its `few_demos`)"""
    out: Path
    """the checkpoint folder: exists once trained"""
    warm_start: Path | None = None
    """GAIL, AIRL: the `bc` job's folder of the same scenario, seed and demos, the agent they start from"""

    @property
    def estimate(self) -> float:
        spec = registry.get(self.scenario).spec
        return families.of(spec).costs(spec).train_seconds.get(self.algo, 60) if self.preset == "standard" \
            else QUICK_SECONDS


@dataclass(frozen=True)
class RunResult:
    rows: list[leaderboard.Row]
    report: Path | None
    seconds: float
    """wall time of the whole run"""
    trained: int
    """training runs done (not reused)"""
    evaluated: int
    """episodes in the database for this run's entries"""
    boards: dict[str, list[leaderboard.Row]] = dataclasses.field(default_factory=dict)
    """the rows of this run's entries on each track of every scenario run (`all`, and the few-demo regime's)"""


def entry_name(algo: str, preset: str, demos: int | None = None) -> str:
    """The leaderboard name of an algorithm trained with a preset: `bc` for standard, `bc-quick` otherwise; with
    the few-demo condition's `demos`, `bc-4demos` (`bc-quick-4demos`)."""
    name = algo if preset == "standard" else f"{algo}-{preset}"
    return name if demos is None else f"{name}-{demos}demos"


def train_key(algo: str, scenario: str, preset: str, seed: int = 0, demos: int | None = None) -> str:
    """What a training run of the pipeline depends on (agents/train.train_key, on the scenario's default demos,
    `demos` of them; None: the preset's count)."""
    return training.train_key(algo, scenario, preset=preset, seed=seed,
                              overrides=None if demos is None else {"demos": demos})


def train_jobs(suite: Suite, algos: list[str], preset: str, root: Path, few_demos: bool = False) -> list[TrainJob]:
    """One training run per (algorithm, scenario, training seed of the suite) on the suite's `demos`, and with
    `few_demos` one more on its `few_demos`; the folder's key covers the seed and the demo count."""
    counts = [suite.demos, *([suite.few_demos] if few_demos and suite.few_demos else [])]

    def folder(algo: str, scenario: str, seed: int, demos: int) -> Path:
        return root / "agents" / preset / scenario / f"{algo}-{train_key(algo, scenario, preset, seed, demos)[:16]}"

    return [TrainJob(algo, scenario, preset, seed, demos, folder(algo, scenario, seed, demos),
                     folder("bc", scenario, seed, demos) if algo in training.ADVERSARIAL else None)
            for demos in counts for algo in algos for scenario in suite.scenarios for seed in suite.train_seeds]


def _train(job: TrainJob) -> Path:
    """One training run in a worker (torch single-threaded: train() sets it), quiet: the run's own bar reports
    progress. A `bc` agent that a GAIL or AIRL job already trained as its warm start is not trained again."""
    from drivebench.agents.train import train

    if (job.out / "agent.json").is_file():
        return job.out
    return train(job.algo, job.scenario, out=job.out, preset=job.preset, seed=job.seed,
                 overrides={"demos": job.demos}, progress=False, warm_start=job.warm_start).out


def run(*, preset: str = "standard", scenarios: list[str] | None = None, agents: list[str] | None = None,
        episodes: int | None = None, workers: int | None = None, db_path: Path | None = None,
        report_dir: Path | None = None, backend: str = "local", address: str | None = None,
        progress: bool = True, log=None) -> RunResult:
    """The whole benchmark (module docstring). `agents` narrows the entries (baselines and algorithms of the
    suite); `scenarios` the suite's scenarios; `episodes` its seeds (default: the suite's, or SMOKE_EPISODES
    for a preset other than standard; entries scored on fewer seeds are incomplete on the official leaderboard).
    A preset other than standard also trains only the suite's first SMOKE_TRAIN_RUNS training seeds."""
    from drivebench.data.record import ensure_default_demos
    from drivebench.executors import make_executor

    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    start = time.perf_counter()
    if episodes is None and preset != "standard":
        episodes = SMOKE_EPISODES
    suite = leaderboard.official_suite().narrowed(scenarios, episodes,
                                                  train_runs=None if preset == "standard" else SMOKE_TRAIN_RUNS)
    known = [*suite.baselines, *suite.algorithms]
    unknown = sorted(set(agents or []) - set(known))
    if unknown:
        raise DrivebenchError(f"unknown agent {', '.join(unknown)}; the suite's agents are {', '.join(known)}")
    chosen = [a for a in known if not agents or a in agents]
    algos = [a for a in chosen if a in ALGORITHMS]
    for algo in algos:  # an unknown preset fails here, before any work
        presets.load_preset(algo, preset, "")

    registry.discover()
    errors = registry.load_errors()
    if errors:
        raise DrivebenchError("scenario files failed validation:\n" + "\n".join(str(e) for e in errors))
    missing = [s for s in suite.scenarios if s not in {e.name for e in registry.entries()}]
    if missing:
        raise DrivebenchError(f"the suite's scenarios {', '.join(missing)} have no file in scenarios/")
    log(f"[1/5] {len(suite.scenarios)} scenarios valid: {', '.join(suite.scenarios)}")

    for scenario, expert, what in ensure_default_demos(progress=progress):
        log(f"[2/5] demos {scenario}/{expert.removeprefix('expert:')}: {what}")

    root = runs_dir()
    jobs = train_jobs(suite, algos, preset, root, few_demos=preset == "standard")
    # BC first (GAIL and AIRL start from its agents), then the longest first
    todo = sorted((job for job in jobs if not (job.out / "agent.json").is_file()),
                  key=lambda job: (job.algo != "bc", -job.estimate))
    train_s = sum(job.estimate for job in todo)
    entries = _entries(suite, chosen, jobs, preset)
    runs_of = {name: len(next(iter(by_scenario.values()))) for name, (_, by_scenario) in entries.items()}
    eval_s = _eval_estimate(suite, runs_of.values())
    log(f"[3/5] training {len(todo)} of {len(jobs)} agents ({len(jobs) - len(todo)} already trained; "
        f"{len(suite.train_seeds)} training runs per algorithm and scenario"
        f"{', on ' + ' and '.join(str(n) for n in dict.fromkeys(j.demos for j in jobs)) + ' demos' if jobs else ''}); "
        f"estimated time left: {_minutes((train_s + eval_s) / max(1, _workers(workers)))}")
    if todo:
        with make_executor(backend, workers, address) as executor, \
                tqdm(total=round(train_s), desc="train", unit="s", disable=not progress, file=sys.stderr,
                     bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} est. s [{elapsed}<{remaining}]") as bar:
            for index, _ in executor.map_unordered(_train, [(job,) for job in todo]):
                bar.update(todo[index].estimate)
                bar.set_postfix_str(f"{todo[index].algo} {todo[index].scenario} seed {todo[index].seed}")

    with ResultsDB(db_path) as db:
        for name, (kind, by_scenario) in entries.items():
            agents_hashes = {s: [(agent, load_policy(agent).agent_hash) for agent in runs]
                             for s, runs in by_scenario.items()}
            if len(suite.scenarios) == len(leaderboard.official_suite().scenarios):
                db.set_entry(name, kind, agents_hashes)
            else:  # a narrowed run adds its scenarios to the entry, keeping the others
                old = db.entries().get(name, {}).get("agents", {})
                db.set_entry(name, kind, {**old, **agents_hashes})
        requests = [Request(agent, scenario, shift, seeds=tuple(suite.seeds_for(shift)))
                    for _, by_scenario in entries.values() for scenario, runs in by_scenario.items()
                    for run, agent in enumerate(runs) for shift in suite.conditions_of_run(run)]
        log(f"[4/5] evaluating {len(entries)} entries ({sum(runs_of.values())} agents: one per training run) on "
            f"{len(suite.scenarios)} scenarios x "
            f"{len(suite.conditions)} conditions x {suite.describe_seeds()} "
            f"(estimated {_minutes(eval_s / max(1, _workers(workers)))})")
        results = evaluate_many(requests, seeds=suite.seeds, workers=workers, db=db, progress=progress,
                                backend=backend, address=address)
        rows = [r for r in leaderboard.compute(db, suite) if r.agent in entries]
        boards = {track.name: leaderboard.compute(db, suite, track, names=entries)
                  for track in leaderboard.tracks(suite) if track.scenarios == suite.scenarios}
        report = None
        if report_dir is not None:
            from drivebench.report.build import write_report

            log(f"[5/5] writing the report to {report_dir}")
            info = {"preset": preset, "scenarios": list(suite.scenarios), "episodes": suite.episodes,
                    "agents": list(entries), "wall_time_s": round(time.perf_counter() - start),
                    "database": str(db.path)}
            report = write_report(report_dir, db, suite, title=f"drivebench: {preset} run", run_info=info)
    return RunResult(rows, report, time.perf_counter() - start, len(todo),
                     sum(len(records) for records in results.values()),
                     {name: board for name, board in boards.items() if any(r.kind != "baseline" for r in board)})


def _entries(suite: Suite, chosen: list[str], jobs: list[TrainJob], preset: str) -> dict[str, tuple[str, dict]]:
    """{entry name: (kind, {scenario: [agent id of each training run]})} for this run: the baselines are
    deterministic, one run; an algorithm has one checkpoint per training seed, in the suite's seed order, for the
    suite's demo count and (as `<algo>-<n>demos`) the few-demo condition's."""
    out: dict[str, tuple[str, dict]] = {}
    for name in chosen:
        if name == "expert":
            out[name] = ("baseline", {s: [experts_for(registry.get(s).spec)[0].id] for s in suite.scenarios})
        elif name == "random":
            out[name] = ("baseline", {s: ["random"] for s in suite.scenarios})
    for demos in dict.fromkeys(j.demos for j in jobs):  # the trained entries: the suite's demos, then the few
        for name in (n for n in chosen if any(j.algo == n and j.demos == demos for j in jobs)):
            out[entry_name(name, preset, None if demos == suite.demos else demos)] = ("trained", {
                s: [str(j.out) for seed in suite.train_seeds for j in jobs
                    if (j.algo, j.scenario, j.seed, j.demos) == (name, s, seed, demos)] for s in suite.scenarios})
    return out


def _eval_estimate(suite: Suite, runs: Iterable[int]) -> float:
    """Seconds of evaluation in one worker for entries of these numbers of training runs."""
    per_scenario = [families.of(spec).costs(spec).episode_seconds
                    for spec in (registry.get(s).spec for s in suite.scenarios)]
    return sum(suite.episodes_per_scenario_of(n) for n in runs) * sum(per_scenario)


def _workers(workers: int | None) -> int:
    return workers or os.cpu_count() or 1


def _minutes(seconds: float) -> str:
    return f"~{seconds / 60:.0f} min" if seconds >= 90 else f"~{seconds:.0f} s"
