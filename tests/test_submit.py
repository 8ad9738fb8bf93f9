"""Submissions: outside policies scored on the official seeds; misbehaving ones get invalid episodes."""
import dataclasses
import json
import textwrap

import gymnasium
import pytest

from drivebench import leaderboard, submit
from drivebench.cli import main
from drivebench.errors import DrivebenchError
from drivebench.eval import sandbox
from drivebench.eval.harness import EvaluationStopped
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
    monkeypatch.setattr(sandbox, "LIMITS", sandbox.Limits(episode_seconds=0.5))
    return narrowed


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "my_policies.py"
    path.write_text(textwrap.dedent(POLICIES))
    return path


def test_misbehaving_policies_get_invalid_episodes_not_a_broken_board(suite, policy_file, tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        rows = {name: submit.submit(name, f"{policy_file}:{name}", db=db, workers=1, progress=False, log=print)
                for name in ("straight", "raises", "garbage")}
        with pytest.raises(EvaluationStopped, match="ran out of time in 3 episodes in a row"):
            submit.submit("hangs", f"{policy_file}:hangs", db=db, workers=1, progress=False, log=print)
        episodes = db.dataframe()
        assert set(db.entries()) == {"straight", "raises", "garbage"}  # a stopped submission enters nothing
    hung = episodes[episodes.agent == f"{policy_file}:hangs"]
    assert len(hung) == 3 and (hung.termination == "invalid_action").all()
    assert hung.invalid_reason.str.contains("PolicyTimeout: the policy spent its 0.5 s per-episode time limit").all()
    assert rows["straight"].invalid_rate == 0.0 and rows["straight"].complete
    for name, reason in [("raises", "the policy raised RuntimeError: no idea"),
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
        for name in ("bc", "expert", "dagger-quick", " ", f"mine-{suite.few_demos}demos"):
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


# ---------------------------------------------------------------------------------------------- manifests
def family_of(scenario: str) -> str:
    from drivebench.scenarios import family as families

    return families.of(registry.get(scenario).spec).name


@pytest.fixture
def curves(monkeypatch):
    """The official suite narrowed to two curve scenarios and a lot, 2 seeds, no robustness condition."""
    narrowed = dataclasses.replace(leaderboard.official_suite().narrowed(
        ["curve-gentle", "curve-hairpin", "parking-empty"], episodes=2), robustness=())  # the scored conditions
    monkeypatch.setattr(leaderboard, "official_suite", lambda: narrowed)
    return narrowed


def write_manifest(folder, text: str, name: str = "submission.toml"):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def manifest_problems(path, suite) -> list[tuple[str, str]]:
    with pytest.raises(submit.ManifestError) as err:
        submit.read_manifest(path, suite)
    assert str(err.value).startswith(f"{path}: invalid submission manifest")
    return err.value.problems


@pytest.mark.parametrize("text, key, message", [
    ('[scenarios]\ncurve-gentel = "p.py:straight"\n', "scenarios.curve-gentel",
     "unknown scenario (did you mean 'curve-gentle'?); the suite's scenarios are curve-gentle, curve-hairpin, "
     "parking-empty"),
    ('[scenarios]\nparking-styles = "p.py:straight"\n', "scenarios.parking-styles", "is not in the official suite"),
    ('[scenarios]\n{curve} = "p.py:straight"\n', "scenarios.{curve}", "{curve} is a family, not a scenario: put it "
                                                                      "under [families]"),
    ('[families]\nboat = "p.py:straight"\n', "families.boat", "unknown family; the suite's families are {curve}, "),
    ('[families]\ncurve-gentle = "p.py:straight"\n', "families.curve-gentle", "is a scenario, not a family"),
    ('[families]\n{curve} = "p.py:straight"\n[scenarios]\ncurve-hairpin = "p.py:slower"\n', "scenarios.curve-hairpin",
     "curve-hairpin is also given by families.{curve}; give each scenario once"),
    ('[scenarios]\ncurve-gentle = []\n', "scenarios.curve-gentle", "an empty list: give one policy per training run"),
    ('[scenarios]\ncurve-gentle = 3\n', "scenarios.curve-gentle", "expected a policy (a string) or a list of them"),
    ('[scenarios]\ncurve-gentle = ["p.py:straight", 4]\n', "scenarios.curve-gentle[1]", "expected a policy (a "
                                                                                       "non-empty string); got 4"),
    ('[families]\n{curve} = ["p.py:straight", "p.py:slower"]\n[scenarios]\nparking-empty = "p.py:straight"\n',
     "scenarios.parking-empty", "1 policy, but families.{curve} has 2: give every scenario one policy per training "
                                "run"),
    ('[scenarios]\ncurve-gentle = "missing.zip"\n', "scenarios.curve-gentle",
     "missing.zip: no such file or folder {folder}/missing.zip (paths are relative to the manifest's folder)"),
    ('[scenarios]\ncurve-gentle = "nothere.py:act"\n', "scenarios.curve-gentle", "nothere.py:act: no such file"),
    ('[scenario]\ncurve-gentle = "p.py:straight"\n', "scenario", "unknown key (did you mean 'scenarios'?)"),
    ('scenarios = "p.py:straight"\n', "scenarios", "must be a table ([scenarios]) mapping names to policies"),
    ('[scenarios]\ncurve-gentle = "p.py:straight\n', "", "not valid TOML: "),
    ('[scenarios]\ncurve-gentle = "p.py:a"\ncurve-gentle = "p.py:b"\n', "", "not valid TOML: "),
    ('# nothing\n', "", "maps no scenario: give a [families] or a [scenarios] table"),
])
def test_a_manifest_problem_names_the_file_and_the_key(curves, tmp_path, text, key, message):
    curve = family_of("curve-gentle")
    (tmp_path / "p.py").write_text(textwrap.dedent(POLICIES))
    path = write_manifest(tmp_path, text.replace("{curve}", curve))
    problems = manifest_problems(path, curves)
    expected = message.replace("{curve}", curve).replace("{folder}", str(tmp_path))
    assert [k for k, _ in problems] == [key.replace("{curve}", curve)] and expected in problems[0][1], problems


def test_a_manifest_file_that_cannot_be_read_is_named_never_a_hang(curves, tmp_path):
    import os

    (tmp_path / "folder.toml").mkdir()
    os.mkfifo(tmp_path / "pipe.toml")  # reading it would block forever
    (tmp_path / "latin1.toml").write_bytes('[scenarios]\ncurve-gentle = "caf\xe9.py:act"\n'.encode("latin-1"))
    for name, message in [("absent.toml", "no such file"), ("folder.toml", "not a regular file"),
                          ("pipe.toml", "not a regular file"), ("latin1.toml", "not UTF-8 text (byte 31)")]:
        problems = manifest_problems(tmp_path / name, curves)
        assert len(problems) == 1 and problems[0][0] == "" and message in problems[0][1], (name, problems)


def test_every_problem_of_a_manifest_is_listed_and_the_cli_prints_them(curves, tmp_path, capsys):
    path = write_manifest(tmp_path, '''
        [families]
        boat = "p.py:act"
        [scenarios]
        curve-gentle = []
        parking-empty = "gone.zip"
        ''')
    assert [k for k, _ in manifest_problems(path, curves)] == ["families.boat", "scenarios.curve-gentle",
                                                               "scenarios.parking-empty"]
    code = main(["submit", "--name", "mine", "--manifest", str(path), "--db", str(tmp_path / "r.db")])
    err = capsys.readouterr().err
    assert code == 2 and f"error: {path}: invalid submission manifest\n  families.boat: " in err
    assert "scenarios.parking-empty: gone.zip: no such file" in err and "Traceback" not in err
    if (tmp_path / "r.db").exists():
        with ResultsDB(tmp_path / "r.db") as db:
            assert db.entries() == {}


def test_manifest_paths_are_relative_to_its_folder(curves, tmp_path, monkeypatch):
    """A family maps each of its suite scenarios; paths resolve from the manifest's folder, whatever the working
    directory; modules are left for the Python path."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "p.py").write_text(textwrap.dedent(POLICIES))
    path = write_manifest(folder, f'''
        [families]
        {family_of("curve-gentle")} = ["p.py:straight", "./p.py:slower"]
        [scenarios]
        parking-empty = ["mypackage.policies:park0", "mypackage.policies:park1"]
        ''')
    monkeypatch.chdir(tmp_path)
    plan = submit.read_manifest(path, curves)
    mine = f"{folder.resolve() / 'p.py'}"
    curve = family_of("curve-gentle")
    assert plan == {"curve-gentle": [(f"{mine}:straight", f"families.{curve}[0]"),
                                     (f"{mine}:slower", f"families.{curve}[1]")],
                    "curve-hairpin": [(f"{mine}:straight", f"families.{curve}[0]"),
                                      (f"{mine}:slower", f"families.{curve}[1]")],
                    "parking-empty": [("mypackage.policies:park0", "scenarios.parking-empty[0]"),
                                      ("mypackage.policies:park1", "scenarios.parking-empty[1]")]}


def test_a_manifest_per_scenario_with_training_runs(curves, policy_file, tmp_path, capsys, monkeypatch):
    """Each scenario its own policies, one per training run: the entry holds them per scenario, scored over the
    runs; the same policy twice on a scenario is refused before anything runs."""
    only_curves = curves.narrowed(["curve-gentle", "curve-hairpin"])
    monkeypatch.setattr(leaderboard, "official_suite", lambda: only_curves)
    path = write_manifest(tmp_path, f'''
        [scenarios]
        curve-gentle = ["{policy_file.name}:straight", "{policy_file.name}:slower"]
        curve-hairpin = ["{policy_file.name}:slower", "{policy_file.name}:straight"]
        ''')
    db_path = tmp_path / "r.db"
    code = main(["submit", "--name", "per-scenario", "--manifest", str(path), "--workers", "1", "--db", str(db_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "per-scenario (2 training runs): complete on the track all, ranked 1 of 1" in err
    with ResultsDB(db_path) as db:
        agents = db.entries()["per-scenario"]["agents"]
        row = leaderboard.compute(db, only_curves)[0]
    assert [a for a, _ in agents["curve-gentle"]] == [f"{policy_file}:straight", f"{policy_file}:slower"]
    assert [a for a, _ in agents["curve-hairpin"]] == [f"{policy_file}:slower", f"{policy_file}:straight"]
    assert row.runs == 2 and row.complete and row.per_scenario["curve-hairpin"]["runs"] == 2

    twice = write_manifest(tmp_path, f'''
        [scenarios]
        curve-gentle = ["{policy_file.name}:straight", "{policy_file.name}:straight"]
        curve-hairpin = ["{policy_file.name}:slower", "{policy_file.name}:straight"]
        ''', "twice.toml")
    with ResultsDB(db_path) as db, pytest.raises(submit.ManifestError) as err:
        submit.submit_manifest("again", twice, db=db, progress=False)
    assert err.value.problems == [("scenarios.curve-gentle[0]", "the same policy as scenarios.curve-gentle[1]: each "
                                   "policy of a scenario is one training run (another seed of the training)")]


def test_an_sb3_model_submitted_for_its_family_is_complete_on_the_familys_track(curves, tmp_path, capsys):
    """An outside PPO trained on a curve enters for the curve family: complete on that family's track, incomplete
    on `all`; mapped to a lot as well, the manifest is refused naming the key."""
    from stable_baselines3 import PPO

    curve = family_of("curve-gentle")
    env = gymnasium.make("drivebench/curve-gentle-v0")
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(192)
    model.save(tmp_path / "ppo_curve.zip")
    path = write_manifest(tmp_path, f'[families]\n{curve} = "ppo_curve.zip"\n')
    db_path = tmp_path / "r.db"
    code = main(["submit", "--name", "ppo-curves", "--manifest", str(path), "--workers", "1", "--db", str(db_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"complete on the track {curve}, ranked 1 of 1" in err and "incomplete on the track all" in err
    with ResultsDB(db_path) as db:
        assert set(db.entries()["ppo-curves"]["agents"]) == {"curve-gentle", "curve-hairpin"}
        on_curves = leaderboard.compute(db, curves, leaderboard.get_track(curve, curves))
        on_all = leaderboard.compute(db, curves, leaderboard.get_track("all", curves))
    assert [(r.agent, r.complete, r.scenarios) for r in on_curves] == [("ppo-curves", True, 2)]
    assert [(r.agent, r.complete, r.scenarios) for r in on_all] == [("ppo-curves", False, 2)]
    assert on_curves[0].invalid_rate == 0.0 and on_curves[0].episodes == 2 * curves.episodes
    assert main(["leaderboard", "--db", str(db_path), "--track", curve, "--json"]) == 0
    assert [(r["agent"], r["complete"]) for r in json.loads(capsys.readouterr().out)] == [("ppo-curves", True)]

    wrong = write_manifest(tmp_path, f'[families]\n{curve} = "ppo_curve.zip"\n[scenarios]\n'
                                     'parking-empty = "ppo_curve.zip"\n', "wrong.toml")
    with ResultsDB(db_path) as db, pytest.raises(submit.ManifestError) as err:
        submit.submit_manifest("wrong", wrong, db=db, progress=False)
    assert [k for k, _ in err.value.problems] == ["scenarios.parking-empty"]
    assert err.value.problems[0][1].startswith("cannot drive parking-empty: ") and "shape (28,)" in str(err.value)
