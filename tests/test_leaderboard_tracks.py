"""Tracks (a family's scenarios or all of them, in the standard or the few-demo regime) and which preset's entries
`drivebench leaderboard` shows, on tiny databases of hand-made episodes (no simulation)."""
import json

import pytest

from drivebench import leaderboard, pipeline
from drivebench.cli import main
from drivebench.results.db import ResultsDB
from drivebench.scenarios import family as families
from drivebench.scenarios import registry
from test_leaderboard_runs import enter

GENTLE, HAIRPIN, PARKING = "curve-gentle", "curve-hairpin", "parking-empty"


@pytest.fixture(scope="module")
def suite():
    """Two curve scenarios and a lot, 2 official seeds."""
    return leaderboard.official_suite().narrowed([GENTLE, HAIRPIN, PARKING], episodes=2)


def family(scenario: str) -> str:
    return families.of(registry.get(scenario).spec).name


def test_the_tracks_come_from_the_suites_families():
    official = leaderboard.official_suite()
    few = official.few_demos
    by_family = {}
    for scenario in official.scenarios:
        by_family.setdefault(family(scenario), []).append(scenario)
    assert len(by_family) >= 2
    tracks = leaderboard.tracks(official)
    assert [t.name for t in tracks] == ["all", *by_family, f"all-{few}demos", *(f"{f}-{few}demos" for f in by_family)]
    assert tracks[0].scenarios == official.scenarios and tracks[0].regime == leaderboard.STANDARD
    for track in tracks[1:]:
        name = track.name.removesuffix(f"-{few}demos")
        assert track.scenarios == (official.scenarios if name == "all" else tuple(by_family[name]))
        assert track.regime == (leaderboard.FEW_DEMO if track.name.endswith("demos") else leaderboard.STANDARD)
    assert leaderboard.get_track(f"all-{few}demos", official) == tracks[len(by_family) + 1]
    with pytest.raises(leaderboard.DrivebenchError, match="unknown track 'nowhere'; the tracks are all, "):
        leaderboard.get_track("nowhere", official)
    assert leaderboard.regime_of(f"bc-{few}demos", official) == leaderboard.FEW_DEMO
    assert leaderboard.regime_of("bc", official) == leaderboard.regime_of(f"bc-{few + 1}demos", official) == "standard"


def test_a_track_scores_its_scenarios_only_and_its_regimes_entries(tmp_path, suite):
    curve, few = family(GENTLE), suite.few_demos
    assert family(HAIRPIN) == curve != family(PARKING)
    with ResultsDB(tmp_path / "r.db") as db:
        enter(db, suite, "expert", [{GENTLE: 100.0, HAIRPIN: 90.0, PARKING: 80.0}], kind="baseline")
        enter(db, suite, "bc", [{GENTLE: 70.0, HAIRPIN: 50.0, PARKING: 95.0}, {GENTLE: 60.0, HAIRPIN: 40.0,
                                                                              PARKING: 85.0}])
        enter(db, suite, "curvy", [{GENTLE: 99.0, HAIRPIN: 95.0}], kind="submission")  # per family: no parking
        enter(db, suite, f"bc-{few}demos", [{GENTLE: 30.0, HAIRPIN: 20.0, PARKING: 10.0}])

        def board(name: str) -> dict[str, leaderboard.Row]:
            return {r.agent: r for r in leaderboard.compute(db, suite, leaderboard.get_track(name, suite))}

        everything, curves, lots = board("all"), board(curve), board(family(PARKING))
        few_all, few_curves = board(f"all-{few}demos"), board(f"{curve}-{few}demos")
    assert list(everything) == ["expert", "bc", "curvy"]  # the complete ones first, then the incomplete
    assert everything["expert"].complete and everything["bc"].complete and not everything["curvy"].complete
    assert list(curves) == ["curvy", "expert", "bc"] and all(r.complete for r in curves.values())
    assert [r.rank for r in curves.values()] == [1, 2, 3]
    # over the track's scenarios only: the (runs x scenarios) matrix restricted to them
    assert curves["bc"].driving_score == pytest.approx((65.0 + 45.0) / 2)
    assert set(curves["bc"].per_scenario) == {GENTLE, HAIRPIN} and curves["bc"].scenarios == 2
    assert curves["bc"].episodes == 2 * 2 * suite.episodes
    assert everything["bc"].driving_score == pytest.approx((65.0 + 45.0 + 90.0) / 3)
    # over the expert, on the track's scenarios: loses curve-gentle (99 < 100), wins the hairpin (95 > 90)
    assert curves["curvy"].probability_of_improvement == 0.5 and everything["expert"].probability_of_improvement
    assert "curvy" not in lots and list(lots) == ["bc", "expert"]  # no scenario of the track: no row
    # the few-demo regime: its entries and the baselines; the standard tracks do not rank it
    assert list(few_all) == ["expert", f"bc-{few}demos"] and list(few_curves) == ["expert", f"bc-{few}demos"]
    assert few_curves[f"bc-{few}demos"].driving_score == pytest.approx(25.0)


