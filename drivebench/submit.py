"""Submissions: outside policies scored on the official suite and added to the leaderboard under a name.

A policy is anything eval/policies.py loads: an SB3 model file, a drivebench checkpoint folder (a torch
state_dict with a JSON config), a Python callable (`module:name` or `path/file.py:name`). It is evaluated on
the official scenarios, conditions and seeds (suite.toml), which the submitter cannot choose. Outside code runs
only in the sandbox (eval/sandbox.py): a process of its own that sees observations, under limits enforced from
outside; a policy that raises, runs out of time or memory or returns garbage gets invalid episodes with their
reasons, never a broken leaderboard, and one that runs out of time episode after episode stops its submission
(`harness.EvaluationStopped`: no entry is written). Its entry is written only once every episode
is in the database, so a failed submission leaves the leaderboard as it was. Resubmitting under the same
name replaces the entry; the same policies (same hashes) under another name replace that name's entry.

Two forms, one entry format (per scenario, the agents of its training runs: `ResultsDB.set_entry`):
- `submit(name, policies)`: the same policies drive every scenario, one per training run (the same algorithm
  trained with different seeds); scenarios that some policy cannot drive are skipped (the entry is incomplete).
- `submit_manifest(name, file)`: a TOML manifest maps scenarios, or whole families, to their own policies, one
  per training run (`read_manifest`), as the baselines have one agent per scenario; everything it names must
  drive what it is mapped to, or nothing is evaluated. An entry that covers a family's scenarios is complete on
  that family's track (leaderboard.py, "Tracks").
Either way the entry is scored over its runs like the suite's trained entries (leaderboard.py); one policy per
scenario makes a one-run entry, whose intervals are over episodes; its row says runs=1.
"""
from __future__ import annotations

import difflib
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from drivebench import leaderboard
from drivebench.agents.train import ALGORITHMS
from drivebench.errors import DrivebenchError
from drivebench.eval import sandbox
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.policies import LoadedPolicy, load_policy
from drivebench.results.db import ResultsDB
from drivebench.scenarios import family as families
from drivebench.scenarios import registry

MANIFEST_BYTES = 1_000_000
"""The largest manifest file read [bytes]: a manifest is a few lines of TOML."""

MANIFEST_TABLES = ("families", "scenarios")
"""The tables of a manifest: `[families]` maps a family (every suite scenario of it), `[scenarios]` one scenario."""


class ManifestError(DrivebenchError):
    """A submission manifest that cannot be used; names the file and, for each problem, the key."""

    def __init__(self, file: Path | str, problems: list[tuple[str, str]]):
        self.file = str(file)
        self.problems = problems  # (key, what is wrong and how to fix it)
        lines = [f"{self.file}: invalid submission manifest"]
        lines += [f"  {key}: {message}" if key else f"  {message}" for key, message in problems]
        super().__init__("\n".join(lines))


def canonical_id(policy: str, folder: Path | None = None) -> str:
    """The agent id a submission is stored under: file and folder paths made absolute (workers and later runs
    may start elsewhere), relative ones taken from `folder` (default: the working directory); module ids as
    given."""
    base = folder or Path.cwd()
    path, sep, attr = policy.rpartition(":")
    if sep and path.endswith(".py"):
        return f"{(base / path).resolve()}:{attr}"
    if (base / policy).exists():
        return str((base / policy).resolve())
    return policy


def _identify(agent: str) -> LoadedPolicy:
    """What the submission needs of a policy before it is evaluated: its agent hash (from its files) and its
    `check_scenario` (for outside code: it loads in the sandbox). Nothing of it runs in this process."""
    return load_policy(agent, limits=sandbox.LIMITS)


def _check_name(name: str) -> None:
    reserved = {"expert", "random", *ALGORITHMS}
    if not name.strip() or name in reserved or any(name.startswith(f"{algo}-") for algo in ALGORITHMS):
        raise DrivebenchError(f"--name {name!r} is taken by the baselines ({', '.join(sorted(reserved))} and "
                              "<algo>-<preset>, <algo>-<n>demos); choose another")
    suite = leaderboard.official_suite()
    if leaderboard.regime_of(name, suite) != leaderboard.STANDARD:
        raise DrivebenchError(f"--name {name!r}: names ending in -{suite.few_demos}demos are the few-demo condition's "
                              "(drivebench's own algorithms, trained on that many demos); a submission's data cannot "
                              "be checked, so it is ranked on the standard tracks: choose another name")


