"""Training runs as the leaderboard's second axis: (runs x scenarios) matrices, rliable's intervals over runs and
its probability of improvement, on tiny databases of hand-made episodes (no simulation)."""
import json
import math

import numpy as np
import pytest

from drivebench import leaderboard
from drivebench.core.records import EpisodeMetrics, EpisodeRecord, Trajectory
from drivebench.eval.shifts import NONE
from drivebench.results.db import ResultsDB

SCENARIOS = ["curve-gentle", "parking-empty"]
GENTLE, PARKING = SCENARIOS
BASE = dict(success=True, termination="arrived", route_completion=1.0, steps=50, duration=10.0, time_to_goal=10.0,
            collision="none", off_road_time=0.0, off_road_count=0, lane_departures=0, wrong_way_time=0.0,
            reversing_time=0.0, speeding_time=0.0, occupied_bay_time=0.0, other_bay_time=0.0, mean_speed=10.0,
            max_speed=12.0, comfort_violations=0, mean_abs_jerk=0.5, driving_score=100.0)
SUCCESS_ABOVE = 65.0
"""A hand-made episode succeeds when its driving score is above this."""


@pytest.fixture(scope="module")
def suite():
    """Two scenarios, 2 official seeds."""
    return leaderboard.official_suite().narrowed(SCENARIOS, episodes=2)


def episode(agent_hash: str, scenario: str, shift, seed: int, score: float) -> EpisodeRecord:
    success = score > SUCCESS_ABOVE
    metrics = EpisodeMetrics(**{**BASE, "driving_score": float(score), "success": success,
                                "termination": "arrived" if success else "timeout",
                                "time_to_goal": 10.0 if success else math.nan})
    return EpisodeRecord(agent=agent_hash, agent_hash=agent_hash, scenario=scenario,
                         scenario_hash=leaderboard.scenario_hash(scenario, shift), shift=shift.name,
                         level=shift.level, seed=seed, metrics=metrics,
                         trajectory=Trajectory(np.zeros((1, 4), np.float32), {}))


def enter(db: ResultsDB, suite, name: str, runs: list[dict], *, kind: str = "trained", offdist: float = 40.0) -> None:
    """Entry `name` with one agent per run: runs[i] = {scenario: the driving scores of its official seeds (a list,
    or one number for all)}; every off-distribution episode of run i scores offdist + 10 i."""
    agents = {}
    for run, scores in enumerate(runs):
        agent_hash = f"{name}-run{run}"
        for scenario, values in scores.items():
            agents.setdefault(scenario, []).append((agent_hash, agent_hash))
            for shift in (NONE, *suite.offdist):
                seeds = suite.seeds_for(shift)
                given = values if shift == NONE else offdist + 10 * run
                per_seed = list(given) if isinstance(given, list) else [given] * len(seeds)
                db.add([episode(agent_hash, scenario, shift, seed, v) for seed, v in zip(seeds, per_seed)])
    db.set_entry(name, kind, agents)


def rows_of(db, suite) -> dict[str, leaderboard.Row]:
    return {r.agent: r for r in leaderboard.compute(db, suite)}


