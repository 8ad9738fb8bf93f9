"""Are the scored conditions fair? The reference driver (each scenario's first expert, the leaderboard's `expert`
baseline) and the `random` agent on every official scenario under every scored condition of suite.toml (in
distribution and each off-distribution shift), on the first N official seeds, through the project's harness.

A scored condition is passable when the expert succeeds in >= 95% of its episodes on every scenario under it; the
scoring is meaningful when the random agent's mean driving score stays <= 10 on every scenario. The script prints
one row per (scenario, condition) and flags the cells that miss either bar.

    python benchmarks/reference_conditions.py [--episodes 50] [--scenarios S ...] [--workers 1] [--json]
"""
from __future__ import annotations

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame is imported (by highway-env)

import argparse
import json
import platform
import time

import numpy as np

import drivebench  # noqa: F401  registers the scenarios
from drivebench.eval.harness import Request, evaluate_many
from drivebench.eval.shifts import NONE
from drivebench.experts.registry import experts_for
from drivebench.leaderboard import official_suite
from drivebench.scenarios import registry
from drivebench.seeds import eval_seeds

EXPERT_SUCCESS_MIN = 0.95  # the expert passes a condition on a scenario at this success rate or above
RANDOM_SCORE_MAX = 10.0  # the random agent's mean driving score must stay at or below this


def measure(scenarios: list[str], episodes: int, workers: int) -> list[dict]:
    """One row per (scenario, condition): the expert's and the random agent's success, score and completion."""
    suite = official_suite()
    conditions = (NONE, *suite.offdist)
    requests = {}
    for scenario in scenarios:
        expert = experts_for(registry.get(scenario).spec)[0].id
        for shift in conditions:
            requests[(scenario, str(shift))] = (Request(expert, scenario, shift), Request("random", scenario, shift))
    results = evaluate_many([r for pair in requests.values() for r in pair], seeds=eval_seeds(episodes),
                            workers=workers, progress=False)
    rows = []
    for (scenario, condition), (expert, rand) in requests.items():
        row = {"scenario": scenario, "condition": condition, "expert": expert.agent, "episodes": episodes}
        for who, request in (("expert", expert), ("random", rand)):
            metrics = [r.metrics for r in results[request]]
            row[f"{who}_success"] = float(np.mean([m.success for m in metrics]))
            row[f"{who}_score"] = float(np.mean([m.driving_score for m in metrics]))
            row[f"{who}_completion"] = float(np.mean([m.route_completion for m in metrics]))
        row["passable"] = row["expert_success"] >= EXPERT_SUCCESS_MIN
        row["random_low"] = row["random_score"] <= RANDOM_SCORE_MAX
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    header = ("scenario", "condition", "expert", "exp success", "exp score", "rnd success", "rnd score",
              "rnd completion", "flags")
    cells = [(r["scenario"], r["condition"], r["expert"], f"{100 * r['expert_success']:.0f}%",
              f"{r['expert_score']:.1f}", f"{100 * r['random_success']:.0f}%", f"{r['random_score']:.1f}",
              f"{100 * r['random_completion']:.1f}%",
              " ".join(([] if r["passable"] else ["EXPERT<95%"]) + ([] if r["random_low"] else ["RANDOM>10"])))
             for r in rows]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    right = (False, False, False, True, True, True, True, True, False)

    def line(row):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)).rstrip()

    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, cells)])


def main() -> None:
    suite = official_suite()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=suite.episodes,
                        help=f"official seeds per (scenario, condition) (default: {suite.episodes})")
    parser.add_argument("--scenarios", nargs="+", default=list(suite.scenarios), choices=suite.scenarios,
                        metavar="SCENARIO", help="official scenarios to measure (default: all)")
    parser.add_argument("--workers", type=int, default=1, help="evaluation worker processes (default: 1)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON after the table")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")
    start = time.perf_counter()
    rows = measure(args.scenarios, args.episodes, args.workers)
    seconds = time.perf_counter() - start
    print(f"suite v{suite.version}, conditions: none, {', '.join(map(str, suite.offdist))}; {args.episodes} official "
          f"seeds each; {os.cpu_count()} CPUs, {platform.platform()}, {seconds:.0f} s")
    print()
    print(table(rows))
    failing = [r for r in rows if not (r["passable"] and r["random_low"])]
    print()
    print(f"{len(rows) - len(failing)} of {len(rows)} (scenario, condition) cells pass: the expert succeeds in >= "
          f"{EXPERT_SUCCESS_MIN:.0%} and random scores <= {RANDOM_SCORE_MAX:.0f}")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
