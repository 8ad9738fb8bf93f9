"""Interval estimates for reports, after rliable (Agarwal et al., 2021): percentile bootstrap confidence
intervals, Wilson intervals for rates, and rliable's aggregates of (runs x tasks) score matrices (the mean of
task means, the interquartile mean (IQM), the probability of improvement) with its stratified bootstrap.

The aggregates' point estimates are rliable's own functions (`rliable.metrics`). The resampling is done here,
vectorized over the resamples, because `rliable.library` (its `StratifiedBootstrap`, `get_interval_estimates`)
cannot be used with this stack: it imports `arch`, whose only releases rliable 1.2.0 accepts (< 8) fail to
import under pandas 3, and its resampling draws from numpy's global random state whatever `random_state` says.
The resampling is rliable's scheme: runs drawn with replacement independently within each task (for the
probability of improvement, each algorithm's runs independently), percentile intervals; tests check the
vectorized aggregates against rliable's on the same resamples.

Every function is deterministic for its `seed` (an explicit `np.random.default_rng(seed)`), and refuses
empty inputs and NaNs rather than returning a NaN that would look like a result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from rliable import metrics as rliable_metrics
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
    return float(rliable_metrics.aggregate_iqm(_checked(values).ravel()))


AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "mean": rliable_metrics.aggregate_mean,
    "iqm": rliable_metrics.aggregate_iqm,
}
"""rliable's aggregates of a (runs x tasks) matrix: the mean of the task means (every task weighted equally),
and the IQM of all its values."""


def aggregate(scores, statistic: str) -> np.ndarray:
    """AGGREGATES[statistic] of (..., runs, tasks) arrays at once, over the last two axes (tests check it equals
    rliable's on each matrix)."""
    x = np.asarray(scores, float)
    if statistic == "mean":
        return x.mean(axis=-2).mean(axis=-1)
    if statistic == "iqm":
        return trim_mean(x.reshape(*x.shape[:-2], -1), 0.25, axis=-1)
    raise ValueError(f"unknown aggregate {statistic!r}; known: {', '.join(AGGREGATES)}")


def stratified_ci(scores, statistic: str = "mean", *, over: str = "runs", n_boot: int = 2000,
                  confidence: float = 0.95, seed: int = 0) -> Estimate:
    """rliable's aggregate `statistic` ("mean" or "iqm") of a score matrix with its stratified percentile
    bootstrap: each resample draws the rows with replacement independently within each task (column).

    over="runs": `scores` is (runs x tasks), one score per training run and task, as rliable takes it.
    over="episodes": `scores` is the (episodes x tasks) matrix of ONE run (the same seeds in every task); the
    statistic is of its (1 x tasks) row of task means, and the bootstrap resamples episodes within tasks, so the
    interval says how much the episodes drawn matter, not the training run. All resamples are drawn at once:
    memory grows as n_boot x rows x tasks x 16 bytes."""
    if statistic not in AGGREGATES:
        raise ValueError(f"unknown aggregate {statistic!r}; known: {', '.join(AGGREGATES)}")
    if over not in ("runs", "episodes"):
        raise ValueError(f"over must be 'runs' or 'episodes', got {over!r}")
    x = _checked(scores, ndim=2)
    _check_settings(n_boot, confidence)
    rows, tasks = x.shape
    rng = np.random.default_rng(seed)
    resamples = x[rng.integers(0, rows, (n_boot, rows, tasks)), np.arange(tasks)]  # (n_boot, rows, tasks)
    if over == "episodes":
        x, resamples = x.mean(axis=0, keepdims=True), resamples.mean(axis=1, keepdims=True)
    return _interval(float(AGGREGATES[statistic](x)), aggregate(resamples, statistic), confidence)


def iqm_ci(score_matrix, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """IQM of a (runs x tasks) score matrix with rliable's stratified bootstrap (`stratified_ci`)."""
    return stratified_ci(score_matrix, "iqm", n_boot=n_boot, confidence=confidence, seed=seed)


def probability_of_improvement(scores_x, scores_y, *, n_boot: int = 2000, confidence: float = 0.95,
                               seed: int = 0) -> Estimate:
    """rliable's probability of improvement of X over Y: for each task, the chance that a random run of X scores
    above a random run of Y (ties count half: the Mann-Whitney U statistic over runs_x x runs_y), averaged over
    tasks; 1.0 when every run of X beats every run of Y on every task, 0.5 for the same scores. `scores_x` is
    (runs_x x tasks), `scores_y` (runs_y x tasks), the same tasks in the same order. The interval is rliable's
    independent stratified bootstrap: the runs of X and of Y resampled separately within each task."""
    x, y = _checked(scores_x, ndim=2), _checked(scores_y, ndim=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"probability_of_improvement: {x.shape[1]} tasks against {y.shape[1]}")
    _check_settings(n_boot, confidence)
    rng = np.random.default_rng(seed)
    tasks = np.arange(x.shape[1])
    xs = x[rng.integers(0, len(x), (n_boot, *x.shape)), tasks]
    ys = y[rng.integers(0, len(y), (n_boot, *y.shape)), tasks]
    return _interval(float(rliable_metrics.probability_of_improvement(x, y)), _improvement(xs, ys), confidence)


def _improvement(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """rliable's probability of improvement of (..., runs_x, tasks) over (..., runs_y, tasks) arrays at once."""
    diff = xs[..., :, None, :] - ys[..., None, :, :]  # (..., runs_x, runs_y, tasks)
    per_task = ((diff > 0) + 0.5 * (diff == 0)).mean(axis=(-3, -2))
    return per_task.mean(axis=-1)


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
