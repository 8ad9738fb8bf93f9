"""`write_report`: the results database and the suite -> a report folder that opens from disk.

The folder holds index.html (page.py), the figures (figures.py) and GIFs (gifs.py) it shows, and the tables
behind them: leaderboard.md / .csv / .json (a table per track shown: `all`, and each other track that ranks more
than the baselines; the JSON's `rows` are every entry on every scenario, what the figures draw, and its `tracks`
the tables; the CSV's `track` column says which), scenario_scores.csv (per entry and scenario, with its training runs'
scores), robustness.csv (the robustness curves' points) and episodes.csv (every official episode of the entries'
runs, one row each, without trajectories). It is written into a temporary folder beside the target and renamed over it at the end, so a
reader sees the old report or the new one, never half of one, and a failed build leaves the old one in place.
A figure or GIF that cannot be made is named on the page with the reason; the rest of the report is written.
"""
from __future__ import annotations

import csv
import dataclasses
import html
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from drivebench import leaderboard
from drivebench.errors import DrivebenchError
from drivebench.leaderboard import Row, Suite, Track
from drivebench.report import figures, page
from drivebench.report import gifs as gif_module
from drivebench.report.data import (
    MAP_CONDITION,
    Records,
    RobustnessPoint,
    entry_order,
    failure_points,
    load_records,
    robustness_points,
    track_groups,
)
from drivebench.report.page import Picture
from drivebench.results.db import ResultsDB
from drivebench.scenarios import registry

TABLES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "scenario_scores.csv", "robustness.csv",
          "episodes.csv")


