"""Training to quality (slow, out of the default run: `pytest -m slow`). The benchmark's core claim on a curve:
behaviour cloning leaves the road when it starts off the expert's path, DAgger recovers."""
import pytest

from drivebench.agents.train import train
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.shifts import NONE, parse_shift
from drivebench.seeds import eval_seeds

SHIFT = parse_shift("start_offset:2")


def failure_rate(records) -> float:
    return sum(r.metrics.termination in ("crashed", "off_road") for r in records) / len(records)


@pytest.mark.slow
def test_dagger_at_least_halves_bc_failures_under_a_start_offset(tmp_path):
    agents = {algo: str(train(algo, "curve-gentle", out=tmp_path / algo, seed=0, progress=False).out)
              for algo in ("bc", "dagger")}
    requests = {(algo, shift): Request(agent, "curve-gentle", shift) for algo, agent in agents.items()
                for shift in (NONE, SHIFT)}
    results = evaluate_many(list(requests.values()), seeds=eval_seeds(50), workers=1, progress=False)
    rate = {key: failure_rate(results[request]) for key, request in requests.items()}
    success = {key: sum(r.metrics.success for r in results[request]) / 50 for key, request in requests.items()}
    assert success[("dagger", NONE)] >= success[("bc", NONE)]
    assert rate[("bc", SHIFT)] > 0.2, "BC should struggle off the expert's path, or the shift tests nothing"
    assert rate[("dagger", SHIFT)] <= rate[("bc", SHIFT)] / 2
