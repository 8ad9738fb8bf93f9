"""Outside code runs here: a policy process that sees observations and returns actions, limited from outside.

Submitted policies (a `module:callable`, a `file.py:callable`, an SB3 model file) are code, and code that runs where
the evaluation runs can patch the scoring, walk up to the env, or write the results database. So outside code never
runs in drivebench's own processes: `SandboxedPolicy` starts `sandbox_child.py` in a process of its own and talks
to it over a pipe (observation in, action out; a fixed binary format, nothing unpickled). The env, the episode seed,
the metrics and the score stay in the harness's worker; the database stays in the main process.

How far the process is shut off depends on the machine (`isolation()`, probed once per process):
- as root, with util-linux's `unshare` and `setpriv` (Debian has both): new PID, mount and network namespaces (it
  sees only its own processes, has no network and a private /dev/shm; everything it starts dies with it) and a user
  of its own (a uid no account has; `nobody` where the machine allows no other) with one capability, reading files
  (so it can load a policy from any folder), never writing them: the database, the project and the demos are
  read-only to it, and it cannot signal or trace drivebench's processes. As root, outside code never runs as root:
  if no way to drop root works, `isolation()` raises;
- as another user: its own session as that user (it could write what that user can). Said in the log.
Either way it gets hard resource limits (`Limits`: memory, processes, file size, open files, CPU) before any outside
code runs, and its time is measured from outside: a policy that spends its per-episode wall or CPU time is killed
with everything it started, the episode ends invalid with the reason, and the next episode gets a fresh process.
After `consecutive_timeouts` such episodes in a row, or once the whole evaluation has run `submission_seconds`,
the evaluation stops (`stop_reason`): the harness runs no more episodes of it and says why.
"""
from __future__ import annotations

import functools
import json
import math
import os
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
MAX_ACTION_VALUES = 1024  # an action of more numbers is refused before it is read


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
    namespaces: bool
    """own PID, mount and network namespaces (`unshare`)"""
    unique_uids: bool
    """each policy process runs as a user of its own (`setpriv`), so what is its is known by its uid; False with
    `dropped`: as `nobody`, shared by every policy process of the machine"""
    dropped: bool
    """runs as another, unprivileged user"""
    description: str

    def prefix(self, uid: int | None) -> tuple[str, ...]:
        """The command a policy's python runs under, as user `uid`."""
        drop = ("setpriv", f"--reuid={uid}", f"--regid={uid if self.unique_uids else NOGROUP}", "--clear-groups",
                "--no-new-privs", "--pdeathsig=KILL", "--inh-caps=-all,+dac_read_search",
                "--ambient-caps=+dac_read_search", "--bounding-set=-all,+dac_read_search") if self.dropped else ()
        if not self.namespaces:
            return drop
        # a private /dev/shm (RAM, kept after a kill otherwise) before dropping root
        return ("unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--net", "--", "sh", "-c",
                f'mount -t tmpfs -o size={SHM_BYTES} tmpfs /dev/shm && exec "$@"', "sh", *drop)


UID_BASE, UID_SPAN = 1_000_000_000, 1_000_000_000
"""Policy processes run as users UID_BASE + k (no account: just ids no one else has) when the machine allows."""
NOBODY, NOGROUP = 65534, 65534
SHM_BYTES = 64 << 20
_started = 0  # policy processes started by this process (their uids differ)


def _next_uid(iso: Isolation) -> int | None:
    global _started
    if not iso.dropped:
        return None
    if not iso.unique_uids:
        return NOBODY
    _started += 1
    return UID_BASE + (os.getpid() * 256 + _started % 256) % UID_SPAN


