"""drivebench.styles.compare: energy distance properties, standardization, and the style classifier (on
synthetic blobs and on the recorded demonstrators, cross-validated)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import energy_distance as scipy_energy_distance

from drivebench.data import store
from drivebench.paths import REPO_ROOT
from drivebench.scenarios import registry
from drivebench.styles.compare import (
    SCALE_FLOOR,
    Standardizer,
    cross_validated_accuracy,
    distance_matrix,
    energy_distance,
    fit_classifier,
)
from drivebench.styles.hooks import hooks_for
from drivebench.styles.metrics import METRIC_NAMES, geometry_for, metric_vector, style_metrics


def test_energy_distance_is_zero_for_identical_samples():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 4))
    assert energy_distance(x, x) == 0.0
    assert energy_distance(x, x[::-1]) == pytest.approx(0.0, abs=1e-12)  # order does not matter


def test_energy_distance_is_positive_symmetric_and_grows_with_the_shift():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3))
    near, far = x + 0.5, x + 2.0
    assert energy_distance(x, near) > 0
    assert energy_distance(x, near) == pytest.approx(energy_distance(near, x))
    assert energy_distance(x, far) > energy_distance(x, near)
    # same mean, other spread: energy distance sees whole distributions, not just means
    assert energy_distance(x, 3 * x) > 0.2


def test_energy_distance_matches_scipy_in_one_dimension():
    rng = np.random.default_rng(2)
    u, v = rng.normal(size=17), rng.normal(1.0, 2.0, size=9)
    assert energy_distance(u[:, None], v[:, None]) == pytest.approx(scipy_energy_distance(u, v))


def test_energy_distance_of_two_points():
    # 2|a - b| - 0 - 0 for single points: sqrt(2 * 5)
    assert energy_distance(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])) == pytest.approx(np.sqrt(10.0))
    with pytest.raises(ValueError):
        energy_distance(np.zeros((0, 2)), np.zeros((1, 2)))


def test_standardizer_uses_the_pooled_std_with_a_floor():
    x = np.array([[1.0, 0.0], [3.0, 0.0]])
    s = Standardizer.fit(x, ("mean_speed", "reversing_share"))
    np.testing.assert_allclose(s.mean, [2.0, 0.0])
    np.testing.assert_allclose(s.scale, [1.0, SCALE_FLOOR["reversing_share"]])  # never varied: the floor
    np.testing.assert_allclose(s(np.array([[4.0, 0.04]])), [[2.0, 2.0]])
    assert set(SCALE_FLOOR) == set(METRIC_NAMES)
    with pytest.raises(ValueError, match="finite"):
        s(np.array([[np.nan, 0.0]]))


def test_distance_matrix_shape_and_diagonal():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(10, 2)), rng.normal(5.0, 1.0, size=(10, 2))
    s = Standardizer(("x", "y"), np.zeros(2), np.ones(2))
    d = distance_matrix({"a": a, "b": b, "c": a + 0.1}, {"a": a, "b": b}, s)
    assert d.shape == (3, 2)
    assert d[0, 0] == 0.0 and d[1, 1] == 0.0
    assert d[2, 0] < d[2, 1]  # c is a's style


def test_classifier_separates_synthetic_blobs():
    rng = np.random.default_rng(4)
    centres = {"one": [0, 0, 0], "two": [3, 0, 0], "three": [0, 3, 3]}
    x = np.vstack([rng.normal(c, 0.5, size=(20, 3)) for c in centres.values()])
    labels = [name for name in centres for _ in range(20)]
    names = ("mean_speed", "max_speed", "path_length")
    assert cross_validated_accuracy(x, labels, names) >= 0.95
    model = fit_classifier(x, labels, names)
    assert model.predict(np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 3.0]])) == ["two", "three"]
    with pytest.raises(ValueError, match="two styles"):
        fit_classifier(x[:5], labels[:5], names)


@pytest.mark.parametrize("scenario", ["parking-styles", "curve-s-bend"])
def test_classifier_separates_the_demonstrators(scenario):
    """Cross-validated on the recorded demos themselves: the styles are tell-apart from their metrics."""
    entry = registry.get(scenario)
    geometry, dt = geometry_for(entry.spec), 1 / entry.spec.policy_frequency
    names = hooks_for(entry.spec).metric_names
    x, labels = [], []
    for folder in sorted((REPO_ROOT / "expert_data" / scenario).iterdir()):
        for e in store.load(folder).successful():
            x.append(metric_vector(style_metrics(e.poses, e.signals, dt, geometry), names))
            labels.append(folder.name)
    assert len(set(labels)) >= 2
    assert cross_validated_accuracy(np.array(x), labels, names) > 0.9
