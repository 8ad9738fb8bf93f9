"""drivebench.eval.sandbox: outside code runs in a process of its own, out of reach of the env, the scoring and the
database, limited from outside. Each hostile policy below tries what issue 17 found possible before."""
from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from drivebench.core.rollout import PolicyFailure
from drivebench.errors import DrivebenchError
from drivebench.eval import sandbox
from drivebench.eval.harness import EvaluationStopped, Request, evaluate_many
from drivebench.eval.policies import is_outside_code, load_policy
from drivebench.eval.shifts import NONE
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry
from drivebench.seeds import eval_seeds

HOSTILE = '''
import gc
import inspect
import os
import sqlite3
import sys
import time

import numpy as np

DB = {db!r}


def straight(obs):
    return np.array([0.3, 0.0], dtype=np.float32)


def patches_the_score(obs):
    """Replaces the scoring with one that gives 100, as a policy in the evaluator's process could."""
    import drivebench.eval.score as score
    import drivebench.eval.metrics as metrics
    score.driving_score = lambda *args, **kwargs: 100.0
    metrics.driving_score = score.driving_score
    return straight(obs)


def writes_the_database(obs):
    """Tries to zero every other entry's episodes and to leave a file beside the database."""
    for attempt in (lambda: sqlite3.connect(DB).execute("DELETE FROM episodes").connection.commit(),
                    lambda: open(DB + ".forged", "w").write("x"),
                    lambda: open(DB, "r+b").write(b"garbage")):
        try:
            attempt()
        except Exception:
            pass
    return straight(obs)


def walks_the_stack(obs):
    """Looks for the env (and the episode seed) in its callers' frames and in every object of its process."""
    found = [f for f in inspect.stack() if "env" in f.frame.f_locals or "seed" in f.frame.f_locals]
    found += [o for o in gc.get_objects() if type(o).__name__.endswith("Env")]
    if found:
        raise RuntimeError(f"found {{len(found)}} ways to the env")
    return straight(obs)


def catches_the_timeout(obs):
    while True:
        try:
            time.sleep(60)
        except BaseException:
            pass


def forks(obs):
    """Starts a daemon (double fork, new session) that would outlive the submission."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "4321.5"])
        os._exit(0)
    return straight(obs)


def allocates(obs):
    np.ones(20 * 2**30 // 8)  # 20 GB
    return straight(obs)


def stops_reading(obs):
    """Answers every observation to come at once, from a thread, then never reads another: the evaluator's writes
    would block once the pipe is full."""
    import struct
    import threading

    reply = b"A" + struct.pack("<BI", 1, 2) + np.zeros(2, "<f4").tobytes()

    def answer():
        while True:
            os.write(3, reply * 64)

    threading.Thread(target=answer, daemon=True).start()
    time.sleep(10**6)


def leaves_its_group(obs):
    """Leaves the process group it was started in, with a child, so that killing the group misses both."""
    if os.getpgrp() != os.getpid():
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "4321.7"])
    return straight(obs)


def spins(obs):
    """Returns in time, but burns 0.3 s of CPU per action."""
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    return straight(obs)


def uses_the_network(obs):
    import socket
    socket.create_connection(("127.0.0.1", 9), timeout=1)
    return straight(obs)
'''


@pytest.fixture
def hostile(tmp_path):
    """(path of the policy file, path of the results database its policies attack)."""
    db = tmp_path / "results.db"
    path = tmp_path / "hostile.py"
    path.write_text(textwrap.dedent(HOSTILE.format(db=str(db))))
    return path, db


def evaluate(agent: str, db: ResultsDB, seeds, limits=sandbox.LIMITS, scenario="curve-gentle"):
    request = Request(agent, scenario, NONE)
    return evaluate_many([request], seeds=seeds, workers=1, db=db, progress=False, limits=limits)[request]


def scores(records) -> list[float]:
    return [r.metrics.driving_score for r in records]


