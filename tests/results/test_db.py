"""The results database: schema, idempotent adds, typed round trips, filters, schema checks, kill safety."""
from __future__ import annotations

import hashlib
import json
import math
import re
import signal
import sqlite3
import subprocess
import sys
import zlib
from datetime import datetime, timezone

import numpy as np
import pytest

from drivebench.errors import DrivebenchError
from drivebench.core.records import METRIC_FIELDS, SCHEMA_VERSION, EpisodeMetrics, EpisodeRecord, Outcome, Trajectory
from drivebench.paths import REPO_ROOT
from drivebench.results.db import (ENTRIES_VERSION, SCALAR_COLUMNS, ResultsDB, decode_trajectory, default_db_path,
                                   encode_trajectory, episode_key)

KILL_BATCH, KILL_BATCHES = 10, 6


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_record(agent: str = "bc", scenario: str = "curve-gentle", seed: int = 0, *, shift: str = "none",
                level: int = 0, success: bool = True, rows: int = 6) -> EpisodeRecord:
    """A plausible synthetic record: metrics that vary with the seed, a trajectory of `rows` rows, two signals."""
    rng = np.random.default_rng(seed)
    dt = 0.2
    metrics = EpisodeMetrics(
        success=success, termination="arrived" if success else "crashed",
        route_completion=1.0 if success else 0.1 + seed / 1000, steps=rows - 1, duration=(rows - 1) * dt,
        time_to_goal=(rows - 1) * dt if success else math.nan, collision="none" if success else "vehicle",
        off_road_time=0.2 * (seed % 3), off_road_count=seed % 3, lane_departures=seed % 2, wrong_way_time=0.0,
        reversing_time=0.1, speeding_time=0.4, occupied_bay_time=0.0, other_bay_time=0.0,
        mean_speed=8.0 + seed / 7, max_speed=12.25 + seed / 3, comfort_violations=seed % 5, mean_abs_jerk=1.5 / 7,
        driving_score=87.5 - seed / 9 if success else 20.0)
    trajectory = Trajectory(rng.normal(size=(rows, 4)).astype(np.float32),
                            {"off_road": (rng.random(rows) > 0.7).astype(np.float32),
                             "progress": np.linspace(0, 1, rows, dtype=np.float32)})
    return EpisodeRecord(agent=agent, agent_hash=sha(agent), scenario=scenario,
                         scenario_hash=sha(f"{scenario}/{shift}/{level}"), shift=shift, level=level, seed=seed,
                         metrics=metrics, trajectory=trajectory)


def kill_batches() -> list[list[EpisodeRecord]]:
    """The records the killed child adds, batch by batch."""
    return [[make_record(seed=b * KILL_BATCH + i) for i in range(KILL_BATCH)] for b in range(KILL_BATCHES)]


def assert_same_trajectory(a: Trajectory, b: Trajectory) -> None:
    assert a.poses.dtype == b.poses.dtype == np.float32
    np.testing.assert_array_equal(a.poses, b.poses)
    assert list(a.signals) == list(b.signals)
    for name in a.signals:
        assert a.signals[name].dtype == np.float32
        np.testing.assert_array_equal(a.signals[name], b.signals[name])


@pytest.fixture
def db(tmp_path):
    with ResultsDB(tmp_path / "results.db") as opened:
        yield opened


def test_schema_created_with_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "results.db"
    ResultsDB(path).close()
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"episodes", "meta"} <= tables
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    types = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(episodes)")}
    assert set(METRIC_FIELDS) <= set(types)
    assert (types["success"], types["steps"], types["time_to_goal"], types["termination"]) == (
        "INTEGER", "INTEGER", "REAL", "TEXT")
    assert (types["trajectory"], types["versions"], types["schema_version"]) == ("BLOB", "TEXT", "INTEGER")
    conn.close()


def test_default_path_and_environment_override(monkeypatch, tmp_path):
    monkeypatch.delenv("DRIVEBENCH_RESULTS_DB", raising=False)
    assert default_db_path() == REPO_ROOT / "runs" / "results.db"
    monkeypatch.setenv("DRIVEBENCH_RESULTS_DB", str(tmp_path / "elsewhere.db"))
    assert default_db_path() == tmp_path / "elsewhere.db"


def test_add_is_idempotent(db):
    records = [make_record(seed=s) for s in range(5)]
    assert db.add(records) == 5
    assert db.add(records) == 0
    assert db.count() == 5
    assert db.add(records[3:] + [make_record(seed=s) for s in (5, 6)]) == 2
    assert db.count() == 7


