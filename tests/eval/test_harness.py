"""drivebench.eval.harness: seed order, identical records for any worker count, the results database as a cache,
and resuming a killed run without rerunning what it finished."""
from __future__ import annotations

import importlib
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from drivebench.eval import harness
from drivebench.eval.harness import Request, evaluate, evaluate_many, run_chunk
from drivebench.eval.policies import load_policy
from drivebench.eval.shifts import Shift, shifted_spec
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry
from drivebench.eval.keys import scenario_key
from drivebench.scenarios.spec import spec_hash

SEEDS = [1_000_005, 1_000_001, 1_000_003, 1_000_000, 1_000_004, 1_000_002]  # deliberately not sorted


@pytest.fixture
def count_chunks(monkeypatch):
    """Wraps harness.run_chunk (used when workers == 1); returns the list of seeds it was given."""
    given: list[int] = []
    real = harness.run_chunk

    def counting(agent, spec_data, shift_name, level, seeds, *rest):
        given.extend(seeds)
        return real(agent, spec_data, shift_name, level, seeds, *rest)

    monkeypatch.setattr(harness, "run_chunk", counting)
    return given


@pytest.fixture
def module_policy(tmp_path, monkeypatch):
    """write(source) -> the name of a fresh importable module with that source."""
    names = []

    def write(source: str) -> str:
        name = f"drivebench_test_harness_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(source)
        names.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in names:
        sys.modules.pop(name, None)
        for agent in [a for a in harness._POLICIES if a.startswith(name)]:
            del harness._POLICIES[agent]


# ---------------------------------------------------------------------------------------------- order, workers
def test_records_come_in_the_order_of_the_seeds():
    records = evaluate("expert:cautious", "curve-gentle", seeds=SEEDS, workers=1, progress=False)
    assert [r.seed for r in records] == SEEDS
    spec = registry.get("curve-gentle").spec
    assert {r.scenario_hash for r in records} == {scenario_key(spec)}
    assert {(r.agent, r.shift, r.level) for r in records} == {("expert:cautious", "none", 0)}
    assert len({r.trajectory.poses[0, 0] for r in records}) == len(SEEDS)  # one distinct start per seed


def test_records_do_not_depend_on_the_worker_count(monkeypatch, assert_same_record):
    """curve-traffic (IDM vehicles, a stateful scene): 1 worker runs all 6 seeds as one chunk in one env (one chunk
    per worker), 2 workers run chunks of 1 seed in other processes. The records must be identical."""
    chunks, real = [], harness.run_chunk
    with monkeypatch.context() as patch:
        patch.setattr(harness, "CHUNKS_PER_WORKER", 1)
        patch.setattr(harness, "run_chunk", lambda *args: chunks.append(list(args[4])) or real(*args))
        one = evaluate("expert:cautious", "curve-traffic", seeds=SEEDS, workers=1, progress=False)
    assert chunks == [SEEDS]  # one env ran the six episodes in turn
    assert harness.CHUNKS_PER_WORKER >= 3  # 2 workers: chunks of ceil(6 / (2 x CHUNKS_PER_WORKER)) = 1 seed
    two = evaluate("expert:cautious", "curve-traffic", seeds=SEEDS, workers=2, progress=False)
    assert [r.seed for r in two] == SEEDS
    for a, b in zip(one, two):
        assert_same_record(a, b)
    assert len({r.metrics.steps for r in one}) > 1  # the seeds really differ


def test_a_chunk_gives_the_same_records_as_single_episodes(assert_same_record):
    spec_data = registry.get("curve-traffic").spec.model_dump(mode="json")
    together = run_chunk("random", spec_data, "none", 0, [1_000_000, 1_000_001, 1_000_002])
    alone = [run_chunk("random", spec_data, "none", 0, [seed])[0] for seed in (1_000_002, 1_000_000, 1_000_001)]
    for a, b in zip(together, [alone[1], alone[2], alone[0]]):
        assert_same_record(a, b)


