"""Scaling of the evaluation harness over backends and workers, and what the full leaderboard would take on a cluster.

(a) Throughput: `evaluate(agent, scenario, seeds=eval_seeds(N), workers=w, backend=b)` without a results database,
    for w = 1, 2 on the `local` and `ray` backends. Each configuration is warmed up first (a few episodes: the
    forkserver, or the Ray workers, import drivebench and torch), then timed; Ray's start-up (`ray.init` of a local
    instance) is timed on its own.
(b) Overhead per task: `map_unordered` over N trivial tasks (`fn(i) -> i`) on each executor; wall time / N.
(c) Data per task and the driver's side: the pickled size of `run_chunk` records (with their trajectories) per
    episode for each suite scenario with its first expert, the time per episode in one process, and the time the
    driver takes to write a record to the results database.
(d) An estimate, from (a)-(c) and the training times in BENCHMARKS.md, of the full leaderboard (the suite in
    drivebench/suite.toml) on `--nodes` machines of `--cores` cores.

Wall-clock timings: other load on the machine distorts them, so the load average is printed too.

    python benchmarks/scaling.py [--episodes 200] [--tasks 200] [--nodes 100] [--cores 2] [--quick]
"""
from __future__ import annotations

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame is imported (by highway-env)
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import argparse
import logging
import math
import pickle
import tempfile
import time
import tomllib

import drivebench  # noqa: F401  registers the scenarios
from drivebench.eval.harness import CHUNKS_PER_WORKER, evaluate, run_chunk
from drivebench.executors import make_executor
from drivebench.experts.registry import experts_for
from drivebench.paths import REPO_ROOT
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry
from drivebench.seeds import eval_seeds

SCENARIO, AGENT = "parking-empty", "expert:tidy"
# Training time per run [s] on one core, standard preset (BENCHMARKS.md, "Agents": the slowest scenario measured).
TRAIN_SECONDS = {"bc": 42, "dagger": 150, "gail": 265, "airl": 259}


def noop(i: int) -> int:
    return i


def start_ray(workers: int) -> float:
    import ray

    start = time.perf_counter()
    ray.init(address="local", num_cpus=workers, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False)
    return time.perf_counter() - start


def throughput(backend: str, workers: int, seeds: list[int]) -> float:
    evaluate(AGENT, SCENARIO, seeds=eval_seeds(2 * workers, start=len(seeds)), workers=workers, backend=backend,
             progress=False)  # warm-up: other seeds, so nothing is cached
    start = time.perf_counter()
    records = evaluate(AGENT, SCENARIO, seeds=seeds, workers=workers, backend=backend, progress=False)
    seconds = time.perf_counter() - start
    assert [r.seed for r in records] == seeds
    return len(seeds) / seconds


def task_overhead(backend: str, workers: int, n: int) -> float:
    with make_executor(backend, workers) as executor:
        list(executor.map_unordered(noop, [(i,) for i in range(2 * workers)]))  # warm-up
        start = time.perf_counter()
        assert sorted(i for i, _ in executor.map_unordered(noop, [(i,) for i in range(n)])) == list(range(n))
        return (time.perf_counter() - start) / n


def per_scenario(names: list[str], n: int) -> list[dict]:
    """Per suite scenario, its first expert over n seeds in one process: seconds, pickled bytes per episode."""
    rows = []
    for name in names:
        spec = registry.get(name).spec
        agent, spec_data = experts_for(spec)[0].id, spec.model_dump(mode="json")
        run_chunk(agent, spec_data, "none", 0, eval_seeds(1, start=n))  # warm-up
        start = time.perf_counter()
        records = run_chunk(agent, spec_data, "none", 0, eval_seeds(n))
        seconds = time.perf_counter() - start
        rows.append({"scenario": name, "agent": agent, "s_per_episode": seconds / n,
                     "steps": sum(r.metrics.steps for r in records) / n,
                     "bytes_per_episode": len(pickle.dumps(records, pickle.HIGHEST_PROTOCOL)) / n,
                     "task_args_bytes": len(pickle.dumps((agent, spec_data, "none", 0, eval_seeds(n)))),
                     "records": records})
    return rows


def db_write_seconds(chunks: list[list]) -> float:
    """Seconds per record for the driver to write these chunks of records to a fresh results database."""
    with tempfile.TemporaryDirectory() as folder, ResultsDB(os.path.join(folder, "results.db")) as db:
        start = time.perf_counter()
        for records in chunks:  # one write per chunk, as eval/harness._run does
            db.add(records)
        return (time.perf_counter() - start) / sum(map(len, chunks))


