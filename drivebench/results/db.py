"""The results database: one SQLite file holding every evaluated episode, one row per EpisodeRecord.

Schema (records.SCHEMA_VERSION). Table `episodes`: `key`, the sha256 of the record's identity
(`EpisodeRecord.key`) and the schema version; the identity and naming columns; one column per EpisodeMetrics
field (bool and int as INTEGER, float as REAL with NaN stored as NULL, str as TEXT); invalid_reason; the
trajectory as a BLOB (`encode_trajectory`); provenance: package versions (JSON), the repository's git revision,
the schema version and the UTC time the row was written. Table `meta` holds the schema version: a file of
another version is refused, never migrated. Table `entries` (its own version, ENTRIES_VERSION, in `meta`) maps
each leaderboard entry (bc, expert, a submission's name) to the agents that drive each scenario for it, one per
training run; the leaderboard is computed from the two.

Writes: each `add` is one transaction of INSERT OR IGNORE, so evaluating again adds only what is missing, and a
process killed mid-run leaves exactly the rows of its completed `add` calls. WAL mode lets a report read while
an evaluation writes; concurrent writers wait for each other up to BUSY_TIMEOUT.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sqlite3
import subprocess
import zlib
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime, timezone
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Iterable, Iterator, Sequence, get_type_hints

import numpy as np
import pandas as pd

from drivebench.errors import DrivebenchError
from drivebench.core.records import SCHEMA_VERSION, EpisodeMetrics, EpisodeRecord, Trajectory
from drivebench.paths import REPO_ROOT

BUSY_TIMEOUT = 60.0
"""How long a writer waits for another process's transaction to end [s]."""

PACKAGES = ("drivebench", "highway-env", "gymnasium", "stable-baselines3", "imitation", "torch", "numpy")
"""Packages whose versions each row records (those not installed are left out)."""

METRIC_TYPES: dict[str, type] = {f.name: get_type_hints(EpisodeMetrics)[f.name] for f in fields(EpisodeMetrics)}
"""EpisodeMetrics field name -> its Python type (bool, int, float or str)."""

_SQL_TYPES = {bool: "INTEGER", int: "INTEGER", float: "REAL", str: "TEXT"}
_DTYPES = {bool: "bool", int: "int64", float: "float64"}  # pandas dtypes of the non-text metric columns

COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "TEXT PRIMARY KEY"),
    ("agent", "TEXT NOT NULL"),
    ("agent_hash", "TEXT NOT NULL"),
    ("scenario", "TEXT NOT NULL"),
    ("scenario_hash", "TEXT NOT NULL"),
    ("shift", "TEXT NOT NULL"),
    ("level", "INTEGER NOT NULL"),
    ("seed", "INTEGER NOT NULL"),
    *((name, _SQL_TYPES[kind]) for name, kind in METRIC_TYPES.items()),
    ("invalid_reason", "TEXT NOT NULL"),
    ("trajectory", "BLOB NOT NULL"),
    ("versions", "TEXT NOT NULL"),
    ("git_rev", "TEXT NOT NULL"),
    ("schema_version", "INTEGER NOT NULL"),
    ("created_at", "TEXT NOT NULL"),
)
"""The `episodes` table: (name, SQL type) in column order."""

SCALAR_COLUMNS = tuple(name for name, _ in COLUMNS if name != "trajectory")
"""Every column but the trajectory blob: the columns of `ResultsDB.dataframe`."""

ENTRIES_TABLE = """CREATE TABLE IF NOT EXISTS entries (
    name TEXT NOT NULL, scenario TEXT NOT NULL, run INTEGER NOT NULL, agent TEXT NOT NULL,
    agent_hash TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (name, scenario, run))"""
"""The `entries` table: which agent (id and hash) stands for each leaderboard entry on each scenario in each of
its training runs (run 0, 1, ...; a baseline or a one-policy submission has run 0 only)."""

ENTRIES_VERSION = 2
"""Version of the `entries` table, in `meta` as `entries_version`. 1 (no `run` column: one agent per scenario) is
refused like another episode schema; the episodes table does not depend on it, so its rows keep their keys."""

_KEY_CHUNK = 500  # keys per `IN (...)` query, below SQLite's limit on bound parameters


