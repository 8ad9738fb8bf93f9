"""Submissions: outside policies scored on the official seeds; misbehaving ones get invalid episodes."""
import json
import textwrap

import gymnasium
import pytest

from drivebench import leaderboard, submit
from drivebench.cli import main
from drivebench.errors import DrivebenchError
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry

POLICIES = '''
import time
import numpy as np

def straight(obs):
    return np.array([0.1, 0.0], dtype=np.float32)

def slower(obs):
    return np.array([0.05, 0.0], dtype=np.float32)

def raises(obs):
    raise RuntimeError("no idea")

def hangs(obs):
    time.sleep(60)

def garbage(obs):
    return np.array([np.nan, 0.0])
'''


@pytest.fixture
def suite(monkeypatch):
    """The official suite narrowed to two scenarios and 2 seeds, as the submission code sees it."""
    narrowed = leaderboard.official_suite().narrowed(["curve-gentle", "parking-empty"], episodes=2)
    monkeypatch.setattr(leaderboard, "official_suite", lambda: narrowed)
    monkeypatch.setattr(submit, "TIME_LIMIT", 0.5)
    return narrowed


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "my_policies.py"
    path.write_text(textwrap.dedent(POLICIES))
    return path


def test_misbehaving_policies_get_invalid_episodes_not_a_broken_board(suite, policy_file, tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        rows = {name: submit.submit(name, f"{policy_file}:{name}", db=db, workers=1, progress=False, log=print)
                for name in ("straight", "raises", "hangs", "garbage")}
        episodes = db.dataframe()
    assert rows["straight"].invalid_rate == 0.0 and rows["straight"].complete
    for name, reason in [("raises", "the policy raised RuntimeError: no idea"),
                         ("hangs", "PolicyTimeout: spent its 0.5 s per-episode time limit"),
                         ("garbage", "the action is not finite")]:
        assert rows[name].invalid_rate == 1.0 and rows[name].driving_score == 0.0 and rows[name].complete
        mine = episodes[episodes.agent == f"{policy_file}:{name}"]
        assert len(mine) == 2 * len(suite.conditions) * suite.episodes
        assert (mine.termination == "invalid_action").all()
        assert mine.invalid_reason.str.contains(reason, regex=False).all(), mine.invalid_reason.iloc[0]


def test_resubmitting_replaces_the_row(suite, policy_file, tmp_path):
    agent = f"{policy_file}:straight"
    with ResultsDB(tmp_path / "r.db") as db:
        submit.submit("mine", agent, db=db, workers=1, progress=False, log=print)
        stored = db.count()
        submit.submit("mine", agent, db=db, workers=1, progress=False, log=print)
        assert db.count() == stored  # nothing evaluated twice
        submit.submit("renamed", agent, db=db, workers=1, progress=False, log=print)
        assert list(db.entries()) == ["renamed"]
        assert [r.agent for r in leaderboard.compute(db, suite)] == ["renamed"]


def test_one_policy_per_training_run(suite, policy_file, tmp_path, capsys):
    """Two --policy: a two-run entry, scored over its runs like the trained entries; one: a one-run entry."""
    db_path = str(tmp_path / "r.db")
    code = main(["submit", "--name", "two", "--policy", f"{policy_file}:straight", "--policy",
                 f"{policy_file}:slower", "--workers", "1", "--db", db_path])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "(2 training runs)" in err
    with ResultsDB(db_path) as db:
        runs = db.entries()["two"]["agents"]
        assert set(runs) == set(suite.scenarios)
        assert [agent for agent, _ in runs["curve-gentle"]] == [f"{policy_file}:straight", f"{policy_file}:slower"]
        one = submit.submit("one", f"{policy_file}:straight", db=db, workers=1, progress=False, log=print)
        two = {r.agent: r for r in leaderboard.compute(db, suite)}["two"]
        with pytest.raises(DrivebenchError, match="the same policy is given for two training runs"):
            submit.submit("again", [f"{policy_file}:straight", f"{policy_file}:straight"], db=db, progress=False)
    assert two.runs == 2 and two.complete and len(two.per_run_driving_score) == 2
    assert two.per_scenario["curve-gentle"]["runs"] == 2
    assert one.runs == 1 and one.per_run_driving_score[0] == pytest.approx(two.per_run_driving_score[0])
    table = leaderboard.table([two, one])
    assert table["runs"].tolist() == ["2", "1*"]


def test_reserved_names_and_hopeless_policies(suite, policy_file, tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        for name in ("bc", "expert", "dagger-quick", " "):
            with pytest.raises(DrivebenchError, match="choose another"):
                submit.submit(name, f"{policy_file}:straight", db=db, progress=False)
        with pytest.raises(DrivebenchError, match="cannot load policy"):
            submit.submit("x", f"{policy_file}:nothing_here", db=db, progress=False)
        assert db.entries() == {}


def test_sb3_model_file(suite, tmp_path, capsys):
    """A PPO model trained elsewhere on the curve observations: scored on the curve, skipped on parking."""
    from stable_baselines3 import PPO

    env = gymnasium.make(registry.get("curve-gentle").id)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    model.save(tmp_path / "ppo_curve.zip")
    code = main(["submit", "--name", "ppo", "--policy", str(tmp_path / "ppo_curve.zip"), "--workers", "1",
                 "--db", str(tmp_path / "r.db")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "skipping parking-empty: " in err and "shape (28,)" in err
    assert "ppo (incomplete)" in out
    with ResultsDB(tmp_path / "r.db") as db:
        row = leaderboard.compute(db, suite)[0]
    assert row.scenarios == 1 and row.invalid_rate == 0.0
    assert main(["leaderboard", "--db", str(tmp_path / "r.db"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["agent"] == "ppo"


def test_not_a_model_file(suite, tmp_path):
    bad = tmp_path / "model.zip"
    bad.write_bytes(b"not a zip")
    with ResultsDB(tmp_path / "r.db") as db, pytest.raises(DrivebenchError, match="not a stable-baselines3 model"):
        submit.submit("x", str(bad), db=db, progress=False)
