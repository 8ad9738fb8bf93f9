"""`drivebench run`: the whole pipeline on a narrowed suite with the quick preset, and what a rerun redoes."""
import dataclasses
import json
import shutil

import pytest

from drivebench import leaderboard, pipeline
from drivebench.cli import main
from drivebench.errors import DrivebenchError
from drivebench.paths import expert_data_dir
from drivebench.results.db import ResultsDB


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Runs, demos and the database under tmp_path."""
    monkeypatch.setenv("DRIVEBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("DRIVEBENCH_EXPERT_DATA", str(shutil.copytree(expert_data_dir(), tmp_path / "demos")))
    return tmp_path


def test_quick_run_end_to_end_then_resume(isolated, capsys, monkeypatch):
    official = leaderboard.official_suite()
    monkeypatch.setattr(leaderboard, "official_suite", lambda: dataclasses.replace(official, robustness_episodes=1))
    argv = ["run", "--preset", "quick", "--scenarios", "curve-gentle", "--agents", "expert,random,bc",
            "--episodes", "2", "--workers", "1", "--db", str(isolated / "r.db"), "--report", str(isolated / "rep"),
            "--json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    rows = {r["agent"]: r for r in json.loads(out)}
    assert set(rows) == {"expert", "random", "bc-quick"}
    assert rows["expert"]["success_rate"] == 1.0 and rows["random"]["rank"] == 3
    assert sorted(r["rank"] for r in rows.values()) == [1, 2, 3]
    runs = pipeline.SMOKE_TRAIN_RUNS  # a smoke run trains the suite's first training seeds
    assert f"training {runs} of {runs} agents" in err and (isolated / "rep" / "index.html").is_file()
    assert rows["bc-quick"]["runs"] == runs and len(rows["bc-quick"]["per_run_driving_score"]) == runs
    assert rows["expert"]["runs"] == 1 and rows["random"]["probability_of_improvement"] is None
    assert rows["bc-quick"]["per_scenario"]["curve-gentle"]["runs"] == runs
    checkpoints = list((isolated / "runs" / "agents" / "quick" / "curve-gentle").glob("bc-*/agent.json"))
    assert len(checkpoints) == runs
    seeds = {json.loads(c.read_text())["seed"]: str(c.parent) for c in checkpoints}
    with ResultsDB(isolated / "r.db") as db:
        stored = db.count()
        # 2 baselines + the runs of bc x 2 seeds in distribution and under each off-distribution shift, and 1 seed
        # under each robustness shift for each entry's first run only (3 entries)
        assert stored == (2 + runs) * (1 + len(official.offdist)) * 2 + 3 * len(official.robustness) * 1
        assert [agent for agent, _ in db.entries()["bc-quick"]["agents"]["curve-gentle"]] == [
            seeds[seed] for seed in official.train_seeds[:runs]]

    assert main(argv) == 0  # nothing changed: nothing is trained or evaluated again
    out, err = capsys.readouterr()
    assert f"training 0 of {runs} agents ({runs} already trained" in err
    assert {r["agent"]: r for r in json.loads(out)} == rows
    with ResultsDB(isolated / "r.db") as db:
        assert db.count() == stored


def test_train_key_follows_content(isolated):
    key = pipeline.train_key("bc", "curve-gentle", "quick")
    assert key == pipeline.train_key("bc", "curve-gentle", "quick")
    assert key != pipeline.train_key("bc", "curve-gentle", "standard")
    assert key != pipeline.train_key("dagger", "curve-gentle", "quick")
    assert key != pipeline.train_key("bc", "curve-gentle", "quick", seed=1)


def test_comments_in_the_agents_code_retrain_nothing_and_a_simulator_change_retrains(isolated, code_copy,
                                                                                      code_edits):
    """The train key covers the code of the training closure by syntax tree: comments, docstrings and formatting
    in every agents module leave every checkpoint folder as it is; a constant changed in the scenario's env module
    (or in an algorithm) names new folders."""
    from drivebench.core import keys
    from drivebench.scenarios import family

    change, cosmetic = code_edits
    suite = leaderboard.official_suite().narrowed(["curve-gentle", "parking-empty"])
    before = pipeline.train_jobs(suite, ["bc", "gail"], "quick", isolated)
    agents = [m for m in keys.closure("drivebench.agents.train") if m.startswith("drivebench.agents.")]
    assert len(agents) >= 8
    for module in agents:
        code_copy.edit(module, cosmetic)
    assert pipeline.train_jobs(suite, ["bc", "gail"], "quick", isolated) == before
    code_copy.edit(family.get("curve").env_class.__module__, change)
    after = {(j.algo, j.scenario, j.seed): j.out
             for j in pipeline.train_jobs(suite, ["bc", "gail"], "quick", isolated)}
    assert len(before) == len(after) == 2 * 2 * len(suite.train_seeds)  # a run per training seed
    for job in before:
        assert (after[job.algo, job.scenario, job.seed] == job.out) == (job.scenario == "parking-empty"), job
    code_copy.edit("drivebench.agents.bc", change)
    assert all(j.out not in {b.out for b in before} for j in pipeline.train_jobs(suite, ["bc"], "quick", isolated))


@pytest.mark.parametrize("kwargs, message", [
    ({"agents": ["bc", "nobody"]}, "unknown agent nobody"),
    ({"scenarios": ["nowhere"]}, "not in the official suite: nowhere"),
    ({"preset": "huge", "agents": ["bc"]}, "bc has no preset 'huge'"),
])
def test_bad_arguments_fail_before_any_work(isolated, kwargs, message):
    with pytest.raises(DrivebenchError, match=message):
        pipeline.run(db_path=isolated / "r.db", progress=False, **kwargs)
    assert not (isolated / "runs").exists() and not (isolated / "r.db").exists()


def test_entry_names():
    assert pipeline.entry_name("bc", "standard") == "bc" and pipeline.entry_name("gail", "quick") == "gail-quick"


def test_a_smoke_run_defaults_to_fewer_seeds(isolated, monkeypatch):
    seen = {}

    def stop(requests, *, seeds, **kwargs):
        seen["seeds"] = list(seeds)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "evaluate_many", stop)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(preset="quick", scenarios=["curve-gentle"], agents=["random"], db_path=isolated / "r.db",
                     progress=False)
    assert seen["seeds"] == leaderboard.official_suite().seeds[:pipeline.SMOKE_EPISODES]
