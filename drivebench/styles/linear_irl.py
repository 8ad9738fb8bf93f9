"""Linear-feature IRL: which reward over named driving features explains a style's demos?

Maximum-entropy IRL (Ziebart et al. 2008) with a planner as the inner loop. The planner is a finite library of
candidate manoeuvres: the scenario family's expert control law (its style hooks' `expert`, e.g. the parking
planner or the curve controller) with its style parameters varied over the family's grid (`candidate_grid`: e.g.
forward or reverse entry, turn radius, where the turn ends, cruise speed; or speed, lateral acceleration and apex
cutting on curves), each rolled out in the env on fixed demo seeds: the demos' seeds, so every candidate starts where a demo started. The reward of a trajectory is w . mu,
mu its features (an episode's feature expectation); the policy for weights w is the Boltzmann mixture over the
library, P(c) proportional to exp(w . mu_c). The weights maximize the demos' log-likelihood minus an L2 penalty,
a concave problem (L-BFGS), so it converges, and at every iteration the feature-expectation gap
||mu_E - E_P[mu]|| is reported; at the optimum it equals L2 x ||w||.

Features (the family's `StyleHooks.features`, documented in FEATURE_DOCS), each in [0, 1] per step: progress,
speed, reversing and jerk (COMMON_FEATURES, computed here) and the family's own from its geometry (lane offset,
clearance, through-bay on parking). A trajectory's features are progress where it ended (did it do the task) and the mean of each
other feature over its steps (its style as rates: a path's duration does not leak into every feature). As in
Abbeel, Dolgov, Ng and Thrun's parking-lot planner, the reward is linear in these trajectory features. Before
fitting, each feature is standardized over the library (its mean and std across candidates), so a weight is per
library standard deviation and weights are comparable across features; a feature that no candidate varies cannot
be weighed and gets weight 0 (`identifiable` False). Reported weights are divided by their L1 norm.
Sign convention: reward = sum_k w_k phi_k; w_k > 0 means the style seeks more of feature k than the library
average, w_k < 0 that it avoids it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import gymnasium
import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from drivebench.core.rollout import expert_policy, run_episode
from drivebench.eval import events
from drivebench.scenarios.registry import get as get_scenario
from drivebench.styles.hooks import StyleGeometry, hooks_for
from drivebench.styles.metrics import episode_geometry

COMMON_FEATURES = ("progress", "speed", "reversing", "jerk")
"""The features computed here for every family; a family's geometry gives its others (`step_features`)."""
FEATURE_DOCS = {
    "progress": "route completion (the env's progress signal)",
    "speed": "|speed| / reference speed (the speed limit on curves, PARKING_SPEED on parking), capped at 1",
    "lane_offset": "|offset from the lane centre| / half a lane (curves), |offset from the aisle centre line| / "
                   "half the aisle (parking), capped at 1",
    "reversing": "1 when moving backwards",
    "through_bay": "1 when the car centre is in a bay other than the goal",
    "clearance": "gap from the body to the nearest obstacle / CLEARANCE_SCALE, capped at 1 (walls and parked cars; "
                 "the road edge on curves)",
    "jerk": "jerk magnitude / nuPlan's comfort bound (events.COMFORT_BOUNDS), capped at 1",
}
"""What each feature is (the features' shared vocabulary: a family's `features` are names from here; one with a new
feature documents it here)."""
CLEARANCE_SCALE = 2.0
"""A gap of this much or more counts as fully clear [m]."""
L2 = 0.05
"""Penalty on the squared weights (in library standard deviations)."""


# ---------------------------------------------------------------------------------------------- features
def step_features(poses: np.ndarray, signals: dict[str, np.ndarray], dt: float, geometry: StyleGeometry,
                  speed_reference: float, names: tuple[str, ...]) -> np.ndarray:
    """(T + 1, k) features of each step, in [0, 1], in the order of `names` (the family's features)."""
    poses = np.asarray(poses, float)
    speed = poses[:, 3]
    jerk = events.kinematics(poses, dt)["jerk"]
    common = {
        "progress": np.asarray(signals["progress"], float),
        "speed": np.minimum(np.abs(speed) / speed_reference, 1.0),
        "reversing": events.reversing(speed).astype(float),
        "jerk": np.minimum(jerk / events.COMFORT_BOUNDS["jerk"][1], 1.0),
    }
    values = {**common, **geometry.step_features(poses, signals)}
    return np.stack([values[n] for n in names], axis=1)


