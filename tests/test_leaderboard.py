"""The leaderboard: entries in the results database, rows computed from their official episodes."""
import dataclasses
import json
import math

import pytest

from drivebench import leaderboard
from drivebench.cli import main
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.policies import load_policy
from drivebench.results.db import ResultsDB

SCENARIOS = ["curve-gentle", "parking-empty"]
EXPERTS = {"curve-gentle": "expert:cautious", "parking-empty": "expert:tidy"}


@pytest.fixture(scope="module")
def suite():
    return leaderboard.official_suite().narrowed(SCENARIOS, episodes=3)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory, suite):
    """A database with `expert` and `random` evaluated on the narrowed suite, and `half` (random on one scenario,
    an agent never evaluated on the other)."""
    path = tmp_path_factory.mktemp("board") / "r.db"
    requests = [Request(agent, s, shift) for s in SCENARIOS for agent in (EXPERTS[s], "random")
                for shift in suite.conditions]
    with ResultsDB(path) as db:
        evaluate_many(requests, seeds=suite.seeds, workers=1, db=db, progress=False)
        db.set_entry("expert", "baseline", {s: [(a, load_policy(a).agent_hash)] for s, a in EXPERTS.items()})
        db.set_entry("random", "baseline", {s: [("random", load_policy("random").agent_hash)] for s in SCENARIOS})
        db.set_entry("half", "submission", {"curve-gentle": [("random", load_policy("random").agent_hash)],
                                            "parking-empty": [("expert:sporty", "not-evaluated")]})
    return path


def test_robustness_conditions_take_the_first_of_the_official_seeds():
    official = leaderboard.official_suite()
    assert official.robustness and official.robustness_episodes < official.episodes
    for shift in official.conditions:
        expected = official.robustness_episodes if shift in official.robustness else official.episodes
        assert official.seeds_for(shift) == official.seeds[:expected]
    assert official.episodes_per_scenario == ((1 + len(official.offdist)) * official.episodes
                                              + len(official.robustness) * official.robustness_episodes)
    assert "25 under the robustness conditions start_offset:1, start_offset:3" in official.describe_seeds()
    smoke = official.narrowed(episodes=10)  # a smoke run's seeds: every condition on all 10
    assert smoke.robustness_episodes == 10 and smoke.describe_seeds() == "10 seeds"


def test_only_the_first_training_run_is_evaluated_under_the_robustness_conditions():
    """The report's robustness curves show each entry's first run; the other runs are scored, not drawn."""
    official = leaderboard.official_suite()
    assert official.conditions_of_run(0) == official.conditions
    for run in (1, 2):
        assert official.conditions_of_run(run) == (leaderboard.NONE, *official.offdist)
    scored = (1 + len(official.offdist)) * official.episodes  # 150 per scenario and run
    assert official.episodes_per_scenario_of(1) == official.episodes_per_scenario == scored + 2 * 25
    assert official.episodes_per_scenario_of(3) == 3 * scored + 2 * 25


def test_rows_are_ranked_and_complete(db_path, suite):
    with ResultsDB(db_path) as db:
        rows = leaderboard.compute(db, suite)
    assert [r.agent for r in rows] == ["expert", "random", "half"]
    assert [r.rank for r in rows] == [1, 2, 3]
    expert, random, half = rows
    assert expert.complete and random.complete and not half.complete
    assert expert.scenarios == 2 and expert.episodes == 2 * suite.episodes
    assert half.scenarios == 1 and half.episodes == suite.episodes
    assert expert.success_rate == 1.0 and expert.crash_rate == 0.0 and expert.driving_score > 95
    assert random.driving_score < 20 and random.success_rate == 0.0
    for r in (expert, random):
        low, high = r.driving_score_ci
        assert low <= r.driving_score <= high
        assert 0 <= r.offdist_driving_score <= 100 and set(r.per_scenario) == set(SCENARIOS)


def test_driving_score_weighs_scenarios_equally(db_path, suite):
    with ResultsDB(db_path) as db:
        expert = leaderboard.compute(db, suite)[0]
        per = [expert.per_scenario[s]["driving_score"] for s in SCENARIOS]
        assert expert.driving_score == pytest.approx(sum(per) / 2)
        records = leaderboard.entry_records(db, suite, load_policy("expert:cautious").agent_hash, "curve-gentle",
                                            suite.offdist[0])
        assert [r.seed for r in records] == suite.seeds
        assert leaderboard.entry_records(db, suite, "no-such-hash", "curve-gentle", suite.offdist[0]) is None


