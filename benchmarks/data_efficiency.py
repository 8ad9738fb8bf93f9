"""Data efficiency: success rate against the number of demos, per algorithm and scenario, over training seeds.

For every (scenario, algorithm, number of demos, training seed) it trains with `--preset` and the demo count
overridden (a preset's few-demo recipe, e.g. GAIL's, applies at counts up to its `few_demos_max`: presets.resolve),
scores the agent in distribution on `--episodes` evaluation seeds, and reports the mean success
over training seeds with a 95% bootstrap interval across them. The demos are the first N of a demo set of
max(N) episodes recorded on demo seeds 0, 1, ... (so the default 20-episode sets are a prefix of it). Writes a
CSV and a plot (one panel per scenario, one line per algorithm) to `--out`.

Resumable: a run whose checkpoint in `--out` records the same training key (agents/train.train_key: algorithm,
hyperparameters, scenario spec, demos, seed and the training code) is not trained again, demo sets are recorded
again only when missing, short or stale, and evaluations go through a results database in `--out`, so running the
command again (after a kill, or with more scenarios, algorithms or counts) only does what is missing. Several processes may share one
`--out` when they split the work by scenario or algorithm; a last run over everything then writes the whole table.

    python benchmarks/data_efficiency.py [--scenarios curve-gentle,parking-empty] [--algos bc,dagger,gail,airl]
        [--demos 1,2,4,8,16,32] [--seeds 0,1,2] [--episodes 50] [--preset standard] [--out runs/data_efficiency]
        [--only-cached]     # tabulate and plot what --out already holds, training nothing
    python benchmarks/data_efficiency.py --quick    # a few seconds' smoke run of the whole pipeline
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from drivebench.agents import checkpoints  # noqa: E402
from drivebench.agents.train import ALGORITHMS, train, train_key  # noqa: E402
from drivebench.data import record, store  # noqa: E402
from drivebench.eval import stats  # noqa: E402
from drivebench.eval.harness import evaluate  # noqa: E402
from drivebench.results.db import ResultsDB  # noqa: E402
from drivebench.experts.registry import experts_for  # noqa: E402
from drivebench.scenarios import registry  # noqa: E402
from drivebench.seeds import eval_seeds  # noqa: E402


def demo_set(root: Path, scenario: str, episodes: int) -> Path:
    """A demo set of at least `episodes` episodes of the scenario's default expert, recorded if missing, short
    or stale (record.stale_because: another spec, expert style or recording code)."""
    expert = experts_for(registry.get(scenario).spec)[0].id
    folder = store.demo_dir(root, scenario, expert)
    if (not (folder / store.MANIFEST_FILE).exists() or record.stale_because(folder, scenario, expert)
            or len(store.read_manifest(folder)["seeds"]) < episodes):
        record.record(scenario, expert, episodes=episodes, seed=0, root=root, progress=False)
    return folder


def trained(algo: str, scenario: str, out: Path, *, demos: Path, preset: str, seed: int, n: int,
            only_cached: bool = False) -> Path | None:
    """The checkpoint of one sweep cell: the one already in `out` if its recorded training key is this cell's
    (agents/train.train_key), else a new one (or None with `only_cached`)."""
    key = train_key(algo, scenario, preset=preset, seed=seed, demos=demos, overrides={"demos": n})
    if checkpoints.is_checkpoint(out) and checkpoints.read_config(out).get("train_key") == key:
        return out
    if only_cached:
        return None
    return train(algo, scenario, out=out, demos=demos, preset=preset, seed=seed, overrides={"demos": n},
                 progress=False).out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="curve-gentle,parking-empty")
    parser.add_argument("--algos", default=",".join(ALGORITHMS))
    parser.add_argument("--demos", default="1,2,4,8,16,32")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--out", type=Path, default=Path("runs/data_efficiency"))
    parser.add_argument("--quick", action="store_true", help="demos 1,4; one seed; 5 episodes; quick preset")
    parser.add_argument("--only-cached", action="store_true",
                        help="train nothing: tabulate the cells whose checkpoints are already in --out")
    args = parser.parse_args()
    if args.quick:
        args.demos, args.seeds, args.episodes, args.preset = "1,4", "0", 5, "quick"
    counts = [int(n) for n in args.demos.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    args.out.mkdir(parents=True, exist_ok=True)
    db = ResultsDB(args.out / "results.db")
    for scenario in args.scenarios.split(","):
        demos = demo_set(args.out / "demos", scenario, max(counts))
        for algo in args.algos.split(","):
            for n in counts:
                rates = []
                for seed in seeds:
                    agent = trained(algo, scenario, args.out / "agents" / scenario / algo / f"{n}-{seed}",
                                    demos=demos, preset=args.preset, seed=seed, n=n, only_cached=args.only_cached)
                    if agent is None:
                        continue
                    records = evaluate(str(agent), scenario, seeds=eval_seeds(args.episodes), workers=1, db=db,
                                       progress=False)
                    rates.append(sum(r.metrics.success for r in records) / len(records))
                if not rates:
                    print(f"{scenario:16} {algo:7} {n:3d} demos  not run", flush=True)
                    continue
                est = stats.bootstrap_ci(rates)
                rows.append({"scenario": scenario, "algo": algo, "demos": n, "seeds": len(rates),
                             "success": est.value, "ci_low": est.low, "ci_high": est.high})
                print(f"{scenario:16} {algo:7} {n:3d} demos  success {est.value:.2f} [{est.low:.2f}, "
                      f"{est.high:.2f}] over {len(rates)} training seeds", flush=True)
    db.close()
    if not rows:
        raise SystemExit(f"nothing to tabulate: no trained cells in {args.out}")
    with open(args.out / "data_efficiency.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out / "data_efficiency.png", f"{args.preset} preset, {args.episodes} evaluation episodes")
    print(f"wrote {args.out / 'data_efficiency.csv'} and {args.out / 'data_efficiency.png'}")


def plot(rows: list[dict], path: Path, subtitle: str) -> None:
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    fig, axes = plt.subplots(1, len(scenarios), figsize=(max(5 * len(scenarios), 6), 4.2), squeeze=False,
                             sharey=True)
    for ax, scenario in zip(axes[0], scenarios):
        for algo in dict.fromkeys(r["algo"] for r in rows):
            pts = [r for r in rows if r["scenario"] == scenario and r["algo"] == algo]
            x = [r["demos"] for r in pts]
            ax.plot(x, [r["success"] for r in pts], marker="o", label=algo)
            ax.fill_between(x, [r["ci_low"] for r in pts], [r["ci_high"] for r in pts], alpha=0.2)
        ax.set_xscale("log", base=2)
        counts = sorted({r["demos"] for r in rows if r["scenario"] == scenario})
        ax.set_xticks(counts, [str(n) for n in counts])
        ax.set_title(scenario)
        ax.set_xlabel("demos (episodes)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("success rate (in distribution)")
    axes[0][-1].legend(loc="best")
    fig.suptitle(f"Success vs demos\n{subtitle}; bands: 95% CI over training seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
