"""Generated scenarios: how many each family's generator (Family.generate) draws, how many its checks reject and
by which (the first problem's field: problems(), the schema, or no expert supporting it), and how its experts do on
the rest (experts.feasibility: each supported expert on the first seeds of the demo range).

    python benchmarks/generated_scenarios.py [--count 30] [--seeds 3] [--rng 0] [--family curve] [--failures]
"""
from __future__ import annotations

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame is imported (by highway-env)

import argparse
import collections
import re
import time

import numpy as np

import drivebench  # noqa: F401  registers the families
from drivebench.errors import ScenarioError
from drivebench.experts import feasibility
from drivebench.experts.registry import experts_for
from drivebench.scenarios import family as families
from drivebench.scenarios.spec import parse_spec


def survey(family, count: int, seeds: int, rng: np.random.Generator, failures: bool = False) -> dict:
    rejected: collections.Counter = collections.Counter()
    episodes, arrived, crashes, driven = collections.Counter(), collections.Counter(), collections.Counter(), 0
    for i in range(count):
        data = family.generate(rng)
        try:
            spec = parse_spec(data, file=f"{family.name}#{i}")
        except ScenarioError as err:
            rejected[re.sub(r"\[\d+\]", "[i]", err.problems[0][0])] += 1
            continue
        if not experts_for(spec):
            rejected["no expert"] += 1
            continue
        driven += 1
        for row in feasibility.check(spec, seeds):
            episodes[row.expert] += len(row.seeds)
            arrived[row.expert] += row.successes
            crashes[row.expert] += sum(f.termination == "crashed" for f in row.failures)
            if failures:
                for f in row.failures:
                    print(f"  {family.name}#{i} {row.expert} {f.describe()}")
    return {"rejected": rejected, "driven": driven, "episodes": episodes, "arrived": arrived, "crashes": crashes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30, help="scenarios drawn per family")
    parser.add_argument("--seeds", type=int, default=3, help="episodes per expert and scenario")
    parser.add_argument("--rng", type=int, default=0, help="the generators' seed")
    parser.add_argument("--family", action="append", help="only this family (repeatable)")
    parser.add_argument("--failures", action="store_true", help="print every failed episode")
    args = parser.parse_args()
    print("| family | generated | rejected (by check) | driven | expert | arrived | crashed |")
    print("|---|---|---|---|---|---|---|")
    for family in families.all_families():
        if family.generate is None or (args.family and family.name not in args.family):
            continue
        start = time.time()
        r = survey(family, args.count, args.seeds, np.random.default_rng(args.rng), args.failures)
        why = ", ".join(f"{k}: {v}" for k, v in r["rejected"].most_common()) or "-"
        rows = [f"{e} | {r['arrived'][e]}/{n} ({r['arrived'][e] / n:.0%}) | {r['crashes'][e]}"
                for e, n in sorted(r["episodes"].items())] or ["- | - | -"]
        for k, row in enumerate(rows):
            head = "| | | | | " if k else (f"| {family.name} | {args.count} | {sum(r['rejected'].values())} ({why}) | "
                                          f"{r['driven']} | ")
            print(head + row + " |")
        print(f"({family.name}: {time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