# ---------------------------------------------------------------------------------------------- results database
def test_a_second_evaluate_adds_nothing_and_returns_equal_records(tmp_path, count_chunks, assert_same_record):
    path = tmp_path / "results.db"
    seeds = SEEDS[:4]
    plain = evaluate("expert:tidy", "parking-empty", seeds=seeds, workers=1, progress=False)
    count_chunks.clear()
    with ResultsDB(path) as db:
        first = evaluate("expert:tidy", "parking-empty", seeds=seeds, workers=1, db=db, progress=False)
        assert db.count() == 4 and sorted(count_chunks) == sorted(seeds)
        count_chunks.clear()
        second = evaluate("expert:tidy", "parking-empty", seeds=seeds, workers=1, db=db, progress=False)
        assert db.count() == 4
        assert count_chunks == []  # nothing ran
        more = evaluate("expert:tidy", "parking-empty", seeds=seeds + [1_000_009], workers=1, db=db, progress=False)
        assert count_chunks == [1_000_009] and db.count() == 5
    assert [r.seed for r in second] == seeds and [r.seed for r in more] == seeds + [1_000_009]
    for a, b, c, d in zip(plain, first, second, more):
        assert_same_record(a, b)  # what the database returns is what was computed
        assert_same_record(b, c)
        assert_same_record(c, d)


def test_shifts_are_stored_apart(tmp_path):
    with ResultsDB(tmp_path / "results.db") as db:
        plain = evaluate("expert:cautious", "curve-gentle", seeds=SEEDS[:2], workers=1, db=db, progress=False)
        shifted = evaluate("expert:cautious", "curve-gentle", seeds=SEEDS[:2], shift=Shift("start_offset", 2),
                           workers=1, db=db, progress=False)
        assert db.count() == 4
    assert [(r.shift, r.level) for r in shifted] == [("start_offset", 2)] * 2
    assert all(not np.array_equal(a.trajectory.poses, b.trajectory.poses) for a, b in zip(plain, shifted))


def test_evaluate_many_matches_separate_evaluations(assert_same_record):
    traffic = Shift("traffic", 1)
    requests = [Request("expert:cautious", "curve-gentle"), Request("random", "curve-gentle", traffic)]
    results = evaluate_many(requests, seeds=SEEDS[:3], workers=1, progress=False)
    assert list(results) == requests
    for request in requests:
        alone = evaluate(request.agent, request.scenario, seeds=SEEDS[:3], shift=request.shift, workers=1,
                         progress=False)
        for a, b in zip(results[request], alone):
            assert_same_record(a, b)
    spec = shifted_spec(registry.get("curve-gentle").spec, traffic)
    assert {r.scenario_hash for r in results[requests[1]]} == {scenario_key(spec)}


def test_rows_are_keyed_by_the_spec_and_the_code_that_simulates_and_scores(tmp_path, count_chunks, code_copy,
                                                                            code_edits):
    """A comment in the env module keeps the stored rows; a changed constant in it or in the metrics makes them
    stop matching: the episodes run again (the old rows stay, unused)."""
    change, cosmetic = code_edits
    spec, seeds = registry.get("curve-gentle").spec, SEEDS[:2]
    env_module = type(harness.make_env(spec).unwrapped).__module__
    key = scenario_key(spec)
    assert key != spec_hash(spec) and scenario_key(shifted_spec(spec, Shift("tighter_radius", 1))) != key
    with ResultsDB(tmp_path / "results.db") as db:
        evaluate("expert:cautious", "curve-gentle", seeds=seeds, workers=1, db=db, progress=False)
        code_copy.edit(env_module, cosmetic)
        count_chunks.clear()
        evaluate("expert:cautious", "curve-gentle", seeds=seeds, workers=1, db=db, progress=False)
        assert count_chunks == [] and scenario_key(spec) == key
        code_copy.edit(env_module, change)
        assert scenario_key(spec) != key
        assert db.missing_seeds(load_policy("expert:cautious").agent_hash, scenario_key(spec), "none", 0,
                                seeds) == seeds
        records = evaluate("expert:cautious", "curve-gentle", seeds=seeds, workers=1, db=db, progress=False)
        assert sorted(count_chunks) == sorted(seeds) and db.count() == 4
        assert {r.scenario_hash for r in records} == {scenario_key(spec)}
        code_copy.edit("drivebench.eval.metrics", change)
        count_chunks.clear()
        evaluate("expert:cautious", "curve-gentle", seeds=seeds, workers=1, db=db, progress=False)
        assert sorted(count_chunks) == sorted(seeds) and db.count() == 6


