"""Comparing styles: distances between sets of episodes' style metrics, and a style classifier.

Metrics have different units, so every comparison first standardizes each metric: minus the demonstrators'
mean, divided by the demonstrators' pooled standard deviation (all demonstrator episodes of every style pooled
together), floored at SCALE_FLOOR so that a metric the demonstrators never vary (e.g. reversing on a curve) does
not turn a tiny difference into a huge one. The distance between two sets of episodes is the energy distance
(Szekely and Rizzo) of their standardized metric vectors, which is zero for identical samples, positive
otherwise, and compares whole distributions, not just means. The classifier is multinomial logistic regression
(L2-regularized, fitted with L-BFGS) on standardized metrics.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

SCALE_FLOOR = {
    "mean_speed": 0.1, "max_speed": 0.1, "reversing_share": 0.02, "path_length": 0.5, "direction_changes": 0.5,
    "mean_jerk": 0.1, "min_clearance": 0.25, "through_bay_share": 0.02, "line_crossing_share": 0.02,
    "aisle_offset": 0.1, "apex_cut": 0.05, "peak_apex_cut": 0.05, "outside_band_share": 0.02,
}
"""Smallest scale each metric is standardized by, in its unit (metrics.METRIC_DOCS): differences below it are
noise, not style. Clearance's is the goal's default position tolerance (0.25 m): every parking style ends in the
same bay as close to its back wall, so the demonstrators barely vary it, and stopping a little short is not a
style."""


@dataclass(frozen=True, eq=False)
class Standardizer:
    names: tuple[str, ...]
    """the metrics, in column order"""
    mean: np.ndarray
    """(k,) the demonstrators' mean of each metric"""
    scale: np.ndarray
    """(k,) its pooled standard deviation, at least SCALE_FLOOR"""

    @classmethod
    def fit(cls, x: np.ndarray, names: tuple[str, ...] | list[str]) -> Standardizer:
        x = _finite(x)
        floor = np.array([SCALE_FLOOR.get(n, 1e-6) for n in names])
        return cls(tuple(names), x.mean(axis=0), np.maximum(x.std(axis=0), floor))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (_finite(x) - self.mean) / self.scale


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, float))
    if not np.isfinite(x).all():
        raise ValueError("style metrics must be finite (a metric of the other scenario family is NaN)")
    return x


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Energy distance between two samples of vectors, x (n, k) and y (m, k):
    sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|) over the empirical distributions (V-statistics), with Euclidean
    norms. For k = 1 it equals scipy.stats.energy_distance; it is 0 iff the samples have the same distribution."""
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    if not len(x) or not len(y):
        raise ValueError("energy distance of an empty sample")

    def mean_dist(a, b):
        return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean())

    value = 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)
    return float(np.sqrt(max(value, 0.0)))


def distance_matrix(rows: dict[str, np.ndarray], columns: dict[str, np.ndarray],
                    standardize: Standardizer) -> np.ndarray:
    """(len(rows), len(columns)) energy distances between each row's and each column's standardized metrics."""
    cols = {k: standardize(v) for k, v in columns.items()}
    return np.array([[energy_distance(standardize(x), c) for c in cols.values()] for x in rows.values()])


# ---------------------------------------------------------------------------------------------- classifier
@dataclass(frozen=True, eq=False)
class StyleClassifier:
    """Multinomial logistic regression over standardized style metrics."""

    styles: tuple[str, ...]
    """class names, in the order of the weight columns"""
    standardize: Standardizer
    weights: np.ndarray
    """(k + 1, classes): one row per metric, then the bias"""

    def scores(self, x: np.ndarray) -> np.ndarray:
        z = self.standardize(x)
        return np.hstack([z, np.ones((len(z), 1))]) @ self.weights

    def predict(self, x: np.ndarray) -> list[str]:
        return [self.styles[i] for i in self.scores(x).argmax(axis=1)]


L2 = 1e-2
"""Ridge penalty on the classifier's weights (not its biases), per training episode."""


def fit_classifier(x: np.ndarray, labels: list[str], names: tuple[str, ...], l2: float = L2) -> StyleClassifier:
    """Fit on episodes x (n, k) with their style labels; deterministic (L-BFGS from zero weights)."""
    styles = tuple(dict.fromkeys(labels))
    if len(styles) < 2:
        raise ValueError("a style classifier needs at least two styles")
    standardize = Standardizer.fit(x, names)
    z = np.hstack([standardize(x), np.ones((len(x), 1))])
    y = np.array([styles.index(label) for label in labels])
    onehot = np.eye(len(styles))[y]
    n, k, c = len(z), z.shape[1], len(styles)
    mask = np.ones((k, c))
    mask[-1] = 0.0  # no penalty on the biases

    def loss(flat):
        w = flat.reshape(k, c)
        logits = z @ w
        log_p = logits - logsumexp(logits, axis=1, keepdims=True)
        value = -(onehot * log_p).sum() / n + l2 / 2 * ((w * mask) ** 2).sum()
        grad = z.T @ (np.exp(log_p) - onehot) / n + l2 * w * mask
        return value, grad.ravel()

    result = minimize(loss, np.zeros(k * c), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return StyleClassifier(styles, standardize, result.x.reshape(k, c))


def cross_validated_accuracy(x: np.ndarray, labels: list[str], names: tuple[str, ...], folds: int = 5,
                             seed: int = 0) -> float:
    """Share of episodes classified right by a classifier fitted without them: stratified k-fold (each style's
    episodes shuffled with `seed` and dealt to the folds in turn), standardization fitted on the training folds."""
    labels = list(labels)
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), int)
    for style in dict.fromkeys(labels):
        idx = np.flatnonzero(np.array(labels) == style)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % folds
    right = 0
    for f in range(folds):
        test, train = fold == f, fold != f
        if not test.any():
            continue
        model = fit_classifier(x[train], [labels[i] for i in np.flatnonzero(train)], names)
        right += sum(p == labels[i] for p, i in zip(model.predict(x[test]), np.flatnonzero(test)))
    return right / len(labels)
