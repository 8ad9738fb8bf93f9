"""Evaluation harness overhead, in two parts.

(a) Harness vs bare loop: `drivebench.eval.harness.run_chunk(agent, spec_data, 'none', 0, seeds)` (rollout with
    per-step recording, stuck watch, metrics, records) against a bare gymnasium loop over the same seeds with the
    same scripted expert and env: `env = shifts.make_env(spec); env.reset(seed=s); while not done:
    env.step(expert.act(env))`. Both build their env and are warmed up once (imports, policy cache); each is timed
    `--repeats` times, alternating, the fastest kept; both must take the same steps. Target: ratio <= 1.05.
(b) Worker scaling: `evaluate(agent, scenario, seeds=eval_seeds(N), workers=w)` without a results database, with 1
    worker, then 2 (the first pool also starts the forkserver, which imports drivebench and torch), then 2 again
    (server running). Target on 2 idle cores: speedup >= 1.8. For scale, CPU-bound work (4 equal units, 1
    process vs a pool of 2) shows what the machine's cores deliver in parallel; efficiency = speedup / that.
Timings are wall-clock: other load on the machine distorts them, so the load average is printed too.

    python benchmarks/harness_overhead.py [--quick] [--repeats 3] [--episodes 200] [--json]
"""
from __future__ import annotations

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame is imported (by highway-env)
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import argparse
import json
import multiprocessing
import platform
import time
from importlib.metadata import distributions

import drivebench  # noqa: F401  registers the scenarios
from drivebench.eval import shifts
from drivebench.eval.harness import evaluate, run_chunk
from drivebench.experts.registry import experts_for
from drivebench.scenarios import registry
from drivebench.seeds import eval_seeds

OVERHEAD_SEEDS = {"curve-gentle": 60, "curve-traffic": 10, "parking-empty": 24}  # a few seconds of work each
QUICK_SEEDS = {"curve-gentle": 10, "curve-traffic": 2, "parking-empty": 4}
SCALING_SCENARIO = "parking-empty"


def bare_loop(spec, expert, seeds: list[int]) -> tuple[float, int]:
    start = time.perf_counter()
    env, steps = shifts.make_env(spec), 0
    for seed in seeds:
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(expert.act(env))
            done, steps = terminated or truncated, steps + 1
    env.close()
    return time.perf_counter() - start, steps


def harness_chunk(agent: str, spec_data: dict, seeds: list[int]) -> tuple[float, int]:
    start, records = time.perf_counter(), run_chunk(agent, spec_data, "none", 0, seeds)
    return time.perf_counter() - start, sum(r.metrics.steps for r in records)


def overhead(name: str, n: int, repeats: int) -> dict:
    spec = registry.get(name).spec
    expert, spec_data, seeds = experts_for(spec)[0], spec.model_dump(mode="json"), eval_seeds(n)
    bare_loop(spec, expert, seeds[:1]), harness_chunk(expert.id, spec_data, seeds[:1])  # warm-up
    times = {"bare": [], "harness": []}
    for rep in range(repeats):  # alternate which goes first
        for kind in ("harness", "bare") if rep % 2 else ("bare", "harness"):
            times[kind].append(bare_loop(spec, expert, seeds) if kind == "bare" else
                               harness_chunk(expert.id, spec_data, seeds))
    (t_bare, steps), (t_harness, steps_harness) = min(times["bare"]), min(times["harness"])
    if steps != steps_harness:
        raise RuntimeError(f"{name}: the bare loop took {steps} steps, the harness {steps_harness}")
    return {"scenario": name, "agent": expert.id, "episodes": n, "steps": steps, "bare_s": t_bare,
            "harness_s": t_harness, "ratio": t_harness / t_bare, "bare_steps_per_s": steps / t_bare}


