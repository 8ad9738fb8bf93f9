"""The report's figures: maps in the simulator's frame, every figure function writes a PNG, also without data,
and the data they draw (tracks, robustness points) is read right."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from drivebench import leaderboard
from drivebench.core.records import Trajectory
from drivebench.eval.shifts import NONE, Shift
from drivebench.report import data, figures
from drivebench.scenarios import registry


def assert_png(path, min_size=(300, 150)):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        assert im.size[0] >= min_size[0] and im.size[1] >= min_size[1]
        assert np.asarray(im.convert("L")).std() > 5  # something is drawn


@pytest.fixture(scope="module")
def drawn(results_db, suite):
    rows = leaderboard.compute(results_db, suite)
    order = data.entry_order(rows)
    entries = results_db.entries()
    return rows, order, data.load_records(results_db, suite, entries)


@pytest.mark.parametrize("scenario", ["curve-hairpin", "parking-crowded"])
def test_maps_are_in_the_simulator_frame(scenario):
    spec = registry.get(scenario).spec
    ax = Figure().subplots()
    figures.draw_scenario(ax, spec)
    assert ax.yaxis_inverted()  # y south points down, as on screen
    assert ax.get_aspect() == 1.0
    xmin, xmax, ymin, ymax = figures.scenario_bounds(spec)
    (x0, x1), (y1, y0) = ax.get_xlim(), ax.get_ylim()
    assert x0 < xmin < xmax < x1 and y0 < ymin < ymax < y1


def test_hairpin_turns_right_in_screen_coordinates():
    """Driving east and turning right in highway-env's frame (y south) goes down the screen: the hairpin's far
    side lies at larger y than its start."""
    _, _, ymin, ymax = figures.scenario_bounds(registry.get("curve-hairpin").spec)
    assert ymax > 35 and ymin > -5  # 2 x 20 m radius below the start line, nothing far above it


def test_every_figure_writes_a_png(tmp_path, drawn, suite):
    rows, order, records = drawn
    colours = figures.entry_colours(order)
    assert colours["expert"] == figures.EXPERT_COLOUR and len(set(colours.values())) == len(order)
    assert_png(figures.score_bars(rows, tmp_path / "scores.png", colours=colours))
    points = data.robustness_points(records, suite, order)
    assert {(p.entry, p.family, p.level) for p in points} == {
        (e, f, lvl) for e in order for f in ("curve", "parking") for lvl in range(4)}
    assert_png(figures.robustness_curves(points, tmp_path / "robustness.png", colours=colours))
    for scenario in suite.scenarios:
        spec = registry.get(scenario).spec
        groups = data.track_groups(records, order, scenario)
        assert [g.entry for g in groups] == ["expert", "random"] and all(len(g.tracks) == 3 for g in groups)
        assert_png(figures.trajectory_map(spec, groups, tmp_path / f"t-{scenario}.png", condition="start_offset:2"))
        failures = data.failure_points(records, scenario)
        assert failures and {f.cause for f in failures} <= set(data.FAILURE_CAUSES)
        assert_png(figures.failure_map(spec, failures, tmp_path / f"f-{scenario}.png"))


def test_figures_without_data_still_draw(tmp_path):
    curve, lot = registry.get("curve-gentle").spec, registry.get("parking-reverse").spec
    assert_png(figures.score_bars([], tmp_path / "a.png"), (300, 100))
    assert_png(figures.robustness_curves([], tmp_path / "b.png"))
    assert_png(figures.trajectory_map(curve, [], tmp_path / "c.png"))
    assert_png(figures.failure_map(lot, [], tmp_path / "d.png"))


def test_robustness_leaves_out_levels_not_evaluated(tmp_path, drawn, suite):
    _, order, records = drawn
    some = {k: v for k, v in records.items() if k[2] in (NONE, Shift("start_offset", 2))}
    points = data.robustness_points(some, suite, order)
    assert {p.level for p in points} == {0, 2}
    expert_curve = [p for p in points if p.entry == "expert" and p.family == "curve"]
    assert all(p.failure_rate == 0.0 and p.episodes == 3 and p.scenarios == 1 for p in expert_curve)
    assert_png(figures.robustness_curves(points, tmp_path / "r.png"))


def _record(drawn, off_road, collision, termination):
    template = next(iter(drawn[2].values()))[0]
    n = len(off_road)
    poses = np.column_stack([np.arange(n), np.zeros(n), np.zeros(n), np.ones(n)]).astype(np.float32)
    signals = {"off_road": np.array(off_road, np.float32), "collision": np.array(collision, np.float32)}
    return dataclasses.replace(template, trajectory=Trajectory(poses, signals),
                               metrics=dataclasses.replace(template.metrics, termination=termination))


def test_tracks_mark_the_first_crash_and_leaving_the_road(drawn):
    t = data.track("bc", _record(drawn, [1, 1, 0, 0, 1, 1], [0, 0, 0, 0, 0, 2], "crashed"))
    assert (t.offroad_index, t.crash_index) == (4, 5)  # starting off the road is not leaving it
    t = data.track("bc", _record(drawn, [1, 1, 1], [0, 0, 0], "off_road"))
    assert (t.offroad_index, t.crash_index) == (2, None)  # ended off-road: marked where it ended
    t = data.track("bc", _record(drawn, [0, 0, 0], [0, 0, 0], "arrived"))
    assert (t.offroad_index, t.crash_index, t.success) == (None, None, True)


def test_the_standard_runs_ten_entries_get_ten_colours():
    """The default run has the expert, random, 4 algorithms and their 4 few-demo rows: no two share a colour (the
    8-colour palette gave random dagger-4demos's blue)."""
    from drivebench.report.figures import entry_colours

    names = ["expert", "random"] + [f"{a}{s}" for s in ("", "-4demos") for a in ("bc", "dagger", "gail", "airl")]
    assert len(set(entry_colours(names).values())) == len(names)