def trajectory_features(features: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(k,) a trajectory's features from its (T + 1, k) step features: progress where it ended, every other
    feature averaged over the T decision periods (each by the state it ended in), so that a style is a rate
    (how fast, how much of the time reversing or in other bays), not a duration."""
    features = np.asarray(features, float)
    body = features[1:] if len(features) > 1 else features
    out = body.mean(axis=0)
    out[list(names).index("progress")] = features[-1, list(names).index("progress")]
    return out


def speed_reference(spec) -> float:
    """The speed the speed feature is divided by on this scenario [m/s] (its family's)."""
    return hooks_for(spec).speed_reference(spec)


def episode_expectation(poses, signals, spec, geometry: StyleGeometry) -> np.ndarray:
    """An episode's trajectory features on its scenario (its feature expectation: an episode is one sample), in
    the order of its family's features."""
    features = hooks_for(spec).features
    phi = step_features(poses, signals, 1.0 / spec.policy_frequency, geometry, speed_reference(spec), features)
    return trajectory_features(phi, features)


# ---------------------------------------------------------------------------------------------- library
@dataclass(frozen=True, eq=False)
class Library:
    """Candidate manoeuvres rolled out from the demos' start states (their seeds)."""

    names: tuple[str, ...]
    """each candidate's style parameters, e.g. `reverse r=7.5 pre=1 v=2.5`"""
    styles: tuple
    """each candidate's style record (the family's style type)"""
    seeds: tuple[int, ...]
    mu: np.ndarray
    """(candidates, seeds, k) trajectory features of each candidate from each seed's start state"""
    success: np.ndarray
    """(candidates, seeds) bool: arrived"""
    dropped: tuple[str, ...]
    """candidates left out, with the reason (their path does not fit the scenario)"""

    def expectations(self, seeds: list[int] | tuple[int, ...]) -> np.ndarray:
        """(candidates, k) feature expectations from these seeds' start states (a subset of `seeds`)."""
        idx = [self.seeds.index(s) for s in seeds]
        return self.mu[:, idx].mean(axis=1)


def candidate_styles(spec, grid: dict | None = None) -> list:
    """The candidate styles of the spec's family: one per combination of the grid's values (the family's
    `candidate_grid` when none is given), the last parameter varying fastest."""
    hooks = hooks_for(spec)
    grid = grid or hooks.candidate_grid
    keys = list(grid)
    return [hooks.candidate(dict(zip(keys, values))) for values in itertools.product(*(grid[k] for k in keys))]


def build_library(scenario: str, seeds: list[int], grid: dict | None = None, progress=None) -> Library:
    """Roll out every candidate whose path fits the scenario (the expert's `supports`) from each seed's start
    state, arriving or not (failures teach the progress weight). `progress(1)` is called after each candidate."""
    entry = get_scenario(scenario)
    spec = entry.spec
    hooks = hooks_for(spec)
    env = gymnasium.make(entry.id)
    kept, mus, success, dropped = [], [], [], []
    for style in candidate_styles(spec, grid):
        expert = hooks.expert(style)
        reason = expert.supports(spec)
        if reason is None:
            episodes = [run_episode(env, expert_policy(expert), seed) for seed in seeds]
            kept.append(style)
            mus.append([episode_expectation(e.poses, e.signals, spec, episode_geometry(spec, e.seed))
                        for e in episodes])
            success.append([e.success for e in episodes])
        else:
            dropped.append(f"{style.name}: {reason}")
        if progress is not None:
            progress(1)
    env.close()
    k = len(hooks.features)
    return Library(tuple(s.name for s in kept), tuple(kept), tuple(seeds),
                   np.array(mus).reshape(len(kept), len(seeds), k),
                   np.array(success, bool).reshape(len(kept), len(seeds)), tuple(dropped))


# ---------------------------------------------------------------------------------------------- IRL
@dataclass(frozen=True, eq=False)
class IRLResult:
    features: tuple[str, ...]
    weights: np.ndarray
    """(k,) learned reward weights per library standard deviation, divided by their L1 norm"""
    raw_weights: np.ndarray
    """(k,) the weights as fitted (before the L1 normalization)"""
    identifiable: np.ndarray
    """(k,) bool: False for features no candidate varies (weight 0)"""
    gaps: list[float]
    """||mu_E - E_P[mu]|| per iteration, in library standard deviations (iteration 0: w = 0, uniform mixture)"""
    mixture: np.ndarray
    """(candidates,) the final Boltzmann mixture over the library"""
    best: str
    """the candidate with the highest learned reward"""
    expert_mu: np.ndarray
    """(k,) the demos' feature expectation (raw units)"""
    matched_mu: np.ndarray
    """(k,) the final mixture's feature expectation (raw units)"""


MIN_SPREAD = 1e-3
"""A feature that varies less than this across the library (std, in its [0, 1] unit) cannot be weighed."""


def maxent_irl(expert_mu: np.ndarray, mus: np.ndarray, names: tuple[str, ...] | list[str],
               features: tuple[str, ...], l2: float = L2, max_iter: int = 200) -> IRLResult:
    """Fit reward weights so that the Boltzmann mixture over the library's candidates (named `names`, with
    feature expectations `mus` (candidates, k) from the demos' start states) matches the demos' feature
    expectation `expert_mu` (k,). See the module docstring."""
    mus = np.asarray(mus, float)
    if len(mus) < 2:
        raise ValueError("linear IRL needs a library of at least two candidates")
    mean, std = mus.mean(axis=0), mus.std(axis=0)
    ok = std > MIN_SPREAD
    z = np.where(ok, (mus - mean) / np.where(ok, std, 1.0), 0.0)
    z_e = np.where(ok, (np.asarray(expert_mu, float) - mean) / np.where(ok, std, 1.0), 0.0)

    def mixture(w):
        logits = z @ w
        return np.exp(logits - logsumexp(logits))

    def negative_objective(w):
        logits = z @ w
        p = np.exp(logits - logsumexp(logits))
        value = w @ z_e - logsumexp(logits) - l2 / 2 * w @ w
        grad = z_e - p @ z - l2 * w
        return -value, -grad

    gaps = [float(np.linalg.norm(z_e - mixture(np.zeros(len(features))) @ z))]
    result = minimize(negative_objective, np.zeros(len(features)), jac=True, method="L-BFGS-B",
                      callback=lambda w: gaps.append(float(np.linalg.norm(z_e - mixture(w) @ z))),
                      options={"maxiter": max_iter, "gtol": 1e-8})
    w = np.where(ok, result.x, 0.0)
    p = mixture(w)
    norm = np.abs(w).sum()
    return IRLResult(tuple(features), w / norm if norm > 0 else w, w, ok, gaps, p,
                     names[int(np.argmax(z @ w))], np.asarray(expert_mu, float), p @ mus)
