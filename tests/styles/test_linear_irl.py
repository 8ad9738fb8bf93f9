"""drivebench.styles.linear_irl: features on synthetic steps, MaxEnt IRL on a synthetic library (convergence,
signs), and on a tiny library of real parking manoeuvres (reverse weighs reversing above tidy)."""
from __future__ import annotations

import numpy as np
import pytest

from drivebench.data import store
from drivebench.paths import REPO_ROOT
from drivebench.scenarios import registry
from drivebench.scenarios.family import all_families
from drivebench.styles.hooks import hooks_for
from drivebench.styles.linear_irl import (
    COMMON_FEATURES,
    FEATURE_DOCS,
    L2,
    build_library,
    candidate_styles,
    episode_expectation,
    maxent_irl,
    trajectory_features,
)
from drivebench.styles.metrics import geometry_for

NAMES = ("progress", "speed", "reversing")
PARKING = registry.get("parking-styles").spec
PARKING_FEATURES = hooks_for(PARKING).features


def test_every_feature_is_documented():
    for family in all_families():
        if family.style is not None:
            assert set(COMMON_FEATURES) <= set(family.style.features) <= set(FEATURE_DOCS), family.name


def test_trajectory_features_are_rates_and_the_final_progress():
    steps = np.array([[0.0, 0.2, 0.0], [0.5, 0.4, 1.0], [1.0, 0.6, 0.0]])
    np.testing.assert_allclose(trajectory_features(steps, NAMES), [1.0, 0.5, 0.5])  # periods 1 and 2


def test_maxent_on_a_synthetic_library_converges_and_weighs_what_the_expert_does_more():
    rng = np.random.default_rng(0)
    mus = rng.uniform(0.0, 1.0, size=(40, 3))
    mus[:, 0] = 1.0  # every candidate arrives: progress cannot be weighed
    expert = np.array([1.0, 0.2, 0.9])  # slow and reversing a lot
    result = maxent_irl(expert, mus, [f"c{i}" for i in range(40)], NAMES)
    assert not result.identifiable[0] and result.weights[0] == 0.0
    assert result.weights[2] > 0 > result.weights[1]
    assert np.abs(result.weights).sum() == pytest.approx(1.0)
    gaps = result.gaps
    assert gaps[-1] < 0.5 * gaps[0]
    # at the optimum the gap is L2 x ||w|| (the stationarity condition), in library standard deviations
    assert gaps[-1] == pytest.approx(L2 * np.linalg.norm(result.raw_weights), rel=1e-3)
    # the matched expectations come close to the expert's
    assert np.abs(result.matched_mu - expert)[1:].max() < 0.1


def test_maxent_expert_equal_to_the_library_mean_needs_no_weights():
    mus = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    result = maxent_irl(mus.mean(axis=0), mus, ["a", "b"], NAMES)
    np.testing.assert_allclose(result.raw_weights, 0.0, atol=1e-6)
    assert result.gaps[0] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="two candidates"):
        maxent_irl(mus[0], mus[:1], ["a"], NAMES)


def test_candidate_grid():
    styles = candidate_styles(PARKING, {"manoeuvre": ("forward", "reverse"), "turn_radius": (6.0, 13.0)})
    assert len(styles) == 4 and {s.manoeuvre for s in styles} == {"forward", "reverse"}
    assert len({s.name for s in styles}) == 4
    assert len(candidate_styles(registry.get("curve-s-bend").spec)) == 27


@pytest.fixture(scope="module")
def tiny_library():
    """The quick preset's 8 real manoeuvres (forward or reverse, 6 or 13 m turns, 2 or 4 m/s) on parking-styles,
    rolled out from demo seed 0's start state."""
    return build_library("parking-styles", [0], grid=hooks_for(PARKING).quick_grid)


def weights_of(style: str, library) -> dict[str, float]:
    spec = PARKING
    demo = store.load(REPO_ROOT / "expert_data" / "parking-styles" / style).episodes[0]
    assert demo.seed == 0
    mu = episode_expectation(demo.poses, demo.signals, spec, geometry_for(spec))
    result = maxent_irl(mu, library.expectations([0]), library.names, PARKING_FEATURES)
    assert result.gaps[-1] < 0.5 * result.gaps[0]  # converged well below where it started
    return dict(zip(result.features, result.weights))


def test_tiny_library_reverse_weighs_reversing_above_tidy(tiny_library):
    assert len(tiny_library.names) == 8 and tiny_library.mu.shape == (8, 1, len(PARKING_FEATURES))
    assert tiny_library.success.all()
    tidy, reverse = weights_of("tidy", tiny_library), weights_of("reverse", tiny_library)
    assert reverse["reversing"] > 0 > tidy["reversing"]


@pytest.mark.slow
def test_full_library_recovers_the_parking_styles():
    """The standard grid (72 candidates) from one start state: reverse seeks reversing, tidy avoids it, and the
    shortcut penalizes crossing bays less than tidy does. (With the tiny grid above the shortcut's sign is not
    stable: four or eight candidates cannot pin seven weights.)"""
    library = build_library("parking-styles", [0])
    tidy, reverse, shortcut = (weights_of(s, library) for s in ("tidy", "reverse", "shortcut"))
    assert reverse["reversing"] > 0 > tidy["reversing"]
    assert shortcut["through_bay"] > tidy["through_bay"]
