"""`drivebench styles`: train agents on each driving style's few demos and show which recover whose style.

Wire it into the main parser with `add_parser(subparsers)`; it sets `func=run`, which the `drivebench` command
calls with the parsed arguments. Progress goes to stderr; stdout carries the tables (or JSON with --json).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from drivebench.core.cliutil import positive_int, write_text_atomic
from drivebench.errors import DrivebenchError

DEFAULT_SCENARIO = "parking-styles"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "styles", help="learn each driving style from a few demos; show which agents recover whose style",
        description="Train each algorithm on each style's demos, evaluate the learned agents, and print the "
                    "style-recovery matrix, a style classifier's accuracy, task success and linear-IRL weights.")
    p.add_argument("--scenario", default=DEFAULT_SCENARIO,
                   help=f"a scenario with at least two expert styles (default: {DEFAULT_SCENARIO}; curves: e.g. "
                        "curve-s-bend)")
    p.add_argument("--algos", default="bc,gail,airl", help="comma-separated algorithms (default: bc,gail,airl)")
    p.add_argument("--demos-per-style", type=positive_int, default=4,
                   help="demos each agent learns from (default: 4, few on purpose)")
    p.add_argument("--preset", choices=["quick", "standard"], default="standard",
                   help="training preset (default: standard; quick is for smoke tests)")
    p.add_argument("--seeds", type=seed_list, default=None,
                   help="comma-separated training seeds, one agent per (algorithm, style, seed) (default: 0,1,2, "
                        "the suite's training runs)")
    p.add_argument("--episodes", type=positive_int, default=20, help="evaluation episodes per agent (default: 20)")
    p.add_argument("--workers", type=positive_int, default=None, help="evaluation workers (default: all cores)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for checkpoints, figures and styles.json (default: reports/styles/<scenario>)")
    p.add_argument("--json", action="store_true", help="print styles.json instead of the tables")
    p.set_defaults(func=run)
    return p


def seed_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated distinct whole numbers >= 0, e.g. 0,1,2."""
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated whole numbers, e.g. 0,1,2; got {text!r}") from None
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"must be distinct whole numbers >= 0, e.g. 0,1,2; got {text!r}")
    return seeds


def run(args) -> int:
    """Run the experiment, print its tables (or JSON), write styles.json and the figures into --out."""
    from drivebench.scenarios import registry
    from drivebench.styles.experiment import (
        StylesConfig,
        check_config,
        planned_steps,
        run_experiment,
        style_demo_sets,
    )
    from drivebench.styles.figure import styles_figure
    from drivebench.styles.hooks import hooks_for

    entry = registry.get(args.scenario)
    hooks = hooks_for(entry.spec)  # a family without a style experiment says so before any work
    algos = tuple(a.strip() for a in args.algos.split(",") if a.strip())
    out = Path(args.out) if args.out else Path("reports") / "styles" / entry.name
    config = StylesConfig(entry.name, algos, args.demos_per_style, args.preset,
                          args.seeds or StylesConfig.seeds, args.episodes, out, args.workers, progress=True)
    check_config(config)
    style_demo_sets(entry.name)  # fewer than two styles, or missing demos, fail before any work
    with tqdm(total=planned_steps(config), desc="styles", unit="step", file=sys.stderr, leave=False) as bar:
        def step(what: str, n: int) -> None:
            bar.set_description(what)
            bar.update(n)

        result = run_experiment(config, step)
        bar.set_description("figures")
        figures = [styles_figure(result, out / "styles.png")]
        figures += [figure(result, out / name) for name, figure in hooks.figures.items()]
    data = result.to_json()
    data["figures"] = [str(f) for f in figures]
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "styles.json", json.dumps(data, indent=2) + "\n")
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_report(data))
    print(f"wrote {out / 'styles.json'} and {', '.join(map(str, figures))} in {result.seconds / 60:.1f} min",
          file=sys.stderr)
    return 0


