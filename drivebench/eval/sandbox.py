"""Outside code runs here: a policy process that sees observations and returns actions, limited from outside.

Submitted policies (a `module:callable`, a `file.py:callable`, an SB3 model file) are code, and code that runs where
the evaluation runs can patch the scoring, walk up to the env, or write the results database. So outside code never
runs in drivebench's own processes: `SandboxedPolicy` starts `sandbox_child.py` in a process of its own and talks
to it over a pipe (observation in, action out; a fixed binary format, nothing unpickled). The env, the episode seed,
the metrics and the score stay in the harness's worker; the database stays in the main process.

How far the process is shut off depends on the machine (`isolation()`, probed once per process):
- as root, with util-linux's `unshare` and `setpriv` (Debian has both): new PID, mount and network namespaces (it
  sees only its own processes, has no network, and everything it starts dies with it) and the unprivileged user
  `nobody` with one capability, reading files (so it can load a policy from any folder), never writing them:
  the database, the project and the demos are read-only to it, and it cannot signal or trace drivebench's
  processes;
- otherwise: its own session, as the same user. Said in the log; run as root for the full isolation.
Either way it gets hard resource limits (`Limits`: memory, processes, file size, open files, CPU) before any outside
code runs, and its time is measured from outside: a policy that spends its per-episode wall or CPU time is killed
with everything it started, the episode ends invalid with the reason, and the next episode gets a fresh process.
After `consecutive_timeouts` such episodes in a row, or once the whole evaluation has run `submission_seconds`,
the evaluation stops (`stop_reason`): the harness runs no more episodes of it and says why.
"""
from __future__ import annotations

import functools
import json
import os
import pwd
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivebench.core.rollout import PolicyFailure
from drivebench.errors import DrivebenchError

CHILD = Path(__file__).with_name("sandbox_child.py")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Limits:
    """What outside code may use. The same for every evaluation of outside code (`drivebench evaluate` and
    `drivebench submit`), so a stored episode means the same whichever command made it."""

    episode_seconds: float = 20.0
    """wall time the policy may spend choosing its actions in one episode [s]: about 100x what the trained
    agents need"""
    episode_cpu_seconds: float = 20.0
    """CPU time of the policy's process in one episode [s]"""
    startup_seconds: float = 120.0
    """wall time to start the process and load the policy [s] (not counted in the episode)"""
    submission_seconds: float = 2 * 3600.0
    """wall time of one whole evaluation of outside code (every episode of a submission) [s]"""
    consecutive_timeouts: int = 3
    """episodes in a row that run out of time before the evaluation stops (a policy that hangs every episode)"""
    memory_bytes: int = 4 << 30
    """address space of the policy's process [bytes] (RLIMIT_AS; importing torch reserves about 1.2 GB)"""
    processes: int = 64
    """processes and threads of the sandbox user (RLIMIT_NPROC; not enforced for a process left as root)"""
    file_bytes: int = 64 << 20
    """largest file the policy may write [bytes] (RLIMIT_FSIZE)"""
    open_files: int = 256
    """file descriptors (RLIMIT_NOFILE)"""

    def rlimits(self, episodes: int) -> dict[str, int]:
        """The child's hard limits for a process that may run `episodes` episodes."""
        return {"RLIMIT_AS": self.memory_bytes, "RLIMIT_NPROC": self.processes, "RLIMIT_FSIZE": self.file_bytes,
                "RLIMIT_NOFILE": self.open_files, "RLIMIT_CORE": 0,
                "RLIMIT_CPU": int(self.startup_seconds + episodes * self.episode_cpu_seconds) + 1}


LIMITS = Limits()


# ---------------------------------------------------------------------------------------------- isolation
@dataclass(frozen=True)
class Isolation:
    prefix: tuple[str, ...]
    """the command the policy's python runs under (namespaces, user)"""
    uid: int | None
    """the user it runs as; None: this process's"""
    description: str


SANDBOX_USER = "nobody"


@functools.cache
def isolation() -> Isolation:
    """The strongest isolation this machine allows, tried once per process with a real start of python."""
    if os.geteuid() == 0 and shutil.which("setpriv") and shutil.which("unshare"):
        try:
            user = pwd.getpwnam(SANDBOX_USER)
            uid, gid = user.pw_uid, user.pw_gid
        except KeyError:
            uid = gid = 65534
        drop = ("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs",
                "--inh-caps=-all,+dac_read_search", "--ambient-caps=+dac_read_search",
                "--bounding-set=-all,+dac_read_search")
        namespaces = ("unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--net", "--")
        for prefix, what in [(namespaces + drop, "its own PID, mount and network namespaces"), (drop, "")]:
            probe = subprocess.run([*prefix, sys.executable, "-I", "-c", "import numpy"], capture_output=True,
                                   timeout=60, stdin=subprocess.DEVNULL)
            if probe.returncode == 0:
                where = f"{what}, " if what else ""
                return Isolation(prefix, uid, f"{where}user {SANDBOX_USER!r} (reads files, writes none of "
                                              "drivebench's), resource limits")
    return Isolation((), None, "its own session as this user (not root: no separate user or namespaces; the "
                               "policy could write what this user can), resource limits")


