"""Reward first, then RL: does the reward AIRL learned train a fresh policy that drives?

For every (scenario, training seed) it trains AIRL with `--preset` (or, with `--airl-from RUNS`, takes the checkpoint
`drivebench run` trained for that seed under RUNS/agents, found by its training key), then a fresh PPO policy from
random weights
on AIRL's unshaped reward (`drivebench train --algo ppo --reward-from AIRL_DIR`), and scores both in distribution on
the first `--episodes` official seeds. Prints per-seed success (crashed / stuck / off-road counts) and the driving
score, then the mean over seeds.

Resumable: checkpoints are kept in `--out/<scenario>/<algo>-<seed>` with their training key, episodes in
`--out/results.db`.

    python benchmarks/reward_transfer.py [--scenarios parking-empty,curve-gentle] [--seeds 0,1,2] [--episodes 50]
        [--preset standard] [--workers 2] [--out runs/reward_transfer] [--airl-from runs] [--json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drivebench.agents import checkpoints
from drivebench.agents.train import train, train_key
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.shifts import NONE
from drivebench.executors import make_executor
from drivebench.results.db import ResultsDB
from drivebench.seeds import eval_seeds


def trained(algo: str, scenario: str, seed: int, out: Path, preset: str, reward_from: str | None = None) -> str:
    """Train one agent unless its folder holds a checkpoint of the same training key; returns the folder."""
    folder = out / scenario / f"{algo}-{seed}"
    key = train_key(algo, scenario, preset=preset, seed=seed, reward_from=reward_from)
    if not (checkpoints.is_checkpoint(folder) and checkpoints.read_config(folder).get("train_key") == key):
        train(algo, scenario, out=folder, preset=preset, seed=seed, reward_from=reward_from, progress=False)
    return str(folder)


def pipeline_airl(runs: Path, scenario: str, seed: int, preset: str) -> str:
    """The AIRL checkpoint `drivebench run` trained for (scenario, seed) under `runs`, on the suite's demos."""
    from drivebench import leaderboard, pipeline

    demos = leaderboard.official_suite().demos
    folder = runs / "agents" / preset / scenario / f"airl-{pipeline.train_key('airl', scenario, preset, seed, demos)[:16]}"
    if not checkpoints.is_checkpoint(folder):
        raise SystemExit(f"{folder}: no AIRL checkpoint of the current code there; run `drivebench run` first")
    return str(folder)


def pair(scenario: str, seed: int, out: Path, preset: str, airl_from: Path | None) -> tuple[str, str]:
    """AIRL, then PPO on its reward, for one (scenario, seed): one task, as the second needs the first."""
    airl = pipeline_airl(airl_from, scenario, seed, preset) if airl_from else trained("airl", scenario, seed, out,
                                                                                      preset)
    return airl, trained("ppo", scenario, seed, out, preset, reward_from=airl)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="parking-empty,curve-gentle")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/reward_transfer"))
    parser.add_argument("--airl-from", type=Path, default=None,
                        help="a runs folder of `drivebench run` whose AIRL checkpoints to use instead of training")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    cells = [(s, int(k)) for s in args.scenarios.split(",") for k in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    folders = {}
    with make_executor("local", args.workers) as executor:
        for index, (airl, ppo) in executor.map_unordered(pair, [(s, k, args.out, args.preset, args.airl_from)
                                                              for s, k in cells]):
            folders[cells[index]] = {"airl": airl, "ppo": ppo}
            print(f"trained {cells[index]}", flush=True)
    seeds = tuple(eval_seeds(args.episodes))
    requests = {(s, k, algo): Request(folder, s, NONE, seeds=seeds)
                for (s, k), pair_ in folders.items() for algo, folder in pair_.items()}
    with ResultsDB(args.out / "results.db") as db:
        results = evaluate_many(list(requests.values()), seeds=list(seeds), workers=args.workers, db=db,
                                progress=True)
    rows = []
    for (scenario, seed, algo), request in sorted(requests.items()):
        records = results[request]
        ends = [r.metrics.termination for r in records]
        rows.append({"scenario": scenario, "seed": seed, "algo": algo,
                     "success": float(np.mean([r.metrics.success for r in records])),
                     "crashed": ends.count("crashed"), "stuck": ends.count("stuck") + ends.count("timeout"),
                     "off_road": ends.count("off_road"),
                     "score": float(np.mean([r.metrics.driving_score for r in records]))})
    print(f"\n{'scenario':16} {'agent':22} per-seed success (crashed/stuck/off-road)        mean success  score")
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        for algo, label in (("airl", "airl"), ("ppo", "ppo on airl's reward")):
            mine = [r for r in rows if (r["scenario"], r["algo"]) == (scenario, algo)]
            per = " ".join(f"{r['success']:.2f}({r['crashed']}/{r['stuck']}/{r['off_road']})" for r in mine)
            print(f"{scenario:16} {label:22} {per:48} {np.mean([r['success'] for r in mine]):5.2f}  "
                  f"{np.mean([r['score'] for r in mine]):5.1f}")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
