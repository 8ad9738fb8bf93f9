"""`drivebench styles`: a quick run end to end (matrix shape, styles.json keys and ranges, figures) and the
messages for bad input."""
from __future__ import annotations

import argparse
import json

import pytest

from drivebench.errors import DrivebenchError
from drivebench.styles.cli import add_parser, format_report, run


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="drivebench")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["styles", *argv])


def test_defaults():
    args = parse([])
    assert (args.scenario, args.algos, args.demos_per_style, args.preset, args.episodes) == (
        "parking-styles", "bc,gail,airl", 4, "standard", 20)
    assert args.func is run and args.out is None and not args.json and args.seeds is None
    assert parse(["--seeds", "0,2"]).seeds == (0, 2)
    for bad in (["--preset", "huge"], ["--episodes", "0"], ["--seeds", "0,0"], ["--seeds", "a"], ["--seeds", "-1"]):
        with pytest.raises(SystemExit):
            parse(bad)


def test_the_default_training_runs_are_the_suites():
    from drivebench.leaderboard import official_suite
    from drivebench.styles.experiment import StylesConfig

    assert StylesConfig.seeds == official_suite().train_seeds


@pytest.fixture(scope="module")
def quick_parking(tmp_path_factory):
    out = tmp_path_factory.mktemp("styles") / "parking"
    args = parse(["--preset", "quick", "--algos", "bc", "--episodes", "3", "--demos-per-style", "2",
                  "--seeds", "0,1", "--workers", "1", "--out", str(out)])
    assert run(args) == 0
    return out, json.loads((out / "styles.json").read_text())


def test_quick_run_writes_the_matrix_and_every_number(quick_parking, capsys):
    out, data = quick_parking
    styles = data["styles"]
    assert styles == ["tidy", "reverse", "shortcut"] and data["algos"] == ["bc"]
    assert {"scenario", "family", "matrix", "agents", "experts", "classifier", "linear_irl", "demonstrators",
            "metrics", "figures", "recovered", "learned_agents", "eval_seeds"} <= set(data)
    matrix = data["matrix"]
    assert matrix["columns"] == styles
    assert data["seeds"] == [0, 1]
    assert matrix["rows"] == [f"expert/{s}" for s in styles] + [f"bc/{s}#{k}" for s in styles for k in (0, 1)]
    assert len(matrix["values"]) == 9 and all(len(row) == 3 and min(row) >= 0 for row in matrix["values"])
    assert len(data["eval_seeds"]) == 3 and data["eval_seeds"][0] >= 1_000_000  # evaluation seeds, not demo seeds
    for row in data["experts"]:  # the demonstrators themselves are nearest their own style
        assert row["recovered"] and row["success_rate"] == 1.0
    for row in data["agents"]:
        assert row["nearest"] in styles and row["recovered"] == (row["nearest"] == row["style"])
        assert 0 <= row["success_rate"] <= 1 and 0 <= row["classifier_accuracy"] <= 1
        assert row["success_ci"][0] <= row["success_rate"] <= row["success_ci"][1]
        assert sum(row["classified"].values()) == pytest.approx(1.0)
        assert len(row["episode_metrics"]) == 3 and len(row["episode_metrics"][0]) == len(data["metrics"])
        assert row["own_distance_vs_expert"] > 0
    assert data["learned_agents"] == 6 and 0 <= data["recovered"] <= 6
    assert [(r["style"], r["runs"], r["seeds"]) for r in data["over_runs"]] == [(s, 2, [0, 1]) for s in styles]
    for summary in data["over_runs"]:  # each (algorithm, style) over its runs: the mean of the runs' own figures
        runs = [a for a in data["agents"] if (a["algo"], a["style"]) == (summary["algo"], summary["style"])]
        assert summary["per_run_success"] == [a["success_rate"] for a in runs]
        assert summary["success_rate"] == pytest.approx(sum(summary["per_run_success"]) / 2)
        assert summary["nearest"] == [a["nearest"] for a in runs]
        assert summary["recovered_runs"] == sum(a["recovered"] for a in runs)
    assert data["classifier"]["cv_accuracy"] > 0.9
    irl = data["linear_irl"]
    assert set(irl["styles"]) == set(styles)
    for r in irl["styles"].values():
        assert sum(abs(w) for w in r["weights"].values()) == pytest.approx(1.0)
        assert r["gap_per_iteration"][-1] < r["gap_per_iteration"][0]
    assert irl["styles"]["reverse"]["weights"]["reversing"] > irl["styles"]["tidy"]["weights"]["reversing"]
    assert (out / "styles.png").stat().st_size > 10_000
    from drivebench.agents import checkpoints

    runs = [out / "agents" / f"bc-tidy-{seed}" for seed in (0, 1)]
    assert [checkpoints.read_config(run)["seed"] for run in runs] == [0, 1]  # each run trained with its own seed
    assert checkpoints.agent_hash(runs[0]) != checkpoints.agent_hash(runs[1])
    text = format_report(data)
    assert "expert/tidy" in text and "bc/shortcut#1" in text and "Style classifier" in text and "reversing" in text
    assert "Over training runs (seeds 0, 1)" in text