def test_the_runs_by_scenarios_matrix_by_hand(tmp_path, suite):
    """Per-run means over the seeds: curve-gentle [60, 70, 20], parking-empty [80, 90, 100]."""
    runs = [{GENTLE: [50.0, 70.0], PARKING: 80.0}, {GENTLE: 70.0, PARKING: [85.0, 95.0]},
            {GENTLE: 20.0, PARKING: 100.0}]
    with ResultsDB(tmp_path / "r.db") as db:
        enter(db, suite, "algo", runs)
        row = rows_of(db, suite)["algo"]
    assert row.runs == 3 and row.complete and row.scenarios == 2 and row.episodes == 3 * 2 * 2
    assert row.driving_score == pytest.approx((50.0 + 90.0) / 2)  # the mean of the scenario means over runs
    assert row.per_run_driving_score == pytest.approx((70.0, 80.0, 60.0))
    assert row.iqm_driving_score == pytest.approx(75.0)  # [20, 60, 70, 80, 90, 100] -> mean of 60, 70, 80, 90
    # the resampled means lie between the worst and the best choice of runs within each scenario
    low, high = row.driving_score_ci
    assert (20.0 + 80.0) / 2 <= low < row.driving_score < high <= (70.0 + 100.0) / 2
    # success: per run and scenario the share of seeds above 65: gentle [0.5, 1, 0], parking [1, 1, 1]
    gentle = row.per_scenario[GENTLE]
    assert gentle["runs"] == 3 and gentle["per_run"] == {"driving_score": [60.0, 70.0, 20.0],
                                                         "success_rate": [0.5, 1.0, 0.0]}
    assert gentle["driving_score"] == pytest.approx(50.0) and gentle["success_rate"] == pytest.approx(0.5)
    assert row.per_scenario[PARKING]["per_run"]["driving_score"] == pytest.approx([80.0, 90.0, 100.0])
    assert row.success_rate == pytest.approx((0.5 + 1.0) / 2)
    assert row.success_rate_ci[0] <= row.success_rate <= row.success_rate_ci[1]
    # off-distribution: run i scores 40 + 10 i everywhere
    assert row.offdist_driving_score == pytest.approx(50.0)
    assert 40.0 <= row.offdist_driving_score_ci[0] <= 50.0 <= row.offdist_driving_score_ci[1] <= 60.0
    assert row.per_scenario[GENTLE]["offdist_driving_score"] == pytest.approx(50.0)


def test_the_interval_is_deterministic_and_widens_with_run_variance(tmp_path, suite):
    with ResultsDB(tmp_path / "r.db") as db:
        enter(db, suite, "steady", [{GENTLE: 60.0 + d, PARKING: 80.0 - d} for d in (-1.0, 0.0, 1.0)])
        enter(db, suite, "erratic", [{GENTLE: 60.0 + d, PARKING: 80.0 - d} for d in (-20.0, 0.0, 20.0)])
        first, again = rows_of(db, suite), rows_of(db, suite)
    assert first == again
    steady, erratic = first["steady"], first["erratic"]

    def width(row) -> float:
        return row.driving_score_ci[1] - row.driving_score_ci[0]

    assert steady.driving_score == pytest.approx(70.0) and erratic.driving_score == pytest.approx(70.0)
    assert width(steady) <= 2.0 < 5 * width(steady) < width(erratic)
    assert steady.iqm_driving_score_ci[1] - steady.iqm_driving_score_ci[0] < (
        erratic.iqm_driving_score_ci[1] - erratic.iqm_driving_score_ci[0])


def test_probability_of_improvement_down_the_ranking(tmp_path, suite):
    with ResultsDB(tmp_path / "r.db") as db:
        enter(db, suite, "best", [{GENTLE: 90.0 + r, PARKING: 95.0 - r} for r in range(3)])
        enter(db, suite, "middle", [{GENTLE: 50.0 + 5 * r, PARKING: 60.0 - 5 * r} for r in range(3)])
        enter(db, suite, "twin", [{GENTLE: 50.0 + 5 * r, PARKING: 60.0 - 5 * r} for r in range(3)])
        rows = leaderboard.compute(db, suite)
    assert [r.agent for r in rows] == ["best", "middle", "twin"]
    best, middle, twin = rows
    # every run of best beats every run of middle on every scenario
    assert best.probability_of_improvement == 1.0 and best.probability_of_improvement_ci == (1.0, 1.0)
    assert middle.probability_of_improvement == 0.5  # the same scores
    low, high = middle.probability_of_improvement_ci
    assert low < 0.5 < high
    assert twin.probability_of_improvement is None and twin.probability_of_improvement_ci is None
    assert leaderboard.table(rows)["P(improve)"].tolist() == ["1.00", "0.50", "-"]


