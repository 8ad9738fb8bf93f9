"""`drivebench thirdperson`: learn to drive in the ego frame from demos seen from outside; compare first-person GAIL
(ceiling), naive GAIL (floor), domain-adversarial (TPIL) and the analytic oracle.

`add_parser(subparsers)` wires it into the main parser with `func=run`; the `drivebench` command (cli.py) adds the
report section after it (report/thirdperson.py). Progress goes to stderr; stdout carries the table (or JSON).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from drivebench.core.cliutil import positive_int, write_text_atomic
from drivebench.errors import DrivebenchError
from drivebench.thirdperson import FRAMES, METHODS


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "thirdperson", help="third-person imitation: learn in the ego frame from demos seen from outside",
        description="Record the expert's demos in another frame (an overhead camera: world; a car behind: follower), "
                    "train first-person GAIL (ceiling), naive GAIL on the third-person demos (floor), the "
                    "domain-adversarial method (TPIL) and an oracle that maps the demos into the ego frame, over "
                    "several training runs; print success, crash, off-road, driving score, the gap each closes and "
                    "a domain probe's accuracy.")
    p.add_argument("--scenario", required=True)
    p.add_argument("--frame", choices=FRAMES, default=FRAMES[0],
                   help=f"the frame the demos are seen in (default: {FRAMES[0]})")
    p.add_argument("--preset", choices=["quick", "standard"], default="standard",
                   help="the [thirdperson.<preset>] table of presets.toml (default: standard)")
    p.add_argument("--runs", type=positive_int, default=None, help="training runs per method (default: the preset's)")
    p.add_argument("--episodes", type=positive_int, default=None,
                   help="evaluation episodes per agent (default: the preset's)")
    p.add_argument("--domain-weight", type=_weight, default=None,
                   help="TPIL's gradient-reversal weight lambda (default: the preset's)")
    p.add_argument("--poor-ego-negatives", choices=["yes", "no"], default=None,
                   help="TPIL: also the poor policy's ego-frame drives as negatives (default: the preset's)")
    p.add_argument("--methods", default=",".join(METHODS),
                   help=f"comma-separated methods to train (default: all: {','.join(METHODS)}); the gap closed needs "
                        "first_person and naive")
    p.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE",
                   help="override one of the preset's hyperparameters (a TOML value), e.g. --hp domain_head_steps=5; "
                        "repeatable")
    p.add_argument("--workers", type=positive_int, default=1, help="evaluation workers (default: 1)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for demos, checkpoints, thirdperson.json and the figure "
                        "(default: reports/thirdperson/<scenario>-<frame>)")
    p.add_argument("--json", action="store_true", help="print thirdperson.json instead of the table")
    p.set_defaults(func=run)
    return p


def _weight(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _override(text: str) -> tuple[str, object]:
    """KEY=VALUE, the value read as TOML (5, 1e-3, true, [64, 64]) or else as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise DrivebenchError(f"--hp takes KEY=VALUE, got {text!r}")
    try:
        return key.strip(), tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key.strip(), value


def output_folder(args) -> Path:
    return Path(args.out) if args.out else Path("reports") / "thirdperson" / f"{args.scenario}-{args.frame}"


def run(args) -> int:
    """Run the experiment, print its table (or JSON), write thirdperson.json and the figure into --out."""
    from drivebench.thirdperson.experiment import ThirdPersonConfig, check_config, planned_steps, run_experiment
    from drivebench.thirdperson.figure import thirdperson_figure

    out = output_folder(args)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    negatives = None if args.poor_ego_negatives is None else args.poor_ego_negatives == "yes"
    config = ThirdPersonConfig(args.scenario, args.frame, args.preset, args.runs, args.episodes, args.domain_weight,
                               negatives, methods, tuple(_override(text) for text in args.hp), out, args.workers,
                               progress=False)
    check_config(config)
    with tqdm(total=planned_steps(config), desc="thirdperson", unit="step", file=sys.stderr, leave=False) as bar:
        def step(what: str, n: int) -> None:
            bar.set_description(what)
            bar.update(n)

        result = run_experiment(config, step)
    data = result.to_json()
    figure = out / "thirdperson.png"
    data["figure"] = str(figure)
    write_text_atomic(out / "thirdperson.json", json.dumps(data, indent=2) + "\n")  # the results first, whole
    thirdperson_figure(result, data, figure)
    print(json.dumps(data, indent=2) if args.json else format_report(data))
    print(f"wrote {out / 'thirdperson.json'} and {figure} in {result.seconds / 60:.1f} min", file=sys.stderr)
    return 0


def _cell(est: dict, percent: bool = True) -> str:
    if est is None or est.get("value") is None:
        return "n/a"
    f = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.1f}")
    if est.get("low") is None:
        return f(est["value"])
    return f"{f(est['value'])} [{f(est['low'])}, {f(est['high'])}]"


def table(data: dict) -> pd.DataFrame:
    rows = []
    for m in data.get("methods_trained", METHODS):
        e = data["methods"][m]
        rows.append({"method": m, "success": _cell(e["success"]), "crash": _cell(e["crash"]),
                     "off-road": _cell(e["off_road"]), "driving score": _cell(e["driving_score"], False),
                     "gap closed": _cell(data["gap_closed"][m]), "domain probe": _cell(e["probe"])})
    return pd.DataFrame(rows)


def format_report(data: dict) -> str:
    """The text table of a thirdperson.json."""
    return "\n".join([
        (f"Third-person imitation on {data['scenario']}: demos seen in the {data['frame']} frame, the learner in its "
         f"ego frame; {data['runs']} training run(s) per method x {data['episodes']} evaluation episodes, "
         f"{data['preset']} preset, TPIL lambda {data['domain_weight']:g}."),
        f"Intervals: {data['intervals']}. Gap closed: {data['gap_metric']}.",
        f"Domain probe: {data['probe']}.",
        "",
        table(data).to_string(index=False),
    ])