def test_a_second_run_reuses_the_checkpoints(quick_parking):
    out, _ = quick_parking
    args = parse(["--preset", "quick", "--algos", "bc", "--episodes", "1", "--demos-per-style", "2",
                  "--seeds", "1", "--workers", "1", "--out", str(out), "--json"])
    assert run(args) == 0
    data = json.loads((out / "styles.json").read_text())
    assert len(data["checkpoints_reused"]) == 3 and data["episodes"] == 1 and data["seeds"] == [1]
    assert all(path.endswith("-1") for path in data["checkpoints_reused"])


@pytest.mark.parametrize("argv, words", [
    (["--scenario", "parking-nowhere"], ["unknown scenario", "parking-styles"]),
    (["--algos", "bc,gial"], ["'gial'", "bc", "gail", "airl"]),
    (["--scenario", "parking-reverse"], ["1 driving style", "at least two", "parking-styles"]),
    (["--demos-per-style", "99"], ["fewer than --demos-per-style 99", "drivebench record"]),
])
def test_bad_input_names_the_fix(argv, words, tmp_path):
    with pytest.raises(DrivebenchError) as info:
        run(parse([*argv, "--preset", "quick", "--out", str(tmp_path)]))
    for word in words:
        assert word in str(info.value)


def test_stale_style_demos_are_refused_naming_the_command(tmp_path, monkeypatch, code_copy, code_edits):
    """The experiment compares styles recorded by today's simulator and experts: after a change, it names the set
    and `drivebench run`, which re-records the default sets."""
    from drivebench.data import record
    from drivebench.experts.registry import experts_for
    from drivebench.scenarios import registry
    from drivebench.styles.experiment import style_demo_sets

    monkeypatch.setenv("DRIVEBENCH_EXPERT_DATA", str(tmp_path))
    experts = experts_for(registry.get("parking-styles").spec)
    for expert in experts:
        record.record("parking-styles", expert.id, episodes=1, root=tmp_path, progress=False)
    assert set(style_demo_sets("parking-styles")) == {e.style.name for e in experts}
    code_copy.edit(type(experts[-1]).__module__, code_edits[0])
    with pytest.raises(DrivebenchError, match=r"stale demos of parking-styles .*`drivebench run`"):
        style_demo_sets("parking-styles")


def test_quick_run_on_a_curve(tmp_path, capsys):
    out = tmp_path / "curve"
    args = parse(["--scenario", "curve-s-bend", "--preset", "quick", "--algos", "bc", "--episodes", "2",
                  "--demos-per-style", "2", "--seeds", "0", "--workers", "1", "--out", str(out)])
    assert run(args) == 0
    data = json.loads((out / "styles.json").read_text())
    assert data["family"] == "curve" and data["styles"] == ["cautious", "sporty"]
    assert len(data["matrix"]["values"]) == 4 and "apex_cut" in data["metrics"]
    assert "through_bay" not in data["linear_irl"]["features"]
    assert all((out / name).stat().st_size > 10_000 for name in ("styles.png", "offsets.png"))
    assert "cautious" in capsys.readouterr().out


def test_the_drivebench_command_has_styles(capsys):
    from drivebench.cli import main

    assert main(["styles", "--scenario", "curve-gentle", "--algos", "bc,nope", "--preset", "quick"]) == 2
    assert "nope" in capsys.readouterr().err