# ---------------------------------------------------------------------------------------------- one process
class _Process:
    """One running policy process: start (wait until it has loaded the policy), ask for actions, kill."""

    def __init__(self, agent: str, limits: Limits, episodes: int):
        self.iso, self.limits = isolation(), limits
        self.home = Path(tempfile.mkdtemp(prefix="drivebench-sandbox-"))
        if self.iso.uid is not None:
            os.chown(self.home, self.iso.uid, -1)
        setup = {"agent": agent, "limits": limits.rlimits(episodes),
                 "path": [str(Path(p).resolve()) if p else os.getcwd() for p in sys.path]}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "TMPDIR": str(self.home),
               "MPLCONFIGDIR": str(self.home), "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1"}
        env.update({k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ})
        self.proc = subprocess.Popen([*self.iso.prefix, sys.executable, "-I", str(CHILD), json.dumps(setup)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, start_new_session=True, close_fds=True)
        self._finalizer = weakref.finalize(self, _kill, self.proc, self.home)
        self.cpu_pid = None  # the python process whose CPU time is measured (inside the namespaces if any)
        self.wire_in, self.wire_out = self.proc.stdout.fileno(), self.proc.stdin

    def wait_ready(self, seconds: float) -> str | None:
        """None once the policy is loaded; else why not (the load error, or a timeout)."""
        deadline = time.monotonic() + seconds
        tag = self._recv(1, deadline)
        if tag == b"R":
            self.cpu_pid = _python_pid(self.proc, self.iso)
            return None
        if tag == b"F":
            return self._recv_text(deadline)
        raise PolicyFailure(f"the policy's process broke the protocol while loading (sent {tag!r})")

    def new_episode(self) -> None:
        self._send(b"E")

    def act(self, obs: np.ndarray, deadline: float) -> np.ndarray:
        data = np.ascontiguousarray(obs, dtype="<f4").tobytes()
        self._send(b"O" + struct.pack("<I", len(data) // 4) + data)
        tag = self._recv(1, deadline)
        if tag == b"X":
            raise PolicyFailure(f"the policy raised {self._recv_text(deadline)}")
        if tag != b"A":
            raise PolicyFailure(f"the policy's process broke the protocol (sent {tag!r})")
        (ndim,) = struct.unpack("<B", self._recv(1, deadline))
        shape = struct.unpack(f"<{ndim}I", self._recv(4 * ndim, deadline))
        size = int(np.prod(shape, dtype=np.int64))
        if size > 1024:
            raise PolicyFailure(f"the action has shape {tuple(shape)}, expected (2,) [acceleration, steering]")
        return np.frombuffer(self._recv(4 * size, deadline), dtype="<f4").reshape(shape).astype(np.float32)

    def cpu_seconds(self) -> float:
        """CPU time the policy's python process has used [s] (its threads included)."""
        if self.cpu_pid is None:
            return 0.0
        try:
            with open(f"/proc/{self.cpu_pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def kill(self) -> None:
        self._finalizer()

    def _send(self, data: bytes) -> None:
        try:
            self.wire_out.write(data)
            self.wire_out.flush()
        except (BrokenPipeError, OSError):
            raise PolicyFailure(self._death()) from None

    def _recv(self, n: int, deadline: float) -> bytes:
        data = b""
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.wire_in], [], [], left)[0]:
                raise _TimedOut
            chunk = os.read(self.wire_in, n - len(data))
            if not chunk:
                raise PolicyFailure(self._death())
            data += chunk
        return data

    def _recv_text(self, deadline: float) -> str:
        (n,) = struct.unpack("<I", self._recv(4, deadline))
        return self._recv(min(n, 1 << 16), deadline).decode("utf-8", "replace")

    def _death(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        how = f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exited ({code})"
        return (f"the policy's process {how}: it exited, or went over a limit ({self.limits.memory_bytes >> 20} MiB "
                f"of memory, {self.limits.processes} processes)")


class _TimedOut(Exception):
    pass


def _kill(proc: subprocess.Popen, home: Path) -> None:
    """Kill the policy's process and everything it started: with a PID namespace, killing `unshare` kills its
    init (--kill-child) and the kernel kills the rest; without, the process group (it is a session leader)."""
    for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), lambda: proc.kill()):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass
    shutil.rmtree(home, ignore_errors=True)


def _python_pid(proc: subprocess.Popen, iso: Isolation) -> int | None:
    """The policy's python process: the one `unshare --fork` started (its only child), or the Popen'd process
    itself (setpriv and plain starts exec python in place). None if it cannot be found."""
    if iso.prefix[:1] != ("unshare",):
        return proc.pid
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(path.read_bytes().rsplit(b")", 1)[1].split()[1]) == proc.pid:
                return int(path.parent.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


# ---------------------------------------------------------------------------------------------- the policy
class SandboxedPolicy:
    """An outside policy as the harness drives it: `reset(seed)` before each episode (the seed is not passed on),
    `act(env, obs)` for each step (only `obs` is passed on), `close()` at the end. Time is counted per episode
    from here; a timeout kills the process, which the next episode restarts. `stop_file`: shared by the chunks of
    one evaluation, which count their timeouts in a row beside it and stop there (see `stop_reason`)."""

    def __init__(self, agent: str, limits: Limits = LIMITS, *, episodes: int = 1, stop_file: Path | None = None):
        self.agent, self.limits, self.episodes, self.stop_file = agent, limits, episodes, stop_file
        self.process: _Process | None = None
        self.load_error: str | None = None
        self.spent = self.cpu_start = 0.0  # this episode's wall time [s]; the process's CPU time at its start [s]
        self.in_episode = self.timed_out = False

    def check_loads(self) -> None:
        """Start the process once and stop it: DrivebenchError if the policy cannot be loaded."""
        try:
            self._start()
        except PolicyFailure as err:
            raise DrivebenchError(str(err)) from None
        finally:
            self._stop_process()
        if self.load_error:
            raise DrivebenchError(self.load_error)

    def reset(self, seed: int) -> None:
        self._end_episode()
        self.in_episode, self.spent = True, 0.0
        if self.process is not None:
            try:
                self.process.new_episode()
                self.cpu_start = self.process.cpu_seconds()
            except PolicyFailure:
                self._stop_process()  # it died between episodes: the next act starts another

    def act(self, env, obs) -> np.ndarray:
        self._start()
        if self.load_error:
            raise PolicyFailure(self.load_error)
        start = time.monotonic()
        try:
            action = self.process.act(obs, start + self.limits.episode_seconds - self.spent)
        except _TimedOut:
            raise self._timeout(f"spent its {self.limits.episode_seconds:g} s per-episode time limit") from None
        except PolicyFailure:
            self._stop_process()
            raise
        finally:
            self.spent += time.monotonic() - start
        if self.process.cpu_seconds() - self.cpu_start > self.limits.episode_cpu_seconds:
            raise self._timeout(f"spent its {self.limits.episode_cpu_seconds:g} s per-episode CPU time limit")
        return action

    def close(self) -> None:
        self._end_episode()
        self._stop_process()

    def _start(self) -> None:
        if self.process is not None or self.load_error:
            return
        self.process = _Process(self.agent, self.limits, self.episodes)
        try:
            self.load_error = self.process.wait_ready(self.limits.startup_seconds)
        except _TimedOut:
            raise self._timeout(f"did not load within {self.limits.startup_seconds:g} s") from None
        except PolicyFailure:
            self._stop_process()
            raise
        if self.load_error:
            self._stop_process()
            return
        self.cpu_start = self.process.cpu_seconds()

    def _stop_process(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process = None

    def _timeout(self, what: str) -> PolicyFailure:
        """Kill the process and count the episode as timed out: the evaluation stops after too many in a row."""
        self._stop_process()
        if not self.timed_out and self.stop_file is not None:
            with open(_timeouts_file(self.stop_file), "ab") as counter:
                counter.write(b"t")
                in_a_row = counter.tell()
            if in_a_row >= self.limits.consecutive_timeouts:
                request_stop(self.stop_file, f"the policy ran out of time in {in_a_row} episodes in a row")
        self.timed_out = True
        return PolicyFailure(f"PolicyTimeout: the policy {what} (its process was killed)")

    def _end_episode(self) -> None:
        if self.in_episode and not self.timed_out and self.stop_file is not None:
            _timeouts_file(self.stop_file).write_bytes(b"")  # an episode in time: the count starts again
        self.in_episode = self.timed_out = False


def _timeouts_file(stop_file: Path) -> Path:
    return stop_file.with_name(stop_file.name + ".timeouts")


# ---------------------------------------------------------------------------------------------- stopping
def request_stop(stop_file: Path, reason: str) -> None:
    """Ask every chunk of an evaluation to run no more episodes (the first reason is kept)."""
    try:
        with open(stop_file, "x") as f:
            f.write(reason)
    except FileExistsError:
        pass


def stop_reason(stop_file: Path | None) -> str | None:
    """Why the evaluation sharing `stop_file` was stopped, or None."""
    if stop_file is None:
        return None
    try:
        return Path(stop_file).read_text() or "stopped"
    except OSError:
        return None
