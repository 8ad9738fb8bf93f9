"""`drivebench thirdperson` end to end on the quick preset: demos in both frames, the four methods, the harness's
evaluation, thirdperson.json, the figure and the report section."""
from __future__ import annotations

import json

import pytest

from drivebench.cli import main
from drivebench.thirdperson import METHODS, experiment
from drivebench.thirdperson.experiment import gap_closed


def test_a_quick_run_end_to_end(tmp_path, capsys):
    out = tmp_path / "tp"
    assert main(["thirdperson", "--scenario", "curve-gentle", "--frame", "follower", "--preset", "quick",
                 "--episodes", "2", "--hp", "disc_pretrain_steps=2", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert all(m in table for m in METHODS) and "domain probe" in table
    data = json.loads((out / "thirdperson.json").read_text())
    assert data["frame"] == "follower" and data["runs"] == 1 and data["episodes"] == 2
    assert data["hyperparameters"]["disc_pretrain_steps"] == 2
    for m in METHODS:
        e = data["methods"][m]
        assert 0 <= e["success"]["value"] <= 1 and 0 <= e["probe"]["value"] <= 1
        assert len(e["runs"]) == 1 and sum(e["runs"][0]["terminations"].values()) == 2
    assert (out / "thirdperson.png").stat().st_size > 10_000 and data["figure"] == str(out / "thirdperson.png")
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temporary file left
    assert (out / "demos" / "curve-gentle" / "cautious@follower" / "manifest.json").exists()
    section = (out / "section.md").read_text()
    assert "Third-person imitation: curve-gentle, follower frame" in section and "thirdperson.png" in section
    assert "<section" in (out / "section.html").read_text()


def test_gap_closed_is_the_share_of_the_floor_to_ceiling_gap():
    assert gap_closed([80, 80], [20, 20], [50, 50])["value"] == pytest.approx(0.5)
    g = gap_closed([80, 90, 70], [20, 10, 30], [50, 60, 40])
    assert g["value"] == pytest.approx(0.5) and g["low"] <= 0.5 <= g["high"]
    assert gap_closed([20, 20], [20, 20], [30, 30])["value"] is None  # no gap to close


def test_a_mistaken_option_is_a_message(capsys):
    assert main(["thirdperson", "--scenario", "curve-gentle", "--hp", "lambda=3", "--preset", "quick"]) == 2
    assert "thirdperson has no hyperparameter lambda" in capsys.readouterr().err
    assert main(["thirdperson", "--scenario", "curve-gentle", "--methods", "tpil,dann", "--preset", "quick"]) == 2
    assert "unknown method 'dann'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--hp", "runs=abc"], "--hp runs='abc': runs must be a whole number >= 1"),
    (["--hp", "n_envs=0"], "--hp n_envs=0: n_envs must be a whole number >= 1"),
    (["--hp", "env_steps=-5"], "--hp env_steps=-5: env_steps must be a whole number >= 1"),
    (["--hp", "n_steps=2.5"], "--hp n_steps=2.5: n_steps must be a whole number >= 1"),
    (["--hp", "disc_pretrain_steps=-1"], "disc_pretrain_steps must be a whole number >= 0"),
    (["--hp", "domain_weight=nan"], "--hp domain_weight=nan: domain_weight must be a finite number"),
    (["--hp", "domain_weight=-2"], "--hp domain_weight=-2: domain_weight must be a number >= 0"),
    (["--hp", "gamma=1.5"], "gamma must be a number in [0, 1]"),
    (["--hp", "disc_learning_rate=0"], "disc_learning_rate must be a number > 0"),
    (["--hp", "frame_norm=1"], "--hp frame_norm=1: frame_norm must be true or false"),
    (["--hp", "net_arch=[64, 0]"], "net_arch must be a non-empty list of whole numbers >= 1"),
    (["--hp", "activation=3"], "activation must be a str"),
], ids=lambda v: v[1] if isinstance(v, list) else None)
def test_a_hyperparameter_of_the_wrong_type_or_range_names_the_flag(capsys, argv, message):
    assert main(["thirdperson", "--scenario", "curve-gentle", "--preset", "quick", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("weight", ["-2", "nan", "inf", "heavy"])
def test_a_negative_or_undefined_domain_weight_is_refused(capsys, weight):
    with pytest.raises(SystemExit) as exit_:
        main(["thirdperson", "--scenario", "curve-gentle", "--preset", "quick", "--domain-weight", weight])
    assert exit_.value.code == 2
    assert f"--domain-weight: must be a finite number >= 0, got {weight}" in capsys.readouterr().err


def test_an_integer_where_the_preset_has_a_float_is_that_float():
    hp = experiment.check_config(experiment.ThirdPersonConfig("curve-gentle", preset="quick", domain_weight=0,
                                                              overrides=(("ppo_learning_rate", 1),)))
    assert hp["domain_weight"] == 0.0 and isinstance(hp["ppo_learning_rate"], float)


def test_the_json_is_written_whole_before_the_figure(tmp_path, monkeypatch, capsys):
    """A figure that fails leaves thirdperson.json complete (it is written first, atomically)."""
    class Result:
        seconds = 1.0

        def to_json(self):
            return {"scenario": "curve-gentle", "runs": 0}

    def no_figure(result, data, path):
        assert json.loads((tmp_path / "thirdperson.json").read_text())["runs"] == 0  # already there, whole
        raise RuntimeError("no figure")

    monkeypatch.setattr(experiment, "run_experiment", lambda config, step: Result())
    monkeypatch.setattr("drivebench.thirdperson.figure.thirdperson_figure", no_figure)
    with pytest.raises(RuntimeError, match="no figure"):
        main(["thirdperson", "--scenario", "curve-gentle", "--preset", "quick", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "thirdperson.json").read_text()) == {
        "scenario": "curve-gentle", "runs": 0, "figure": str(tmp_path / "thirdperson.png")}
    assert [p.name for p in tmp_path.iterdir()] == ["thirdperson.json"]