@pytest.mark.parametrize("package", ["highway-env", "gymnasium", "numpy"])
def test_rows_are_keyed_by_the_simulators_third_party_versions(upgrade, package):
    """Upgrading highway-env (most of the physics), gymnasium or numpy makes the stored rows stop matching; a
    learning library's upgrade does not (an agent's own identity says what it needs)."""
    spec = registry.get("curve-gentle").spec
    key = scenario_key(spec)
    upgrade("torch")
    assert scenario_key(spec) == key
    upgrade(package)
    assert scenario_key(spec) != key


CHILD = """
import sys
from drivebench.eval.harness import evaluate
from drivebench.results.db import ResultsDB
with ResultsDB(sys.argv[1]) as db:
    evaluate("expert:cautious", "curve-traffic", seeds=range(1_000_000, 1_000_000 + int(sys.argv[2])), workers=1,
             db=db, progress=False)
print("finished", flush=True)
"""


def stored(path) -> dict[int, tuple]:
    """seed -> (created_at, trajectory blob) of the rows in the database file; {} if there is no table yet."""
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            return {row[0]: row[1:] for row in conn.execute("SELECT seed, created_at, trajectory FROM episodes")}
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return {}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_resume_after_a_kill_runs_only_what_is_missing(tmp_path, count_chunks, assert_same_record):
    """A run of 20 seeds (in chunks, each written when done) is killed once some chunks are stored; running it
    again completes it without duplicates and without rerunning the stored episodes."""
    n, path = 20, tmp_path / "results.db"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(n)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        before: dict = {}
        while not before and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            if path.exists():
                before = stored(path)
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == -signal.SIGKILL, f"the run ended before it was killed:\n{err}"
    before = stored(path)  # rows added between the last poll and the kill count too
    assert 0 < len(before) < n, f"{len(before)} rows when killed"
    chunk = math.ceil(n / harness.CHUNKS_PER_WORKER)  # one worker
    assert len(before) % chunk == 0  # whole chunks only

    seeds = list(range(1_000_000, 1_000_000 + n))
    with ResultsDB(path) as db:
        records = evaluate("expert:cautious", "curve-traffic", seeds=seeds, workers=1, db=db, progress=False)
        assert db.count() == n
    assert [r.seed for r in records] == seeds
    assert sorted(count_chunks) == sorted(set(seeds) - set(before))  # exactly the missing seeds ran
    after = stored(path)
    assert len(after) == n and set(after) == set(seeds)
    for seed, row in before.items():
        assert after[seed] == row  # the same row, not rewritten
    # what the killed process stored equals what this process computes for the same seeds
    some = sorted(before)[:2]
    for fresh, kept in zip(run_chunk("expert:cautious", registry.get("curve-traffic").spec.model_dump(mode="json"),
                                     "none", 0, some), [r for r in records if r.seed in some]):
        assert_same_record(fresh, kept)


# ---------------------------------------------------------------------------------------------- module policies
def test_a_module_policy_steering_hard_left_registers_leaving_the_road(module_policy):
    name = module_policy("import numpy as np\n\ndef hard_left(obs):\n    return np.array([0.3, -1.0], np.float32)\n")
    spec = registry.get("curve-s-bend").spec
    records = run_chunk(f"{name}:hard_left", spec.model_dump(mode="json"), "none", 0, [1_000_000, 1_000_001])
    for r in records:
        m = r.metrics
        assert m.termination in ("off_road", "crashed") and not m.success
        assert m.off_road_count >= 1 and m.off_road_time > 0
        assert m.driving_score < 65.0
        assert r.agent_hash == load_policy(f"{name}:hard_left").agent_hash


def test_an_agent_changed_within_the_process_is_evaluated_as_it_is_now(module_policy, tmp_path):
    name = module_policy("import numpy as np\n\ndef act(obs):\n    return np.array([0.0, 0.0], np.float32)\n")
    agent, seeds = f"{name}:act", [1_000_000]
    first = evaluate(agent, "curve-gentle", seeds=seeds, workers=1, progress=False)
    # edit the policy and import it again (a notebook with autoreload; a checkpoint folder trained again)
    (tmp_path / f"{name}.py").write_text("import numpy as np\n\n\ndef act(obs):  # now steers hard left\n"
                                         "    return np.array([0.0, -1.0], np.float32)\n")
    importlib.invalidate_caches()
    new_hash = load_policy(agent).agent_hash
    assert new_hash != first[0].agent_hash
    second = evaluate(agent, "curve-gentle", seeds=seeds, workers=1, progress=False)
    assert second[0].agent_hash == new_hash
    assert not np.array_equal(second[0].trajectory.poses, first[0].trajectory.poses)