def test_one_run_entries_say_so_and_bootstrap_their_episodes(tmp_path, suite):
    with ResultsDB(tmp_path / "r.db") as db:
        enter(db, suite, "baseline", [{GENTLE: [40.0, 80.0], PARKING: [60.0, 100.0]}], kind="baseline")
        enter(db, suite, "algo", [{GENTLE: 50.0, PARKING: 70.0}, {GENTLE: 60.0, PARKING: 80.0}])
        rows = leaderboard.compute(db, suite)
    baseline, algo = rows
    assert baseline.runs == 1 and algo.runs == 2
    assert baseline.driving_score == pytest.approx(70.0) and baseline.per_run_driving_score == (70.0,)
    assert baseline.driving_score_ci[0] < 70.0 < baseline.driving_score_ci[1]  # the episodes vary
    assert baseline.iqm_driving_score == pytest.approx(70.0)  # of the scenario means 60 and 80
    assert baseline.success_rate == 0.5  # episodes above 65: 80 and 100, a Wilson interval
    assert 0.0 < baseline.success_rate_ci[0] < 0.5 < baseline.success_rate_ci[1] < 1.0
    # P(a run of baseline beats one of algo): gentle 60 vs 50, 60 -> 0.75; parking 80 vs 70, 80 -> 0.75
    assert baseline.probability_of_improvement == pytest.approx(0.75)
    text = leaderboard.as_text(rows)
    assert leaderboard.table(rows)["runs"].tolist() == ["1*", "2"] and leaderboard.ONE_RUN_NOTE in text
    assert "\\*" in leaderboard.as_markdown(rows, suite) and "caption" in leaderboard.as_html(rows)
    assert "caption" not in leaderboard.as_html(rows[1:]) and leaderboard.ONE_RUN_NOTE not in leaderboard.as_text(rows[1:])


def test_json_rows_carry_the_runs_and_per_run_scores(tmp_path, suite):
    with ResultsDB(tmp_path / "r.db") as db:
        enter(db, suite, "algo", [{GENTLE: 50.0, PARKING: 70.0}, {GENTLE: 60.0, PARKING: 90.0}])
        enter(db, suite, "half", [{GENTLE: 10.0}], kind="submission")
        dicts = json.loads(json.dumps(leaderboard.as_dicts(leaderboard.compute(db, suite)), allow_nan=False))
    algo, half = dicts
    assert algo["runs"] == 2 and algo["per_run_driving_score"] == [60.0, 75.0]
    assert algo["per_scenario"][PARKING] == {"driving_score": 80.0, "success_rate": 1.0, "offdist_driving_score": 45.0,
                                             "runs": 2, "per_run": {"driving_score": [70.0, 90.0],
                                                                    "success_rate": [1.0, 1.0]}}
    assert len(algo["iqm_driving_score_ci"]) == 2 and algo["probability_of_improvement"] == 1.0
    assert half["runs"] == 1 and not half["complete"] and half["probability_of_improvement"] is None
    assert half["per_scenario"][GENTLE]["per_run"]["driving_score"] == [10.0]


def test_an_entry_with_fewer_runs_on_one_scenario_is_scored_on_the_common_runs(tmp_path, suite):
    with ResultsDB(tmp_path / "r.db") as db:
        enter(db, suite, "ragged", [{GENTLE: 50.0, PARKING: 70.0}, {GENTLE: 60.0, PARKING: 90.0}, {GENTLE: 0.0}])
        row = rows_of(db, suite)["ragged"]
    assert row.runs == 2 and not row.complete and row.scenarios == 2
    assert row.per_scenario[GENTLE]["per_run"]["driving_score"] == [50.0, 60.0]  # the third run is left out
    assert row.driving_score == pytest.approx((55.0 + 80.0) / 2)