def write_report(out_dir: Path | str, db: ResultsDB, suite: Suite, *, title: str, run_info: dict,
                 gifs: bool = True) -> Path:
    """Write the report of the suite's entries in `db` to `out_dir` (replacing it atomically, see the module
    docstring); returns the path of its index.html."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DrivebenchError(f"{out_dir} is a file, not a report folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a report is for reading
        _write(tmp, db, suite, title=title, run_info=run_info, gifs=gifs)
        _replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "index.html"


def _replace(new: Path, target: Path) -> None:
    """Put the folder `new` at `target`: two renames (POSIX cannot rename over a non-empty folder)."""
    if not target.exists():
        os.rename(new, target)
        return
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write(folder: Path, db: ResultsDB, suite: Suite, *, title: str, run_info: dict, gifs: bool) -> None:
    rows = leaderboard.compute(db, suite)  # every entry on every scenario: what the figures draw
    boards = track_boards(db, suite)
    order = entry_order(rows)
    entries = {name: entry for name, entry in db.entries().items() if name in order}
    records = load_records(db, suite, entries)
    colours = figures.entry_colours(order)
    notes: list[str] = []

    _write_tables(folder, db, suite, rows, boards, entries, records, order)

    def draw(file: str, alt: str, fn: Callable, *args, caption: str = "", **kwargs) -> Picture:
        try:
            fn(*args, folder / file, **kwargs)
        except Exception as err:  # noqa: BLE001 (one broken figure must not cost the whole report)
            notes.append(f"{file} could not be drawn: {type(err).__name__}: {err}")
            return Picture("", alt, caption, f"{type(err).__name__}: {err}")
        return Picture(file, alt, caption)

    scores = draw("scores.png", "driving score per entry with 95% intervals", figures.score_bars, rows,
                  colours=colours)
    robustness = draw("robustness.png", "failure rate vs start offset level per entry and scenario family",
                      figures.robustness_curves, robustness_points(records, suite, order), colours=colours)
    trajectories, failures = [], []
    for scenario in suite.scenarios:
        spec = registry.get(scenario).spec
        trajectories.append(draw(
            f"trajectories-{scenario}.png", f"trajectories on {scenario} under {MAP_CONDITION}",
            figures.trajectory_map, spec, track_groups(records, order, scenario), condition=str(MAP_CONDITION),
            colours=colours, caption=spec.description))
        failures.append(draw(f"failures-{scenario}.png", f"where episodes failed on {scenario}",
                             figures.failure_map, spec, failure_points(records, scenario)))

    gif_results, gif_note = [], ""
    if gifs:
        requests = gif_module.choose_failures(records, entries, order, suite)
        for request in requests:
            seeds = suite.seeds_for(request.shift)
            expected = records[request.entry, request.scenario, request.shift][seeds.index(request.seed)]
            gif_results.append(gif_module.render_gif(request, folder / request.filename, expected=expected))
        if not requests:
            gif_note = "No failure to show: no entry failed where the expert arrived."
        notes += [f"GIF of {g.request.entry} on {g.request.scenario} not made: {g.error}"
                  for g in gif_results if g.error]
    else:
        gif_note = "GIFs were not rendered for this report."

    (folder / "index.html").write_text(page.render(
        title=title, run_info=run_info, suite=suite, leaderboard_html=tracks_html(boards, suite), files=TABLES,
        scores=scores, robustness=robustness, trajectories=trajectories, failures=failures, gifs=gif_results,
        gif_note=gif_note, condition=str(MAP_CONDITION), speed=gif_module.SPEEDUP, notes=notes))


# ---------------------------------------------------------------------------------------------- tracks
def track_boards(db: ResultsDB, suite: Suite) -> list[tuple[Track, list[Row]]]:
    """The rows of each track the report shows: `all`, and every other track that ranks an entry besides the
    baselines (a track of the baselines alone, such as the few-demo ones after a smoke run, says nothing new)."""
    boards = [(track, leaderboard.compute(db, suite, track)) for track in leaderboard.tracks(suite)]
    return [(track, rows) for i, (track, rows) in enumerate(boards)
            if i == 0 or any(r.kind != "baseline" for r in rows)]


def tracks_html(boards: list[tuple[Track, list[Row]]], suite: Suite) -> str:
    """A heading, a line on what it covers and the table of each track shown; the tracks left out, named."""
    shown = {track.name for track, _ in boards}
    parts = [f'<h3 id="track-{html.escape(track.name)}">Track {html.escape(track.name)}</h3>'
             f'<p class="explain">{html.escape(track.describe(suite))}.</p>{leaderboard.as_html(rows)}'
             for track, rows in boards]
    left = [t.name for t in leaderboard.tracks(suite) if t.name not in shown]
    if left:
        parts.append(f'<p class="explain">Not shown, as they rank only the baselines: '
                     f'{html.escape(", ".join(left))}.</p>')
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- tables
def _write_tables(folder: Path, db: ResultsDB, suite: Suite, rows: list[Row], boards: list[tuple[Track, list[Row]]],
                  entries: dict[str, dict], records: Records, order: list[str]) -> None:
    (folder / "leaderboard.md").write_text(leaderboard.as_markdown_tracks(boards, suite))
    dicts = leaderboard.as_dicts(rows)
    (folder / "leaderboard.json").write_text(json.dumps(
        {"suite_version": suite.version, "scenarios": list(suite.scenarios), "episodes": suite.episodes,
         "rows": dicts,
         "tracks": [{"name": track.name, "scenarios": list(track.scenarios), "regime": track.regime,
                     "rows": leaderboard.as_dicts(track_rows)} for track, track_rows in boards]}, indent=1) + "\n")
    _write_csv(folder / "leaderboard.csv",
               [{"track": track.name, **_flat(d)} for track, track_rows in boards
                for d in leaderboard.as_dicts(track_rows)], ["track", *_flat_columns()])
    _write_csv(folder / "scenario_scores.csv",
               [{"entry": r.agent, "kind": r.kind, "scenario": scenario,
                 **{k: v for k, v in values.items() if k != "per_run"},
                 **{f"per_run_{k}": json.dumps(v) for k, v in values["per_run"].items()}}
                for r in rows for scenario, values in r.per_scenario.items()],
               ["entry", "kind", "scenario", "runs", "driving_score", "success_rate", "offdist_driving_score",
                "per_run_driving_score", "per_run_success_rate"])
    points = robustness_points(records, suite, order)
    _write_csv(folder / "robustness.csv", [dataclasses.asdict(p) for p in points],
               [f.name for f in dataclasses.fields(RobustnessPoint)])
    episodes_frame(db, suite, entries).to_csv(folder / "episodes.csv", index=False)


def _flat_columns() -> list[str]:
    columns = []
    for f in dataclasses.fields(Row):
        if f.name == "per_scenario":
            continue
        columns += [f"{f.name}_low", f"{f.name}_high"] if f.name.endswith("_ci") else [f.name]
    return columns


def _flat(row: dict) -> dict:
    """A leaderboard row without per_scenario, each interval as two columns (empty when there is none), a list
    of per-run values as JSON text."""
    out = {}
    for key, value in row.items():
        if key == "per_scenario":
            continue
        if key.endswith("_ci"):
            out[f"{key}_low"], out[f"{key}_high"] = value if value is not None else (None, None)
        elif isinstance(value, list):
            out[key] = json.dumps(value)
        else:
            out[key] = value
    return out


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def episodes_frame(db: ResultsDB, suite: Suite, entries: dict[str, dict]) -> pd.DataFrame:
    """The suite's episodes of the entries (official scenarios, conditions and seeds), one row each with the
    entry's name and training run (0, 1, ...) first; an agent standing for two entries (or runs) appears once per
    entry (and run)."""
    keys = []
    for name, entry in entries.items():
        for scenario, runs in entry["agents"].items():
            if scenario not in suite.scenarios:
                continue
            for shift in suite.conditions:
                try:
                    spec_hash = leaderboard.scenario_hash(scenario, shift)
                except DrivebenchError:
                    continue
                keys += [{"entry": name, "run": run, "agent_hash": agent_hash, "scenario": scenario,
                          "scenario_hash": spec_hash, "shift": shift.name, "level": shift.level}
                         for run, (_, agent_hash) in enumerate(runs)]
    frame = db.dataframe()
    on = ["agent_hash", "scenario", "scenario_hash", "shift", "level"]
    columns = ["entry", "run", *frame.columns]
    if not keys:
        return frame.iloc[:0].assign(entry=pd.Series(dtype=str), run=pd.Series(dtype="int64"))[columns]
    merged = pd.DataFrame(keys).merge(frame, on=on, how="inner")
    merged = merged[merged["seed"].isin(suite.seeds)]
    return merged[columns].sort_values(["entry", "run", "scenario", "shift", "level", "seed"]).reset_index(drop=True)
