"""Submissions: an outside policy scored on the official suite and added to the leaderboard under a name.

The policy is anything eval/policies.py loads: an SB3 model file, a drivebench checkpoint folder (a torch
state_dict with a JSON config), a Python callable (`module:name` or `path/file.py:name`). It is evaluated on
the official scenarios, conditions and seeds (suite.toml), which the submitter cannot choose, in worker
processes, with a per-episode time limit on its thinking: a policy that raises, hangs or returns garbage gets
invalid episodes with their reasons, never a broken leaderboard. Its entry is written only once every episode
is in the database, so a failed submission leaves the leaderboard as it was. Resubmitting under the same
name replaces the entry; the same policy (same hash) under another name replaces that name's entry.
"""
from __future__ import annotations

import sys
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


def submit(name: str, policy: str, *, db: ResultsDB, workers: int | None = None, backend: str = "local",
           address: str | None = None, progress: bool = True, log=None) -> leaderboard.Row:
    """Evaluate `policy` on the official suite and make it the leaderboard entry `name`; returns its row."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    reserved = {"expert", "random", *ALGORITHMS}
    if not name.strip() or name in reserved or any(name.startswith(f"{algo}-") for algo in ALGORITHMS):
        raise DrivebenchError(f"--name {name!r} is taken by the baselines ({', '.join(sorted(reserved))} and "
                              "<algo>-<preset>); choose another")
    suite = leaderboard.official_suite()
    agent = canonical_id(policy)
    loaded = load_policy(agent)
    registry.discover()
    drivable, cannot = [], {}
    for scenario in suite.scenarios:
        try:
            loaded.check_scenario(registry.get(scenario).spec)
            drivable.append(scenario)
        except DrivebenchError as err:
            cannot[scenario] = str(err)
    if not drivable:
        raise DrivebenchError(f"{policy} cannot drive any official scenario:\n  " + "\n  ".join(cannot.values()))
    for scenario, why in cannot.items():
        log(f"skipping {scenario}: {why} (the entry will be incomplete)")
    requests = [Request(agent, scenario, shift, time_limit=TIME_LIMIT, seeds=tuple(suite.seeds_for(shift)))
                for scenario in drivable for shift in suite.conditions]
    log(f"evaluating {name} on {len(drivable)} scenarios x {len(suite.conditions)} conditions x "
        f"{suite.describe_seeds()}, the official seeds")
    evaluate_many(requests, seeds=suite.seeds, workers=workers, db=db, progress=progress, backend=backend,
                  address=address, isolate=True)
    agents = {scenario: (agent, loaded.agent_hash) for scenario in drivable}
    for other, entry in db.entries().items():
        if other != name and entry["kind"] == "submission" and entry["agents"] == agents:
            db.delete_entry(other)
            log(f"the same policy was entered as {other!r}: that entry is replaced by {name!r}")
    db.set_entry(name, "submission", agents)
    return next(row for row in leaderboard.compute(db, suite) if row.agent == name)
