"""Linear-feature IRL: which reward over named driving features explains a style's demos?

Maximum-entropy IRL (Ziebart et al. 2008) with a planner as the inner loop. The planner is a finite library of
candidate manoeuvres: the scenario family's expert control law (parking.py's planner, curve.py's controller)
with its style parameters varied over a grid (forward or reverse entry, turn radius, where the turn ends, cruise
speed; or speed, lateral acceleration and apex cutting on curves), each rolled out in the env on fixed demo
seeds: the demos' seeds, so every candidate starts where a demo started. The reward of a trajectory is w . mu,
mu its features (an episode's feature expectation); the policy for weights w is the Boltzmann mixture over the
library, P(c) proportional to exp(w . mu_c). The weights maximize the demos' log-likelihood minus an L2 penalty,
a concave problem (L-BFGS), so it converges, and at every iteration the feature-expectation gap
||mu_E - E_P[mu]|| is reported; at the optimum it equals L2 x ||w||.

Features (`FEATURES`), each in [0, 1] per step: progress, speed, lane offset, reversing, through-bay (parking),
clearance, jerk. A trajectory's features are progress where it ended (did it do the task) and the mean of each
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

from drivebench.eval import events
from drivebench.eval.rollout import expert_policy, run_episode
from drivebench.experts.curve import CurveExpert
from drivebench.experts.parking import ParkingExpert
from drivebench.experts.styles import CurveStyle, ParkingStyle
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.scenarios.registry import get as get_scenario
from drivebench.styles.metrics import (
    CurveGeometry,
    Geometry,
    ParkingGeometry,
    body_corners,
    episode_geometry,
    in_rects,
    rect_gap,
)

FEATURES = {
    "parking": ("progress", "speed", "lane_offset", "reversing", "through_bay", "clearance", "jerk"),
    "curve": ("progress", "speed", "lane_offset", "reversing", "clearance", "jerk"),
}
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
PARKING_SPEED = 5.0
"""Reference speed of the parking speed feature [m/s]."""
CLEARANCE_SCALE = 2.0
"""A gap of this much or more counts as fully clear [m]."""
L2 = 0.05
"""Penalty on the squared weights (in library standard deviations)."""


# ---------------------------------------------------------------------------------------------- features
def step_features(poses: np.ndarray, signals: dict[str, np.ndarray], dt: float, geometry: Geometry,
                  speed_reference: float) -> np.ndarray:
    """(T + 1, k) features of each step, in [0, 1], in FEATURES order for the geometry's family."""
    poses = np.asarray(poses, float)
    xy, heading, speed = poses[:, :2], poses[:, 2], poses[:, 3]
    jerk = events.kinematics(poses, dt)["jerk"]
    common = {
        "progress": np.asarray(signals["progress"], float),
        "speed": np.minimum(np.abs(speed) / speed_reference, 1.0),
        "reversing": events.reversing(speed).astype(float),
        "jerk": np.minimum(jerk / events.COMFORT_BOUNDS["jerk"][1], 1.0),
    }
    if isinstance(geometry, ParkingGeometry):
        lot = geometry.lot
        others = [b.rect for b in lot.bays if b.id != geometry.goal_bay]
        corners = body_corners(xy, heading)
        gaps = np.full(len(xy), np.inf)
        for rect in geometry.obstacles:
            gaps = np.minimum(gaps, rect_gap(corners, np.broadcast_to(rect.corners(), corners.shape)))
        family = {
            "lane_offset": np.minimum(np.abs(xy[:, 1] - lot.aisle.y) / (lot.aisle.width / 2), 1.0),
            "through_bay": in_rects(xy[:, None, :], others).astype(float),
            "clearance": np.clip(gaps / CLEARANCE_SCALE, 0.0, 1.0),
        }
        names = FEATURES["parking"]
    else:
        assert isinstance(geometry, CurveGeometry)
        half_lane = float(np.diff(geometry.lane_offsets).min()) / 2 if len(geometry.lane_offsets) > 1 \
            else geometry.half_width
        he = np.asarray(signals["heading_error"], float)
        extent = (np.abs(np.asarray(signals["lateral_offset"], float)) + CAR_LENGTH / 2 * np.abs(np.sin(he))
                  + CAR_WIDTH / 2 * np.abs(np.cos(he)))
        family = {
            "lane_offset": np.minimum(np.abs(np.asarray(signals["lane_offset"], float)) / half_lane, 1.0),
            "clearance": np.clip((geometry.half_width - extent) / CLEARANCE_SCALE, 0.0, 1.0),
        }
        names = FEATURES["curve"]
    values = {**common, **family}
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
    return spec.road.speed_limit if spec.family == "curve" else PARKING_SPEED


