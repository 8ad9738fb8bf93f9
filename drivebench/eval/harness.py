"""The one evaluation harness: any agent, any scenario, any shift, the same seeds, one typed record list.

`evaluate(agent, scenario, seeds=..., shift=...)` runs every episode that the results database does not
already hold, across worker processes, writing each chunk of records as it completes (so a killed run loses
only the chunks in flight, and running it again runs only what is missing), and returns the records of all
requested seeds in their order. An episode's record depends only on (agent, scenario, shift, seed), never on
the worker count or the backend: each episode is seeded, and torch runs single-threaded in evaluation.

Chunks run on an executor (`drivebench.executors`): local processes (`backend="local"`, the default) or Ray tasks
(`backend="ray"`, on the cluster at `address` or a local Ray instance). A chunk that raised or whose worker died is
run again once; the records come back to this process, which alone writes the database.

Local workers are started with multiprocessing's forkserver, which imports the calling script's main module in each
worker: a script that calls `evaluate` with workers > 1 must do so under `if __name__ == "__main__":`.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from tqdm import tqdm

from drivebench.errors import DrivebenchError
from drivebench.eval.keys import scenario_key
from drivebench.eval.metrics import episode_metrics
from drivebench.eval.policies import LoadedPolicy, load_policy, time_limited
from drivebench.core.records import EpisodeRecord, Trajectory
from drivebench.core.rollout import run_episode
from drivebench.eval.shifts import NONE, Shift, make_env, shifted_spec
from drivebench.executors import TaskFailed, make_executor
from drivebench.scenarios import registry
from drivebench.scenarios.spec import parse_spec

if TYPE_CHECKING:
    from drivebench.results.db import ResultsDB

CHUNKS_PER_WORKER = 8  # finer chunks balance the load and lose less when a run is killed


@dataclass(frozen=True)
class Request:
    """One evaluation: an agent on a scenario (name or id) under a shift."""

    agent: str
    scenario: str
    shift: Shift = NONE
    time_limit: float | None = None
    """the policy's computing time allowed per episode [s] (policies.time_limited); None: unlimited"""
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
                  address: str | None = None, isolate: bool = False) -> dict[Request, list[EpisodeRecord]]:
    """Several evaluations, each over `seeds` or its own `Request.seeds`, sharing one pool of workers (`backend`:
    see executors.py)."""
    plans = []
    for request in requests:
        spec = shifted_spec(registry.get(request.scenario).spec, request.shift)
        policy = load_policy(request.agent)  # a bad agent fails here, before any worker starts
        policy.check_scenario(spec)
        agent_hash = policy.agent_hash
        key = (agent_hash, scenario_key(spec), request.shift.name, request.shift.level)
        own = list(seeds if request.seeds is None else request.seeds)
        todo = own if db is None else db.missing_seeds(*key, own)
        plans.append((request, spec, key, own, todo))
    new = _run([(r.agent, key[0], spec, r.shift, todo, r.time_limit, key[1]) for r, spec, key, _, todo in plans],
               workers, db, progress, backend, address, isolate)
    if db is None:
        return {r: [new[(key, seed)] for seed in own] for r, _, key, own, _ in plans}
    return {r: db.get_records(*key, own) for r, _, key, own, _ in plans}


def _run(jobs: list[tuple[str, str, object, Shift, list[int], float | None, str]], workers: int | None,
         db: ResultsDB | None, progress: bool, backend: str = "local", address: str | None = None,
         isolate: bool = False) -> dict[tuple, EpisodeRecord]:
    """Run every (agent, agent hash, spec, shift, seeds, time limit, scenario key) job in chunks on an executor of
    `backend`; returns records by (identity, seed). Only this process writes to `db`, as each chunk's records come
    back. `isolate` runs even a single worker's chunks in another process (for policies from outside)."""
    total = sum(len(job[4]) for job in jobs)
    done: dict[tuple, EpisodeRecord] = {}
    if not total:
        return done  # no executor to start
    with make_executor(backend, workers, address, isolate=isolate) as executor, tqdm(
            total=total, desc="evaluate", unit="ep", disable=not progress, leave=False, file=sys.stderr) as bar:
        size = chunk_size(total, executor.workers)
        tasks = [(agent, spec.model_dump(mode="json"), shift.name, shift.level, seeds[i:i + size], agent_hash, limit,
                  key)
                 for agent, agent_hash, spec, shift, seeds, limit, key in jobs for i in range(0, len(seeds), size)]

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
                f"evaluating {agent} on {spec_data['name']} ({shift_name}:{level}), seeds {some}")) from err.__cause__
    return done


def chunk_size(episodes: int, workers: int) -> int:
    """Episodes per task when `episodes` are shared by `workers`: CHUNKS_PER_WORKER tasks per worker."""
    return max(1, math.ceil(episodes / (min(workers, episodes) * CHUNKS_PER_WORKER)))


_POLICIES: dict[str, LoadedPolicy] = {}


def run_chunk(agent: str, spec_data: dict, shift_name: str, level: int, seeds: list[int],
              agent_hash: str | None = None, time_limit: float | None = None,
              scenario_hash: str | None = None) -> list[EpisodeRecord]:
    """Run episodes in this process (a worker's unit of work): plain data in, records out. `agent_hash`, if
    given, is the hash the caller resolved the agent to: a cached policy of another hash (the agent changed
    since) is reloaded, and if it still differs the chunk fails rather than mislabel its records. With a
    `time_limit`, the policy's thinking time per episode is bounded (policies.time_limited). `scenario_hash`: the
    scenario key the caller looked the episodes up by (eval/keys.py; computed here if not given), so the records
    are stored under the key they were asked for."""
    _single_threaded_torch()
    policy = _POLICIES.get(agent)
    if policy is None or (agent_hash is not None and policy.agent_hash != agent_hash):
        policy = _POLICIES[agent] = load_policy(agent)
    if agent_hash is not None and policy.agent_hash != agent_hash:
        raise DrivebenchError(f"{agent} changed while it was being evaluated; evaluate it again")
    if time_limit is not None:
        policy = time_limited(policy, time_limit)
    spec, shift = parse_spec(spec_data), Shift(shift_name, level)
    env, scenario_hash = make_env(spec, shift), scenario_hash or scenario_key(spec)
    records = [episode_record(agent, policy, env, spec, scenario_hash, shift, seed) for seed in seeds]
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
