"""write_report: every file is there with content, the page is static and self-contained, the tables hold the
suite's episodes, and the folder is replaced atomically (a failed build leaves the old report)."""
from __future__ import annotations

import csv
import json
import re
import sqlite3
from html.parser import HTMLParser

import pandas as pd
import pytest

from drivebench import leaderboard
from drivebench.eval.policies import load_policy
from drivebench.report import build, figures, write_report
from drivebench.results.db import ResultsDB


class Page(HTMLParser):
    """The parts of index.html the tests look at."""

    def __init__(self, text: str):
        super().__init__()
        self.images, self.links, self.body_rows, self.scripts = [], [], 0, 0
        self.track_rows: dict[str, int] = {}
        """leaderboard rows under each track's heading (its id without `track-`)"""
        self._table, self._tbody, self._heading = None, False, ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag in ("a", "link"):
            self.links.append(attrs.get("href", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self._table = attrs.get("class")
        elif tag == "tbody":
            self._tbody = True
        elif tag == "h3":
            self._heading = attrs.get("id") or ""
        elif tag == "tr" and self._tbody and self._table == "leaderboard":
            self.body_rows += 1
            track = self._heading.removeprefix("track-")
            self.track_rows[track] = self.track_rows.get(track, 0) + 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._tbody = False


def test_the_report_has_every_file(report, suite):
    folder = report.parent
    expected = [*build.TABLES, "index.html", "scores.png", "robustness.png",
                *(f"{kind}-{s}.png" for kind in ("trajectories", "failures") for s in suite.scenarios)]
    for name in expected:
        assert (folder / name).stat().st_size > 100, name
    gifs = list(folder.glob("*.gif"))
    assert len(gifs) == 1 and gifs[0].stat().st_size > 1000
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_the_page_is_static_and_every_picture_is_in_the_folder(report):
    text = report.read_text()
    page = Page(text)
    assert page.body_rows == 2  # expert and random
    assert page.scripts == 0 and not re.search(r"(src|href)=\"(https?:)?//", text)
    assert len(page.images) == 2 + 2 * 2 + 1  # scores, robustness; two maps per scenario; one GIF
    for img in page.images:
        assert img["alt"] and (report.parent / img["src"]).is_file()
    for href in page.links:
        assert (report.parent / href).is_file()
    for words in ("drivebench test report", "wall time", "Robustness", "Where failures happen", "random on curve-gentle"):
        assert words in text
    assert "could not be drawn" not in text and "not made" not in text


def test_the_tables_hold_the_suite(report, results_db, suite):
    folder = report.parent
    everything = leaderboard.get_track("all", suite)
    rows = leaderboard.compute(results_db, suite, everything)
    # baselines alone: only the `all` track is shown
    assert (folder / "leaderboard.md").read_text() == leaderboard.as_markdown_tracks([(everything, rows)], suite)
    written = json.loads((folder / "leaderboard.json").read_text())
    assert [r["agent"] for r in written["rows"]] == ["expert", "random"]
    assert [(t["name"], [r["agent"] for r in t["rows"]]) for t in written["tracks"]] == [("all", ["expert", "random"])]
    with (folder / "leaderboard.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [(r["track"], r["agent"]) for r in table] == [("all", "expert"), ("all", "random")]
    assert float(table[0]["driving_score_ci_low"]) <= float(table[0]["driving_score"])
    episodes = pd.read_csv(folder / "episodes.csv")
    assert list(episodes.columns[:4]) == ["entry", "run", "key", "agent"]
    assert len(episodes) == 2 * len(suite.scenarios) * len(suite.conditions) * suite.episodes
    assert set(episodes["seed"]) == set(suite.seeds)
    scores = pd.read_csv(folder / "scenario_scores.csv")
    assert len(scores) == 2 * len(suite.scenarios)
    robustness = pd.read_csv(folder / "robustness.csv")
    assert len(robustness) == 2 * 2 * 4  # entries x families x start-offset levels 0-3
    assert robustness[robustness.entry == "random"].failure_rate.min() == 1.0


def test_an_entry_of_two_training_runs_in_the_tables(tmp_path, results_db, suite):
    """An entry whose two runs are agents already evaluated (the expert, then random): its runs reach every table,
    the figures draw its first run."""
    results_db._conn.execute("PRAGMA wal_checkpoint(FULL)")
    copy = sqlite3.connect(tmp_path / "copy.db")
    results_db._conn.backup(copy)
    copy.close()
    with ResultsDB(tmp_path / "copy.db") as db:
        expert = db.entries()["expert"]["agents"]
        db.set_entry("mixed", "submission", {s: [expert[s][0], ("random", load_policy("random").agent_hash)]
                                             for s in suite.scenarios})
        index = write_report(tmp_path / "run", db, suite, title="runs", run_info={}, gifs=False)
        one = suite.scenarios[0]  # an entry for one scenario's family only: complete on that family's track
        db.set_entry("first-only", "submission", {one: [("random", load_policy("random").agent_hash)]})
        tracks = write_report(tmp_path / "tracks", db, suite, title="tracks", run_info={}, gifs=False).parent
    folder = index.parent
    rows = {r["agent"]: r for r in json.loads((folder / "leaderboard.json").read_text())["rows"]}
    assert rows["mixed"]["runs"] == 2 and rows["expert"]["runs"] == 1
    assert rows["mixed"]["per_run_driving_score"] == pytest.approx([rows["expert"]["driving_score"],
                                                                    rows["random"]["driving_score"]])
    with (folder / "leaderboard.csv").open() as f:
        table = {r["agent"]: r for r in csv.DictReader(f) if r["track"] == "all"}
    assert table["mixed"]["runs"] == "2" and len(json.loads(table["mixed"]["per_run_driving_score"])) == 2
    scores = pd.read_csv(folder / "scenario_scores.csv")
    mixed = scores[scores.entry == "mixed"]
    assert mixed.runs.tolist() == [2, 2] and all(len(json.loads(v)) == 2 for v in mixed.per_run_driving_score)
    episodes = pd.read_csv(folder / "episodes.csv")
    assert list(episodes.columns[:2]) == ["entry", "run"]
    assert sorted(set(episodes[episodes.entry == "mixed"].run)) == [0, 1]
    text = index.read_text()
    names = [t.name for t in leaderboard.tracks(suite)]
    standard = [t.name for t in leaderboard.tracks(suite) if t.regime == leaderboard.STANDARD]
    assert len(standard) == 3  # all, and the family of each of the two scenarios
    assert Page(text).track_rows == {name: 3 for name in standard}  # a table per track with a submission
    assert "<td>1*</td>" in text and "<td>2</td>" in text and "could not be drawn" not in text
    assert f"Not shown, as they rank only the baselines: {', '.join(n for n in names if n not in standard)}" in text

    page = Page((tracks / "index.html").read_text())
    assert page.track_rows == {"all": 4, standard[1]: 4, standard[2]: 3}
    written = {t["name"]: {r["agent"]: r for r in t["rows"]}
               for t in json.loads((tracks / "leaderboard.json").read_text())["tracks"]}
    assert not written["all"]["first-only"]["complete"] and written[standard[1]]["first-only"]["complete"]
    assert "first-only" not in written[standard[2]]
    with (tracks / "leaderboard.csv").open() as f:
        assert [r["track"] for r in csv.DictReader(f) if r["agent"] == "first-only"] == ["all", standard[1]]
    markdown = (tracks / "leaderboard.md").read_text()
    assert [line for line in markdown.splitlines() if line.startswith("## Track")] == [
        f"## Track `{name}`" for name in standard]


def test_writing_again_replaces_the_folder(tmp_path, results_db, suite):
    out = tmp_path / "run"
    out.mkdir()
    (out / "stale.txt").write_text("from an older report")
    index = write_report(out, results_db, suite, title="again", run_info={}, gifs=False)
    assert index == out / "index.html" and not (out / "stale.txt").exists()
    assert not list(out.glob("*.gif")) and "GIFs were not rendered" in index.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_failed_build_leaves_the_old_report(tmp_path, results_db, suite, monkeypatch):
    out = tmp_path / "run"
    index = write_report(out, results_db, suite, title="old", run_info={}, gifs=False)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(build, "_write_tables", broken)
    with pytest.raises(OSError, match="disk full"):
        write_report(out, results_db, suite, title="new", run_info={}, gifs=False)
    assert "<title>old</title>" in index.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_figure_that_fails_is_named_on_the_page(tmp_path, results_db, suite, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("no ink")

    monkeypatch.setattr(figures, "score_bars", broken)
    text = write_report(tmp_path / "run", results_db, suite, title="t", run_info={}, gifs=False).read_text()
    assert "scores.png could not be drawn: ValueError: no ink" in text
    assert not (tmp_path / "run" / "scores.png").exists() and 'src="scores.png"' not in text
    assert Page(text).body_rows == 2


def test_an_empty_database_gives_an_empty_report(tmp_path, suite):
    with ResultsDB(tmp_path / "empty.db") as db:
        index = write_report(tmp_path / "run", db, suite, title="empty", run_info={"preset": "none"})
    page = Page(index.read_text())
    assert page.body_rows == 0 and "No failure to show" in index.read_text()
    for img in page.images:
        assert (index.parent / img["src"]).is_file()
    assert pd.read_csv(index.parent / "episodes.csv").empty