SEEDS = eval_seeds(3)
isolated = pytest.mark.skipif(os.geteuid() != 0, reason="a separate user and namespaces need root; as another user "
                                                        "the sandbox is the same user (README, Submissions)")


def test_outside_code_is_recognised():
    assert is_outside_code("my.module:act") and is_outside_code("x/policy.py:act") and is_outside_code("m.zip")
    assert not is_outside_code("expert:cautious") and not is_outside_code("random")


def test_a_policy_that_patches_the_scoring_scores_what_its_actions_score(hostile):
    path, db_path = hostile
    with ResultsDB(db_path) as db:
        honest = evaluate(f"{path}:straight", db, SEEDS)
        patched = evaluate(f"{path}:patches_the_score", db, SEEDS)
    assert scores(patched) == scores(honest)
    assert max(scores(honest)) < 100.0  # so the patch would have shown
    assert [r.metrics.termination for r in patched] == [r.metrics.termination for r in honest]
    assert "hostile" not in " ".join(sys.modules)  # the policy file was never imported here


@isolated
def test_a_policy_cannot_write_the_database(hostile):
    path, db_path = hostile
    with ResultsDB(db_path) as db:
        evaluate("random", db, SEEDS)
        before = db.count()
        records = evaluate(f"{path}:writes_the_database", db, SEEDS)
        assert db.count() == before + len(SEEDS)
        assert len(db.dataframe(agent="random")) == len(SEEDS)
    assert not any(r.invalid_reason for r in records)
    assert not Path(f"{db_path}.forged").exists()


def test_a_policy_finds_no_env_and_no_seed_in_its_process(hostile):
    path, db_path = hostile
    with ResultsDB(db_path) as db:
        records = evaluate(f"{path}:walks_the_stack", db, SEEDS)
    assert [r.invalid_reason for r in records] == [""] * len(SEEDS)


def test_a_policy_that_catches_the_timeout_is_killed_and_a_hanging_submission_stops(hostile):
    path, db_path = hostile
    limits = sandbox.Limits(episode_seconds=1.0, consecutive_timeouts=2)
    start = time.monotonic()
    with ResultsDB(db_path) as db:
        with pytest.raises(EvaluationStopped, match="ran out of time in 2 episodes in a row; 2 of 6 episodes ran"):
            evaluate(f"{path}:catches_the_timeout", db, eval_seeds(6), limits)
        stored = db.dataframe()
    assert time.monotonic() - start < 30
    assert len(stored) == 2 and (stored.termination == "invalid_action").all()
    assert stored.invalid_reason.str.contains("PolicyTimeout: the policy spent its 1 s per-episode time limit").all()


@isolated
def test_nothing_a_policy_starts_survives_it(hostile):
    path, db_path = hostile
    with ResultsDB(db_path) as db:
        evaluate(f"{path}:forks", db, SEEDS[:1])
    time.sleep(0.5)
    assert not _processes("sleep\x004321.5\x00")


@isolated
def test_a_policy_that_leaves_its_process_group_is_killed_all_the_same(hostile):
    path, _ = hostile
    policy = sandbox.SandboxedPolicy(f"{path}:leaves_its_group")
    policy.reset(0)
    policy.act(None, np.zeros(28, np.float32))
    for _ in range(50):  # until its child has started sleep
        if _processes("sleep\x004321.7\x00"):
            break
        time.sleep(0.1)
    assert _processes("sleep\x004321.7\x00") and _processes("leaves_its_group", exact=False)
    policy.close()
    time.sleep(0.5)
    assert not _processes("sleep\x004321.7\x00") and not _processes("leaves_its_group", exact=False)


def test_a_policy_that_stops_reading_its_observations_runs_out_of_time(hostile):
    path, _ = hostile
    policy = sandbox.SandboxedPolicy(f"{path}:stops_reading", sandbox.Limits(episode_seconds=2.0))
    policy.reset(0)
    start = time.monotonic()
    with pytest.raises(PolicyFailure, match="PolicyTimeout"):
        for _ in range(100_000):  # answered at once until the pipe to it is full
            policy.act(None, np.zeros(28, np.float32))
    assert time.monotonic() - start < 10
    policy.close()