def episode_expectation(poses, signals, spec, geometry: Geometry) -> np.ndarray:
    """An episode's trajectory features on its scenario (its feature expectation: an episode is one sample)."""
    phi = step_features(poses, signals, 1.0 / spec.policy_frequency, geometry, speed_reference(spec))
    return trajectory_features(phi, FEATURES[spec.family])


# ---------------------------------------------------------------------------------------------- library
@dataclass(frozen=True, eq=False)
class Library:
    """Candidate manoeuvres rolled out from the demos' start states (their seeds)."""

    names: tuple[str, ...]
    """each candidate's style parameters, e.g. `reverse r=7.5 pre=1 v=2.5`"""
    styles: tuple[CurveStyle | ParkingStyle, ...]
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


PARKING_GRID = {"manoeuvre": ("forward", "reverse"), "turn_radius": (6.0, 8.0, 10.0, 13.0),
                "pre_entrance": (0.0, 1.5, 3.0), "cruise": (2.0, 3.0, 4.0)}
CURVE_GRID = {"speed_factor": (0.6, 0.8, 1.0), "lateral_acceleration": (1.5, 2.5, 3.5),
              "apex_cut": (0.0, 0.4, 0.8)}
"""The candidate grids: every combination is one candidate manoeuvre (before the feasibility check)."""


def candidate_styles(family: str, grid: dict | None = None) -> list[CurveStyle | ParkingStyle]:
    grid = grid or (PARKING_GRID if family == "parking" else CURVE_GRID)
    keys = list(grid)
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        p = dict(zip(keys, values))
        if family == "parking":
            p = {"manoeuvre": "forward", "turn_radius": 6.5, "pre_entrance": 2.5, "cruise": 3.0, **p}
            name = f"{p['manoeuvre']} r={p['turn_radius']:g} pre={p['pre_entrance']:g} v={p['cruise']:g}"
            out.append(ParkingStyle(name, "library candidate", p["manoeuvre"], cruise=p["cruise"],
                                    reverse_cruise=min(p["cruise"], 1.5), turn_radius=p["turn_radius"],
                                    lookahead=3.0 if p["turn_radius"] < 10 else 4.0,
                                    pre_entrance=p["pre_entrance"]))
        else:
            p = {"speed_factor": 0.8, "lateral_acceleration": 2.5, "apex_cut": 0.0, **p}
            name = f"v={p['speed_factor']:g}xlimit a_lat={p['lateral_acceleration']:g} apex={p['apex_cut']:g}"
            out.append(CurveStyle(name, "library candidate", speed_factor=p["speed_factor"],
                                  lateral_acceleration=p["lateral_acceleration"], apex_cut=p["apex_cut"],
                                  time_headway=1.5, braking=2.0))
    return out


def build_library(scenario: str, seeds: list[int], grid: dict | None = None, progress=None) -> Library:
    """Roll out every candidate whose path fits the scenario (the expert's `supports`) from each seed's start
    state, arriving or not (failures teach the progress weight). `progress(1)` is called after each candidate."""
    entry = get_scenario(scenario)
    spec = entry.spec
    env = gymnasium.make(entry.id)
    kept, mus, success, dropped = [], [], [], []
    for style in candidate_styles(spec.family, grid):
        expert = ParkingExpert(style) if spec.family == "parking" else CurveExpert(style)
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
    k = len(FEATURES[spec.family])
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
