"""drivebench.eval.score: the driving score and its declared penalty table, on inputs built by hand."""
from __future__ import annotations

import pytest

from drivebench.eval import score
from drivebench.eval.score import OFF_ROAD_SHARE_WEIGHT, PENALTIES, SPEEDING_SHARE_WEIGHT, driving_score, penalty

CLEAN = dict(collision="none", termination="arrived", lane_departures=0, wrong_way=False, occupied_bay=False,
             off_road_share=0.0, speeding_share=0.0)


def factor(**changes) -> float:
    return penalty(**{**CLEAN, **changes})


def test_the_penalty_table_is_declared_and_each_factor_reduces_the_score():
    assert set(PENALTIES) == {"collision_vehicle", "collision_static", "left_road", "lane_departure", "wrong_way",
                              "occupied_bay", "timeout", "stuck"}
    assert all(0.0 < f < 1.0 for f in PENALTIES.values())
    assert OFF_ROAD_SHARE_WEIGHT == 1.0 and 0.0 < SPEEDING_SHARE_WEIGHT < 1.0


def test_a_clean_episode_has_no_penalty():
    assert factor() == 1.0
    assert factor(termination="crashed") == 1.0  # the collision, not the ending, carries the crash penalty
    assert factor(termination="invalid_action") == 1.0  # scored 0 by driving_score, not by a factor


@pytest.mark.parametrize("changes, entry", [
    ({"collision": "vehicle"}, "collision_vehicle"),
    ({"collision": "static"}, "collision_static"),
    ({"termination": "off_road"}, "left_road"),
    ({"termination": "timeout"}, "timeout"),
    ({"termination": "stuck"}, "stuck"),
    ({"lane_departures": 1}, "lane_departure"),
    ({"wrong_way": True}, "wrong_way"),
    ({"occupied_bay": True}, "occupied_bay"),
])
def test_each_penalty_entry_applies_once_per_event(changes, entry):
    assert factor(**changes) == pytest.approx(PENALTIES[entry])


def test_documented_values():
    """The values the module documents (CARLA Leaderboard: 0.60 vehicle, 0.65 static, 0.70 timeout)."""
    assert (PENALTIES["collision_vehicle"], PENALTIES["collision_static"], PENALTIES["timeout"]) == (0.60, 0.65, 0.70)
    assert factor(collision="vehicle", termination="crashed") == pytest.approx(0.60)
    assert factor(collision="static", termination="crashed") == pytest.approx(0.65)


def test_lane_departures_compound():
    assert factor(lane_departures=3) == pytest.approx(0.9 ** 3)
    assert factor(lane_departures=3) == pytest.approx(PENALTIES["lane_departure"] ** 3)


@pytest.mark.parametrize("share", [0.0, 0.1, 0.25, 0.5, 1.0])
def test_time_based_factors_scale_with_the_share(share):
    assert factor(off_road_share=share) == pytest.approx(1.0 - OFF_ROAD_SHARE_WEIGHT * share)
    assert factor(speeding_share=share) == pytest.approx(1.0 - SPEEDING_SHARE_WEIGHT * share)


def test_factors_multiply():
    got = factor(collision="vehicle", termination="crashed", lane_departures=2, wrong_way=True, occupied_bay=True,
                 off_road_share=0.2, speeding_share=0.5)
    assert got == pytest.approx(0.60 * 0.9 ** 2 * 0.70 * 0.80 * (1 - 0.2) * (1 - 0.3 * 0.5))
    assert factor(termination="off_road", off_road_share=0.5) == pytest.approx(0.65 * 0.5)


def test_the_penalty_stays_in_unit_interval():
    assert factor(off_road_share=1.0) == 0.0
    assert factor(off_road_share=1.0, speeding_share=1.0, collision="static") == 0.0
    assert 0.0 <= factor(lane_departures=200) <= 1.0


def test_driving_score_is_100_times_completion_times_penalty():
    assert driving_score(1.0, 1.0) == 100.0
    assert driving_score(0.5, 0.6) == pytest.approx(30.0)
    assert driving_score(0.8, factor(termination="timeout")) == pytest.approx(100 * 0.8 * 0.7)
    assert driving_score(0.0, 1.0) == 0.0
    assert driving_score(-0.1, 1.0) == 0.0  # never negative


def test_invalid_episodes_score_zero():
    assert driving_score(1.0, 1.0, invalid=True) == 0.0
    assert driving_score(0.7, 0.9, invalid=True) == 0.0
    assert score.driving_score(0.7, 0.9, invalid=False) == pytest.approx(63.0)