def scaling(name: str, n: int) -> list[dict]:
    agent, seeds, rows = experts_for(registry.get(name).spec)[0].id, eval_seeds(n), []
    for workers, note in ((1, ""), (2, "cold: starts the forkserver"), (2, "warm")):
        start, records = time.perf_counter(), evaluate(agent, name, seeds=seeds, workers=workers, progress=False)
        seconds = time.perf_counter() - start
        assert [r.seed for r in records] == seeds
        rows.append({"scenario": name, "agent": agent, "episodes": n, "workers": workers, "note": note,
                     "wall_s": seconds, "speedup": rows[0]["wall_s"] / seconds if rows else 1.0})
    return rows


def machine_speedup(n: int) -> float:
    """How much faster 2 processes do 4 equal CPU-bound units (sum(range(n))) than 1 process (2.0 on 2 free cores)."""
    start, _ = time.perf_counter(), list(map(sum, [range(n)] * 4))
    one = time.perf_counter() - start
    with multiprocessing.get_context("fork").Pool(2) as pool:
        start, _ = time.perf_counter(), pool.map(sum, [range(n)] * 4, chunksize=1)
        return one / (time.perf_counter() - start)


def machine() -> dict:
    installed = {d.metadata["Name"].lower(): d.version for d in distributions()}
    versions = {p: installed[p] for p in ("drivebench", "highway-env", "gymnasium", "numpy", "torch") if p in installed}
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(), **versions}


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    cells = [[format(r[key], fmt) for _, key, fmt in columns] for r in rows]
    header = [title for title, _, _ in columns]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(columns))]
    line = lambda row: "  ".join(c.rjust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few episodes, one repeat (a smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per (scenario, loop) in (a); fastest kept")
    parser.add_argument("--episodes", type=int, default=200, help=f"{SCALING_SCENARIO} episodes in (b)")
    parser.add_argument("--json", action="store_true", help="print the machine and rows as JSON")
    args = parser.parse_args()
    seeds, repeats = (QUICK_SEEDS, 1) if args.quick else (OVERHEAD_SEEDS, args.repeats)
    episodes, spin_n = (16, 10_000_000) if args.quick else (args.episodes, 50_000_000)

    load_before, start = os.getloadavg(), time.perf_counter()
    over = [overhead(name, n, repeats) for name, n in seeds.items()]
    cores = machine_speedup(spin_n)
    scale = scaling(SCALING_SCENARIO, episodes)
    cores = (cores + machine_speedup(spin_n)) / 2  # measured before and after (b)
    scale = [{**row, "efficiency": row["speedup"] / cores if row["workers"] > 1 else 1.0} for row in scale]
    info = {**machine(), "machine_speedup_2_procs": round(cores, 2), "load_avg_before": load_before,
            "load_avg_after": os.getloadavg(), "total_s": round(time.perf_counter() - start, 1)}
    if args.json:
        print(json.dumps({"machine": info, "overhead": over, "scaling": scale}, indent=2))
        return
    print(f"(a) harness run_chunk vs bare gymnasium loop (same expert, env, seeds; fastest of {repeats}; "
          "target ratio <= 1.05)")
    print(table(over, [("scenario", "scenario", "s"), ("agent", "agent", "s"), ("episodes", "episodes", "d"),
                       ("steps", "steps", "d"), ("bare s", "bare_s", ".3f"), ("harness s", "harness_s", ".3f"),
                       ("ratio", "ratio", ".3f"), ("bare steps/s", "bare_steps_per_s", ".0f")]))
    print(f"\n(b) evaluate() wall time over worker counts, no database (target speedup >= 1.8 on 2 cores); "
          f"CPU-bound work runs {cores:.2f}x faster in 2 processes than in 1 on this machine")
    print(table(scale, [("scenario", "scenario", "s"), ("episodes", "episodes", "d"), ("workers", "workers", "d"),
                        ("wall s", "wall_s", ".2f"), ("speedup", "speedup", ".2f"), ("efficiency", "efficiency", ".2f"),
                        ("", "note", "s")]))
    print("\nmachine: " + ", ".join(f"{k}={'/'.join(f'{x:.2f}' for x in v) if isinstance(v, tuple) else v}"
                                    for k, v in info.items()))


if __name__ == "__main__":  # needed: the forkserver workers import this file as __mp_main__
    main()