def default_db_path() -> Path:
    """`$DRIVEBENCH_RESULTS_DB`, or `runs/results.db` in the repository."""
    return Path(os.environ.get("DRIVEBENCH_RESULTS_DB") or REPO_ROOT / "runs" / "results.db")


def episode_key(identity: tuple) -> str:
    """The row key of an episode: sha256 hex of its identity (`EpisodeRecord.key`: agent_hash, scenario_hash,
    shift, level, seed) and the schema version."""
    agent_hash, scenario_hash, shift, level, seed = identity
    text = json.dumps([str(agent_hash), str(scenario_hash), str(shift), int(level), int(seed), SCHEMA_VERSION])
    return hashlib.sha256(text.encode()).hexdigest()


def encode_trajectory(trajectory: Trajectory) -> bytes:
    """A trajectory as a compact, deterministic BLOB: zlib of a one-line JSON header (array shapes, signal
    names in order) followed by the little-endian float32 values of the poses and then each signal."""
    arrays = [np.asarray(trajectory.poses, "<f4"), *(np.asarray(v, "<f4") for v in trajectory.signals.values())]
    header = {"poses": arrays[0].shape, "signals": [[name, a.shape] for name, a in zip(trajectory.signals, arrays[1:])]}
    body = b"".join(a.tobytes() for a in arrays)
    return zlib.compress(json.dumps(header, separators=(",", ":")).encode() + b"\n" + body, 9)


def decode_trajectory(blob: bytes) -> Trajectory:
    """The inverse of `encode_trajectory`: float32 arrays equal to the encoded ones. ValueError, saying what is
    wrong, for a blob that is not one (damaged, truncated or of another format)."""
    try:
        header, body = zlib.decompress(blob).split(b"\n", 1)
        meta = json.loads(header)
        shapes = [tuple(meta["poses"]), *(tuple(shape) for _, shape in meta["signals"])]
        sizes = [math.prod(s) for s in shapes]
        if len(body) != 4 * sum(sizes) or any(not all(isinstance(d, int) and d >= 0 for d in s) for s in shapes):
            raise ValueError(f"the header's shapes {shapes} do not match the {len(body)} bytes of values")
        parts = np.split(np.frombuffer(body, "<f4"), np.cumsum(sizes)[:-1])
        poses, *signals = (part.reshape(shape).astype(np.float32) for part, shape in zip(parts, shapes))
        return Trajectory(poses, {str(name): values for (name, _), values in zip(meta["signals"], signals)})
    except ValueError:
        raise
    except (zlib.error, KeyError, TypeError, IndexError, AttributeError) as exc:  # (JSONDecodeError is a ValueError)
        raise ValueError(f"not an encoded trajectory ({type(exc).__name__}: {exc})") from None


