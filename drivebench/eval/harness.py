"""The one evaluation harness: any agent, any scenario, any shift, the same seeds, one typed record list.

`evaluate(agent, scenario, seeds=..., shift=...)` runs every episode that the results database does not
already hold, across worker processes, writing each chunk of records as it completes (so a killed run loses
only the chunks in flight, and running it again runs only what is missing), and returns the records of all
requested seeds in their order. An episode's record depends only on (agent, scenario, shift, seed), never on
the worker count: each episode is seeded, and torch runs single-threaded in evaluation.

Workers are started with multiprocessing's forkserver, which imports the calling script's main module in each
worker: a script that calls `evaluate` with workers > 1 must do so under `if __name__ == "__main__":`.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from tqdm import tqdm

from drivebench.errors import DrivebenchError
from drivebench.eval.metrics import episode_metrics
from drivebench.eval.policies import LoadedPolicy, load_policy
from drivebench.eval.records import EpisodeRecord, Trajectory
from drivebench.eval.rollout import run_episode
from drivebench.eval.shifts import NONE, Shift, make_env, shifted_spec
from drivebench.scenarios import registry
from drivebench.scenarios.spec import parse_spec, spec_hash

if TYPE_CHECKING:
    from drivebench.results.db import ResultsDB

CHUNKS_PER_WORKER = 8  # finer chunks balance the load and lose less when a run is killed


@dataclass(frozen=True)
class Request:
    """One evaluation: an agent on a scenario (name or id) under a shift."""

    agent: str
    scenario: str
    shift: Shift = NONE


def evaluate(agent: str, scenario: str, *, seeds: Sequence[int], shift: Shift = NONE, workers: int | None = None,
             db: ResultsDB | None = None, progress: bool = True) -> list[EpisodeRecord]:
    """Evaluate `agent` on `scenario` under `shift` for each seed; see the module docstring."""
    request = Request(agent, scenario, shift)
    return evaluate_many([request], seeds=seeds, workers=workers, db=db, progress=progress)[request]


def evaluate_many(requests: Sequence[Request], *, seeds: Sequence[int], workers: int | None = None,
                  db: ResultsDB | None = None, progress: bool = True) -> dict[Request, list[EpisodeRecord]]:
    """Several evaluations over the same seeds, sharing one pool of workers."""
    seeds = list(seeds)
    plans = []
    for request in requests:
        spec = shifted_spec(registry.get(request.scenario).spec, request.shift)
        policy = load_policy(request.agent)  # a bad agent fails here, before any worker starts
        policy.check_scenario(spec)
        agent_hash = policy.agent_hash
        key = (agent_hash, spec_hash(spec), request.shift.name, request.shift.level)
        todo = seeds if db is None else db.missing_seeds(*key, seeds)
        plans.append((request, spec, key, todo))
    new = _run([(r.agent, key[0], spec, r.shift, todo) for r, spec, key, todo in plans], workers, db, progress)
    if db is None:
        return {r: [new[(key, seed)] for seed in seeds] for r, _, key, _ in plans}
    return {r: db.get_records(*key, seeds) for r, _, key, _ in plans}


def _run(jobs: list[tuple[str, str, object, Shift, list[int]]], workers: int | None, db: ResultsDB | None,
         progress: bool) -> dict[tuple, EpisodeRecord]:
    """Run every (agent, agent hash, spec, shift, seeds) job in chunks; returns records by (identity, seed)."""
    total = sum(len(seeds) for *_, seeds in jobs)
    workers = max(1, min(workers or os.cpu_count() or 1, total))
    size = max(1, math.ceil(total / (workers * CHUNKS_PER_WORKER)))
    tasks = [(agent, spec.model_dump(mode="json"), shift.name, shift.level, seeds[i:i + size], agent_hash)
             for agent, agent_hash, spec, shift, seeds in jobs for i in range(0, len(seeds), size)]
    done: dict[tuple, EpisodeRecord] = {}
    with tqdm(total=total, desc="evaluate", unit="ep", disable=not progress or not total, leave=False,
              file=sys.stderr) as bar:
        def collect(records: list[EpisodeRecord]) -> None:
            if db is not None:
                db.add(records)
            done.update({(r.key[:4], r.seed): r for r in records})
            bar.update(len(records))

        if workers == 1:
            for task in tasks:
                collect(run_chunk(*task))
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["drivebench.eval.harness"])
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                for future in as_completed([pool.submit(run_chunk, *task) for task in tasks]):
                    collect(future.result())
    return done


_POLICIES: dict[str, LoadedPolicy] = {}


def run_chunk(agent: str, spec_data: dict, shift_name: str, level: int, seeds: list[int],
              agent_hash: str | None = None) -> list[EpisodeRecord]:
    """Run episodes in this process (a worker's unit of work): plain data in, records out. `agent_hash`, if
    given, is the hash the caller resolved the agent to: a cached policy of another hash (the agent changed
    since) is reloaded, and if it still differs the chunk fails rather than mislabel its records."""
    _single_threaded_torch()
    policy = _POLICIES.get(agent)
    if policy is None or (agent_hash is not None and policy.agent_hash != agent_hash):
        policy = _POLICIES[agent] = load_policy(agent)
    if agent_hash is not None and policy.agent_hash != agent_hash:
        raise DrivebenchError(f"{agent} changed while it was being evaluated; evaluate it again")
    spec, shift = parse_spec(spec_data), Shift(shift_name, level)
    env = make_env(spec, shift)
    records = []
    for seed in seeds:
        policy.reset(seed)
        episode = run_episode(env, policy.act, seed, stop_when_stuck=True)
        records.append(EpisodeRecord(
            agent=agent, agent_hash=policy.agent_hash, scenario=spec.name, scenario_hash=spec_hash(spec),
            shift=shift_name, level=level, seed=seed, metrics=episode_metrics(episode, spec),
            trajectory=Trajectory(episode.poses, episode.signals), invalid_reason=episode.invalid_reason))
    env.close()
    return records


def _single_threaded_torch() -> None:
    """Same arithmetic whatever the worker count: torch's intra-op threads change summation order."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
