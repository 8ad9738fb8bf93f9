"""The benchmark scripts' own machinery: harness_overhead.py's replay of recorded episodes (which times the
harness's own work apart from the simulator) drives the harness exactly as the real env does; the snapshots of
adversarial_budget.py are the policies shorter runs train."""
from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

from drivebench.eval import shifts
from drivebench.eval.keys import scenario_key
from drivebench.eval.harness import episode_record, run_chunk
from drivebench.eval.policies import load_policy
from drivebench.eval.shifts import NONE
from drivebench.experts.registry import experts_for
from drivebench.scenarios import registry

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """benchmarks/<name>.py as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replayed_episodes_give_the_records_of_the_real_run():
    spec = registry.get("curve-gentle").spec
    expert, seeds = experts_for(spec)[0], [11, 12]
    replay = _load("harness_overhead").ReplayEnv(shifts.make_env(spec), lambda env, obs: expert.act(env), seeds)
    policy = replace(load_policy(expert.id), act=replay.act)
    replayed = [episode_record(expert.id, policy, replay, spec, scenario_key(spec), NONE, s) for s in seeds]
    real = run_chunk(expert.id, spec.model_dump(mode="json"), "none", 0, seeds)
    assert [r.metrics for r in replayed] == [r.metrics for r in real]
    assert all(r.metrics.success for r in real)
    for a, b in zip(replayed, real):
        assert (a.trajectory.poses == b.trajectory.poses).all()


def test_an_adversarial_snapshot_is_the_policy_a_shorter_run_trains(tmp_path):
    """benchmarks/adversarial_budget.py reads a run's snapshot after round k as a k-round run's policy."""
    import torch

    from drivebench.agents import checkpoints
    from drivebench.agents.train import train

    script = _load("adversarial_budget")
    folders, per_round = script.train_with_snapshots("gail", "curve-gentle", {1}, tmp_path, preset="quick")
    assert sorted(folders) == [1, 2]  # quick: 512 env steps of 1 x 256
    short = train("gail", "curve-gentle", out=tmp_path / "short", preset="quick", progress=False,
                  overrides={"env_steps": per_round})
    weights = {k: checkpoints.load_policy(folder)[0].state_dict() for k, folder in folders.items()}
    expected = checkpoints.load_policy(short.out)[0].state_dict()
    assert all(torch.equal(weights[1][name], expected[name]) for name in expected)
    assert not torch.equal(weights[1]["action_net.weight"], weights[2]["action_net.weight"])


def test_adversarial_budget_prints_its_table(tmp_path, monkeypatch, capsys):
    script = _load("adversarial_budget")
    monkeypatch.setattr("sys.argv", ["adversarial_budget.py", "--algos", "airl", "--scenarios", "parking-empty",
                                     "--rounds", "1", "--episodes", "2", "--preset", "quick", "--workers", "1",
                                     "--out", str(tmp_path)])
    script.main()
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[lines.index("") + 2:]]  # the table, after a blank line and its header
    assert [(r[1], r[2]) for r in rows] == [("1", "256"), ("2", "512")]
    assert all(0 <= float(r[-1]) <= 100 for r in rows)


def test_reward_transfer_trains_ppo_on_each_airl_reward_and_prints_both(tmp_path, monkeypatch, capsys):
    script = _load("reward_transfer")
    monkeypatch.setattr("sys.argv", ["reward_transfer.py", "--scenarios", "curve-gentle", "--seeds", "0",
                                     "--episodes", "2", "--preset", "quick", "--workers", "1", "--out", str(tmp_path),
                                     "--json"])
    script.main()
    out = capsys.readouterr().out
    rows = json.loads(out[out.index("\n["):])
    assert sorted(r["algo"] for r in rows) == ["airl", "ppo"] and all(0 <= r["success"] <= 1 for r in rows)
    ppo = json.loads((tmp_path / "curve-gentle" / "ppo-0" / "agent.json").read_text())
    assert ppo["algo"] == "ppo" and "airl-0" in str(ppo)  # trained on that AIRL agent's reward
    assert "ppo on airl's reward" in out


def test_reference_conditions_prints_every_scenario_under_every_scored_condition(monkeypatch, capsys):
    from drivebench.leaderboard import official_suite
    script = _load("reference_conditions")
    monkeypatch.setattr("sys.argv", ["reference_conditions.py", "--episodes", "1", "--scenarios", "curve-gentle",
                                     "parking-empty", "--json"])
    script.main()
    out = capsys.readouterr().out
    rows = json.loads(out[out.index("\n["):])
    conditions = ["none", *map(str, official_suite().offdist)]
    assert [(r["scenario"], r["condition"]) for r in rows] == [
        (s, c) for s in ("curve-gentle", "parking-empty") for c in conditions]
    assert [r["expert"] for r in rows] == ["expert:cautious"] * 3 + ["expert:tidy"] * 3
    assert all(r["expert_success"] == 1.0 and r["random_success"] == 0.0 for r in rows)
    assert "6 of 6 (scenario, condition) cells pass" in out
