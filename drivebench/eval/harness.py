"""The one evaluation harness: any agent, any scenario, any shift, the same seeds, one typed record list.

`evaluate(agent, scenario, seeds=..., shift=...)` runs every episode that the results database does not
already hold, across worker processes, writing each chunk of records as it completes (so a killed run loses
only the chunks in flight, and running it again runs only what is missing), and returns the records of all
requested seeds in their order. An episode's record depends only on (agent, scenario, shift, seed), never on
the worker count or the backend: each episode is seeded, and torch runs single-threaded in evaluation.

Chunks run on an executor (`drivebench.executors`): local processes (`backend="local"`, the default) or Ray tasks
(`backend="ray"`, on the cluster at `address` or a local Ray instance). A chunk that raised or whose worker died is
run again once; the records come back to this process, which alone writes the database.

Outside code (a submitted module, file or SB3 model: `policies.is_outside_code`) always runs in the sandbox
(eval/sandbox.py), under the same `Limits` whichever command evaluates it, and its chunks always run in worker
processes: the worker holds the env and scores the episodes, the policy's own process only sees observations. An
evaluation of outside code that the sandbox stops (too many timeouts in a row, or its whole time used) raises
`EvaluationStopped` after storing the episodes that ran.

Local workers are started with multiprocessing's forkserver, which imports the calling script's main module in each
worker: a script that calls `evaluate` with workers > 1 must do so under `if __name__ == "__main__":`.
"""
from __future__ import annotations

import math
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from tqdm import tqdm

from drivebench.errors import DrivebenchError
from drivebench.eval.keys import scenario_key
from drivebench.eval.metrics import episode_metrics
from drivebench.eval.policies import LoadedPolicy, is_outside_code, load_policy
from drivebench.eval.sandbox import LIMITS, Limits, isolation, request_stop, stop_reason
from drivebench.core.records import EpisodeRecord, Trajectory
from drivebench.core.rollout import run_episode
from drivebench.eval.shifts import NONE, Shift, make_env, shifted_spec
from drivebench.executors import TaskFailed, make_executor
from drivebench.scenarios import registry
from drivebench.scenarios.spec import parse_spec

if TYPE_CHECKING:
    from drivebench.results.db import ResultsDB

CHUNKS_PER_WORKER = 8  # finer chunks balance the load and lose less when a run is killed
SANDBOXED_CHUNK = 25  # at least this many episodes per chunk of outside code: each chunk starts its policy process


class EvaluationStopped(DrivebenchError):
    """The sandbox stopped an evaluation of outside code before all its episodes ran."""


@dataclass(frozen=True)
class Request:
    """One evaluation: an agent on a scenario (name or id) under a shift."""

    agent: str
    scenario: str
    shift: Shift = NONE
    seeds: tuple[int, ...] | None = None
    """this evaluation's seeds; None: the `seeds` given to evaluate_many"""


def evaluate(agent: str, scenario: str, *, seeds: Sequence[int], shift: Shift = NONE, workers: int | None = None,
             db: ResultsDB | None = None, progress: bool = True, backend: str = "local",
             address: str | None = None) -> list[EpisodeRecord]:
    """Evaluate `agent` on `scenario` under `shift` for each seed; see the module docstring."""
    request = Request(agent, scenario, shift)
    return evaluate_many([request], seeds=seeds, workers=workers, db=db, progress=progress, backend=backend,
                         address=address)[request]


def evaluate_many(requests: Sequence[Request], *, seeds: Sequence[int], workers: int | None = None,
                  db: ResultsDB | None = None, progress: bool = True, backend: str = "local",
                  address: str | None = None, isolate: bool = False,
                  limits: Limits = LIMITS) -> dict[Request, list[EpisodeRecord]]:
    """Several evaluations, each over `seeds` or its own `Request.seeds`, sharing one pool of workers (`backend`:
    see executors.py). Outside code runs in the sandbox under `limits`."""
    plans, loaded = [], {}
    for request in requests:
        spec = shifted_spec(registry.get(request.scenario).spec, request.shift)
        if request.agent not in loaded:  # a bad agent fails here, before any worker starts
            loaded[request.agent] = load_policy(request.agent, limits=limits)
        policy = loaded[request.agent]
        policy.check_scenario(spec)
        key = (policy.agent_hash, scenario_key(spec), request.shift.name, request.shift.level)
        own = list(seeds if request.seeds is None else request.seeds)
        todo = own if db is None else db.missing_seeds(*key, own)
        plans.append((request, spec, key, own, todo))
    jobs = [(r.agent, key[0], spec, r.shift, todo, key[1], limits) for r, spec, key, _, todo in plans]
    outside = any(is_outside_code(r.agent) for r in requests)
    if outside:
        isolation()  # a machine where outside code cannot be shut off says so here, before any worker starts
    new, stopped = _run(jobs, workers, db, progress, backend, address, isolate or outside,
                        limits.submission_seconds if outside else None)
    if stopped:
        ran = len(new)
        raise EvaluationStopped(f"the evaluation of {', '.join(sorted(loaded))} was stopped: {stopped}; "
                                f"{ran} of {sum(len(p[4]) for p in plans)} episodes ran (stored), the rest did not")
    if db is None:
        return {r: [new[(key, seed)] for seed in own] for r, _, key, own, _ in plans}
    return {r: db.get_records(*key, own) for r, _, key, own, _ in plans}


