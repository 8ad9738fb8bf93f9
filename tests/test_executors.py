"""drivebench.executors: the same results whatever the backend and worker count, retries of tasks that raised or
whose worker died, then a failure that names the task; the ray backend gives the harness the local records."""
from __future__ import annotations

import logging
import os
import signal
import sys

import pytest

from drivebench.errors import DrivebenchError
from drivebench.eval.harness import Request, evaluate_many
from drivebench.executors import LocalExecutor, TaskFailed, make_executor
from drivebench.results.db import ResultsDB

TASKS = [(x,) for x in range(8)]
SQUARES = {i: x * x for i, (x,) in enumerate(TASKS)}
SEEDS = [1_000_003, 1_000_000, 1_000_002, 1_000_001]  # not sorted
REQUESTS = [Request("expert:cautious", "curve-gentle"), Request("random", "curve-gentle")]


# tasks: module-level, so that worker processes can import them
def square(x: int) -> int:
    return x * x


def raises(log: str, x: int) -> int:
    """Fails on every call for x == 3; appends x to `log` for every call."""
    with open(log, "a") as f:
        f.write(f"{x}\n")
    if x == 3:
        raise ValueError(f"no good: {x}")
    return x * x


def first_call_fails(marker: str, x: int, kill: bool) -> int:
    """For x == 2, the first call (no `marker` file yet) raises, or kills its own process; later calls succeed."""
    if x == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        if kill:
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("first attempt fails")
    return x * x


def calls(log) -> list[int]:
    return [int(line) for line in log.read_text().split()]


# ---------------------------------------------------------------------------------------------- local
@pytest.mark.parametrize("workers", [1, 2])
def test_local_gives_every_result_once(workers):
    with make_executor("local", workers) as executor:
        results = list(executor.map_unordered(square, TASKS))
    assert sorted(i for i, _ in results) == list(range(len(TASKS)))
    assert dict(results) == SQUARES


@pytest.mark.parametrize("workers", [1, 2])
def test_a_task_that_raises_is_retried_then_named(tmp_path, workers):
    log = tmp_path / "calls.txt"
    with make_executor("local", workers) as executor, pytest.raises(TaskFailed) as failed:
        list(executor.map_unordered(raises, [(str(log), x) for x in range(6)], retries=2))
    assert failed.value.index == 3 and failed.value.attempts == 3
    assert str(failed.value).startswith("task 3 failed 3 time(s); last error: ValueError: no good: 3")
    assert calls(log).count(3) == 3  # the first run and two retries


@pytest.mark.parametrize("workers", [1, 2])
def test_a_task_that_raised_once_succeeds_on_its_retry(tmp_path, workers):
    tasks = [(str(tmp_path / "marker"), x, False) for x in range(6)]
    with make_executor("local", workers) as executor:
        assert dict(executor.map_unordered(first_call_fails, tasks)) == {x: x * x for x in range(6)}
    assert (tmp_path / "marker").exists()  # it did fail once


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_worker_loses_only_its_task(tmp_path):
    """Task 2 kills its worker process on its first attempt: the pool breaks, is rebuilt, and every task's result
    comes back exactly once."""
    tasks = [(str(tmp_path / "marker"), x, True) for x in range(8)]
    with LocalExecutor(2) as executor:
        results = list(executor.map_unordered(first_call_fails, tasks, retries=1))
    assert (tmp_path / "marker").exists()  # the worker was killed
    assert sorted(i for i, _ in results) == list(range(8))
    assert dict(results) == {x: x * x for x in range(8)}


def test_user_mistakes_are_named():
    with pytest.raises(DrivebenchError, match="unknown backend 'spark'; known: local, ray"):
        make_executor("spark")
    with pytest.raises(DrivebenchError, match="--address is for the ray backend"):
        make_executor("local", address="10.0.0.1:6379")


def test_the_ray_backend_without_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(DrivebenchError, match=r'pip install -e "\.\[ray\]"'):
        make_executor("ray")


# ---------------------------------------------------------------------------------------------- ray
@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance of 2 CPUs for this module; executors made meanwhile use it and leave it running."""
    ray = pytest.importorskip("ray", reason='ray is not installed (pip install -e ".[ray]"; CI installs it)')
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False)
    this = sys.modules[__name__]  # Ray workers cannot import tests/: send this module's task functions by value
    ray.cloudpickle.register_pickle_by_value(this)
    yield ray
    ray.cloudpickle.unregister_pickle_by_value(this)
    ray.shutdown()


def test_ray_gives_the_records_of_local(ray_instance, tmp_path, assert_same_record):
    """A small evaluation (an expert and the random policy on curve-gentle, 4 seeds) on Ray, written to a results
    database by this process, equals the local in-process evaluation record for record: identity fields, every
    metric and every trajectory array."""
    local = evaluate_many(REQUESTS, seeds=SEEDS, workers=1, progress=False)
    with ResultsDB(tmp_path / "results.db") as db:
        remote = evaluate_many(REQUESTS, seeds=SEEDS, workers=2, db=db, progress=False, backend="ray")
        assert db.count() == len(REQUESTS) * len(SEEDS)
    assert ray_instance.is_initialized()  # the executor left the instance it did not start
    for request in REQUESTS:
        assert [r.seed for r in remote[request]] == SEEDS
        for a, b in zip(local[request], remote[request]):
            assert_same_record(a, b)


def test_ray_retries_a_task_that_raises_then_names_it(ray_instance, tmp_path):
    log = tmp_path / "calls.txt"
    with make_executor("ray") as executor:
        assert executor.workers == 2
        with pytest.raises(TaskFailed, match=r"task 3 failed 2 time\(s\); last error: ValueError: no good: 3"):
            list(executor.map_unordered(raises, [(str(log), x) for x in range(6)], retries=1))
        tasks = [(str(tmp_path / "marker"), x, False) for x in range(6)]
        assert dict(executor.map_unordered(first_call_fails, tasks)) == {x: x * x for x in range(6)}
    assert calls(log).count(3) == 2


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_ray_reruns_the_task_of_a_killed_worker(ray_instance, tmp_path):
    tasks = [(str(tmp_path / "marker"), x, True) for x in range(6)]
    with make_executor("ray") as executor:
        assert dict(executor.map_unordered(first_call_fails, tasks)) == {x: x * x for x in range(6)}
    assert (tmp_path / "marker").exists()


def test_the_harness_names_the_chunk_that_failed(monkeypatch):
    from drivebench.eval import harness

    def broken(*task):
        raise OSError("disk on fire")

    monkeypatch.setattr(harness, "run_chunk", broken)
    monkeypatch.setattr(harness, "CHUNKS_PER_WORKER", 1)  # one chunk of the four seeds
    with pytest.raises(TaskFailed, match=r"evaluating expert:cautious on curve-gentle \(none:0\), seeds 1000003, "
                                         r"1000000, 1000002 and 1 more failed 2 time\(s\); last error: OSError: "
                                         r"disk on fire"):
        evaluate_many(REQUESTS[:1], seeds=SEEDS, workers=1, progress=False)


def test_the_local_backend_refuses_far_more_workers_than_cores():
    import os

    from drivebench.errors import DrivebenchError
    from drivebench.executors import MAX_WORKERS_PER_CORE, make_executor

    with pytest.raises(DrivebenchError, match="--workers 1000: this machine has"):
        make_executor("local", 1000)
    make_executor("local", MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)).close()