def test_key_depends_on_identity_and_schema_version():
    record = make_record(seed=3)
    assert episode_key(record.key) == episode_key((record.agent_hash, record.scenario_hash, "none", np.int64(0), 3))
    assert episode_key(record.key) != episode_key(make_record(seed=4).key)
    assert re.fullmatch("[0-9a-f]{64}", episode_key(record.key))


def test_missing_seeds_in_given_order(db):
    db.add([make_record(seed=s) for s in (0, 2, 4)])
    stored = make_record(seed=0)
    assert db.missing_seeds(stored.agent_hash, stored.scenario_hash, "none", 0, [5, 4, 3, 2, 1, 0]) == [5, 3, 1]
    shifted = make_record(seed=0, shift="traffic", level=2)
    assert db.missing_seeds(shifted.agent_hash, shifted.scenario_hash, "traffic", 2, [0, 2]) == [0, 2]
    assert db.missing_seeds(stored.agent_hash, stored.scenario_hash, "none", 0, []) == []


def test_every_field_round_trips(db):
    records = [make_record(seed=1), make_record(seed=2, success=False, rows=9)]
    odd = make_record(seed=3)  # numpy scalars and an enum member, as computations produce them
    odd = EpisodeRecord(**{**odd.__dict__, "invalid_reason": "policy returned NaN", "metrics": EpisodeMetrics(**{
        **odd.metrics.__dict__, "success": np.bool_(True), "termination": Outcome.ARRIVED, "steps": np.int64(5),
        "mean_speed": np.float32(8.25), "max_speed": np.float64(12.5)})})
    records.append(odd)
    db.add(records)
    back = db.get_records(records[0].agent_hash, records[0].scenario_hash, "none", 0, [3, 1, 2])
    assert [r.seed for r in back] == [3, 1, 2]
    for original, stored in zip([odd, *records[:2]], back):
        for name in ("agent", "agent_hash", "scenario", "scenario_hash", "shift", "level", "seed", "invalid_reason"):
            assert getattr(stored, name) == getattr(original, name)
        for name in METRIC_FIELDS:
            want, got = getattr(original.metrics, name), getattr(stored.metrics, name)
            assert type(got) is type(getattr(records[0].metrics, name)), name  # plain bool, int, float, str
            assert got == want or (math.isnan(want) and math.isnan(got)), name
        assert_same_trajectory(stored.trajectory, original.trajectory)
    assert math.isnan(back[2].metrics.time_to_goal) and back[2].metrics.success is False
    assert back[0].metrics.termination == "arrived" and back[0].invalid_reason == "policy returned NaN"
    with pytest.raises(KeyError, match=r"\[7\]"):
        db.get_records(records[0].agent_hash, records[0].scenario_hash, "none", 0, [1, 7])


def test_trajectory_encoding_is_exact_and_deterministic(db):
    record = make_record(seed=5, rows=40)
    blob = encode_trajectory(record.trajectory)
    assert_same_trajectory(decode_trajectory(blob), record.trajectory)
    copy = Trajectory(record.trajectory.poses.copy(), {k: v.copy() for k, v in record.trajectory.signals.items()})
    assert encode_trajectory(copy) == blob
    assert encode_trajectory(decode_trajectory(blob)) == blob
    db.add([record])
    assert_same_trajectory(db.trajectory(episode_key(record.key)), record.trajectory)
    with pytest.raises(KeyError):
        db.trajectory("0" * 64)


def test_dataframe_filters_and_dtypes(db):
    db.add([make_record(agent, scenario, seed, shift=shift, level=level, success=seed != 1)
            for agent in ("bc", "gail") for scenario in ("curve-gentle", "parking-easy")
            for shift, level in (("none", 0), ("traffic", 2)) for seed in (2, 1, 0)])
    frame = db.dataframe()
    assert len(frame) == 24 and list(frame.columns) == list(SCALAR_COLUMNS) and "trajectory" not in frame
    assert (frame["success"].dtype, frame["steps"].dtype, frame["time_to_goal"].dtype) == (bool, "int64", "float64")
    bc = db.dataframe(agent="bc", scenario="parking-easy", shift="traffic", level=2)
    assert list(bc["seed"]) == [0, 1, 2]
    assert set(bc["agent"]) == {"bc"} and set(bc["scenario"]) == {"parking-easy"} and set(bc["level"]) == {2}
    assert list(bc["success"]) == [True, False, True]
    assert bc["time_to_goal"].isna().tolist() == [False, True, False]
    assert len(db.dataframe(level=0)) == 12 and len(db.dataframe(agent="nobody")) == 0


