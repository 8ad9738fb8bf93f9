"""GAIL/AIRL quality against their generator steps: one training run per algorithm and scenario, its generator
saved after some of its rounds, every snapshot scored on the official seeds in distribution and under the
suite's off-distribution shifts. Prints a table: per scenario, driving score / success % in distribution, then
the means over the scenarios as the leaderboard computes them.

    python benchmarks/adversarial_budget.py [--algos gail,airl] [--scenarios curve-gentle,...]
                                            [--env-steps 51200] [--rounds 7,13,19] [--episodes 50]
                                            [--preset standard] [--workers 2] [--out runs/adversarial_budget]

--env-steps sets the run's generator steps (default: the preset's); --rounds says after which rounds of it to
keep the generator.

A round does not depend on how many follow it (PPO's learning rate and clip range are constant), so the
snapshot after round k is the policy that a run of k rounds (env_steps = k x n_steps x n_envs) trains, weight
for weight (tests/test_benchmarks.py checks it). The run's last round is its own checkpoint. The snapshots are
taken by train's callback (drivebench.agents.base.Callback), which sees the generator after each round.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np

from drivebench import leaderboard
from drivebench.agents import checkpoints
from drivebench.agents.base import TrainProgress
from drivebench.agents.train import train, train_key
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.shifts import NONE


def snapshots(rounds: set[int]):
    """A training callback that keeps the generator's weights after each round in `rounds` (copies: the policy it
    is shown is the live one). Returns (the callback, the dict {round: state_dict} it fills)."""
    kept: dict[int, dict] = {}

    def keep(progress: TrainProgress) -> None:
        if progress.round in rounds:
            kept[progress.round] = copy.deepcopy(progress.policy.state_dict())

    return keep, kept


def train_with_snapshots(algo: str, scenario: str, rounds: set[int], out: Path, preset: str = "standard",
                         overrides: dict | None = None) -> tuple[dict[int, Path], int]:
    """Train once; save the snapshot after each of `rounds` as a checkpoint beside the run's own. Returns
    ({round: checkpoint folder}, the run's last round included; env steps per round)."""
    keep, kept = snapshots(rounds)
    result = train(algo, scenario, out=out / f"{algo}-{scenario}", preset=preset, progress=False,
                   overrides=overrides, callback=keep)
    hp = result.config["hyperparameters"]
    per_round = hp["n_steps"] * hp["n_envs"]
    policy, _ = checkpoints.load_policy(result.out)
    folders = {result.usage.env_steps // per_round: result.out}
    for k, weights in sorted(kept.items()):
        policy.load_state_dict(weights)
        short = {**(overrides or {}), "env_steps": k * per_round}  # the k-round run this snapshot equals
        config = {**result.config, "hyperparameters": {**hp, "env_steps": k * per_round},
                  "train_key": train_key(algo, scenario, preset=preset, overrides=short)}
        folders[k] = checkpoints.save(out / f"{algo}-{scenario}-round{k}", policy=policy, config=config)
    return folders, per_round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    suite = leaderboard.official_suite()
    parser.add_argument("--algos", default="gail,airl")
    parser.add_argument("--scenarios", default=",".join(suite.scenarios))
    parser.add_argument("--env-steps", type=int, default=None, help="the run's generator steps (default: the preset's)")
    parser.add_argument("--rounds", default="7,13,19", help="rounds after which to keep the generator")
    parser.add_argument("--episodes", type=int, default=suite.episodes)
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default="runs/adversarial_budget")
    args = parser.parse_args()
    scenarios, rounds = args.scenarios.split(","), {int(k) for k in args.rounds.split(",")}
    suite = suite.narrowed(scenarios, args.episodes)
    conditions = (NONE, *suite.offdist)
    cells: dict[tuple[str, int], dict[str, tuple[float, float, float]]] = {}  # (algo, round): {scenario: ...}
    steps: dict[tuple[str, int], int] = {}
    for algo in args.algos.split(","):
        for scenario in scenarios:
            folders, per_round = train_with_snapshots(algo, scenario, rounds, Path(args.out), args.preset,
                                                      {"env_steps": args.env_steps} if args.env_steps else None)
            requests = {k: [Request(str(f), scenario, c) for c in conditions] for k, f in folders.items()}
            results = evaluate_many([r for rs in requests.values() for r in rs], seeds=suite.seeds,
                                    workers=args.workers, progress=False)
            for k, (indist, *shifted) in requests.items():
                steps[algo, k] = k * per_round
                ind = results[indist]
                cells.setdefault((algo, k), {})[scenario] = (
                    float(np.mean([r.metrics.driving_score for r in ind])),
                    100 * float(np.mean([r.metrics.success for r in ind])),
                    float(np.mean([r.metrics.driving_score for s in shifted for r in results[s]])))
            print(f"{algo} {scenario}: rounds {sorted(folders)} scored", flush=True)
    print("\nalgorithm  rounds  env steps  " + "  ".join(f"{s:>15}" for s in scenarios)
          + "  mean score  mean success %  off-dist. score")
    for (algo, k), by_scenario in sorted(cells.items()):
        values = [by_scenario[s] for s in scenarios]
        print(f"{algo:9}  {k:6d}  {steps[algo, k]:9d}  "
              + "  ".join(f"{v[0]:7.0f} / {v[1]:5.0f}" for v in values)
              + f"  {np.mean([v[0] for v in values]):10.1f}  {np.mean([v[1] for v in values]):14.1f}"
              + f"  {np.mean([v[2] for v in values]):15.1f}")


if __name__ == "__main__":  # needed: the forkserver workers import this file as __mp_main__
    main()
