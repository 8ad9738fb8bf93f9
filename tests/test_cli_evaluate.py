"""`drivebench evaluate`, called in-process: JSON summaries, sweeps, and user mistakes (exit 2 with a message)."""
from __future__ import annotations

import json

import pytest

from drivebench.cli import main
from drivebench.eval import harness
from drivebench.eval.shifts import SHIFTS
from drivebench.results.db import ResultsDB

ESTIMATES = ("success_rate", "crash_rate", "offroad_rate", "lane_departure_rate", "driving_score")


def run(capsys, *argv):
    """(exit code, stdout, stderr); an argparse error (SystemExit) counts as its exit code."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def evaluate_args(db, *extra, agent="expert:cautious", scenario="curve-gentle", episodes="4"):
    return ("evaluate", "--agent", agent, "--scenario", scenario, "--episodes", episodes, "--workers", "1",
            "--db", str(db), *extra)


def test_evaluate_json(capsys, tmp_path):
    db = tmp_path / "results.db"
    code, out, _ = run(capsys, *evaluate_args(db, "--json"))
    assert code == 0
    summary = json.loads(out)  # stdout is exactly one JSON object
    assert isinstance(summary, dict)
    assert summary["episodes"] == 4
    assert (summary["agent"], summary["scenario"], summary["shift"]) == ("expert:cautious", "curve-gentle", "none")
    for name in ESTIMATES:
        est = summary[name]
        assert set(est) == {"mean", "ci_low", "ci_high"}, name
        assert est["ci_low"] <= est["mean"] <= est["ci_high"], name
    # the expert drives curve-gentle cleanly (tests/eval/test_metrics.py checks it episode by episode)
    assert summary["success_rate"]["mean"] == 1.0 and summary["crash_rate"]["mean"] == 0.0
    assert summary["offroad_rate"]["mean"] == 0.0 and summary["driving_score"]["mean"] >= 95.0
    with ResultsDB(db) as opened:
        assert opened.count() == 4
        assert set(opened.dataframe()["seed"]) == set(range(1_000_000, 1_000_004))  # the evaluation seeds


def test_evaluate_again_reads_the_database(capsys, tmp_path, monkeypatch):
    db = tmp_path / "results.db"
    first = run(capsys, *evaluate_args(db, "--json"))
    monkeypatch.setattr(harness, "run_chunk", lambda *a: pytest.fail("ran an episode the database holds"))
    second = run(capsys, *evaluate_args(db, "--json"))
    assert first[0] == second[0] == 0 and json.loads(first[1]) == json.loads(second[1])


def test_evaluate_table(capsys, tmp_path):
    code, out, err = run(capsys, *evaluate_args(tmp_path / "results.db"))
    assert code == 0
    assert "driving score" in out and "expert:cautious" in out and "curve-gentle" in out
    assert "results in" in err and str(tmp_path / "results.db") in err


def test_sweep_prints_in_distribution_and_every_level(capsys, tmp_path):
    db = tmp_path / "results.db"
    code, out, _ = run(capsys, *evaluate_args(db, "--sweep", "start_offset", "--json"))
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 1 + len(SHIFTS["start_offset"].levels) == 4
    assert [r["shift"] for r in rows] == ["none", "start_offset:1", "start_offset:2", "start_offset:3"]
    for row in rows:
        assert row["episodes"] == 4 and all(name in row for name in ESTIMATES)
    with ResultsDB(db) as opened:
        assert opened.count() == 16
        frame = opened.dataframe()
        assert sorted(set(zip(frame["shift"], frame["level"]))) == [
            ("none", 0), ("start_offset", 1), ("start_offset", 2), ("start_offset", 3)]


@pytest.mark.parametrize("extra, message", [
    (("--agent", "nobody"), "unknown agent 'nobody'"),
    (("--agent", "drivebench_no_such_module:act"), "cannot load policy"),
    (("--scenario", "curve-nowhere"), "curve-nowhere"),
    (("--shift", "warp:1"), "unknown shift 'warp'"),
    (("--shift", "start_offset:7"), "start_offset takes a level in [1, 2, 3]"),
    (("--sweep", "warp"), "unknown shift 'warp'"),
    (("--shift", "start_offset:1", "--sweep", "bump"), "not both"),
    (("--scenario", "parking-empty", "--shift", "traffic:1"), "shift traffic applies to curve scenarios"),
])
def test_user_mistakes_exit_2_with_a_message(capsys, tmp_path, monkeypatch, extra, message):
    monkeypatch.setattr(harness, "run_chunk", lambda *a: pytest.fail("no episode should run"))
    args = dict(agent="expert:cautious", scenario="curve-gentle")
    rest = []
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag[2:] in args:
            args[flag[2:]] = value
        else:
            rest += [flag, value]
    code, out, err = run(capsys, *evaluate_args(tmp_path / "results.db", *rest, "--json", **args))
    assert code == 2
    assert message in err and "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize("episodes", ["0", "-1"])
def test_episodes_must_be_positive(capsys, tmp_path, monkeypatch, episodes):
    def guarded(agent, scenario, *, seeds, **kwargs):
        assert 0 < len(seeds) <= 10, f"evaluate called with {len(seeds)} seeds"
        raise AssertionError("evaluate should not be reached")

    monkeypatch.setattr(harness, "evaluate", guarded)  # cmd_evaluate imports it when called
    code, _, err = run(capsys, *evaluate_args(tmp_path / "results.db", "--json", episodes=episodes))
    assert code == 2 and "episodes" in err