class ResultsDB:
    """The results database in one SQLite file (see the module docstring); created with its folders if
    missing. Use it as a context manager, or call `close()`."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        if self.path.is_dir():
            raise DrivebenchError(f"{self.path} is a folder; --db takes the path of a results database file, "
                                  f"e.g. {self.path / 'results.db'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except (OSError, sqlite3.OperationalError) as exc:
            raise DrivebenchError(f"{self.path}: cannot open or create the results database ({exc}); give a "
                                  "writable file path with --db") from None
        try:
            self._open()
        except sqlite3.OperationalError as exc:
            self._conn.close()
            raise self._unusable(exc) from None
        except BaseException:
            self._conn.close()
            raise

    def _unusable(self, exc: sqlite3.OperationalError) -> DrivebenchError:
        return DrivebenchError(f"{self.path}: cannot use the results database ({exc}): is the file read-only, locked "
                               "by another process, or the disk full? Give a writable file path with --db")

    def _open(self) -> None:
        """Enable WAL, then create the schema, or check that the file's is this drivebench's."""
        advice = "use another --db path, or delete the file to evaluate again"
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            with self._transaction():
                self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is None:
                    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
                    self._conn.execute(f"CREATE TABLE IF NOT EXISTS episodes ({columns})")
                    self._conn.execute("CREATE INDEX IF NOT EXISTS episodes_by_run "
                                       "ON episodes (agent, scenario, shift, level, seed)")
                    self._conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                elif row[0] != str(SCHEMA_VERSION):
                    raise DrivebenchError(f"{self.path}: results database of schema version {row[0]}, this "
                                          f"drivebench uses version {SCHEMA_VERSION}; {advice}")
                self._check_entries(advice)
                found = [r[1] for r in self._conn.execute("PRAGMA table_info(episodes)")]
                if found != [name for name, _ in COLUMNS]:
                    raise DrivebenchError(f"{self.path}: the episodes table has other columns than this drivebench "
                                          f"writes (a metric changed without a new SCHEMA_VERSION?); {advice}")
        except sqlite3.OperationalError:
            raise  # locked, read-only, disk full: not a question of the file's contents
        except sqlite3.DatabaseError as exc:
            raise DrivebenchError(f"{self.path}: not a results database ({exc}); {advice}") from None

    def _check_entries(self, advice: str) -> None:
        """Create the entries table of ENTRIES_VERSION, or check that the file's is of it (inside `_open`'s
        transaction). A file without the version key is of version 1 if it has an entries table already."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'entries_version'").fetchone()
        version = row[0] if row else None
        if version is None:
            existing = self._conn.execute("PRAGMA table_info(entries)").fetchall()
            version = "1" if existing else str(ENTRIES_VERSION)
            if not existing:
                self._conn.execute(ENTRIES_TABLE)
                self._conn.execute("INSERT INTO meta VALUES ('entries_version', ?)", (str(ENTRIES_VERSION),))
        if version != str(ENTRIES_VERSION):
            raise DrivebenchError(f"{self.path}: results database whose leaderboard entries are of schema version "
                                  f"{version} (one agent per scenario), this drivebench uses version "
                                  f"{ENTRIES_VERSION} (one agent per scenario and training run); {advice}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: committed when the block ends, rolled back if it raises. A write SQLite refuses
        (a read-only file, a lock held past BUSY_TIMEOUT, a full disk) is a DrivebenchError saying so."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._unusable(exc) from None
        try:
            yield
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise self._unusable(exc) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise self._unusable(exc) from None

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already (it does after some errors: a full disk)."""
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def count(self) -> int:
        """Episodes stored. (Not `__len__`: an empty database would then be falsy.)"""
        return self._conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]

    def add(self, records: Iterable[EpisodeRecord]) -> int:
        """Store the episodes not stored yet, in one transaction; returns how many were new."""
        provenance = (json.dumps(_package_versions(), sort_keys=True), _git_rev(), SCHEMA_VERSION,
                      datetime.now(timezone.utc).isoformat(timespec="seconds"))
        rows = [_row(record) + provenance for record in records]  # encoded before the write lock is taken
        names = [name for name, _ in COLUMNS]
        sql = f"INSERT OR IGNORE INTO episodes ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        with self._transaction():
            before = self._conn.total_changes
            self._conn.executemany(sql, rows)
            return self._conn.total_changes - before

    def missing_seeds(self, agent_hash: str, scenario_hash: str, shift: str, level: int,
                      seeds: Sequence[int]) -> list[int]:
        """The seeds, in the given order, of the episodes not stored yet."""
        keys = [episode_key((agent_hash, scenario_hash, shift, level, seed)) for seed in seeds]
        stored = {row["key"] for row in self._rows("key", keys)}
        return [seed for seed, key in zip(seeds, keys) if key not in stored]

    def get_records(self, agent_hash: str, scenario_hash: str, shift: str, level: int,
                    seeds: Sequence[int]) -> list[EpisodeRecord]:
        """The stored records of these episodes in the order of `seeds`; KeyError if one is not stored."""
        keys = [episode_key((agent_hash, scenario_hash, shift, level, seed)) for seed in seeds]
        found = {row["key"]: self._record(row) for row in list(self._rows("*", keys))}
        missing = [seed for seed, key in zip(seeds, keys) if key not in found]
        if missing:
            raise KeyError(f"{self.path}: no episode stored for seeds {missing}")
        return [found[key] for key in keys]

    def trajectory(self, key: str) -> Trajectory:
        """The trajectory of the episode with this row key (the `key` column); KeyError if none."""
        cursor = self._conn.cursor()
        cursor.row_factory = sqlite3.Row
        row = cursor.execute("SELECT key, agent, scenario, shift, level, seed, trajectory FROM episodes WHERE key = ?",
                             (key,)).fetchone()
        if row is None:
            raise KeyError(f"{self.path}: no episode with key {key}")
        try:
            return decode_trajectory(row["trajectory"])
        except ValueError as exc:
            raise self._damaged(row, "trajectory", exc) from None

    def _record(self, row: sqlite3.Row) -> EpisodeRecord:
        """The EpisodeRecord of a row of the episodes table; DrivebenchError naming the row if it is damaged."""
        try:
            trajectory = decode_trajectory(row["trajectory"])
        except ValueError as exc:
            raise self._damaged(row, "trajectory", exc) from None
        try:
            return _record(row, trajectory)
        except (TypeError, ValueError) as exc:
            raise self._damaged(row, "metrics", exc) from None

    def _damaged(self, row: sqlite3.Row, what: str, exc: Exception) -> DrivebenchError:
        """The error for a row that cannot be read back: which episode, and how to get it evaluated again."""
        return DrivebenchError(
            f"{self.path}: the stored {what} of the episode of {row['agent']} on {row['scenario']} (shift "
            f"{row['shift']}:{row['level']}, seed {row['seed']}) is damaged ({exc}); delete that "
            f"row and evaluate again (only the missing episode runs): sqlite3 {self.path} \"DELETE FROM episodes "
            f"WHERE key = '{row['key']}'\"")

    def dataframe(self, *, agent: str | None = None, scenario: str | None = None, shift: str | None = None,
                  level: int | None = None) -> pd.DataFrame:
        """One row per stored episode matching the filters (None: any), every column but the trajectory, sorted
        by agent, scenario, shift, level and seed. Metric columns have their field's dtype; NaN where NULL."""
        where, params = _where(agent=agent, scenario=scenario, shift=shift, level=level)
        frame = pd.read_sql_query(f"SELECT {', '.join(SCALAR_COLUMNS)} FROM episodes{where} "
                                  "ORDER BY agent, scenario, shift, level, seed", self._conn, params=params)
        dtypes = {name: _DTYPES[kind] for name, kind in METRIC_TYPES.items() if kind in _DTYPES}
        dtypes = {**dtypes, "level": "int64", "seed": "int64", "schema_version": "int64"}
        # A column read back as integers holds integers; any other (NULLs read as float, text as object) is
        # checked value by value, so that a damaged row is named rather than cast (a NULL would become False).
        for column, dtype in dtypes.items():
            if pd.api.types.is_integer_dtype(frame[column]) or (
                    dtype == "float64" and pd.api.types.is_float_dtype(frame[column])):
                continue
            bad = [key for key, value in zip(frame["key"], frame[column]) if not _fits(value, dtype)]
            if bad:
                raise DrivebenchError(
                    f"{self.path}: column {column} of the episodes table holds values that are not {dtype} in "
                    f"{len(bad)} row(s), the episodes with key {', '.join(bad[:3])}{'...' if len(bad) > 3 else ''}: "
                    f"the file was edited or damaged; delete those rows (sqlite3 {self.path} \"DELETE FROM episodes "
                    f"WHERE key = '...'\") and evaluate again, or use another --db")
        try:
            return frame.astype(dtypes)
        except (TypeError, ValueError) as error:
            raise DrivebenchError(f"{self.path}: the episodes table cannot be read ({error}): the file was edited or "
                                  "damaged; use another --db, or delete the file to evaluate again") from None

    def set_entry(self, name: str, kind: str, agents: dict[str, Sequence[tuple[str, str]]]) -> None:
        """Make `name` a leaderboard entry of `kind` (baseline, trained, submission) driven on each scenario by
        the agents (id, hash) given for it, one per training run (list index = run): replaces every row the
        entry had, in one transaction."""
        for scenario, runs in agents.items():
            if isinstance(runs, tuple) and len(runs) == 2 and all(isinstance(v, str) for v in runs):
                raise TypeError(f"set_entry: {scenario!r} needs a list of (agent, hash), one per training run; "
                                f"got one pair {runs!r}")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._transaction():
            self._conn.execute("DELETE FROM entries WHERE name = ?", (name,))
            self._conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   [(name, scenario, run, agent, agent_hash, kind, now)
                                    for scenario, runs in sorted(agents.items())
                                    for run, (agent, agent_hash) in enumerate(runs)])

    def entries(self) -> dict[str, dict]:
        """{name: {"kind": ..., "created_at": ..., "agents": {scenario: [(agent id, agent hash), ...]}}}, by name;
        each scenario's list holds one agent per training run, in run order."""
        out: dict[str, dict] = {}
        for name, scenario, agent, agent_hash, kind, created in self._conn.execute(
                "SELECT name, scenario, agent, agent_hash, kind, created_at FROM entries "
                "ORDER BY name, scenario, run"):
            entry = out.setdefault(name, {"kind": kind, "created_at": created, "agents": {}})
            entry["agents"].setdefault(scenario, []).append((agent, agent_hash))
        return out

    def delete_entry(self, name: str) -> bool:
        """Remove a leaderboard entry (its episodes stay); True if it existed."""
        with self._transaction():
            return self._conn.execute("DELETE FROM entries WHERE name = ?", (name,)).rowcount > 0

    def delete(self, *, agent: str) -> int:
        """Remove every episode of the agent with this id (a resubmission replaces them); returns how many."""
        with self._transaction():
            return self._conn.execute("DELETE FROM episodes WHERE agent = ?", (agent,)).rowcount

    def _rows(self, columns: str, keys: list[str]) -> Iterator[sqlite3.Row]:
        """The rows with these keys (any order), `columns` selected."""
        cursor = self._conn.cursor()
        cursor.row_factory = sqlite3.Row
        for i in range(0, len(keys), _KEY_CHUNK):
            chunk = keys[i:i + _KEY_CHUNK]
            yield from cursor.execute(f"SELECT {columns} FROM episodes WHERE key IN ({', '.join('?' * len(chunk))})",
                                      chunk)


