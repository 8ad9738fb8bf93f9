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

    # `drivebench leaderboard` shows a smoke run's entries, scored on the smoke run's seeds, after the official table
    monkeypatch.setattr(pipeline, "SMOKE_EPISODES", 2)
    assert main(["leaderboard", "--db", str(isolated / "r.db")]) == 0
    out, err = capsys.readouterr()
    assert "scored on the first 2 official seeds only" in out and "bc-quick" in out.split("seeds only")[1]
    assert "bc-quick" not in err  # not listed as unscored


def test_train_key_follows_content(isolated):
    key = pipeline.train_key("bc", "curve-gentle", "quick")
    assert key == pipeline.train_key("bc", "curve-gentle", "quick")
    assert key != pipeline.train_key("bc", "curve-gentle", "standard")
    assert key != pipeline.train_key("dagger", "curve-gentle", "quick")
    assert key != pipeline.train_key("bc", "curve-gentle", "quick", seed=1)
    assert key != pipeline.train_key("bc", "curve-gentle", "quick", demos=4)


def test_every_algorithm_trains_on_the_suites_demos_and_the_few_demo_condition_adds_entries(isolated):
    """Equal data: each job trains on the suite's `demos`, whatever its preset asks; the few-demo condition adds one
    job per (algorithm, scenario, seed) on `few_demos`, which enters as `<algo>-<n>demos` beside the standard row."""
    from drivebench.data.record import LEARNER_EPISODES

    suite = leaderboard.official_suite().narrowed(["curve-gentle"])
    assert suite.few_demos and suite.few_demos < suite.demos <= LEARNER_EPISODES  # the default sets hold them
    standard = pipeline.train_jobs(suite, ["bc", "gail"], "quick", isolated)
    assert {j.demos for j in standard} == {suite.demos}
    both = pipeline.train_jobs(suite, ["bc", "gail"], "quick", isolated, few_demos=True)
    assert both[:len(standard)] == standard and len(both) == 2 * len(standard)
    few = both[len(standard):]
    assert {j.demos for j in few} == {suite.few_demos} and not {j.out for j in few} & {j.out for j in standard}
    entries = pipeline._entries(suite, ["random", "bc", "gail"], both, "standard")
    assert list(entries) == ["random", "bc", "gail", f"bc-{suite.few_demos}demos", f"gail-{suite.few_demos}demos"]
    assert entries[f"gail-{suite.few_demos}demos"][1]["curve-gentle"] == [
        str(j.out) for j in few if j.algo == "gail"]
    assert len(entries["bc"][1]["curve-gentle"]) == len(suite.train_seeds)


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
    assert pipeline.entry_name("bc", "standard", 4) == "bc-4demos"


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


def _weights(folder) -> dict:
    from drivebench.agents import checkpoints

    policy, _ = checkpoints.load_policy(folder)
    return {name: tensor.clone() for name, tensor in policy.state_dict().items()}


def test_adversarial_weights_do_not_depend_on_workers_order_or_global_rng(isolated):
    """The same GAIL/AIRL training seed gives the same weights bit for bit whether the runs go through one worker
    (in this process, with a callback that draws from every global random state after each round) or two worker
    processes, in either order."""
    import random

    import numpy as np
    import torch

    from drivebench.agents.train import train
    from drivebench.executors import make_executor

    suite = leaderboard.official_suite().narrowed(["parking-empty"], train_runs=1)
    jobs = pipeline.train_jobs(suite, ["gail", "airl"], "quick", isolated)
    drawn = []

    def disturbing(progress) -> None:  # SB3 samples actions from torch's global RNG: train() must shield it
        drawn.append((random.random(), np.random.rand(), torch.rand(1)))

    one = {}
    for job in jobs:
        random.seed(99), np.random.seed(99), torch.manual_seed(99)
        folder = train(job.algo, job.scenario, out=isolated / "one" / job.algo, preset=job.preset, seed=job.seed,
                       overrides={"demos": job.demos}, progress=False, callback=disturbing).out
        one[job.algo] = _weights(folder)
    assert len(drawn) >= 2
    two_jobs = [dataclasses.replace(job, out=isolated / "two" / job.algo) for job in jobs]
    with make_executor("local", 2) as executor:  # worker processes, the jobs in the other order
        list(executor.map_unordered(pipeline._train, [(job,) for job in two_jobs[::-1]]))
    for job in two_jobs:
        two = _weights(job.out)
        assert one[job.algo].keys() == two.keys()
        for name in two:
            assert torch.equal(one[job.algo][name], two[name]), (job.algo, name)


def test_a_few_demo_job_trains_on_the_few_demos(isolated):
    """The few-demo condition's agent really learned from `few_demos` demos, and its folder is named by its key."""
    suite = leaderboard.official_suite().narrowed(["curve-gentle"], train_runs=1)
    job = next(j for j in pipeline.train_jobs(suite, ["bc"], "quick", isolated, few_demos=True)
               if j.demos == suite.few_demos)
    config = json.loads((pipeline._train(job) / "agent.json").read_text())
    assert config["demos"]["episodes"] == suite.few_demos and config["hyperparameters"]["demos"] == suite.few_demos
    assert job.out.name == f"bc-{config['train_key'][:16]}"