def _processes(text: str, exact: bool = True) -> list[str]:
    pids = [pid for pid in os.listdir("/proc") if pid.isdigit()]
    return [pid for pid in pids if (_cmdline(pid) == text if exact else text in _cmdline(pid))]


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def test_a_policy_over_its_cpu_time_is_stopped_in_that_episode(hostile):
    path, _ = hostile
    policy = sandbox.SandboxedPolicy(f"{path}:spins", sandbox.Limits(episode_cpu_seconds=0.5, episode_seconds=60))
    policy.reset(0)
    policy.act(None, np.zeros(28, np.float32))
    with pytest.raises(PolicyFailure, match="spent its 0.5 s per-episode CPU time limit"):
        for _ in range(3):
            policy.act(None, np.zeros(28, np.float32))
    policy.reset(1)  # a new episode, a new allowance, a new process
    policy.act(None, np.zeros(28, np.float32))
    policy.close()


def test_a_policy_over_its_memory_limit_gets_invalid_episodes(hostile):
    path, db_path = hostile
    with ResultsDB(db_path) as db:
        records = evaluate(f"{path}:allocates", db, SEEDS[:2])
    assert all(r.metrics.termination == "invalid_action" for r in records)
    assert all("MemoryError" in r.invalid_reason for r in records), records[0].invalid_reason


def test_the_sandbox_as_root_drops_the_user_and_the_network(hostile):
    if os.geteuid() != 0:
        pytest.skip("the separate user and namespaces need root")
    assert sandbox.isolation().dropped and sandbox.isolation().namespaces
    path, _ = hostile
    policy = sandbox.SandboxedPolicy(f"{path}:uses_the_network")
    policy.reset(0)
    with pytest.raises(PolicyFailure, match="the policy raised OSError: .*Network is unreachable"):
        policy.act(None, np.zeros(28, np.float32))
    policy.close()


def test_a_policy_that_cannot_load_says_why_and_is_not_imported_here(tmp_path):
    (tmp_path / "broken.py").write_text("import numpy as np\nraise ImportError('needs my_lib')\n")
    policy = load_policy(f"{tmp_path / 'broken.py'}:act")
    with pytest.raises(DrivebenchError, match="cannot load policy .*ImportError: needs my_lib"):
        policy.check_scenario(registry.get("curve-gentle").spec)
    with pytest.raises(PolicyFailure, match="cannot load policy"):
        policy.act(None, np.zeros(28, np.float32))


def test_the_same_user_fallback_still_limits_time(hostile, monkeypatch):
    """Without root: its own session as the same user, still killed from outside when it hangs."""
    monkeypatch.setattr(sandbox, "isolation", lambda: sandbox.Isolation(False, False, False, "same user"))
    path, _ = hostile
    policy = sandbox.SandboxedPolicy(f"{path}:catches_the_timeout", sandbox.Limits(episode_seconds=0.5))
    policy.reset(0)
    with pytest.raises(PolicyFailure, match="PolicyTimeout"):
        policy.act(None, np.zeros(28, np.float32))
    assert policy.process is None  # killed; the next episode starts another
    honest = sandbox.SandboxedPolicy(f"{path}:straight")
    np.testing.assert_array_equal(honest.act(None, np.zeros(28, np.float32)), np.array([0.3, 0.0], np.float32))
    honest.close()


def test_as_root_outside_code_never_runs_as_root(monkeypatch):
    """A root whose machine allows no other user (no setpriv here) refuses to run outside code at all."""
    if os.geteuid() != 0:
        pytest.skip("about running as root")
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.isolation.cache_clear()
    try:
        with pytest.raises(DrivebenchError, match="runs outside code only as an unprivileged user"):
            sandbox.isolation()
    finally:
        monkeypatch.undo()
        sandbox.isolation.cache_clear()