def _row(record: EpisodeRecord) -> tuple:
    """A record's values for every column up to the trajectory, in column order."""
    metrics = [_to_sql(getattr(record.metrics, name), kind) for name, kind in METRIC_TYPES.items()]
    return (episode_key(record.key), record.agent, record.agent_hash, record.scenario, record.scenario_hash,
            record.shift, int(record.level), int(record.seed), *metrics, record.invalid_reason,
            encode_trajectory(record.trajectory))


def _record(row: sqlite3.Row, trajectory: Trajectory) -> EpisodeRecord:
    """A row's EpisodeRecord (its trajectory decoded already); TypeError naming a metric column that does not hold
    its type."""
    values = {}
    for name, kind in METRIC_TYPES.items():
        try:
            values[name] = _from_sql(row[name], kind)
        except TypeError as exc:
            raise TypeError(f"column {name}: {exc}") from None
    metrics = EpisodeMetrics(**values)
    return EpisodeRecord(agent=row["agent"], agent_hash=row["agent_hash"], scenario=row["scenario"],
                         scenario_hash=row["scenario_hash"], shift=row["shift"], level=row["level"], seed=row["seed"],
                         metrics=metrics, trajectory=trajectory, invalid_reason=row["invalid_reason"])


def _to_sql(value, kind: type):
    """A metric as SQLite stores it: NaN as NULL, numpy scalars as Python ones, enum members as their value."""
    if kind is float:
        return None if math.isnan(value) else float(value)
    if kind is str:
        return str(value.value if isinstance(value, Enum) else value)
    return int(value)


def _fits(value, dtype: str) -> bool:
    """Can pandas store this SQLite value in a column of `dtype` (bool, int64, float64)?"""
    if dtype == "float64":
        return value is None or isinstance(value, (int, float))
    return isinstance(value, int) and (dtype != "bool" or value in (0, 1))


def _from_sql(value, kind: type):
    """A metric from its SQLite value; TypeError for a value its column's type cannot hold (an edited file)."""
    if kind is float:
        if value is not None and not isinstance(value, (int, float)):
            raise TypeError(f"{value!r} is not a number")
        return math.nan if value is None else float(value)
    if kind is str:
        if not isinstance(value, str):
            raise TypeError(f"{value!r} is not text")
        return value
    if not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return kind(value)


def _where(**filters) -> tuple[str, list]:
    """A WHERE clause matching every filter that is not None, and its parameters."""
    used = {name: value for name, value in filters.items() if value is not None}
    clause = " AND ".join(f"{name} = ?" for name in used)
    return (f" WHERE {clause}" if clause else ""), list(used.values())


@functools.cache
def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


@functools.cache
def _git_rev() -> str:
    """`git rev-parse HEAD` of the repository, or '' without git or outside a checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