def estimate(scenarios: list[dict], ray_task_s: float, db_s: float, nodes: int, cores: int) -> list[tuple[str, str]]:
    suite = tomllib.loads((REPO_ROOT / "drivebench" / "suite.toml").read_text())
    agents = len(suite["baselines"]) + len(suite["algorithms"])
    conditions = 1 + len(suite["offdist"]) + len(suite["robustness"])
    n_scen, seeds, workers = len(suite["scenarios"]), suite["episodes"], nodes * cores
    episodes = n_scen * agents * conditions * seeds
    jobs = n_scen * agents * conditions
    chunk = max(1, math.ceil(episodes / (workers * CHUNKS_PER_WORKER)))  # as eval/harness._run sizes them
    tasks = jobs * math.ceil(seeds / chunk)
    episode_s = sum(r["s_per_episode"] for r in scenarios) / len(scenarios)
    episode_bytes = sum(r["bytes_per_episode"] for r in scenarios) / len(scenarios)
    args_bytes = max(r["task_args_bytes"] for r in scenarios)
    runs = {algo: n_scen for algo in suite["algorithms"]}
    train_core_s = sum(TRAIN_SECONDS[a] * k for a, k in runs.items())
    eval_core_s = episodes * episode_s
    cluster_s = (max(TRAIN_SECONDS[a] for a in runs) * math.ceil(sum(runs.values()) / workers)
                 + eval_core_s / workers + tasks * ray_task_s + episodes * db_s)
    one_machine_s = (train_core_s + eval_core_s) / cores
    data_task = f"~{chunk * episode_bytes / 1e3:.0f} kB of records back, ~{args_bytes / 1e3:.1f} kB of arguments out"
    return [
        ("evaluation episodes", (f"{n_scen} scenarios x {agents} agents x {conditions} conditions x {seeds} seeds "
                                 f"= {episodes:,}")),
        ("evaluation tasks", f"{tasks:,} chunks of <= {chunk} episodes ({jobs} evaluations)"),
        ("training tasks", f"{len(runs)} algorithms x {n_scen} scenarios = {sum(runs.values())} runs"),
        ("data per evaluation task", data_task),
        ("data in all", f"~{episodes * episode_bytes / 1e6:.0f} MB of records into the driver's database"),
        ("compute", (f"training ~{train_core_s / 3600:.1f} core-h, evaluation ~{eval_core_s / 3600:.2f} core-h "
                     f"(expert episodes: {episode_s * 1e3:.0f} ms mean over the scenarios)")),
        ("driver-side cost", (f"~{tasks * ray_task_s:.0f} s of Ray task round trips, ~{episodes * db_s:.0f} s "
                              "writing the database")),
        (f"wall time, {nodes} nodes x {cores} cores", (f"~{cluster_s / 60:.0f} min (the longest training run, "
                                                       "then the evaluation), plus cluster start-up")),
        (f"wall time, one {cores}-core machine", f"~{one_machine_s / 3600:.1f} h"),
    ]


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |",
             "|" + "|".join("---" if fmt == "s" else "---:" for _, _, fmt in columns) + "|"]
    return "\n".join(lines + ["| " + " | ".join(format(r[k], f) for _, k, f in columns) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=200, help=f"{SCENARIO} episodes per throughput row")
    parser.add_argument("--tasks", type=int, default=200, help="trivial tasks per overhead row")
    parser.add_argument("--nodes", type=int, default=100, help="cluster size for the estimate")
    parser.add_argument("--cores", type=int, default=2, help="cores per node for the estimate")
    parser.add_argument("--quick", action="store_true", help="20 episodes, 20 tasks, 2 seeds per scenario")
    args = parser.parse_args()
    episodes, tasks, per = (20, 20, 2) if args.quick else (args.episodes, args.tasks, 10)
    import ray

    load_before, start, rows, seeds = os.getloadavg(), time.perf_counter(), [], eval_seeds(episodes)
    for backend in ("local", "ray"):
        for workers in (1, 2):
            startup = start_ray(workers) if backend == "ray" else 0.0
            eps = throughput(backend, workers, seeds)
            task_ms = task_overhead(backend, workers, tasks) * 1e3
            rows.append({"backend": backend, "workers": workers, "startup": startup, "eps": eps, "task_ms": task_ms})
            if backend == "ray":
                ray.shutdown()
    for row in rows:
        row["speedup"] = row["eps"] / next(r["eps"] for r in rows if r["backend"] == row["backend"])
    scenarios = per_scenario(tomllib.loads((REPO_ROOT / "drivebench" / "suite.toml").read_text())["scenarios"], per)
    db_s = db_write_seconds([s["records"] for s in scenarios])
    ray_task_s = next(r["task_ms"] for r in rows if r["backend"] == "ray" and r["workers"] == 2) / 1e3

    print(f"(a, b) {episodes} {SCENARIO} episodes of {AGENT}, no database; {tasks} trivial tasks\n")
    print(table(rows, [("backend", "backend", "s"), ("workers", "workers", "d"), ("episodes/s", "eps", ".1f"),
                       ("speedup", "speedup", ".2f"), ("per trivial task [ms]", "task_ms", ".2f"),
                       ("start-up [s]", "startup", ".1f")]))
    print(f"\n(c) first expert, {per} seeds per scenario in one process; the database takes {db_s * 1e3:.2f} ms "
          f"per record (in chunks of {per})\n")
    print(table([{**r, "kb": r["bytes_per_episode"] / 1e3} for r in scenarios],
                [("scenario", "scenario", "s"), ("agent", "agent", "s"), ("steps", "steps", ".0f"),
                 ("s/episode", "s_per_episode", ".3f"), ("kB/episode (pickled)", "kb", ".1f")]))
    print(f"\n(d) estimate: the full leaderboard on {args.nodes} nodes x {args.cores} cores (Ray backend)\n")
    print("| what | estimate |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in estimate(
        scenarios, ray_task_s, db_s, args.nodes, args.cores)))
    print(f"\nload average before {'/'.join(f'{x:.2f}' for x in load_before)}, after "
          f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cpus; "
          f"ray {ray.__version__}; {time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":  # needed: the forkserver workers import this file as __mp_main__
    main()
