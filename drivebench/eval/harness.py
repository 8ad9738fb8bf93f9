"""The one evaluation harness: any agent, any scenario, any shift, the same seeds, one typed record list.

`evaluate(agent, scenario, seeds=..., shift=...)` runs every episode that the results database does not
already hold, across worker processes, writing each chunk of records as it completes (so a killed run loses
only the chunks in flight, and running it again runs only what is missing), and returns the records of all
requested seeds in their order. An episode's record depends only on (agent, scenario, shift, seed), never on
the worker count: each episode is seeded, and torch runs single-threaded in evaluation.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING, Sequence

from tqdm import tqdm

from drivebench.eval.metrics import episode_metrics
from drivebench.eval.policies import LoadedPolicy, load_policy
from drivebench.eval.records import EpisodeRecord, Trajectory
from drivebench.eval.rollout import run_episode
from drivebench.eval.shifts import NONE, Shift, make_env, shifted_spec
from drivebench.scenarios import registry
from drivebench.scenarios.spec import parse_spec, spec_hash

if TYPE_CHECKING:
    from drivebench.results.db import ResultsDB

CHUNKS_PER_WORKER = 4  # finer chunks balance the load and lose less when a run is killed


def evaluate(agent: str, scenario: str, *, seeds: Sequence[int], shift: Shift = NONE, workers: int | None = None,
             db: ResultsDB | None = None, progress: bool = True) -> list[EpisodeRecord]:
    """Evaluate `agent` on `scenario` (name or id) under `shift` for each seed; see the module docstring."""
    spec = shifted_spec(registry.get(scenario).spec, shift)
    policy = load_policy(agent)  # in this process too: a bad agent id fails here, before any worker starts
    scenario_hash = spec_hash(spec)
    todo = list(seeds) if db is None else db.missing_seeds(policy.agent_hash, scenario_hash, shift.name,
                                                           shift.level, list(seeds))
    new = {r.seed: r for r in _run(agent, spec, shift, todo, workers, db, progress)}
    if db is None:
        return [new[s] for s in seeds]
    return db.get_records(policy.agent_hash, scenario_hash, shift.name, shift.level, list(seeds))


def _run(agent: str, spec, shift: Shift, seeds: list[int], workers: int | None, db: ResultsDB | None,
         progress: bool) -> list[EpisodeRecord]:
    workers = max(1, min(workers or os.cpu_count() or 1, len(seeds)))
    size = max(1, math.ceil(len(seeds) / (workers * CHUNKS_PER_WORKER)))
    chunks = [seeds[i:i + size] for i in range(0, len(seeds), size)]
    spec_data = spec.model_dump(mode="json")
    done: list[EpisodeRecord] = []
    label = f"{agent} on {spec.name}" + ("" if shift == NONE else f" [{shift}]")
    with tqdm(total=len(seeds), desc=label, unit="ep", disable=not progress or not seeds, leave=False,
              file=sys.stderr) as bar:
        def collect(records: list[EpisodeRecord]) -> None:
            if db is not None:
                db.add(records)
            done.extend(records)
            bar.update(len(records))

        if workers == 1:
            for chunk in chunks:
                collect(run_chunk(agent, spec_data, shift.name, shift.level, chunk))
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["drivebench.eval.harness"])
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [pool.submit(run_chunk, agent, spec_data, shift.name, shift.level, c) for c in chunks]
                for future in as_completed(futures):
                    collect(future.result())
    return done


_POLICIES: dict[str, LoadedPolicy] = {}


def run_chunk(agent: str, spec_data: dict, shift_name: str, level: int, seeds: list[int]) -> list[EpisodeRecord]:
    """Run episodes in this process (a worker's unit of work): plain data in, records out."""
    _single_threaded_torch()
    policy = _POLICIES.get(agent) or _POLICIES.setdefault(agent, load_policy(agent))
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
