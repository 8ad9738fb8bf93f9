"""The scripted experts on every scenario: success, crashes (and what they hit), lane departures, mean episode length
and the expert's own cost per step, on the shipped scenarios and on the harder cases in `benchmarks/scenarios/`
(scenario files a new user could write: lots with both neighbours of the goal parked, small bays and a narrow aisle;
a three-lane road with slower traffic).

Every expert of the scenario's family drives the first `--episodes` demo seeds (seeds.DEMO_SEEDS), including an
expert that refuses the scenario (`supports()` gives a reason; its row says "refused" and, with `--forced`, it
drives anyway, to show what the refusal protects against). "ms/act" is the mean wall time of `expert.act` per step,
in this process (planning included: the planning parking expert plans once per episode and on deviation).

    python benchmarks/expert_table.py [--episodes 50] [--scenarios NAME,...] [--forced] [--json]
"""
from __future__ import annotations

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame is imported (by highway-env)

import argparse
import collections
import json
import time
from pathlib import Path

import numpy as np

import drivebench  # noqa: F401  registers the families and the shipped scenarios
from drivebench.core.rollout import run_episode
from drivebench.eval.metrics import episode_metrics
from drivebench.experts import feasibility
from drivebench.eval.shifts import make_env
from drivebench.scenarios import family as families
from drivebench.scenarios import registry
from drivebench.scenarios.spec import load_scenario
from drivebench.seeds import demo_seeds

HARD_CASES = Path(__file__).parent / "scenarios"


def specs(names: list[str] | None) -> list:
    shipped = [e.spec for e in registry.entries()]
    extra = [load_scenario(p) for p in sorted(HARD_CASES.glob("*.toml"))]
    return [s for s in shipped + extra if names is None or s.name in names]


def drive(spec, expert, episodes: int) -> dict:
    env = make_env(spec)
    spent, calls = [0.0], [0]
    hits: collections.Counter = collections.Counter()

    def policy(env, obs):
        start = time.perf_counter()
        action = expert.act(env)
        spent[0] += time.perf_counter() - start
        calls[0] += 1
        return action

    ends: collections.Counter = collections.Counter()
    steps, departures = [], []
    for seed in demo_seeds(episodes):
        episode = run_episode(env, policy, seed)
        ends[episode.termination] += 1
        if episode.termination == "crashed":
            hits[feasibility.crashed_into(env.unwrapped)[0]] += 1
        steps.append(len(episode.actions))
        departures.append(episode_metrics(episode, spec).lane_departures > 0)
    env.close()
    return {"success": ends["arrived"] / episodes, "crashed": ends["crashed"], "hits": dict(hits),
            "other": {k: v for k, v in ends.items() if k not in ("arrived", "crashed")},
            "lane_departure_episodes": int(np.sum(departures)), "mean_steps": float(np.mean(steps)),
            "ms_per_act": 1000 * spent[0] / max(calls[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--scenarios", help="comma-separated names (default: all, shipped and hard cases)")
    parser.add_argument("--forced", action="store_true", help="drive refused (scenario, expert) pairs too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    print(f"{'scenario':24} {'expert':17} {'success':>7} {'crashed':>7} {'lane dep.':>9} {'steps':>6} {'ms/act':>7}  notes")
    for spec in specs(args.scenarios.split(",") if args.scenarios else None):
        for expert in families.of(spec).experts:
            reason = expert.supports(spec)
            row = {"scenario": spec.name, "expert": expert.id, "refused": reason}
            if reason is None or args.forced:
                row.update(drive(spec, expert, args.episodes))
                notes = ", ".join(f"{k} {v}" for k, v in {**row["other"], **row["hits"]}.items())
                if reason:
                    notes = f"refused ({reason}); {notes}"
                print(f"{spec.name:24} {expert.id:17} {row['success']:7.0%} {row['crashed']:7d} "
                      f"{row['lane_departure_episodes']:9d} {row['mean_steps']:6.1f} {row['ms_per_act']:7.3f}  {notes}",
                      flush=True)
            else:
                print(f"{spec.name:24} {expert.id:17} {'-':>7} {'-':>7} {'-':>9} {'-':>6} {'-':>7}  refused: {reason}")
            rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
