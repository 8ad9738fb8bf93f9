"""The `drivebench` command: parses arguments and calls the packages. User mistakes exit 2 with a message."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd

from drivebench.core.cliutil import positive_int
from drivebench.errors import DrivebenchError, ScenarioError


# ---------------------------------------------------------------------------------------------- run
def cmd_run(args) -> int:
    """The main job: the whole benchmark end to end (pipeline.py), then the leaderboard and the report."""
    from drivebench import leaderboard, pipeline

    report_dir = args.report or Path("reports") / (args.name or args.preset)
    result = pipeline.run(preset=args.preset, scenarios=_names(args.scenarios), agents=_names(args.agents),
                          episodes=args.episodes, workers=args.workers, db_path=args.db, report_dir=report_dir,
                          backend=args.backend, address=args.address)
    if args.json:
        print(json.dumps(leaderboard.as_dicts(result.rows), indent=2))
    else:
        boards = result.boards or {"": result.rows}
        print("\n\n".join(f"track {track}\n{leaderboard.as_text(rows)}" if track else leaderboard.as_text(rows)
                          for track, rows in boards.items()))
    status(f"{result.trained} agents trained, {result.evaluated} episodes scored; report: {result.report}; "
           f"done in {result.seconds / 60:.1f} min")
    return 0


def _names(text: str | None) -> list[str] | None:
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


# ---------------------------------------------------------------------------------------------- leaderboard
def cmd_leaderboard(args) -> int:
    """One track of the leaderboard (default `all`) of one preset's entries: the standard run's on the official
    seeds, or a smoke run's (`--preset quick`) on the seeds it evaluates. Without --preset: the standard one, or,
    when no entry is scored on the official seeds, the preset whose entries are there (and says so)."""
    from drivebench import leaderboard
    from drivebench.results.db import ResultsDB

    suite = leaderboard.official_suite()
    track = leaderboard.get_track(args.track, suite)
    with ResultsDB(args.db) as db:
        of = {name: _preset_of(name, entry, suite) for name, entry in db.entries().items()}
        made = list(dict.fromkeys(p for p in of.values() if p))  # the presets whose entries the database holds
        if args.preset and args.preset not in {"standard", *made}:
            raise DrivebenchError(f"no entry of `drivebench run --preset {args.preset}` in {db.path}; it holds "
                                  f"entries of: {', '.join(['standard', *made]) if made else 'no run'}")
        every = {}  # preset -> the rows of its entries over every scenario
        for candidate in [args.preset] if args.preset else dict.fromkeys(["standard", *made]):
            every[candidate] = leaderboard.compute(db, _seeds_of(suite, candidate), names=_names_of(of, candidate))
            if every[candidate]:
                break
        preset = args.preset or next((p for p, rows in every.items() if rows), "standard")
        scored_on, names = _seeds_of(suite, preset), _names_of(of, preset)
        rows = leaderboard.compute(db, scored_on, track, names=names)
        unscored = [name for name in leaderboard.unscored_entries(db, every[preset]) if name in names]
    others = [p for p in made if p != preset]
    heading = f"track {track.name}: {track.describe(suite)}"
    if preset != "standard":
        heading = (f"the entries of `drivebench run --preset {preset}`, scored on the first {scored_on.episodes} "
                   f"official seeds only (smoke runs; not comparable with the standard leaderboard)\n{heading}")
    if args.json:
        print(json.dumps(leaderboard.as_dicts(rows), indent=2))
        status(heading)
    elif args.markdown:
        print(leaderboard.as_markdown(rows, scored_on, track), end="")
    elif args.html:
        print(leaderboard.as_html(rows))
    else:
        print(heading)
        print(leaderboard.as_text(rows) if rows or not of else f"(no entry on the track {track.name})")
        print(f"other tracks: {', '.join(t.name for t in leaderboard.tracks(suite) if t != track)} "
              "(drivebench leaderboard --track NAME)")
    for other in others:
        status(f"also in the database: the entries of `drivebench run --preset {other}` "
               f"({', '.join(n for n, p in of.items() if p == other)}): drivebench leaderboard --preset {other}")
    if unscored:
        status(f"not shown: {', '.join(unscored)}: none of their episodes matches the current simulator and scoring "
               "code; `drivebench run` re-scores its own entries, a submission must be submitted again")
    return 0


def _preset_of(name: str, entry: dict, suite) -> str | None:
    """The preset of the `drivebench run` that made an entry, from its name (pipeline.entry_name): None for a
    baseline (every run's), `standard` for an algorithm's standard entry and for a submission."""
    from drivebench.pipeline import entry_name

    if entry["kind"] == "baseline":
        return None
    for algo in suite.algorithms if entry["kind"] == "trained" else ():
        if name in (entry_name(algo, "standard"), entry_name(algo, "standard", suite.few_demos)):
            return "standard"
        preset = name.removeprefix(f"{algo}-").removesuffix(f"-{suite.few_demos}demos")
        if name.startswith(f"{algo}-") and name in (entry_name(algo, preset),
                                                    entry_name(algo, preset, suite.few_demos)):
            return preset
    return "standard"


def _names_of(of: dict[str, str | None], preset: str) -> list[str]:
    """The entries of a preset's leaderboard: the baselines and that preset's own."""
    return [name for name, p in of.items() if p in (None, preset)]


def _seeds_of(suite, preset: str):
    """The suite on the seeds a run of the preset evaluates: every official one, or a smoke run's first few."""
    from drivebench.pipeline import SMOKE_EPISODES

    return suite if preset == "standard" else suite.narrowed(episodes=SMOKE_EPISODES)


def cmd_submit(args) -> int:
    """Score a submission, then print the board of its regime's `all` track and where it stands on each track."""
    from drivebench import leaderboard
    from drivebench.results.db import ResultsDB
    from drivebench.submit import submit, submit_manifest

    suite = leaderboard.official_suite()
    with ResultsDB(args.db) as db:
        options = dict(db=db, workers=args.workers, backend=args.backend, address=args.address)
        if args.manifest:
            submit_manifest(args.name, args.manifest, **options)
        else:
            submit(args.name, args.policy, **options)
        boards = {track: leaderboard.compute(db, suite, track) for track in leaderboard.tracks(suite)
                  if track.regime == leaderboard.regime_of(args.name, suite)}
    places = {track: row for track, rows in boards.items() for row in rows if row.agent == args.name}
    first = next(iter(boards))  # `all` (or `all-<n>demos`)
    print(f"track {first.name}: {first.describe(suite)}\n{leaderboard.as_text(boards[first])}")
    row = next(iter(places.values()))
    status(f"{args.name} ({row.runs} training run{'s' if row.runs > 1 else ''}): "
           + "; ".join(f"{'complete' if r.complete else 'incomplete'} on the track {track.name}, ranked {r.rank} of "
                       f"{len(boards[track])}" for track, r in places.items())
           + (f"; {row.invalid_rate:.0%} of its episodes were invalid" if row.invalid_rate else ""))
    return 0


def status(message: str) -> None:
    """Progress for the person watching: on stderr, so stdout carries only the result."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- train
def cmd_train(args) -> int:
    from drivebench.agents.train import train

    result = train(args.algo, args.scenario, out=args.out, demos=args.demos, preset=args.preset, seed=args.seed,
                   reward_from=args.reward_from)
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
            records = evaluate(args.agent, args.scenario, seeds=seeds, shift=shift, workers=args.workers, db=db,
                               backend=args.backend, address=args.address)
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
    from drivebench.experts.registry import all_experts
    from drivebench.scenarios import family as families
    from drivebench.scenarios import registry
    from drivebench.scenarios.spec import field_docs

    entry = registry.get(args.name)
    spec = entry.spec
    print(f"{entry.id}  ({entry.family})  {entry.file}\n{spec.description}\n")
    print(json.dumps(spec.model_dump(mode="json"), indent=2))
    family = families.of(spec)
    print(f"\n{family.describe(spec)}")
    print("\nexperts:")
    for ex in all_experts().values():
        reason = ex.supports(spec)
        print(f"  {ex.id:18s} {'drives it' if reason is None else 'no: ' + reason}")
    print("\nobservation:")
    for name, doc in family.observation_features:
        print(f"  {name:18s} {doc}")
    print("\nscenario file fields:")
    for field, doc in field_docs(type(spec)):
        print(f"  {field:30s} {doc}")
    return 0


def cmd_scenarios_validate(args) -> int:
    from drivebench.scenarios.spec import load_scenario, scenario_id

    if args.seeds is not None and not args.check:
        raise DrivebenchError("--seeds is the number of seeds --check drives each expert: add --check")
    failed = 0
    for file in args.files:
        try:
            spec = load_scenario(file)
        except ScenarioError as err:
            print(err, file=sys.stderr)
            failed += 1
            continue
        if args.check:
            report, ok = _feasibility(spec, args.seeds or DEFAULT_CHECK_SEEDS)
            if not ok:
                print(f"{file}: not drivable: its experts fail it\n{report}", file=sys.stderr)
                failed += 1
                continue
            print(f"ok: {file} -> {scenario_id(spec)}\n{report}")
        else:
            print(f"ok: {file} -> {scenario_id(spec)}")
    return 1 if failed else 0


DEFAULT_CHECK_SEEDS = 5


def _feasibility(spec, n_seeds: int) -> tuple[str, bool]:
    """Drive the scenario with each of its experts: how each did and what failed (lines), and whether all passed."""
    from drivebench.experts import feasibility
    from drivebench.scenarios import family as families

    rows = feasibility.check(spec, n_seeds)
    if not rows:
        lines = ["  no expert supports this scenario:"]
        lines += [f"    {expert.id}: {expert.supports(spec)}" for expert in families.of(spec).experts]
        return "\n".join(lines), False
    lines = []
    for row in rows:
        lines.append(f"  {row.expert}: {row.successes}/{len(row.seeds)} arrived")
        lines += [f"    {failure.describe()}" for failure in row.failures]
    return "\n".join(lines), all(row.ok for row in rows)


# ---------------------------------------------------------------------------------------------- experts, demos
def cmd_experts_list(args) -> int:
    import dataclasses

    from drivebench.experts.registry import all_experts
    from drivebench.scenarios import registry

    rows = [{"id": ex.id, "family": ex.family, "description": ex.style.description,
             "style": dataclasses.asdict(ex.style),
             "scenarios": [e.name for e in registry.entries() if ex.supports(e.spec) is None]}
            for ex in all_experts().values()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['id']:18s} {row['family']:8s} {row['description']}\n{'':27s}drives: "
                  f"{', '.join(row['scenarios']) or '-'}")
    return 0


def cmd_record(args) -> int:
    from drivebench.data import record, store

    observation = {"type": args.observation} if args.observation else None
    path = record.record(args.scenario, args.expert, args.episodes, args.seed, root=args.out,
                         observation=observation, actions=not args.no_actions)
    manifest = store.read_manifest(path)
    ok = sum(e["termination"] == "arrived" for e in manifest["episodes"])
    print(f"wrote {path} ({len(manifest['episodes'])} episodes, {ok} successful, "
          f"{manifest['files'][store.DATA_FILE]['bytes'] / 1024:.0f} KiB)")
    return 0


def cmd_thirdperson(args) -> int:
    """`drivebench thirdperson`: the experiment (thirdperson/cli.py), then its report section."""
    from drivebench.report.thirdperson import write_section
    from drivebench.thirdperson.cli import output_folder, run

    code = run(args)
    written = write_section(output_folder(args))
    print(f"wrote {', '.join(map(str, written))}", file=sys.stderr)
    return code


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drivebench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="the main job: demos, train every agent, evaluate, leaderboard, report")
    run.add_argument("--preset", default="standard", help="standard (the leaderboard's) or quick (a smoke run)")
    run.add_argument("--scenarios", default=None, help="comma-separated: only these of the official suite")
    run.add_argument("--agents", default=None, help="comma-separated: only these (expert, random, bc, dagger, ...)")
    run.add_argument("--episodes", type=positive_int, default=None,
                     help="evaluation seeds per scenario and condition (default: the suite's 50; 6 with "
                          "--preset quick, which also trains only the first 2 training seeds)")
    run.add_argument("--name", default=None, help="the report folder's name under reports/ (default: the preset)")
    run.add_argument("--report", type=Path, default=None, help="the report folder (default: reports/<name>)")
    add_execution_options(run)
    run.add_argument("--json", action="store_true", help="print the leaderboard as JSON")
    run.set_defaults(func=cmd_run)

    board = sub.add_parser("leaderboard", help="the leaderboard from the results database")
    fmt = board.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a list of rows")
    fmt.add_argument("--markdown", action="store_true")
    fmt.add_argument("--html", action="store_true", help="an HTML table")
    board.add_argument("--track", default="all",
                       help="all (default: every scenario), a scenario family (curve, parking, ...), or either with "
                            "the few-demo condition's suffix (all-4demos); an unknown name lists the tracks")
    board.add_argument("--preset", default=None,
                       help="whose entries: standard (the official seeds) or a smoke run's (quick); default: "
                            "standard, or the preset whose entries are there")
    board.add_argument("--db", type=Path, default=None, help="results database (default: runs/results.db)")
    board.set_defaults(func=cmd_leaderboard)

    sm = sub.add_parser("submit", help="score an outside policy on the official suite and add it to the leaderboard")
    sm.add_argument("--name", required=True, help="its name on the leaderboard (resubmitting replaces it)")
    given = sm.add_mutually_exclusive_group(required=True)
    given.add_argument("--policy", action="append",
                       help="an SB3 model .zip, a drivebench agent folder, module:callable or path/file.py:callable, "
                            "for every scenario; repeat it to bring one policy per training run (seed)")
    given.add_argument("--manifest", type=Path,
                       help="a TOML file mapping scenarios ([scenarios]) or families ([families]) to their policies, "
                            "one per training run (README.md, \"Submissions\")")
    add_execution_options(sm)
    sm.set_defaults(func=cmd_submit)

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
    validate.add_argument("--check", action="store_true", help="also drive each supported expert for a few seeds; "
                          "a scenario whose experts fail is invalid (exit 1), with what failed and where")
    validate.add_argument("--seeds", type=positive_int, help=f"seeds per expert for --check (default {DEFAULT_CHECK_SEEDS})")
    validate.set_defaults(func=cmd_scenarios_validate)

    experts = sub.add_parser("experts", help="scripted experts").add_subparsers(dest="action", required=True)
    els = experts.add_parser("list", help="experts, their styles and the scenarios they drive")
    els.add_argument("--json", action="store_true")
    els.set_defaults(func=cmd_experts_list)

    tr = sub.add_parser("train", help="train an agent (bc, dagger, gail, airl; ppo on AIRL's reward) on a scenario")
    tr.add_argument("--algo", required=True, choices=["bc", "dagger", "gail", "airl", "ppo"],
                    help="ppo: a fresh PPO policy on the reward of an AIRL agent (needs --reward-from)")
    tr.add_argument("--reward-from", type=Path, default=None, help="an AIRL agent's folder (with --algo ppo)")
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
    add_execution_options(ev)  # --workers, --backend, --address, --db
    ev.add_argument("--json", action="store_true", help="one JSON object (a list of them with --sweep)")
    ev.set_defaults(func=cmd_evaluate)

    rec = sub.add_parser("record", help="record expert demos into expert_data/<scenario>/<style>/")
    rec.add_argument("--scenario", required=True)
    rec.add_argument("--expert", required=True, help="e.g. expert:tidy or tidy")
    rec.add_argument("--episodes", type=positive_int, default=None, help="default: 20")
    rec.add_argument("--seed", type=int, default=0, help="first demo seed; episodes use seed, seed+1, ...")
    rec.add_argument("--out", type=Path, default=None, help="root folder (default: the repository's expert_data/)")
    rec.add_argument("--observation", default=None,
                     help="the frame the demos are seen in: a declared observation type (ego, world, follower); "
                          "another than ego records into <style>@<type>/ (third-person demos)")
    rec.add_argument("--no-actions", action="store_true",
                     help="store no actions (imitation from observation: the action column is NaN); third-person "
                          "demos only: needs --observation world|follower")
    rec.set_defaults(func=cmd_record)

    from drivebench.styles.cli import add_parser as add_styles_parser
    add_styles_parser(sub)
    from drivebench.thirdperson.cli import add_parser as add_thirdperson_parser
    add_thirdperson_parser(sub).set_defaults(func=cmd_thirdperson)
    return parser


def add_execution_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=positive_int, default=None, help="workers (default: all cores)")
    parser.add_argument("--backend", choices=["local", "ray"], default="local",
                        help="local processes (default) or Ray (pip install -e \".[ray]\")")
    parser.add_argument("--address", default=None, help="a Ray cluster's address (default: start a local one)")
    parser.add_argument("--db", type=Path, default=None, help="results database (default: runs/results.db)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("evaluate", "submit") and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # `--agent mymodule:act` finds mymodule.py here, as `python -m` would
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, not at exit: a reader that went away is caught below
        return code
    except DrivebenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`drivebench leaderboard | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that exiting flushes nowhere
        return 141


if __name__ == "__main__":
    sys.exit(main())