def test_provenance_columns(db):
    db.add([make_record()])
    row = db.dataframe().iloc[0]
    versions = json.loads(row["versions"])
    assert {"drivebench", "numpy", "gymnasium"} <= set(versions)
    assert re.fullmatch("[0-9a-f]{40}|", row["git_rev"])
    assert row["schema_version"] == SCHEMA_VERSION
    assert datetime.fromisoformat(row["created_at"]).tzinfo == timezone.utc


def test_delete_removes_one_agents_rows(db):
    bc, gail = [make_record("bc", seed=s) for s in range(3)], [make_record("gail", seed=s) for s in range(2)]
    db.add(bc + gail)
    assert db.delete(agent="bc") == 3
    assert set(db.dataframe()["agent"]) == {"gail"}
    assert db.add(bc) == 3  # a resubmission is stored again


def test_other_schema_version_is_refused(tmp_path):
    path = tmp_path / "old.db"
    ResultsDB(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    with pytest.raises(DrivebenchError) as err:
        ResultsDB(path)
    assert str(path) in str(err.value) and "--db" in str(err.value) and "delete the file" in str(err.value)


def test_an_entries_table_of_one_agent_per_scenario_is_refused(tmp_path):
    """A database written before entries had training runs (no `run` column, no entries_version): the schema
    version message, not a traceback."""
    path = tmp_path / "old.db"
    with ResultsDB(path) as db:
        db.add([make_record()])
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE entries")
        conn.execute("DELETE FROM meta WHERE key = 'entries_version'")
        conn.execute("CREATE TABLE entries (name TEXT NOT NULL, scenario TEXT NOT NULL, agent TEXT NOT NULL, "
                     "agent_hash TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL, "
                     "PRIMARY KEY (name, scenario))")
    conn.close()
    with pytest.raises(DrivebenchError, match="entries are of schema version 1") as err:
        ResultsDB(path)
    assert str(path) in str(err.value) and "delete the file" in str(err.value)
    with ResultsDB(tmp_path / "new.db") as db:  # a new file gets the current version
        assert db._conn.execute("SELECT value FROM meta WHERE key = 'entries_version'").fetchone() == (
            str(ENTRIES_VERSION),)


def test_a_file_that_is_no_database_is_refused(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("agent,score\n" * 200)
    with pytest.raises(DrivebenchError, match=re.escape(str(path))):
        ResultsDB(path)


CHILD = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("db_test", sys.argv[1])
helpers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(helpers)
from drivebench.results.db import ResultsDB
db = ResultsDB(sys.argv[2])
inserts = 0

def stall_halfway_through_the_fourth_add(statement):
    global inserts
    inserts += statement.startswith("INSERT")
    if inserts == 3 * helpers.KILL_BATCH + helpers.KILL_BATCH // 2:
        print("inside add", flush=True)
        time.sleep(60)

db._conn.set_trace_callback(stall_halfway_through_the_fourth_add)  # SQLite calls it before each statement
for batch in helpers.kill_batches():
    db.add(batch)
    print("added", flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_writer_killed_inside_an_add_leaves_the_completed_adds(tmp_path):
    path = tmp_path / "results.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, __file__, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        for line in ["added\n"] * 3 + ["inside add\n"]:
            assert child.stdout.readline() == line, child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    total = KILL_BATCH * KILL_BATCHES
    with ResultsDB(path) as db:
        assert db.count() == 3 * KILL_BATCH  # the rows the fourth add had inserted were rolled back
        assert db.add(r for batch in kill_batches() for r in batch) == total - 3 * KILL_BATCH
        assert db.count() == total


def test_a_folder_or_an_unwritable_path_as_the_database_is_one_clear_error(tmp_path):
    with pytest.raises(DrivebenchError, match="is a folder; --db takes the path of a results database file"):
        ResultsDB(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DrivebenchError, match="cannot open or create the results database"):
        ResultsDB(blocker / "sub" / "r.db")  # its parent would be a folder inside a file


# ---------------------------------------------------------------------------------------------- damaged rows
def _damage(db: ResultsDB, seed: int, column: str, value) -> str:
    """Overwrite one column of the stored episode of `seed` (as an outside edit or a bad disk would); its key."""
    key = episode_key(make_record(seed=seed).key)
    with sqlite3.connect(db.path) as raw:
        assert raw.execute(f"UPDATE episodes SET {column} = ? WHERE key = ?", (value, key)).rowcount == 1
    return key


@pytest.mark.parametrize("blob", [b"garbage", zlib.compress(b'{"poses": [6, 4], "signals": []}\n' + b"\0" * 8),
                                  zlib.compress(b"[1, 2]\n"), zlib.compress(b"no header line")],
                         ids=["not-zlib", "short-body", "header-a-list", "no-newline"])
def test_a_damaged_trajectory_blob_names_the_episode_and_the_fix(db, blob):
    db.add([make_record(seed=s) for s in range(3)])
    key = _damage(db, 1, "trajectory", blob)
    expected = (f"{db.path}: the stored trajectory of the episode of bc on curve-gentle (shift none:0, seed 1) is "
                "damaged (")
    with pytest.raises(DrivebenchError) as err:
        db.get_records(sha("bc"), sha("curve-gentle/none/0"), "none", 0, [0, 1, 2])
    assert str(err.value).startswith(expected)
    assert f"DELETE FROM episodes WHERE key = '{key}'" in str(err.value) and "evaluate again" in str(err.value)
    with pytest.raises(DrivebenchError, match=re.escape(expected)):
        db.trajectory(key)
    # the fix the message gives works: delete the row, and the episode is missing (it will be evaluated again)
    with sqlite3.connect(db.path) as raw:
        raw.execute("DELETE FROM episodes WHERE key = ?", (key,))
    assert db.missing_seeds(sha("bc"), sha("curve-gentle/none/0"), "none", 0, [0, 1, 2]) == [1]
    assert [r.seed for r in db.get_records(sha("bc"), sha("curve-gentle/none/0"), "none", 0, [0, 2])] == [0, 2]


def test_decode_trajectory_raises_value_error_for_any_damage():
    good = encode_trajectory(make_record().trajectory)
    for blob in (good[:-5], good[:10], b"", zlib.compress(b'{"poses": "x", "signals": []}\n'),
                 zlib.compress(b'{"poses": [-1, 4], "signals": []}\n')):
        with pytest.raises(ValueError):
            decode_trajectory(blob)


@pytest.mark.parametrize("column, value", [("success", None), ("steps", "many"), ("driving_score", "high"),
                                           ("termination", None)])
def test_a_damaged_metric_column_names_the_episode_and_the_column(db, column, value):
    db.add([make_record(seed=s) for s in range(3)])
    _damage(db, 2, column, value)
    with pytest.raises(DrivebenchError) as err:
        db.get_records(sha("bc"), sha("curve-gentle/none/0"), "none", 0, [0, 1, 2])
    assert str(err.value).startswith(f"{db.path}: the stored metrics of the episode of bc on curve-gentle (shift "
                                     f"none:0, seed 2) is damaged (column {column}: ")


@pytest.mark.parametrize("column, value", [("success", None), ("steps", "many"), ("seed", "x"),
                                           ("driving_score", "high")])
def test_a_damaged_column_in_the_dataframe_names_the_column_and_rows(db, column, value):
    db.add([make_record(seed=s) for s in range(3)])
    key = _damage(db, 1, column, value)
    with pytest.raises(DrivebenchError) as err:
        db.dataframe()
    assert str(err.value).startswith(f"{db.path}: column {column} of the episodes table holds values that are not ")
    assert key in str(err.value)


def test_a_read_only_database_is_read_and_a_write_is_one_clear_error(tmp_path, monkeypatch):
    """A file the user may read but not write (simulated: SQLite opened read-only, as it opens a file without
    write permission; the tests may run as root, who writes anything): its episodes can be read, and adding one is
    one message naming the file, not a traceback."""
    path = tmp_path / "results.db"
    with ResultsDB(path) as db:
        db.add([make_record()])
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda p, **kw: connect(f"file:{p}?mode=ro", uri=True, **kw))
    with ResultsDB(path) as db:
        assert db.count() == 1 and len(db.dataframe()) == 1
        with pytest.raises(DrivebenchError) as err:
            db.add([make_record(seed=1)])
        assert str(err.value).startswith(f"{path}: cannot use the results database (attempt to write a readonly "
                                         "database): is the file read-only")
        assert db.count() == 1
