"""Interval estimates: percentile bootstrap, rates, IQM and its stratified bootstrap, expert normalization."""
from __future__ import annotations

import numpy as np
import pytest

from rliable import metrics as rliable_metrics

from drivebench.eval import stats
from drivebench.eval.stats import Estimate, bootstrap_ci, expert_normalized, iqm, iqm_ci, rate_ci


def width(estimate: Estimate) -> float:
    return estimate.high - estimate.low


def test_bootstrap_ci_brackets_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small, large = rng.normal(5.0, 2.0, 50), rng.normal(5.0, 2.0, 800)
    est = bootstrap_ci(small)
    assert est.value == pytest.approx(small.mean())
    assert est.low < est.value < est.high
    assert est.low < 5.0 < est.high
    assert width(bootstrap_ci(large)) < width(est) / 2  # ~ 1 / sqrt(n): 4x narrower expected


def test_bootstrap_ci_is_deterministic_for_a_seed():
    values = np.random.default_rng(2).exponential(3.0, 40)
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)
    assert bootstrap_ci(values, confidence=0.5).high < bootstrap_ci(values, confidence=0.99).high


def test_bootstrap_ci_with_another_statistic():
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    est = bootstrap_ci(values, np.median)
    assert est.value == 3.0 and est.low <= 3.0 <= est.high and est.high <= 100.0


def test_bootstrap_ci_degenerate_and_bad_inputs():
    assert bootstrap_ci([4.2]) == Estimate(4.2, 4.2, 4.2)
    with pytest.raises(ValueError, match="no values"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="1 of 3 values are NaN"):
        bootstrap_ci([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="1-D"):
        bootstrap_ci(np.ones((2, 2)))
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=95)


