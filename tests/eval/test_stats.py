"""Interval estimates: percentile bootstrap, rates, IQM and its stratified bootstrap, expert normalization."""
from __future__ import annotations

import numpy as np
import pytest

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


def test_expert_normalized():
    assert expert_normalized(5.0, 0.0, 10.0) == 0.5
    assert expert_normalized(0.0, 0.0, 10.0) == 0.0 and expert_normalized(10.0, 0.0, 10.0) == 1.0
    np.testing.assert_allclose(expert_normalized([-5, 5, 15], 0.0, 10.0), [-0.5, 0.5, 1.5])
    assert expert_normalized(20.0, random_score=30.0, expert_score=10.0) == 0.5  # lower is better works too
    np.testing.assert_allclose(expert_normalized([5.0, 5.0], [0.0, 4.0], [10.0, 6.0]), [0.5, 0.5])
    with pytest.raises(ValueError, match="equal"):
        expert_normalized(1.0, 2.0, 2.0)
