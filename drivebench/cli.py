"""The `drivebench` command: parses arguments and calls the packages. User mistakes exit 2 with a message."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from drivebench.errors import DrivebenchError, ScenarioError


# ---------------------------------------------------------------------------------------------- run
def cmd_run(args) -> int:
    """The main job: validate scenarios, make sure the default demos exist, score the baselines."""
    from drivebench.data.record import ensure_default_demos
    from drivebench.eval.harness import Request, evaluate_many
    from drivebench.eval.shifts import NONE, parse_shift
    from drivebench.eval.summary import summarize
    from drivebench.experts.registry import experts_for
    from drivebench.results.db import ResultsDB
    from drivebench.scenarios import registry
    from drivebench.seeds import eval_seeds

    start = time.perf_counter()
    registry.discover()
    errors = registry.load_errors()
    if errors:
        raise DrivebenchError("scenario files failed validation:\n" + "\n".join(str(e) for e in errors))
    entries = registry.entries()
    status(f"[1/3] {len(entries)} scenarios valid: {', '.join(e.name for e in entries)}")

    for scenario, expert, what in ensure_default_demos():
        status(f"[2/3] demos {scenario}/{expert.removeprefix('expert:')}: {what}")

    shifts = [NONE, parse_shift(RUN_SHIFT)]
    requests = [Request(agent, e.name, shift) for e in entries
                for agent in [*(x.id for x in experts_for(e.spec)), "random"] for shift in shifts]
    status(f"[3/3] scoring {len(requests)} (agent, scenario, shift) combinations on {args.episodes} seeds")
    with ResultsDB(args.db) as db:
        results = evaluate_many(requests, seeds=eval_seeds(args.episodes), workers=args.workers, db=db)
    rows = [{"agent": r.agent, "scenario": r.scenario, "shift": str(r.shift), **summarize(records),
             "mean_steps": sum(x.metrics.steps for x in records) / len(records)} for r, records in results.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_summaries(rows))
    status(f"results in {db.path}; done in {time.perf_counter() - start:.0f} s")
    return 0


RUN_SHIFT = "start_offset:2"
"""The off-distribution condition `drivebench run` reports beside the in-distribution one."""


def status(message: str) -> None:
    """Progress for the person watching: on stderr, so stdout carries only the result."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- train
def cmd_train(args) -> int:
    from drivebench.agents.train import train

    result = train(args.algo, args.scenario, out=args.out, demos=args.demos, preset=args.preset, seed=args.seed)
    u, c = result.usage, result.config
    print(f"trained {c['algo']} on {c['scenario']} ({c['preset']} preset, seed {c['seed']}) -> {result.out}\n"
          f"  demos: {u.demo_episodes} episodes, {u.demo_transitions} transitions of {c['demos']['expert']}\n"
          f"  spent: {u.env_steps} env steps, {u.expert_queries} expert queries, {u.gradient_steps} gradient steps "
          f"in {u.wall_time:.1f} s\n"
          f"  evaluate it: drivebench evaluate --agent {result.out} --scenario {c['scenario']}")
    return 0


# ---------------------------------------------------------------------------------------------- evaluate
def cmd_evaluate(args) -> int:
    """Score one agent on one scenario, in distribution or under a shift, or over a shift's levels."""
    from drivebench.eval.harness import evaluate
    from drivebench.eval.shifts import NONE, SHIFTS, Shift, parse_shift
    from drivebench.eval.summary import summarize
    from drivebench.results.db import ResultsDB
    from drivebench.seeds import eval_seeds

    if args.sweep and args.shift:
        raise DrivebenchError("give --shift NAME:LEVEL or --sweep NAME, not both")
    if args.sweep:
        if args.sweep not in SHIFTS:
            raise DrivebenchError(f"unknown shift {args.sweep!r}; known: {', '.join(SHIFTS)}")
        shifts = [NONE] + [Shift(args.sweep, level) for level in sorted(SHIFTS[args.sweep].levels)]
    else:
        shifts = [parse_shift(args.shift)]
    seeds = eval_seeds(args.episodes)
    rows = []
    with ResultsDB(args.db) as db:
        for shift in shifts:
            records = evaluate(args.agent, args.scenario, seeds=seeds, shift=shift, workers=args.workers, db=db)
            rows.append({"agent": args.agent, "scenario": records[0].scenario, "shift": str(shift),
                         **summarize(records)})
    if args.json:
        print(json.dumps(rows if args.sweep else rows[0], indent=2))
    else:
        print(format_summaries(rows))
        status(f"results in {db.path}")
    return 0