def test_formats_have_one_row_per_entry(db_path, suite):
    with ResultsDB(db_path) as db:
        rows = leaderboard.compute(db, suite)
    html = leaderboard.as_html(rows)
    assert html.count("<tr>") == len(rows) + 1  # the header row, then one per entry
    markdown = leaderboard.as_markdown(rows, suite)
    assert sum(line.startswith("| ") for line in markdown.splitlines()) == len(rows) + 1
    assert "half (incomplete)" in leaderboard.as_text(rows)
    assert set(rows[2].per_scenario) == {"curve-gentle"}
    unscored = dataclasses.replace(rows[2], offdist_driving_score=math.nan, offdist_driving_score_ci=(math.nan,) * 2)
    dicts = leaderboard.as_dicts([unscored])
    json.dumps(dicts, allow_nan=False)  # NaN became None
    assert dicts[0]["offdist_driving_score"] is None and dicts[0]["offdist_driving_score_ci"] == [None, None]


def test_cli_leaderboard_json(db_path, suite, capsys, monkeypatch):
    monkeypatch.setattr(leaderboard, "official_suite", lambda: suite)
    assert main(["leaderboard", "--db", str(db_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for key in ("agent", "driving_score", "success_rate", "crash_rate", "offroad_rate", "offdist_driving_score"):
        assert all(key in row for row in rows)
    assert [row["agent"] for row in rows] == ["expert", "random", "half"]
    assert main(["leaderboard", "--db", str(db_path), "--markdown"]) == 0
    assert "| 1 | expert |" in capsys.readouterr().out


def test_set_entry_replaces(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        db.set_entry("mine", "submission", {"a": [("x", "h1")], "b": [("x", "h1")]})
        db.set_entry("mine", "submission", {"a": [("y", "h2")]})
        assert db.entries()["mine"]["agents"] == {"a": [("y", "h2")]}
        assert db.delete_entry("mine") and not db.delete_entry("mine") and db.entries() == {}
        with pytest.raises(TypeError, match="one per training run"):
            db.set_entry("mine", "submission", {"a": ("y", "h2")})


def test_set_entry_round_trips_runs_in_order(tmp_path):
    runs = [("bc-seed2", "h2"), ("bc-seed0", "h0"), ("bc-seed1", "h1")]  # run order, not name order
    with ResultsDB(tmp_path / "r.db") as db:
        db.set_entry("bc", "trained", {"b": runs, "a": runs[:1]})
        assert db.entries()["bc"] == {"kind": "trained", "created_at": db.entries()["bc"]["created_at"],
                                      "agents": {"a": runs[:1], "b": runs}}
    with ResultsDB(tmp_path / "r.db") as db:  # stored, not cached
        assert db.entries()["bc"]["agents"]["b"] == runs


def test_narrowing_the_suite_checks_names():
    with pytest.raises(Exception, match="not in the official suite: nowhere"):
        leaderboard.official_suite().narrowed(["nowhere"])


def test_an_entry_whose_episodes_are_no_longer_current_is_named_not_dropped(db_path, suite, capsys, monkeypatch,
                                                                            tmp_path):
    """After a simulator or scoring change no stored episode matches an old entry's keys: the leaderboard says so."""
    import shutil

    copy = tmp_path / "copy.db"
    shutil.copy(db_path, copy)
    with ResultsDB(copy) as db:
        db.set_entry("old-submission", "submission", {s: [("x", "a hash no episode has")] for s in suite.scenarios})
        rows = leaderboard.compute(db, suite)
        assert leaderboard.unscored_entries(db, rows) == ["old-submission"]
    monkeypatch.setattr(leaderboard, "official_suite", lambda: suite)
    assert main(["leaderboard", "--db", str(copy)]) == 0
    captured = capsys.readouterr()
    assert "old-submission" not in captured.out
    assert "not shown: old-submission: none of their episodes matches the current simulator" in captured.err