# ---------------------------------------------------------------------------------------------- the manifest
def read_manifest(path: Path | str, suite: leaderboard.Suite | None = None) -> dict[str, list[tuple[str, str]]]:
    """A manifest's plan: {suite scenario: [(agent id, the manifest key that gave it) per training run]}, scenarios
    in the suite's order. The file (README.md, "Submissions"):

        [families]                    # a family: every scenario of it in the official suite
        curve = ["curve-seed0.zip", "curve-seed1.zip"]    # one policy per training run
        [scenarios]                   # one scenario
        parking-empty = ["empty-seed0.zip", "empty-seed1.zip"]
        parking-crowded = ["mypkg.parking:seed0", "policies/park.py:seed1"]

    A value is one policy (a string: a one-run entry) or a list of them, one per training run; every scenario has
    as many. Paths (an SB3 .zip, an agent folder, `file.py:callable`) are relative to the manifest's folder;
    `package.module:callable` is imported from the Python path. Raises ManifestError listing every problem."""
    suite = suite or leaderboard.official_suite()
    path = Path(path)
    data = _read_toml(path)
    folder = path.resolve().parent
    registry.entries()
    family_of = {s: families.of(registry.get(s).spec).name for s in suite.scenarios}
    problems: list[tuple[str, str]] = []
    given: dict[str, tuple[str, list[tuple[str, str]]]] = {}  # scenario -> (key, [(agent, item key)])

    for key in data:
        if key not in MANIFEST_TABLES:
            problems.append((key, f"unknown key{_did_you_mean(key, MANIFEST_TABLES)}; a manifest has the tables "
                                  "[families] (a family: its scenarios in the suite) and [scenarios] (one scenario)"))
    for table in MANIFEST_TABLES:
        if table not in data:
            continue
        if not isinstance(data[table], dict):
            problems.append((table, f"must be a table ([{table}]) mapping names to policies"))
            continue
        for name, value in data[table].items():
            key = f"{table}.{name}"
            if table == "families":
                scenarios = [s for s in suite.scenarios if family_of[s] == name]
                if not scenarios:
                    problems.append((key, _unknown_family(name, family_of)))
                    continue
            else:
                if name not in suite.scenarios:
                    problems.append((key, _unknown_scenario(name, suite, family_of)))
                    continue
                scenarios = [name]
            agents = _policies(key, value, folder, problems)
            if agents is None:
                continue
            for scenario in scenarios:
                if scenario in given:
                    other = given[scenario][0]
                    first, second = sorted([other, key], key=lambda k: not k.startswith("families."))
                    problems.append((second, f"{scenario} is also given by {first}; give each scenario once "
                                             "(drop it from one of them)"))
                else:
                    given[scenario] = (key, agents)
    if not data or (not given and not problems):
        problems.append(("", "maps no scenario: give a [families] or a [scenarios] table (see README.md, "
                             "\"Submissions\")"))
    counts = {key: len(agents) for key, agents in given.values()}
    if len(set(counts.values())) > 1:
        first_key, first = next(iter(counts.items()))
        problems += [(key, f"{n} polic{'y' if n == 1 else 'ies'}, but {first_key} has {first}: give every "
                           "scenario one policy per training run, as many on each")
                     for key, n in counts.items() if n != first]
    if problems:
        raise ManifestError(path, problems)
    return {s: given[s][1] for s in suite.scenarios if s in given}


