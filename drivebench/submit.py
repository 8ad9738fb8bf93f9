"""Submissions: an outside policy scored on the official suite and added to the leaderboard under a name.

The policy is anything eval/policies.py loads: an SB3 model file, a drivebench checkpoint folder (a torch
state_dict with a JSON config), a Python callable (`module:name` or `path/file.py:name`). It is evaluated on
the official scenarios, conditions and seeds (suite.toml), which the submitter cannot choose, in worker
processes, with a per-episode time limit on its thinking: a policy that raises, hangs or returns garbage gets
invalid episodes with their reasons, never a broken leaderboard. Its entry is written only once every episode
is in the database, so a failed submission leaves the leaderboard as it was. Resubmitting under the same
name replaces the entry; the same policies (same hashes) under another name replace that name's entry.

A submission may bring several policies, one per training run (the same algorithm trained with different seeds):
each drives every scenario, and the entry is scored over its runs like the suite's trained entries (leaderboard.py).
One policy makes a one-run entry, whose intervals are over episodes; its row says runs=1.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from drivebench import leaderboard
from drivebench.agents.train import ALGORITHMS
from drivebench.errors import DrivebenchError
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.policies import load_policy
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry

TIME_LIMIT = 20.0
"""A submitted policy's computing time allowed per episode [s]: about 100x what the trained agents need."""


def canonical_id(policy: str) -> str:
    """The agent id a submission is stored under: file and folder paths made absolute (workers and later runs
    may start elsewhere); module ids as given."""
    path, sep, attr = policy.rpartition(":")
    if sep and path.endswith(".py"):
        return f"{Path(path).resolve()}:{attr}"
    if Path(policy).exists():
        return str(Path(policy).resolve())
    return policy


def submit(name: str, policy: str | Sequence[str], *, db: ResultsDB, workers: int | None = None,
           backend: str = "local", address: str | None = None, progress: bool = True, log=None) -> leaderboard.Row:
    """Evaluate `policy` (one, or a list: one per training run) on the official suite and make it the leaderboard
    entry `name`; returns its row. Scenarios that some policy cannot drive are skipped for every run."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    reserved = {"expert", "random", *ALGORITHMS}
    if not name.strip() or name in reserved or any(name.startswith(f"{algo}-") for algo in ALGORITHMS):
        raise DrivebenchError(f"--name {name!r} is taken by the baselines ({', '.join(sorted(reserved))} and "
                              "<algo>-<preset>, <algo>-<n>demos); choose another")
    policies = [policy] if isinstance(policy, str) else list(policy)
    if not policies:
        raise DrivebenchError("no policy given: pass --policy once per training run")
    suite = leaderboard.official_suite()
    runs = [canonical_id(p) for p in policies]
    loaded = [load_policy(agent) for agent in runs]
    hashes = [p.agent_hash for p in loaded]
    twice = sorted({policies[i] for i, h in enumerate(hashes) if hashes.index(h) != i})
    if twice:
        raise DrivebenchError(f"the same policy is given for two training runs: {', '.join(twice)}; "
                              "each --policy is one run (another seed of the training)")
    registry.discover()
    drivable, cannot = [], {}
    for scenario in suite.scenarios:
        for given, p in zip(policies, loaded):
            try:
                p.check_scenario(registry.get(scenario).spec)
            except DrivebenchError as err:
                cannot[scenario] = f"{given}: {err}" if len(policies) > 1 else str(err)
                break
        else:
            drivable.append(scenario)
    if not drivable:
        raise DrivebenchError(f"{', '.join(policies)} cannot drive any official scenario:\n  "
                              + "\n  ".join(cannot.values()))
    for scenario, why in cannot.items():
        log(f"skipping {scenario}: {why} (the entry will be incomplete)")
    requests = [Request(agent, scenario, shift, time_limit=TIME_LIMIT, seeds=tuple(suite.seeds_for(shift)))
                for agent in runs for scenario in drivable for shift in suite.conditions]
    log(f"evaluating {name} ({len(runs)} training run{'s' if len(runs) > 1 else ''}) on {len(drivable)} "
        f"scenarios x {len(suite.conditions)} conditions x {suite.describe_seeds()}, the official seeds")
    evaluate_many(requests, seeds=suite.seeds, workers=workers, db=db, progress=progress, backend=backend,
                  address=address, isolate=True)
    agents = {scenario: list(zip(runs, hashes)) for scenario in drivable}
    for other, entry in db.entries().items():
        if other != name and entry["kind"] == "submission" and entry["agents"] == agents:
            db.delete_entry(other)
            log(f"the same policy was entered as {other!r}: that entry is replaced by {name!r}")
    db.set_entry(name, "submission", agents)
    return next(row for row in leaderboard.compute(db, suite) if row.agent == name)
