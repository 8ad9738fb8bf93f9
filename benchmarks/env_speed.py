"""Simulation throughput: env steps per second in one process, for every drivebench scenario and, in the same
run so the figures are comparable, for stock highway-env `racetrack-v0` and `parking-v0` (default configs).

Each env runs a fixed number of steps under a seeded random policy (`action_space.sample()`) and, for drivebench
scenarios, under its first scripted expert (`experts_for(spec)[0]`, whose `act` time is included). The timing
starts at the first reset and includes every reset (consecutive seeds) when an episode ends; `gymnasium.make` is
not timed. Mean episode length is over the episodes that ended within the run ("-" if none did).

    python benchmarks/env_speed.py [--steps 2000] [--quick] [--seed 0] [--json]
"""
from __future__ import annotations

import copy
import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame is imported (by highway-env)

import argparse
import json
import platform
import time
from importlib.metadata import version

import gymnasium
import highway_env  # noqa: F401  registers the stock envs

import drivebench  # noqa: F401  registers the scenarios
from drivebench.experts.registry import experts_for
from drivebench.scenarios import registry

STOCK_ENVS = ("racetrack-v0", "parking-v0")
QUICK_STEPS = 200


def run(env_id: str, policy_name: str, steps: int, seed: int, expert=None) -> dict:
    """Step `env_id` `steps` times with a random policy (expert=None) or an expert; return one table row."""
    env = gymnasium.make(env_id)
    actions = copy.deepcopy(env.action_space)  # highway-env rebuilds env.action_space, unseeded, at each reset
    actions.seed(seed)
    lengths, length, episode = [], 0, 0
    start = time.perf_counter()
    env.reset(seed=seed)
    for _ in range(steps):
        action = actions.sample() if expert is None else expert.act(env)
        _, _, terminated, truncated, _ = env.step(action)
        length += 1
        if terminated or truncated:
            lengths.append(length)
            length, episode = 0, episode + 1
            env.reset(seed=seed + episode)
    seconds = time.perf_counter() - start
    env.close()
    return {"env": env_id, "policy": policy_name, "steps": steps, "seconds": seconds,
            "steps_per_s": steps / seconds, "mean_episode_length": sum(lengths) / len(lengths) if lengths else None}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            **{pkg: version(pkg) for pkg in ("highway-env", "gymnasium", "numpy")}}


def table(rows: list[dict]) -> str:
    header = ("env", "policy", "steps", "seconds", "steps/s", "mean ep len")
    cells = [(r["env"], r["policy"], str(r["steps"]), f"{r['seconds']:.2f}", f"{r['steps_per_s']:.1f}",
              "-" if r["mean_episode_length"] is None else f"{r['mean_episode_length']:.1f}") for r in rows]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    right = (False, False, True, True, True, True)

    def line(row):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)).rstrip()

    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, cells)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="env steps per (env, policy) (default: 2000)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps per (env, policy), for tests")
    parser.add_argument("--seed", type=int, default=0, help="first reset seed and action-sampling seed")
    parser.add_argument("--json", action="store_true", help="print the machine and rows as JSON")
    args = parser.parse_args()
    steps = QUICK_STEPS if args.quick else args.steps

    rows = []
    for entry in registry.entries():
        expert = experts_for(entry.spec)[0]
        rows.append(run(entry.id, "random", steps, args.seed))
        rows.append(run(entry.id, expert.id, steps, args.seed, expert))
    rows += [run(env_id, "random", steps, args.seed) for env_id in STOCK_ENVS]

    info = machine()
    if args.json:
        print(json.dumps({"machine": info, "rows": rows}, indent=2))
    else:
        print(table(rows))
        print("\nmachine: " + ", ".join(f"{k}={v}" for k, v in info.items()))


if __name__ == "__main__":
    main()
