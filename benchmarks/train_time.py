"""Training cost per algorithm and scenario: wall time and the budget spent (env steps, expert queries,
gradient steps), one process, torch single-threaded (as `drivebench train` runs).

    python benchmarks/train_time.py [--preset standard|quick] [--algos bc,dagger,gail,airl]
                                    [--scenarios curve-gentle,parking-empty] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from importlib.metadata import version

from drivebench.agents.train import ALGORITHMS, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--algos", default=",".join(ALGORITHMS))
    parser.add_argument("--scenarios", default="curve-gentle,parking-empty")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios.split(","):
            for algo in args.algos.split(","):
                result = train(algo, scenario, out=f"{tmp}/{algo}-{scenario}", preset=args.preset, progress=False)
                u = result.usage
                rows.append({"algo": algo, "scenario": scenario, "preset": args.preset, "seconds": u.wall_time,
                             "env_steps": u.env_steps, "expert_queries": u.expert_queries,
                             "gradient_steps": u.gradient_steps, "demo_episodes": u.demo_episodes})
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               **{p: version(p) for p in ("torch", "imitation", "stable-baselines3", "highway-env")}}
    if args.json:
        print(json.dumps({"machine": machine, "rows": rows}, indent=2))
        return
    print(f"{'algo':7} {'scenario':16} {'preset':9} {'seconds':>8} {'env steps':>10} {'expert q.':>10} "
          f"{'grad steps':>11} {'demos':>6}")
    for r in rows:
        print(f"{r['algo']:7} {r['scenario']:16} {r['preset']:9} {r['seconds']:8.1f} {r['env_steps']:10d} "
              f"{r['expert_queries']:10d} {r['gradient_steps']:11d} {r['demo_episodes']:6d}")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))


if __name__ == "__main__":
    main()