@functools.cache
def isolation() -> Isolation:
    """The strongest isolation this machine allows, tried once per process with a real start of python. As root,
    outside code only ever runs as another user: if no way to drop root works, this raises (DrivebenchError)."""
    if os.geteuid() != 0:
        return Isolation(False, False, False, "its own session as this user (run as root for a separate user and "
                                              "namespaces: as this user the policy could write what you can)")
    tried = []
    if shutil.which("setpriv"):
        for namespaces, unique in [(True, True), (False, True), (True, False), (False, False)]:
            if namespaces and not shutil.which("unshare"):
                continue
            iso = Isolation(namespaces, unique, True, "")
            uid = UID_BASE if unique else NOBODY
            try:
                probe = subprocess.run([*iso.prefix(uid), sys.executable, "-I", "-c", "import numpy"],
                                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as err:
                tried.append(f"{' '.join(iso.prefix(uid)[:1])}: {err}")
                continue
            if probe.returncode == 0:
                who = "a user of its own" if unique else "the user nobody"
                where = "its own PID, mount and network namespaces, " if namespaces else ""
                return Isolation(namespaces, unique, True, f"{where}{who} (reads files, writes none of drivebench's)")
            tried.append(probe.stderr.decode(errors="replace").strip()[-300:])
    raise DrivebenchError("drivebench runs as root here, and runs outside code only as an unprivileged user, but no "
                          "way to drop root worked (util-linux's setpriv and unshare: " +
                          ("; ".join(dict.fromkeys(t for t in tried if t)) or "setpriv not found") +
                          "); run drivebench as an ordinary user, or give it CAP_SETUID and CAP_SYS_ADMIN")


# ---------------------------------------------------------------------------------------------- one process
class _Process:
    """One running policy process: start (wait until it has loaded the policy), ask for actions, kill."""

    def __init__(self, agent: str, limits: Limits, episodes: int):
        self.iso, self.limits = isolation(), limits
        self.uid = _next_uid(self.iso)
        self.home = Path(tempfile.mkdtemp(prefix="drivebench-sandbox-"))
        if self.uid is not None:
            os.chown(self.home, self.uid, -1)
        setup = {"agent": agent, "limits": limits.rlimits(episodes),
                 "path": [str(Path(p).resolve()) if p else os.getcwd() for p in sys.path]}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "TMPDIR": str(self.home),
               "MPLCONFIGDIR": str(self.home), "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1"}
        env.update({k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ})
        self.proc = subprocess.Popen([*self.iso.prefix(self.uid), sys.executable, "-I", str(CHILD),
                                      json.dumps(setup)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, start_new_session=True, close_fds=True)
        self.pids: list[int] = []  # the policy's python process, once known: killed on its own as well
        self._finalizer = weakref.finalize(self, _kill, self.proc, self.pids, self.home,
                                           self.uid if self.iso.unique_uids else None)
        self.cpu_pid = None  # the python process whose CPU time is measured (inside the namespaces if any)
        self.wire_in, self.wire_out = self.proc.stdout.fileno(), self.proc.stdin.fileno()
        os.set_blocking(self.wire_out, False)  # a child that stops reading cannot block the parent's writes

    def wait_ready(self, seconds: float) -> str | None:
        """None once the policy is loaded; else why not (the load error, or a timeout)."""
        deadline = time.monotonic() + seconds
        tag = self._recv(1, deadline)
        if tag == b"R":
            self.cpu_pid = _python_pid(self.proc, self.iso)
            if self.cpu_pid is not None:
                self.pids.append(self.cpu_pid)
            return None
        if tag == b"F":
            return self._recv_text(deadline)
        raise PolicyFailure(f"the policy's process broke the protocol while loading (sent {tag!r})")

    def new_episode(self, deadline: float) -> None:
        self._send(b"E", deadline)

    def act(self, obs: np.ndarray, deadline: float) -> np.ndarray:
        data = np.ascontiguousarray(obs, dtype="<f4").tobytes()
        self._send(b"O" + struct.pack("<I", len(data) // 4) + data, deadline)
        tag = self._recv(1, deadline)
        if tag == b"X":
            raise PolicyFailure(f"the policy raised {self._recv_text(deadline)}")
        if tag != b"A":
            raise PolicyFailure(f"the policy's process broke the protocol (sent {tag!r})")
        (ndim,) = struct.unpack("<B", self._recv(1, deadline))
        shape = struct.unpack(f"<{ndim}I", self._recv(4 * ndim, deadline))
        size = math.prod(shape)
        if size > MAX_ACTION_VALUES:
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

    def _send(self, data: bytes, deadline: float) -> None:
        while data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [self.wire_out], [], left)[1]:
                raise _TimedOut  # it stopped reading: as if it had stopped answering
            try:
                data = data[os.write(self.wire_out, data):]
            except BlockingIOError:
                continue
            except OSError:
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


def _kill(proc: subprocess.Popen, pids: list[int], home: Path, uid: int | None) -> None:
    """Kill the policy's process and everything it started, and remove what it left: its python process (with a PID
    namespace, that namespace's init: the kernel kills every process in it), the process group it started in, and,
    where the user is its own, every process of that user and its files in the shared temporary folders."""
    for target in [*(lambda pid=pid: os.kill(pid, signal.SIGKILL) for pid in pids),
                   lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill]:
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass
    if uid is not None:
        _kill_user(uid)
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
    if uid is not None:
        _remove_files_of(uid, (Path(tempfile.gettempdir()), Path("/var/tmp"), Path("/dev/shm")))


def _kill_user(uid: int, rounds: int = 20) -> None:
    """SIGKILL every process whose real user is `uid` (a policy process's own), until none is left."""
    for _ in range(rounds):
        found = False
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                line = next(x for x in status.read_text().splitlines() if x.startswith("Uid:"))
                if int(line.split()[1]) == uid:
                    found = True
                    os.kill(int(status.parent.name), signal.SIGKILL)
            except (OSError, StopIteration, ValueError):
                continue
        if not found:
            return
        time.sleep(0.01)


def _remove_files_of(uid: int, folders) -> None:
    """Remove what user `uid` left at the top of `folders`."""
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue


def _python_pid(proc: subprocess.Popen, iso: Isolation) -> int | None:
    """The policy's python process: the one `unshare --fork` started (its only child), or the Popen'd process
    itself (setpriv and plain starts exec python in place). None if it cannot be found."""
    if not iso.namespaces:
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
                self.process.new_episode(time.monotonic() + self.limits.episode_seconds)
                self.cpu_start = self.process.cpu_seconds()
            except _TimedOut:
                self._stop_process()
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
            try:
                with open(_timeouts_file(self.stop_file), "ab") as counter:
                    counter.write(b"t")
                    in_a_row = counter.tell()
            except OSError:  # no shared folder (a Ray worker on another node): this chunk counts alone
                in_a_row = 0
            if in_a_row >= self.limits.consecutive_timeouts:
                request_stop(self.stop_file, f"the policy ran out of time in {in_a_row} episodes in a row")
        self.timed_out = True
        return PolicyFailure(f"PolicyTimeout: the policy {what} (its process was killed)")

    def _end_episode(self) -> None:
        if self.in_episode and not self.timed_out and self.stop_file is not None:
            try:
                _timeouts_file(self.stop_file).write_bytes(b"")  # an episode in time: the count starts again
            except OSError:
                pass
        self.in_episode = self.timed_out = False


def _timeouts_file(stop_file: Path) -> Path:
    return stop_file.with_name(stop_file.name + ".timeouts")


# ---------------------------------------------------------------------------------------------- stopping
def request_stop(stop_file: Path, reason: str) -> None:
    """Ask every chunk of an evaluation to run no more episodes (the first reason is kept)."""
    try:
        with open(stop_file, "x") as f:
            f.write(reason)
    except OSError:  # stopped already, or no shared folder
        pass


def stop_reason(stop_file: Path | None) -> str | None:
    """Why the evaluation sharing `stop_file` was stopped, or None."""
    if stop_file is None:
        return None
    try:
        return Path(stop_file).read_text() or "stopped"
    except OSError:
        return None
