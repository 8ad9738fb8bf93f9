"""Interval estimates for reports, after rliable (Agarwal et al., 2021): percentile bootstrap confidence
intervals, the interquartile mean (IQM) and its stratified bootstrap over (runs x tasks) score matrices.

Every function is deterministic for its `seed` (an explicit `np.random.default_rng(seed)`), and refuses
empty inputs and NaNs rather than returning a NaN that would look like a result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import norm, trim_mean


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval, in the unit of the values estimated."""

    value: float
    """the statistic on the data as observed"""
    low: float
    """lower bound of the confidence interval"""
    high: float
    """upper bound of the confidence interval"""


def bootstrap_ci(values, statistic: Callable[[np.ndarray], float] = np.mean, *, n_boot: int = 2000,
                 confidence: float = 0.95, seed: int = 0) -> Estimate:
    """`statistic` of a 1-D sample with a percentile bootstrap interval: the statistic of `n_boot` resamples
    drawn with replacement, cut at its (1 - confidence) / 2 and (1 + confidence) / 2 quantiles."""
    x = _checked(values, ndim=1)
    _check_settings(n_boot, confidence)
    rng = np.random.default_rng(seed)
    boot = [statistic(x[rng.integers(0, len(x), len(x))]) for _ in range(n_boot)]
    return _interval(statistic(x), boot, confidence)


def rate_ci(flags, *, confidence: float = 0.95) -> Estimate:
    """Share of True among boolean flags (e.g. success per episode) in [0, 1], with a Wilson score interval.
    Unlike a percentile bootstrap, it does not collapse to a point at 0% or 100%: 50 successes out of 50 give
    [0.929, 1], not [1, 1]."""
    x = _checked(np.asarray(flags, dtype=float), ndim=1)
    if not np.isin(x, (0.0, 1.0)).all():
        raise ValueError("rate_ci takes booleans (or 0/1); got other values")
    _check_settings(1, confidence)
    n, p = len(x), float(x.mean())
    z = float(norm.ppf((1 + confidence) / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half))


def iqm(values) -> float:
    """Interquartile mean: the mean of the middle 50% of all values (of the flattened array)."""
    return float(trim_mean(_checked(values).ravel(), 0.25))


def iqm_ci(score_matrix, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """IQM of a (runs x tasks) score matrix with rliable's stratified percentile bootstrap: each resample draws
    the runs with replacement independently within each task (column) and takes the IQM of the whole matrix.
    All resamples are drawn at once: memory grows as n_boot x runs x tasks x 16 bytes."""
    return _stratified(score_matrix, lambda m: trim_mean(m, 0.25, axis=1), n_boot, confidence, seed)


def mean_ci(score_matrix, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Mean of a (runs x tasks) matrix, every task weighted equally, with the same stratified bootstrap as
    `iqm_ci`: the leaderboard's driving score over the suite's scenarios."""
    return _stratified(score_matrix, lambda m: m.mean(axis=1), n_boot, confidence, seed)


def _stratified(score_matrix, statistic, n_boot: int, confidence: float, seed: int) -> Estimate:
    """`statistic` (of an (n, runs x tasks) array, row-wise) with a bootstrap resampling runs within tasks."""
    scores = _checked(score_matrix, ndim=2)
    _check_settings(n_boot, confidence)
    rng = np.random.default_rng(seed)
    runs, tasks = scores.shape
    resamples = scores[rng.integers(0, runs, (n_boot, runs, tasks)), np.arange(tasks)]  # (n_boot, runs, tasks)
    boot = statistic(resamples.reshape(n_boot, -1))
    return _interval(float(statistic(scores.reshape(1, -1))[0]), boot, confidence)


def expert_normalized(score, random_score, expert_score):
    """(score - random) / (expert - random): 0 at the random agent's score, 1 at the expert's (arrays
    broadcast)."""
    low = np.asarray(random_score, float)
    span = np.asarray(expert_score, float) - low
    if np.any(span == 0):
        raise ValueError("expert_normalized: the expert and random scores are equal; the normalization is undefined")
    return (np.asarray(score, float) - low) / span


def _checked(values, ndim: int | None = None) -> np.ndarray:
    """`values` as a float array, refusing a wrong number of dimensions, emptiness and NaN."""
    x = np.asarray(values, float)
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"expected a {ndim}-D array, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("cannot estimate from no values")
    if np.isnan(x).any():
        raise ValueError(f"{int(np.isnan(x).sum())} of {x.size} values are NaN; drop or replace them first "
                         "(a NaN metric usually means 'not applicable', e.g. time_to_goal of a failed episode)")
    return x


def _check_settings(n_boot: int, confidence: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def _interval(value: float, boot, confidence: float) -> Estimate:
    """The estimate with the percentile interval of the bootstrap statistics `boot`."""
    low, high = np.percentile(boot, [50 * (1 - confidence), 50 * (1 + confidence)])
    return Estimate(float(value), float(low), float(high))
