"""GAIL/AIRL variants over training seeds: which change makes the adversarial phase keep (or beat) its BC warm start.

Each variant is a set of hyperparameter overrides on the standard preset (agents/adversarial.py documents them:
`absorbing`, `critic_warmup_rounds`, `bc_steps_per_round`, `disc_use_action`, ...). For every (variant, scenario,
algorithm, training seed) it trains with `--preset` and the overrides (two runs at a time, on the executor), scores
the agent in distribution and under `start_offset:2` on the first `--episodes` validation seeds (seeds.VALIDATION_SEEDS,
disjoint from the official ones, so that a variant chosen here is not fitted to the leaderboard's seeds; `--on
official` for the official ones), and prints per-seed
success, crash and stuck counts and the driving score, then the mean over seeds. Each variant's bc row is its warm
start alone (the `bc` agent with the variant's demos and network, which GAIL and AIRL start from): what its adversarial
phase starts from and must keep. A variant on few demos takes the preset's few-demo recipe where it has one
(GAIL's, up to `few_demos_max` demos: presets.resolve) unless it sets `"few_demos_max": 0`.

Resumable: checkpoints are kept in `--out/<variant>/<scenario>/<algo>-<seed>` with their training key, and episodes in
`--out/results.db`.

    python benchmarks/adversarial_variants.py --variants base,absorbing,critic,bc,all --scenarios parking-empty,curve-s-bend
        [--algos gail,airl] [--seeds 0,1,2] [--episodes 50] [--workers 2] [--out runs/adversarial_variants]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drivebench.agents import checkpoints, presets
from drivebench.agents.train import train, train_key, warm_start_overrides
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.shifts import NONE, parse_shift
from drivebench.executors import make_executor
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry
from drivebench.seeds import eval_seeds, validation_seeds

VARIANTS = {
    "base": {},
    "absorbing": {"absorbing": True},
    "critic": {"critic_warmup_rounds": 3},
    "bc": {"bc_steps_per_round": 200},
    "stateonly": {"disc_use_action": False},
    "absorbing-stateonly": {"absorbing": True, "disc_use_action": False},
    "all": {"absorbing": True, "critic_warmup_rounds": 3, "bc_steps_per_round": 200},
}
"""Named override sets; `--variant NAME=JSON` on the command line adds one."""

SHIFTED = parse_shift("start_offset:2")


def job(variant: str, overrides: dict, algo: str, scenario: str, seed: int, out: Path, preset: str) -> str:
    """Train one cell unless its checkpoint (same training key) is there; returns the checkpoint folder. The BC agent
    that GAIL and AIRL start from is trained once per (scenario, seed, its settings), whatever the variant."""
    hp = {**presets.load_preset("gail", preset, registry.get(scenario).family), **overrides}
    bc_key = train_key("bc", scenario, preset=preset, seed=seed, overrides=warm_start_overrides(hp))
    warm = out / "bc" / scenario / f"{seed}-{bc_key[:12]}"
    if algo == "bc":  # the warm start alone: the BC agent GAIL and AIRL start from (the variant's demos and network)
        overrides = warm_start_overrides(hp)
    folder = warm if algo == "bc" else out / variant / scenario / f"{algo}-{seed}"
    key = train_key(algo, scenario, preset=preset, seed=seed, overrides=overrides)
    if not (checkpoints.is_checkpoint(folder) and checkpoints.read_config(folder).get("train_key") == key):
        train(algo, scenario, out=folder, preset=preset, seed=seed, overrides=overrides, progress=False,
              warm_start=None if algo == "bc" else warm)
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="base")
    parser.add_argument("--variant", action="append", default=[], help="NAME=JSON overrides (repeatable)")
    parser.add_argument("--scenarios", default="parking-empty,curve-s-bend")
    parser.add_argument("--algos", default="gail,airl")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--on", choices=("validation", "official"), default="validation",
                        help="the seeds agents are scored on (default: the validation seeds)")
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/adversarial_variants"))
    parser.add_argument("--json", action="store_true", help="print the table as JSON too")
    args = parser.parse_args()
    variants = dict(VARIANTS)
    for text in args.variant:
        name, _, overrides = text.partition("=")
        variants[name] = json.loads(overrides)
    chosen = args.variants.split(",")
    unknown = [v for v in chosen if v not in variants]
    if unknown:
        raise SystemExit(f"unknown variant {', '.join(unknown)}; known: {', '.join(variants)}")
    scenarios, algos = args.scenarios.split(","), args.algos.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    cells = [(v, "bc", s, k) for v in chosen for s in scenarios for k in seeds]  # each variant's warm start, first
    cells += [(v, a, s, k) for v in chosen for s in scenarios for a in algos for k in seeds]
    args.out.mkdir(parents=True, exist_ok=True)
    with make_executor("local", args.workers) as executor:
        tasks = [(v, variants.get(v, {}), a, s, k, args.out, args.preset) for v, a, s, k in cells]
        folders = {}
        for index, folder in executor.map_unordered(job, tasks):
            folders[cells[index]] = folder
            print(f"trained {cells[index]}", flush=True)
    seeds_eval = (validation_seeds if args.on == "validation" else eval_seeds)(args.episodes)
    requests = [Request(folders[c], c[2], shift, seeds=tuple(seeds_eval)) for c in cells for shift in (NONE, SHIFTED)]
    with ResultsDB(args.out / "results.db") as db:
        results = evaluate_many(requests, seeds=seeds_eval, workers=args.workers, db=db, progress=True)
    rows = []
    for variant, algo, scenario, seed in cells:
        folder = folders[variant, algo, scenario, seed]
        indist = results[Request(folder, scenario, NONE, seeds=tuple(seeds_eval))]
        shifted = results[Request(folder, scenario, SHIFTED, seeds=tuple(seeds_eval))]
        ends = [r.metrics.termination for r in indist]
        rows.append({"variant": variant, "algo": algo, "scenario": scenario, "seed": seed,
                     "success": float(np.mean([r.metrics.success for r in indist])),
                     "crashed": ends.count("crashed"), "stuck": ends.count("stuck") + ends.count("timeout"),
                     "off_road": ends.count("off_road"),
                     "score": float(np.mean([r.metrics.driving_score for r in indist])),
                     "offdist_score": float(np.mean([r.metrics.driving_score for r in shifted]))})
    print(f"\n{'variant':22} {'algo':5} {'scenario':16} per-seed success (crashed/stuck/off-road)   mean success "
          f"score  off-dist score")
    groups = dict.fromkeys((r["variant"], r["algo"], r["scenario"]) for r in rows)
    for variant, algo, scenario in groups:
        mine = [r for r in rows if (r["variant"], r["algo"], r["scenario"]) == (variant, algo, scenario)]
        per = " ".join(f"{r['success']:.2f}({r['crashed']}/{r['stuck']}/{r['off_road']})" for r in mine)
        print(f"{variant:22} {algo:5} {scenario:16} {per:42} {np.mean([r['success'] for r in mine]):5.2f}  "
              f"{np.mean([r['score'] for r in mine]):5.1f}  {np.mean([r['offdist_score'] for r in mine]):5.1f}")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
