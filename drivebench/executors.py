"""Where tasks run: an executor calls `fn(*task)` for every task and yields each result as it completes.

Two backends behind one contract (`Executor.map_unordered`):

- `local` (the default, nothing to install): this process when there is one worker (or one task), else a pool of
  worker processes on this machine started by multiprocessing's forkserver;
- `ray` (`pip install -e ".[ray]"`): the Ray cluster at `address`, or a local Ray instance started for the executor
  and stopped by `close`.

A task whose worker died, or that raised, is run again up to `retries` times, then `TaskFailed` names it. Results
come back to the calling process, which alone stores them (the harness writes the results database there): each
task's result is yielded once, however often it ran. Results do not depend on the backend or the worker count as
long as a task is a deterministic function of its arguments (the harness seeds every episode).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from drivebench.errors import DrivebenchError

if TYPE_CHECKING:
    from typing import Self  # annotations only: not evaluated at run time (Python 3.10)

BACKENDS = ("local", "ray")
MAX_WORKERS_PER_CORE = 4
"""local worker processes allowed per core: more only compete for the same cores (and each holds its own memory)"""


class TaskFailed(DrivebenchError):
    """A task that still failed after its retries: names the task (by default its index) and its last error."""

    def __init__(self, index: int, reason: str, *, attempts: int, what: str | None = None):
        self.index = index  # position of the task in the list given to map_unordered
        self.reason = reason  # the last error, as "Type: message"
        self.attempts = attempts
        super().__init__(f"{what or f'task {index}'} failed {attempts} time(s); last error: {reason}")


def _reason(error: BaseException) -> str:
    if isinstance(error, BrokenProcessPool):
        return "its worker process died (killed, or out of memory)"
    return f"{type(error).__name__}: {error}"


class Executor:
    """Runs tasks on `workers` workers; use as a context manager, or call `close`."""

    workers: int

    def map_unordered(self, fn: Callable[..., Any], tasks: Sequence[tuple], *,
                      retries: int = 1) -> Iterator[tuple[int, Any]]:
        """fn(*task) for every task; yields (task index, result) as each completes. A task whose worker died or
        that raised is run again up to `retries` times; then TaskFailed is raised. `fn` must be importable by
        the workers (a module-level function)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers (and anything the executor started)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_executor(backend: str = "local", workers: int | None = None, address: str | None = None, *,
                  isolate: bool = False) -> Executor:
    """An executor of `backend` ("local" or "ray") with `workers` workers (default: this machine's cores, or the
    Ray cluster's CPUs); `address` is a Ray cluster's (ray only; without it a local Ray instance is started).
    `isolate`: never run tasks in this process, even with one worker (Ray never does)."""
    if backend == "local":
        if address is not None:
            raise DrivebenchError("--address is for the ray backend; add --backend ray")
        most = MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
        if workers is not None and workers > most:
            raise DrivebenchError(f"--workers {workers}: this machine has {os.cpu_count()} cores; the local backend "
                                  f"starts at most {most} worker processes ({MAX_WORKERS_PER_CORE} per core)")
        return LocalExecutor(workers, isolate=isolate)
    if backend == "ray":
        return RayExecutor(workers, address)
    raise DrivebenchError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")


class LocalExecutor(Executor):
    """This process (one worker, or one task) or a pool of worker processes on this machine.

    At most `workers` tasks are in the pool at once, so a worker's death (the whole pool breaks with it) costs an
    attempt only to the tasks then running; the pool is rebuilt and the tasks not yet finished run on."""

    def __init__(self, workers: int | None = None, *, isolate: bool = False):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.isolate = isolate
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, fn, tasks, *, retries=1):
        if (self.workers == 1 or len(tasks) == 1) and not self.isolate:
            return self._serial(fn, tasks, retries)
        return self._pooled(fn, tasks, retries)

    @staticmethod
    def _serial(fn, tasks, retries):
        for index, task in enumerate(tasks):
            for attempt in range(1, retries + 2):
                try:
                    result = fn(*task)
                    break
                except Exception as err:
                    if attempt > retries:
                        raise TaskFailed(index, _reason(err), attempts=attempt) from err
            yield index, result

    def _pooled(self, fn, tasks, retries):
        failures = [0] * len(tasks)
        waiting, running = deque(range(len(tasks))), {}  # running: Future -> task index
        while waiting or running:
            pool = self._start_pool()
            while waiting and len(running) < self.workers:
                index = waiting.popleft()
                running[pool.submit(fn, *tasks[index])] = index
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                done, _ = wait(running)  # the pool broke: every task in it ends now, finished or lost
                self._pool = None
                pool.shutdown(wait=False)
            for future in done:
                index, error = running.pop(future), future.exception()
                if error is None:
                    yield index, future.result()
                    continue
                failures[index] += 1
                if failures[index] > retries:
                    raise TaskFailed(index, _reason(error), attempts=failures[index]) from error
                waiting.appendleft(index)

    def _start_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["drivebench.eval.harness"])  # workers fork with drivebench imported
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Tasks as Ray tasks of one CPU each. A worker's (or node's) death is retried by Ray itself (`max_retries`,
    which also lets Ray recompute a result lost with its node); a task that raised is resubmitted here."""

    def __init__(self, workers: int | None = None, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise DrivebenchError('the ray backend needs Ray: pip install -e ".[ray]"') from None
        self._ray, self._started = ray, False
        if not ray.is_initialized():  # else use the instance this process already has
            quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
            if address is None:
                ray.init(address="local", num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, **quiet)
            else:
                ray.init(address=address, **quiet)
            self._started = True  # close() stops the local instance, or disconnects from the cluster
        self.workers = max(1, workers or int(ray.cluster_resources().get("CPU", 1)))

    def map_unordered(self, fn, tasks, *, retries=1):
        ray = self._ray
        remote = ray.remote(fn).options(num_cpus=1, max_retries=retries, retry_exceptions=False)
        failures = [0] * len(tasks)
        running = {remote.remote(*task): index for index, task in enumerate(tasks)}  # ObjectRef -> task index
        try:
            while running:
                [ref], _ = ray.wait(list(running), num_returns=1)
                index = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as err:  # fn raised
                    failures[index] += 1
                    if failures[index] > retries:
                        raise TaskFailed(index, _reason(err.cause), attempts=failures[index]) from err
                    running[remote.remote(*tasks[index])] = index
                    continue
                except ray.exceptions.RayError as err:  # its worker died more often than Ray retries
                    raise TaskFailed(index, _reason(err), attempts=failures[index] + retries + 1) from err
                yield index, result
        finally:
            for ref in running:  # a task failed, or the caller stopped early
                ray.cancel(ref)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
