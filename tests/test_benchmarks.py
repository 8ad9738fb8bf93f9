"""benchmarks/harness_overhead.py: its replay of recorded episodes, which times the harness's own work apart from
the simulator, drives the harness exactly as the real env does."""
from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

from drivebench.eval import shifts
from drivebench.eval.harness import episode_record, run_chunk
from drivebench.eval.policies import load_policy
from drivebench.eval.shifts import NONE
from drivebench.experts.registry import experts_for
from drivebench.scenarios import registry
from drivebench.scenarios.spec import spec_hash

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "harness_overhead.py"


def _script():
    spec = importlib.util.spec_from_file_location("harness_overhead", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replayed_episodes_give_the_records_of_the_real_run():
    spec = registry.get("curve-gentle").spec
    expert, seeds = experts_for(spec)[0], [11, 12]
    replay = _script().ReplayEnv(shifts.make_env(spec), lambda env, obs: expert.act(env), seeds)
    policy = replace(load_policy(expert.id), act=replay.act)
    replayed = [episode_record(expert.id, policy, replay, spec, spec_hash(spec), NONE, s) for s in seeds]
    real = run_chunk(expert.id, spec.model_dump(mode="json"), "none", 0, seeds)
    assert [r.metrics for r in replayed] == [r.metrics for r in real]
    assert all(r.metrics.success for r in real)
    for a, b in zip(replayed, real):
        assert (a.trajectory.poses == b.trajectory.poses).all()