def format_report(data: dict) -> str:
    """The text tables of a styles.json."""
    styles = data["styles"]
    lines = [
        (f"Style recovery on {data['scenario']}: {len(data['algos'])} algorithm(s) x {len(styles)} styles, "
         f"{data['demos_per_style']} demos per style, {data['preset']} preset, {data['episodes']} evaluation episodes "
         "per agent."),
        ("Cells: energy distance between the agent's style metrics and each demonstrator style's (metrics "
         "standardized by the demonstrators' pooled std); * marks the nearest style. The expert/* rows are the "
         "demonstrators evaluated on the same seeds: the distance that sampling noise alone gives; own/expert is an "
         "agent's distance to its own style over the expert's."),
        ""]
    rows = []
    for r in [*data["experts"], *data["agents"]]:
        d = r["distances"]
        best = min(d, key=d.get)
        rows.append({"agent": r["label"],
                     **{s: f"{d[s]:.2f}{'*' if s == best else ' '}" for s in styles},
                     "nearest": r["nearest"], "recovered": "yes" if r["recovered"] else "no",
                     "own/expert": f"{r['own_distance_vs_expert']:.1f}x" if "own_distance_vs_expert" in r else "",
                     "classified own": f"{r['classifier_accuracy']:.0%}",
                     "success": f"{r['success_rate']:.0%} [{r['success_ci'][0]:.0%}, {r['success_ci'][1]:.0%}]",
                     "completion": f"{r['route_completion']:.2f}"})
    lines.append(pd.DataFrame(rows).to_string(index=False))
    if data["over_runs"]:
        lines += ["", f"Over training runs (seeds {', '.join(map(str, data['seeds']))}): task success averaged over "
                      "the runs (each run's), and the runs whose agent is nearest its own style."]
        lines.append(pd.DataFrame([{
            "agent": f"{r['algo']}/{r['style']}", "runs": r["runs"],
            "success": f"{r['success_rate']:.0%} ({' / '.join(f'{v:.0%}' for v in r['per_run_success'])})",
            "own style nearest": f"{r['recovered_runs']} of {r['runs']}",
            "nearest per run": " / ".join(r["nearest"])} for r in data["over_runs"]]).to_string(index=False))
    c = data["classifier"]
    lines += ["", (f"Style classifier ({c['model']}): {c['cv_accuracy']:.1%} accuracy on the demonstrators "
                   f"({c['cv_folds']}-fold cross-validation).")]
    if c["learned_agent_accuracy"] is not None:
        lines.append(f"Shown the learned agents' episodes, it names the agent's own demo style for "
                     f"{c['learned_agent_accuracy']:.1%} of them.")
    lines.append(f"Recovered (own style nearest): {data['recovered']} of {data['learned_agents']} learned agents. "
                 "A style copied without arriving is no success: see the success column.")
    irl = data["linear_irl"]
    lib = irl["library"]
    dropped = f"; {len(lib['dropped'])} left out (their paths do not fit)" if lib["dropped"] else ""
    lines += ["", (f"Linear IRL, {irl['method']}: {lib['candidates']} candidates rolled out from the demos' start "
                   f"states (seeds {', '.join(map(str, lib['seeds']))}; {lib['success_rate']:.0%} of these rollouts "
                   f"arrive{dropped})."),
              f"Weights: {irl['sign_convention']}."]
    table = []
    for style, r in irl["styles"].items():
        table.append({"style": style, **{f: (f"{w:+.3f}" if r["identifiable"][f] else "n/a")
                                         for f, w in r["weights"].items()},
                      "best candidate": r["best_candidate"]})
    lines.append(pd.DataFrame(table).to_string(index=False))
    lines.append("Feature-expectation gap ||mu_E - E_P[mu]|| per iteration (library std units; it settles at "
                 "L2 x ||w||):")
    for style, r in irl["styles"].items():
        gaps = r["gap_per_iteration"]
        lines.append(f"  {style:10s} " + " ".join(f"{g:.3f}" for g in gaps)
                     + f"   ({len(gaps) - 1} iterations, {_fall(gaps)})")
    return "\n".join(lines)


def _fall(gaps: list[float]) -> str:
    if len(gaps) < 2:
        return "no iterations"
    return f"gap {gaps[0]:.2f} -> {gaps[-1]:.2f}, min {float(np.min(gaps)):.2f}"


def main(argv: list[str] | None = None) -> int:
    """Run the command on its own (until it is wired into `drivebench`): `python -m drivebench.styles.cli`."""
    parser = argparse.ArgumentParser(prog="drivebench")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["styles", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except DrivebenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
