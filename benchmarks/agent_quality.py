"""Agent quality: train an algorithm (standard preset unless told) on each scenario for each training seed and
score it with the shared harness in distribution and under `start_offset:2`. One line per (scenario, seed,
shift): success, crash and off-road rates, the share of episodes ending crashed or off-road ('fail'), the
driving score, and the training budget spent.

    python benchmarks/agent_quality.py --algo dagger [--scenarios curve-gentle,curve-s-bend] [--seeds 0,1]
                                       [--episodes 50] [--preset standard] [--out runs/quality]
                                       [--set env_steps=51200 --set ppo_learning_rate=3e-5 ...]

`--set KEY=VALUE` overrides one of the preset's hyperparameters (a tuning sweep without editing presets.toml).
"""
from __future__ import annotations

import argparse
import tomllib

from drivebench.agents.train import ALGORITHMS, train
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.shifts import NONE, parse_shift
from drivebench.eval.summary import summarize
from drivebench.scenarios import registry
from drivebench.seeds import eval_seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", required=True, choices=ALGORITHMS)
    parser.add_argument("--scenarios", default=",".join(e.name for e in registry.entries()))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--out", default="runs/quality")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a preset hyperparameter (repeatable)")
    args = parser.parse_args()
    overrides = dict(_override(item) for item in args.set)
    shifts = (NONE, parse_shift("start_offset:2"))
    for scenario in args.scenarios.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            result = train(args.algo, scenario, out=f"{args.out}/{args.algo}/{scenario}/seed{seed}", seed=seed,
                           preset=args.preset, progress=False, overrides=overrides)
            requests = [Request(str(result.out), scenario, shift) for shift in shifts]
            for request, records in evaluate_many(requests, seeds=eval_seeds(args.episodes), workers=1,
                                                  progress=False).items():
                s = summarize(records)
                fail = sum(r.metrics.termination in ("crashed", "off_road") for r in records) / len(records)
                u = result.usage
                print(f"{args.algo:6} {scenario:16} seed{seed} {str(request.shift):15} "
                      f"success {s['success_rate']['mean']:.2f} crash {s['crash_rate']['mean']:.2f} "
                      f"off-road {s['offroad_rate']['mean']:.2f} fail {fail:.2f} "
                      f"score {s['driving_score']['mean']:5.1f}  train {u.wall_time:.0f} s, {u.gradient_steps} "
                      f"gradient steps, {u.env_steps} env steps, {u.expert_queries} expert queries", flush=True)


def _override(item: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as TOML (numbers, booleans, [lists]); a bare word stays a string."""
    key, sep, value = item.partition("=")
    if not sep:
        raise SystemExit(f"--set {item!r}: expected KEY=VALUE, e.g. --set env_steps=51200")
    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value


if __name__ == "__main__":
    main()