def test_rate_ci():
    est = rate_ci([True] * 7 + [False] * 3)
    assert est.value == pytest.approx(0.7) and 0.0 <= est.low < 0.7 < est.high <= 1.0
    all_ones = rate_ci(np.ones(50, bool))  # Wilson: 50/50 -> [0.929, 1]
    assert all_ones.value == 1.0 and all_ones.high == 1.0 and all_ones.low == pytest.approx(0.9287, abs=1e-3)
    none = rate_ci(np.zeros(50, bool))
    assert none.value == 0.0 and none.low == 0.0 and none.high == pytest.approx(1 - 0.9287, abs=1e-3)
    assert rate_ci([1, 0, 0, 0]).value == 0.25
    with pytest.raises(ValueError, match="booleans"):
        rate_ci([0.5, 1.0])


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.arange(1, 9)) == 4.5  # mean of [3, 4, 5, 6]
    assert iqm([1000, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # order and outliers do not matter
    assert iqm(np.arange(1, 9).reshape(2, 4)) == 4.5  # a matrix is flattened
    with pytest.raises(ValueError, match="NaN"):
        iqm([1.0, np.nan])


def test_iqm_ci_stratified_bootstrap():
    rng = np.random.default_rng(3)
    scores = rng.normal(loc=[10.0, 50.0, 90.0], scale=[1.0, 5.0, 10.0], size=(10, 3))  # 10 runs x 3 tasks
    est = iqm_ci(scores)
    assert est.value == iqm(scores)
    assert est.low < est.value < est.high
    assert iqm_ci(scores, seed=4) == iqm_ci(scores, seed=4)
    constant_per_task = np.tile([1.0, 2.0, 3.0, 4.0], (5, 1))  # resampling runs within a task changes nothing
    assert iqm_ci(constant_per_task) == Estimate(2.5, 2.5, 2.5)
    with pytest.raises(ValueError, match="2-D"):
        iqm_ci([1.0, 2.0])


def test_the_vectorized_aggregates_are_rliables():
    """The bootstrap's aggregates, computed for many resamples at once, equal rliable.metrics' on each matrix."""
    rng = np.random.default_rng(5)
    batch = rng.normal(50.0, 20.0, (6, 3, 7))  # 6 matrices of 3 runs x 7 tasks
    batch[0, :, 0] = 10.0  # ties
    for name, reference in stats.AGGREGATES.items():
        assert reference is getattr(rliable_metrics, f"aggregate_{name}")
        np.testing.assert_allclose(stats.aggregate(batch, name), [reference(m) for m in batch])
    for _ in range(20):
        x, y = rng.integers(0, 4, (rng.integers(1, 5), 3)), rng.integers(0, 4, (rng.integers(1, 5), 3))
        assert stats._improvement(x, y) == pytest.approx(rliable_metrics.probability_of_improvement(x, y))


def test_stratified_ci_over_runs_and_over_episodes():
    scores = np.array([[60.0, 80.0], [70.0, 90.0], [20.0, 100.0]])  # 3 runs x 2 tasks
    mean, iqm_est = stats.stratified_ci(scores), stats.stratified_ci(scores, "iqm")
    assert mean.value == pytest.approx(70.0) and iqm_est.value == pytest.approx(75.0)
    assert 50.0 <= mean.low < 70.0 < mean.high <= 85.0
    assert stats.stratified_ci(scores, seed=3) == stats.stratified_ci(scores, seed=3)
    same_runs = np.array([[60.0, 80.0]] * 3)
    assert stats.stratified_ci(same_runs) == Estimate(70.0, 70.0, 70.0)  # no run variance, no interval
    wider = stats.stratified_ci(np.array([[30.0, 80.0], [70.0, 90.0], [110.0, 70.0]]))
    assert mean.high - mean.low < wider.high - wider.low
    # one run's (episodes x tasks): the statistic of its task means; the episodes resampled within tasks
    episodes = np.array([[0.0, 50.0], [100.0, 50.0], [50.0, 50.0], [50.0, 90.0]])
    over_episodes = stats.stratified_ci(episodes, "iqm", over="episodes")
    assert over_episodes.value == pytest.approx(rliable_metrics.aggregate_iqm(np.array([[50.0, 60.0]])))
    assert over_episodes.low < over_episodes.value < over_episodes.high
    with pytest.raises(ValueError, match="unknown aggregate"):
        stats.stratified_ci(scores, "median")
    with pytest.raises(ValueError, match="over must be"):
        stats.stratified_ci(scores, over="tasks")


def test_probability_of_improvement():
    a = np.array([[90.0, 95.0], [91.0, 94.0]])
    b = np.array([[50.0, 60.0], [55.0, 55.0], [60.0, 50.0]])
    assert stats.probability_of_improvement(a, b) == Estimate(1.0, 1.0, 1.0)  # every run beats every run
    assert stats.probability_of_improvement(b, a) == Estimate(0.0, 0.0, 0.0)
    same = stats.probability_of_improvement(b, b.copy())
    assert same.value == 0.5 and same.low < 0.5 < same.high
    assert stats.probability_of_improvement(b, b, seed=1) == stats.probability_of_improvement(b, b, seed=1)
    half = stats.probability_of_improvement(np.array([[60.0, 40.0]]), np.array([[50.0, 50.0]]))
    assert half.value == 0.5  # better on one task, worse on the other
    with pytest.raises(ValueError, match="2 tasks against 3"):
        stats.probability_of_improvement(a, np.ones((2, 3)))


def test_expert_normalized():
    assert expert_normalized(5.0, 0.0, 10.0) == 0.5
    assert expert_normalized(0.0, 0.0, 10.0) == 0.0 and expert_normalized(10.0, 0.0, 10.0) == 1.0
    np.testing.assert_allclose(expert_normalized([-5, 5, 15], 0.0, 10.0), [-0.5, 0.5, 1.5])
    assert expert_normalized(20.0, random_score=30.0, expert_score=10.0) == 0.5  # lower is better works too
    np.testing.assert_allclose(expert_normalized([5.0, 5.0], [0.0, 4.0], [10.0, 6.0]), [0.5, 0.5])
    with pytest.raises(ValueError, match="equal"):
        expert_normalized(1.0, 2.0, 2.0)