def format_summaries(rows: list[dict]) -> str:
    """A text table of summaries: rates in %, driving score, each with its 95% interval."""
    def cell(est: dict, scale: float) -> str:
        return f"{est['mean'] * scale:5.1f} [{est['ci_low'] * scale:5.1f},{est['ci_high'] * scale:5.1f}]"

    table = pd.DataFrame([{
        "agent": r["agent"], "scenario": r["scenario"], "shift": r["shift"], "episodes": r["episodes"],
        "success %": cell(r["success_rate"], 100), "crash %": cell(r["crash_rate"], 100),
        "off-road %": cell(r["offroad_rate"], 100), "lane dep. %": cell(r["lane_departure_rate"], 100),
        **({"mean steps": f"{r['mean_steps']:.0f}"} if "mean_steps" in r else {}),
        "driving score": cell(r["driving_score"], 1)} for r in rows])
    return table.to_string(index=False)


# ---------------------------------------------------------------------------------------------- scenarios
def cmd_scenarios_list(args) -> int:
    from drivebench.scenarios import registry

    rows = [{"id": e.id, "name": e.name, "family": e.family, "file": str(e.file), "description": e.spec.description,
             "spec_hash": e.hash} for e in registry.entries()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(pd.DataFrame(rows)[["id", "family", "description"]].to_string(index=False))
    for err in registry.load_errors():
        print(f"warning: not registered: {err}", file=sys.stderr)
    return 0


def cmd_scenarios_show(args) -> int:
    from drivebench.experts.registry import EXPERTS
    from drivebench.scenarios import registry
    from drivebench.scenarios.envs import FAMILIES
    from drivebench.scenarios.roads import build_centreline, build_lot
    from drivebench.scenarios.spec import field_docs

    entry = registry.get(args.name)
    spec = entry.spec
    print(f"{entry.id}  ({entry.family})  {entry.file}\n{spec.description}\n")
    print(json.dumps(spec.model_dump(mode="json"), indent=2))
    if spec.family == "curve":
        line = build_centreline(spec.road)
        print(f"\nroad: {line.length:.1f} m, {spec.road.lanes} lane(s) of {spec.road.lane_width} m")
    else:
        lot = build_lot(spec.lot)
        print(f"\nlot: {lot.interior.length:.1f} m x {lot.interior.width:.1f} m, {len(lot.bays)} bays")
    print("\nexperts:")
    for ex in EXPERTS.values():
        reason = ex.supports(spec)
        print(f"  {ex.id:18s} {'drives it' if reason is None else 'no: ' + reason}")
    print("\nobservation:")
    for name, doc in FAMILIES[spec.family].OBSERVATION_FEATURES:
        print(f"  {name:18s} {doc}")
    print("\nscenario file fields:")
    for field, doc in field_docs(type(spec)):
        print(f"  {field:30s} {doc}")
    return 0


def cmd_scenarios_validate(args) -> int:
    from drivebench.scenarios.spec import load_scenario, scenario_id

    failed = 0
    for file in args.files:
        try:
            spec = load_scenario(file)
        except ScenarioError as err:
            print(err, file=sys.stderr)
            failed += 1
        else:
            print(f"ok: {file} -> {scenario_id(spec)}")
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------- experts, demos
def cmd_experts_list(args) -> int:
    import dataclasses

    from drivebench.experts.registry import EXPERTS
    from drivebench.scenarios import registry

    rows = [{"id": ex.id, "family": ex.family, "description": ex.style.description,
             "style": dataclasses.asdict(ex.style),
             "scenarios": [e.name for e in registry.entries() if ex.supports(e.spec) is None]}
            for ex in EXPERTS.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['id']:18s} {row['family']:8s} {row['description']}\n{'':27s}drives: "
                  f"{', '.join(row['scenarios']) or '-'}")
    return 0