def _run(jobs: list[tuple[str, str, object, Shift, list[int], str, Limits]], workers: int | None,
         db: ResultsDB | None, progress: bool, backend: str = "local", address: str | None = None,
         isolate: bool = False, deadline: float | None = None) -> tuple[dict[tuple, EpisodeRecord], str | None]:
    """Run every (agent, agent hash, spec, shift, seeds, scenario key, sandbox limits) job in chunks on an executor
    of `backend`; returns records by (identity, seed), and why the evaluation was stopped (or None). Only this
    process writes to `db`, as each chunk's records come back. `isolate` runs even a single worker's chunks in
    another process (for policies from outside); `deadline` [s]: the chunks stop starting episodes after it."""
    total = sum(len(job[4]) for job in jobs)
    done: dict[tuple, EpisodeRecord] = {}
    if not total:
        return done, None  # no executor to start
    control = Path(tempfile.mkdtemp(prefix="drivebench-eval-"))  # this process's user only: not the sandbox's
    stop_file = control / "stop"
    timer = threading.Timer(deadline, request_stop, (stop_file, f"it ran for its whole {deadline:g} s")) \
        if deadline is not None else None
    try:
        with make_executor(backend, workers, address, isolate=isolate) as executor, tqdm(
                total=total, desc="evaluate", unit="ep", disable=not progress, leave=False, file=sys.stderr) as bar:
            if timer is not None:
                timer.start()
            size = chunk_size(total, executor.workers)
            tasks = [(agent, spec.model_dump(mode="json"), shift.name, shift.level, seeds[i:i + n], agent_hash,
                      key, limits, str(stop_file))
                     for agent, agent_hash, spec, shift, seeds, key, limits in jobs
                     for n in [max(size, SANDBOXED_CHUNK) if is_outside_code(agent) else size]
                     for i in range(0, len(seeds), n)]

            def collect(records: list[EpisodeRecord]) -> None:
                if db is not None:
                    db.add(records)
                done.update({(r.key[:4], r.seed): r for r in records})
                bar.update(len(records))

            try:
                for _, records in executor.map_unordered(run_chunk, tasks):
                    collect(records)
            except TaskFailed as err:  # name the chunk
                agent, spec_data, shift_name, level, seeds, *_ = tasks[err.index]
                some = ", ".join(map(str, seeds[:3])) + (f" and {len(seeds) - 3} more" if len(seeds) > 3 else "")
                raise TaskFailed(err.index, err.reason, attempts=err.attempts, what=(
                    f"evaluating {agent} on {spec_data['name']} ({shift_name}:{level}), seeds {some}")
                ) from err.__cause__
        return done, stop_reason(stop_file)
    finally:
        if timer is not None:
            timer.cancel()
        shutil.rmtree(control, ignore_errors=True)


def chunk_size(episodes: int, workers: int) -> int:
    """Episodes per task when `episodes` are shared by `workers`: CHUNKS_PER_WORKER tasks per worker."""
    return max(1, math.ceil(episodes / (min(workers, episodes) * CHUNKS_PER_WORKER)))


_POLICIES: dict[str, LoadedPolicy] = {}


def run_chunk(agent: str, spec_data: dict, shift_name: str, level: int, seeds: list[int],
              agent_hash: str | None = None, scenario_hash: str | None = None, limits: Limits = LIMITS,
              stop_file: str | None = None) -> list[EpisodeRecord]:
    """Run episodes in this process (a worker's unit of work): plain data in, records out. `agent_hash`, if
    given, is the hash the caller resolved the agent to: a cached policy of another hash (the agent changed
    since) is reloaded, and if it still differs the chunk fails rather than mislabel its records. `scenario_hash`:
    the scenario key the caller looked the episodes up by (eval/keys.py; computed here if not given), so the records
    are stored under the key they were asked for. Outside code runs in the sandbox under `limits`; once
    `stop_file` exists (sandbox.stop_reason) no further episode starts, and the chunk returns those that ran."""
    _single_threaded_torch()
    if is_outside_code(agent):  # a process of its own for each chunk, never cached
        policy = load_policy(agent, limits=limits, episodes=len(seeds), stop_file=stop_file and Path(stop_file))
    else:
        policy = _POLICIES.get(agent)
        if policy is None or (agent_hash is not None and policy.agent_hash != agent_hash):
            policy = _POLICIES[agent] = load_policy(agent)
    if agent_hash is not None and policy.agent_hash != agent_hash:
        raise DrivebenchError(f"{agent} changed while it was being evaluated; evaluate it again")
    spec, shift = parse_spec(spec_data), Shift(shift_name, level)
    env, scenario_hash = make_env(spec, shift), scenario_hash or scenario_key(spec)
    records = []
    try:
        for seed in seeds:
            if stop_file is not None and stop_reason(Path(stop_file)):
                break
            records.append(episode_record(agent, policy, env, spec, scenario_hash, shift, seed))
    finally:
        policy.close()
        env.close()
    return records


def episode_record(agent: str, policy: LoadedPolicy, env, spec, scenario_hash: str, shift: Shift,
                   seed: int) -> EpisodeRecord:
    """One episode of `policy` in `env` (built from `spec` under `shift`), scored and recorded."""
    policy.reset(seed)
    episode = run_episode(env, policy.act, seed, stop_when_stuck=True)
    return EpisodeRecord(
        agent=agent, agent_hash=policy.agent_hash, scenario=spec.name, scenario_hash=scenario_hash,
        shift=shift.name, level=shift.level, seed=seed, metrics=episode_metrics(episode, spec),
        trajectory=Trajectory(episode.poses, episode.signals), invalid_reason=episode.invalid_reason)


def _single_threaded_torch() -> None:
    """Same arithmetic whatever the worker count: torch's intra-op threads change summation order."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
