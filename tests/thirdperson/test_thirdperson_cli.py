"""`drivebench thirdperson` end to end on the quick preset: demos in both frames, the four methods, the harness's
evaluation, thirdperson.json, the figure and the report section."""
from __future__ import annotations

import json

import pytest

from drivebench.agents.thirdperson import METHODS
from drivebench.cli import main
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
    assert (out / "thirdperson.png").stat().st_size > 10_000
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