def cmd_record(args) -> int:
    from drivebench.data import record, store

    path = record.record(args.scenario, args.expert, args.episodes, args.seed, root=args.out)
    manifest = store.read_manifest(path)
    ok = sum(e["termination"] == "arrived" for e in manifest["episodes"])
    print(f"wrote {path} ({len(manifest['episodes'])} episodes, {ok} successful, "
          f"{manifest['files'][store.DATA_FILE]['bytes'] / 1024:.0f} KiB)")
    return 0


# ---------------------------------------------------------------------------------------------- parser
def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drivebench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="the main job: validate scenarios, ensure demos, score the baselines")
    run.add_argument("--episodes", type=positive_int, default=20, help="evaluation seeds per agent, scenario and shift")
    run.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    run.add_argument("--db", type=Path, default=None, help="results database (default: runs/results.db)")
    run.add_argument("--json", action="store_true", help="print the table as JSON")
    run.set_defaults(func=cmd_run)

    scenarios = sub.add_parser("scenarios", help="list, show and validate scenarios").add_subparsers(
        dest="action", required=True)
    ls = scenarios.add_parser("list", help="registered scenarios")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_scenarios_list)
    show = scenarios.add_parser("show", help="one scenario's spec, geometry, experts and observation")
    show.add_argument("name", help="name (curve-gentle) or id (drivebench/curve-gentle-v0)")
    show.set_defaults(func=cmd_scenarios_show)
    validate = scenarios.add_parser("validate", help="check scenario files (exit 1 if any is invalid)")
    validate.add_argument("files", nargs="+", type=Path)
    validate.set_defaults(func=cmd_scenarios_validate)

    experts = sub.add_parser("experts", help="scripted experts").add_subparsers(dest="action", required=True)
    els = experts.add_parser("list", help="experts, their styles and the scenarios they drive")
    els.add_argument("--json", action="store_true")
    els.set_defaults(func=cmd_experts_list)

    tr = sub.add_parser("train", help="train an agent (bc, dagger, gail, airl) on a scenario's demos")
    tr.add_argument("--algo", required=True, choices=["bc", "dagger", "gail", "airl"])
    tr.add_argument("--scenario", required=True)
    tr.add_argument("--demos", type=Path, default=None,
                    help="a demo folder (default: the scenario's first expert in expert_data/)")
    tr.add_argument("--preset", default="standard", help="quick (seconds, smoke tests) or standard (default)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", type=Path, required=True, help="folder for the checkpoint")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="score an agent with the shared harness (results go to the database)")
    ev.add_argument("--agent", required=True,
                    help="expert:<style>, random, package.module:callable, or a trained agent's folder")
    ev.add_argument("--scenario", required=True, help="name or id")
    ev.add_argument("--shift", default=None, help="NAME:LEVEL, e.g. start_offset:2 (default: none)")
    ev.add_argument("--sweep", default=None, help="a shift NAME: evaluate in distribution and at every level")
    ev.add_argument("--episodes", type=positive_int, default=50, help="evaluation seeds (the same for every agent)")
    ev.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    ev.add_argument("--db", type=Path, default=None, help="results database (default: runs/results.db)")
    ev.add_argument("--json", action="store_true", help="one JSON object (a list of them with --sweep)")
    ev.set_defaults(func=cmd_evaluate)

    rec = sub.add_parser("record", help="record expert demos into expert_data/<scenario>/<style>/")
    rec.add_argument("--scenario", required=True)
    rec.add_argument("--expert", required=True, help="e.g. expert:tidy or tidy")
    rec.add_argument("--episodes", type=positive_int, default=None, help="default: 20")
    rec.add_argument("--seed", type=int, default=0, help="first demo seed; episodes use seed, seed+1, ...")
    rec.add_argument("--out", type=Path, default=None, help="root folder (default: the repository's expert_data/)")
    rec.set_defaults(func=cmd_record)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DrivebenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