def test_cli_track_option(tmp_path, suite, capsys, monkeypatch):
    monkeypatch.setattr(leaderboard, "official_suite", lambda: suite)
    curve = family(GENTLE)
    with ResultsDB(tmp_path / "r.db") as db:
        enter(db, suite, "expert", [{GENTLE: 100.0, HAIRPIN: 90.0, PARKING: 80.0}], kind="baseline")
        enter(db, suite, "curvy", [{GENTLE: 99.0, HAIRPIN: 95.0}], kind="submission")
    db_path = str(tmp_path / "r.db")
    assert main(["leaderboard", "--db", db_path, "--track", curve, "--json"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert [(r["agent"], r["complete"], r["scenarios"]) for r in rows] == [("curvy", True, 2), ("expert", True, 2)]
    assert f"track {curve}: {GENTLE}, {HAIRPIN}" in err
    assert main(["leaderboard", "--db", db_path]) == 0  # the default: the `all` track
    out, _ = capsys.readouterr()
    assert out.startswith("track all: every scenario (3)") and "curvy (incomplete)" in out
    assert f"other tracks: {curve}, " in out
    assert main(["leaderboard", "--db", db_path, "--track", curve, "--markdown"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith(f"Track `{curve}`: {GENTLE}, {HAIRPIN};") and "| 1 | curvy |" in out
    assert main(["leaderboard", "--db", db_path, "--track", "nowhere"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("error: unknown track 'nowhere'; the tracks are all, ") and curve in err
    assert "Traceback" not in err


def test_the_leaderboard_shows_the_preset_that_is_there(tmp_path, suite, capsys, monkeypatch):
    """After `drivebench run --preset quick` alone, `drivebench leaderboard` shows the quick entries on the seeds they
    were scored on; once a standard run is there, it shows that one and names the quick entries' option."""
    smoke = 1
    monkeypatch.setattr(leaderboard, "official_suite", lambda: suite)
    monkeypatch.setattr(pipeline, "SMOKE_EPISODES", smoke)
    quick = suite.narrowed(episodes=smoke)
    db_path = str(tmp_path / "r.db")
    with ResultsDB(db_path) as db:
        enter(db, quick, "expert", [{GENTLE: 100.0, HAIRPIN: 90.0, PARKING: 80.0}], kind="baseline")
        enter(db, quick, "bc-quick", [{GENTLE: 50.0, HAIRPIN: 40.0, PARKING: 30.0}] * 2)
    assert main(["leaderboard", "--db", db_path]) == 0
    out, err = capsys.readouterr()
    assert f"`drivebench run --preset quick`, scored on the first {smoke} official seeds only" in out
    assert "bc-quick" in out.split("seeds only")[1] and "expert" in out and "empty" not in out
    assert "not shown" not in err
    assert main(["leaderboard", "--db", db_path, "--json"]) == 0
    out, err = capsys.readouterr()
    assert [r["agent"] for r in json.loads(out)] == ["expert", "bc-quick"] and "--preset quick" in err

    with ResultsDB(db_path) as db:  # a standard run: the expert on every official seed, and bc
        enter(db, suite, "expert", [{GENTLE: 100.0, HAIRPIN: 90.0, PARKING: 80.0}], kind="baseline")
        enter(db, suite, "bc", [{GENTLE: 70.0, HAIRPIN: 60.0, PARKING: 50.0}])
    assert main(["leaderboard", "--db", db_path, "--json"]) == 0
    out, err = capsys.readouterr()
    assert [r["agent"] for r in json.loads(out)] == ["expert", "bc"]
    assert "also in the database: the entries of `drivebench run --preset quick` (bc-quick): " \
           "drivebench leaderboard --preset quick" in err and "not shown" not in err
    assert main(["leaderboard", "--db", db_path, "--preset", "quick", "--json"]) == 0
    assert [r["agent"] for r in json.loads(capsys.readouterr().out)] == ["expert", "bc-quick"]
    assert main(["leaderboard", "--db", db_path, "--preset", "huge"]) == 2
    assert "no entry of `drivebench run --preset huge`" in capsys.readouterr().err