def _read_toml(path: Path) -> dict:
    """The manifest's TOML, or a ManifestError saying why the file cannot be read (never a hang on a FIFO)."""
    def fail(message: str):
        raise ManifestError(path, [("", message)])

    if not path.exists():
        fail("no such file")
    if not path.is_file():
        fail("not a regular file (a folder, a pipe or a device): give the manifest's TOML file")
    try:
        if path.stat().st_size > MANIFEST_BYTES:
            fail(f"{path.stat().st_size} bytes: a manifest is a small TOML file (at most {MANIFEST_BYTES})")
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        fail(f"cannot be read: {err.strerror or err}")
    except UnicodeDecodeError as err:
        fail(f"not UTF-8 text (byte {err.start}): save it as UTF-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        fail(f"not valid TOML: {err}")


def _policies(key: str, value, folder: Path, problems: list) -> list[tuple[str, str]] | None:
    """[(agent id, item key)] of one manifest value (a string or a non-empty list of strings); None, with the
    problems recorded, when it is not usable."""
    items = [(key, value)] if isinstance(value, str) else None
    if isinstance(value, list):
        if not value:
            problems.append((key, "an empty list: give one policy per training run"))
            return None
        items = [(f"{key}[{i}]", v) for i, v in enumerate(value)] if len(value) > 1 else [(key, value[0])]
    if items is None:
        problems.append((key, f"expected a policy (a string) or a list of them, one per training run; got "
                              f"{type(value).__name__} {value!r}"))
        return None
    out, ok = [], True
    for item_key, policy in items:
        if not isinstance(policy, str) or not policy.strip():
            problems.append((item_key, f"expected a policy (a non-empty string); got {policy!r}"))
            ok = False
            continue
        module, sep, attr = policy.rpartition(":")
        if sep and not module.endswith(".py") and "/" not in module:  # package.module:callable, from sys.path
            out.append((policy, item_key))
            continue
        file = folder / (module if sep else policy)
        if not file.exists():
            problems.append((item_key, f"{policy}: no such file or folder {file} (paths are relative to the "
                                       "manifest's folder)"))
            ok = False
            continue
        out.append((canonical_id(policy, folder), item_key))
    return out if ok else None


def _unknown_family(name: str, family_of: dict[str, str]) -> str:
    known = list(dict.fromkeys(family_of.values()))
    if name in family_of:
        return f"{name} is a scenario, not a family: put it under [scenarios]"
    if name in families.names():
        return f"the official suite has no scenario of the family {name}; its families are {', '.join(known)}"
    return f"unknown family{_did_you_mean(name, known)}; the suite's families are {', '.join(known)}"


def _unknown_scenario(name: str, suite: leaderboard.Suite, family_of: dict[str, str]) -> str:
    if name in family_of.values():
        return f"{name} is a family, not a scenario: put it under [families]"
    known = {e.name for e in registry.entries()}
    what = "is not in the official suite" if name in known else f"unknown scenario{_did_you_mean(name, suite.scenarios)}"
    return f"{what}; the suite's scenarios are {', '.join(suite.scenarios)}"


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------------------------------------- submitting
def submit(name: str, policy: str | Sequence[str], *, db: ResultsDB, workers: int | None = None,
           backend: str = "local", address: str | None = None, progress: bool = True, log=None) -> leaderboard.Row:
    """Evaluate `policy` (one, or a list: one per training run) on every scenario of the official suite and make it
    the leaderboard entry `name`; returns its row over every suite scenario. Scenarios that some policy cannot
    drive are skipped for every run."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    _check_name(name)
    policies = [policy] if isinstance(policy, str) else list(policy)
    if not policies:
        raise DrivebenchError("no policy given: pass --policy once per training run")
    suite = leaderboard.official_suite()
    runs = [canonical_id(p) for p in policies]
    identified = {agent: _identify(agent) for agent in dict.fromkeys(runs)}
    try:
        drivable = _drivable(policies, runs, identified, suite, log)
    finally:
        _close(identified)
    return _evaluate_and_enter(name, {s: runs for s in drivable}, identified, suite, db=db, workers=workers,
                               backend=backend, address=address, progress=progress, log=log)


def _drivable(policies: list[str], runs: list[str], identified: Mapping[str, LoadedPolicy],
              suite: leaderboard.Suite, log) -> list[str]:
    """The suite's scenarios every run can drive (the others are logged as skipped)."""
    twice = _repeated(list(zip(runs, policies)), identified)
    if twice:
        raise DrivebenchError(f"the same policy is given for two training runs: {', '.join(twice)}; "
                              "each --policy is one run (another seed of the training)")
    registry.discover()
    drivable, cannot = [], {}
    for scenario in suite.scenarios:
        for given, agent in zip(policies, runs):
            try:
                identified[agent].check_scenario(registry.get(scenario).spec)
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
    return drivable


def submit_manifest(name: str, manifest: Path | str, *, db: ResultsDB, workers: int | None = None,
                    backend: str = "local", address: str | None = None, progress: bool = True,
                    log=None) -> leaderboard.Row:
    """Evaluate the policies of a manifest (`read_manifest`) on the scenarios it maps them to and make them the
    leaderboard entry `name`; returns its row over every suite scenario (`leaderboard.compute(db, suite, track)`
    gives its rows on the tracks). Nothing is evaluated unless every policy loads and can drive every scenario it
    is mapped to: a ManifestError names the file and key of each that cannot."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    _check_name(name)
    suite = leaderboard.official_suite()
    plan = read_manifest(manifest, suite)
    key_of = {agent: key for runs in plan.values() for agent, key in runs}
    identified: dict[str, LoadedPolicy] = {}
    try:
        problems = _check_plan(plan, key_of, identified)
    finally:
        _close(identified)
    if problems:
        raise ManifestError(manifest, problems)
    return _evaluate_and_enter(name, {s: [agent for agent, _ in runs] for s, runs in plan.items()}, identified,
                               suite, db=db, workers=workers, backend=backend, address=address, progress=progress,
                               log=log)


def _check_plan(plan: dict[str, list[tuple[str, str]]], key_of: dict[str, str],
                identified: dict[str, LoadedPolicy]) -> list[tuple[str, str]]:
    """The problems of a manifest's plan (key, message): policies that do not load, cannot drive a scenario they
    are mapped to, or repeat another run; fills `identified` with the policies that load."""
    problems: list[tuple[str, str]] = []
    for agent, key in key_of.items():
        try:
            identified[agent] = _identify(agent)
        except DrivebenchError as err:
            problems.append((key, str(err)))
    cannot: dict[str, tuple[list[str], str]] = {}  # key -> (the scenarios it cannot drive, the first reason)
    for scenario, runs in plan.items():
        for agent, key in runs:
            if agent in identified:
                try:
                    identified[agent].check_scenario(registry.get(scenario).spec)
                except DrivebenchError as err:
                    cannot.setdefault(key, ([], str(err)))[0].append(scenario)
    problems += [(key, f"cannot drive {', '.join(scenarios)}: {why}") for key, (scenarios, why) in cannot.items()]
    repeated: dict[str, list[str]] = {}
    for scenario, runs in plan.items():
        if all(agent in identified for agent, _ in runs) and (twice := _repeated(runs, identified)):
            repeated.setdefault(twice[0], twice[1:])
    problems += [(key, f"the same policy as {', '.join(others)}: each policy of a scenario is one training run "
                       "(another seed of the training)") for key, others in repeated.items()]
    return problems


def _close(identified: Mapping[str, LoadedPolicy]) -> None:
    """Release what identifying the policies started (a sandbox that checked them), if anything."""
    for policy in identified.values():
        getattr(policy, "close", lambda: None)()


def _repeated(runs: Sequence[tuple[str, str]], identified: Mapping[str, LoadedPolicy]) -> list[str]:
    """The labels of the runs ([(agent id, label)] of one scenario) that share an agent hash with another run: a
    training run is another seed, not the same policy twice."""
    hashes = [identified[agent].agent_hash for agent, _ in runs]
    return list(dict.fromkeys(label for (_, label), h in zip(runs, hashes) if hashes.count(h) > 1))


def _evaluate_and_enter(name: str, plan: dict[str, list[str]], identified: Mapping[str, LoadedPolicy],
                        suite: leaderboard.Suite, *, db: ResultsDB, workers, backend, address, progress,
                        log) -> leaderboard.Row:
    """Evaluate every run of every scenario of the plan ({scenario: [agent id per run]}) on the official seeds in
    isolated workers, then write the entry (only once every episode is stored)."""
    requests = [Request(agent, scenario, shift, seeds=tuple(suite.seeds_for(shift)))
                for scenario, runs in plan.items() for run, agent in enumerate(runs)
                for shift in suite.conditions_of_run(run)]
    runs = max(len(r) for r in plan.values())
    log(f"evaluating {name} ({runs} training run{'s' if runs > 1 else ''}) on {len(plan)} scenario"
        f"{'s' if len(plan) > 1 else ''} x {len(suite.conditions)} conditions x {suite.describe_seeds()}, the "
        "official seeds")
    log(f"outside code runs in the sandbox: {sandbox.isolation().description}")
    evaluate_many(requests, seeds=suite.seeds, workers=workers, db=db, progress=progress, backend=backend,
                  address=address, isolate=True, limits=sandbox.LIMITS)
    agents = {scenario: [(agent, identified[agent].agent_hash) for agent in runs] for scenario, runs in plan.items()}
    for other, entry in db.entries().items():
        if other != name and entry["kind"] == "submission" and entry["agents"] == agents:
            db.delete_entry(other)
            log(f"the same policy was entered as {other!r}: that entry is replaced by {name!r}")
    db.set_entry(name, "submission", agents)
    return next(row for row in leaderboard.compute(db, suite) if row.agent == name)

