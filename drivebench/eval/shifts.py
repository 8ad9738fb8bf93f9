"""Off-distribution shifts: named perturbations with magnitude levels 1-3, written `NAME:LEVEL`.

A shift either rewrites the scenario spec (geometry, traffic) before the env is built, with the rewrite the
scenario's family registers for it, or wraps the env (where the car starts, a mid-episode disturbance, observation
noise) of every family that lists it. Any randomness a shift adds is drawn
from the episode seed, so a shifted episode is as reproducible as any other.

A scored condition (suite.toml's `offdist`) must be passable: each scenario's reference driver (its first expert, a
state-feedback controller) succeeds in >= 95% of its episodes under it (benchmarks/reference_conditions.py measures
it; BENCHMARKS.md has the figures), so what the condition scores is whether a learner recovers from states its
demos never showed, not a disturbance nobody could survive. Where a shared level does not fit a family's speeds,
the family recalibrates it as data (Family.shift_levels): a bump's forced steering turns a car at 10 m/s about
three times as fast as at parking speeds, so the curve family's bump steers 0.2 where the shared one steers 0.6.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gymnasium
import numpy as np

from drivebench.errors import DrivebenchError, ScenarioError
from drivebench.scenarios import family as families
from drivebench.scenarios.spec import Spec, parse_spec


@dataclass(frozen=True)
class Shift:
    name: str
    level: int

    def __str__(self) -> str:
        return self.name if self.level == 0 else f"{self.name}:{self.level}"


NONE = Shift("none", 0)


# ---------------------------------------------------------------------------------------------- wrappers
class StartOffset(gymnasium.Wrapper):
    """After reset, move the car sideways by `lateral` [m] and turn it by `heading` [rad], both toward a side
    drawn from the episode seed (turned away from where it was put: the hard case)."""

    def __init__(self, env: gymnasium.Env, lateral: float, heading: float):
        super().__init__(env)
        self.lateral, self.heading = lateral, heading

    def reset(self, *, seed=None, options=None):
        self.env.reset(seed=seed, options=options)
        side = np.random.default_rng(seed).choice([-1.0, 1.0])
        return self.env.unwrapped.displace_ego(side * self.lateral, side * self.heading)


class Bump(gymnasium.Wrapper):
    """A disturbance mid-episode: from decision `start`, `steps` decisions have their steering replaced by
    `steering` (normalized) toward a side drawn from the episode seed."""

    def __init__(self, env: gymnasium.Env, steps: int, steering: float = 0.6, start: int = 10):
        super().__init__(env)
        self.steps, self.steering, self.start = steps, steering, start
        self.t, self.side = 0, 1.0

    def reset(self, *, seed=None, options=None):
        self.t, self.side = 0, np.random.default_rng(seed).choice([-1.0, 1.0])
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        action = np.array(action, dtype=np.float32)
        if self.start <= self.t < self.start + self.steps and action.shape == (2,):
            action[1] = self.side * self.steering
        self.t += 1
        return self.env.step(action)


class ObservationNoise(gymnasium.ObservationWrapper):
    """Gaussian noise on every observation feature, scaled to its magnitude: x + sigma * (1 + |x|) * N(0, 1)."""

    def __init__(self, env: gymnasium.Env, sigma: float):
        super().__init__(env)
        self.sigma = sigma
        self.rng = np.random.default_rng(0)

    def reset(self, *, seed=None, options=None):
        self.rng = np.random.default_rng(seed)
        return super().reset(seed=seed, options=options)

    def observation(self, obs):
        return (obs + self.sigma * (1.0 + np.abs(obs)) * self.rng.standard_normal(obs.shape)).astype(np.float32)


@dataclass(frozen=True)
class ShiftKind:
    description: str
    levels: dict[int, dict]
    """parameters per level (keyword arguments of the family's rewrite, or of `wrapper`), shared by the families
    that take the shift; a family may give its own for some levels (Family.shift_levels, see level_parameters)"""
    wrapper: Callable[..., gymnasium.Env] | None = None
    """None: the shift rewrites the spec, with the rewrite a family registers under its name
    (Family.shift_rewrites); otherwise it wraps the env of every family that lists it in Family.env_shifts"""


def level_parameters(shift: Shift, fam: families.Family) -> dict:
    """The parameters of `shift` for scenarios of family `fam`: the family's own for that level
    (Family.shift_levels), else the shared ones (SHIFTS)."""
    own = fam.shift_levels.get(shift.name, {})
    return dict(own[shift.level]) if shift.level in own else dict(SHIFTS[shift.name].levels[shift.level])


def applies_to(name: str, fam: families.Family) -> bool:
    """Does shift `name` apply to scenarios of family `fam`?"""
    return name in fam.shift_rewrites if SHIFTS[name].wrapper is None else name in fam.env_shifts


SHIFTS: dict[str, ShiftKind] = {
    "start_offset": ShiftKind(
        "start off the demos: displaced sideways and turned away",
        {1: {"lateral": 1.0, "heading": 0.10}, 2: {"lateral": 1.5, "heading": 0.20},
         3: {"lateral": 2.0, "heading": 0.30}}, wrapper=StartOffset),
    "bump": ShiftKind(
        "a mid-episode disturbance: steering forced to one side for a few decisions",
        {1: {"steps": 2}, 2: {"steps": 4}, 3: {"steps": 6}}, wrapper=Bump),
    "obs_noise": ShiftKind(
        "noisy observations (experts read the true state and are unaffected)",
        {1: {"sigma": 0.02}, 2: {"sigma": 0.05}, 3: {"sigma": 0.10}}, wrapper=ObservationNoise),
    "traffic": ShiftKind(
        "more vehicles ahead than in the scenario",
        {1: {"extra": 2}, 2: {"extra": 4}, 3: {"extra": 6}}),
    "tighter_radius": ShiftKind(
        "every curve's radius scaled down: geometry outside the training set",
        {1: {"factor": 0.8}, 2: {"factor": 0.65}, 3: {"factor": 0.5}}),
}


def parse_shift(text: str | None) -> Shift:
    """'start_offset:2' -> Shift('start_offset', 2); None, '' or 'none' -> NONE."""
    if not text or text == "none":
        return NONE
    name, _, level = text.partition(":")
    if name not in SHIFTS:
        raise DrivebenchError(f"unknown shift {name!r}; known: {', '.join(SHIFTS)}")
    levels = SHIFTS[name].levels
    if not level.isdigit() or int(level) not in levels:
        raise DrivebenchError(f"shift {name} takes a level in {sorted(levels)}: write {name}:1")
    return Shift(name, int(level))


def shifted_spec(spec: Spec, shift: Shift) -> Spec:
    """The spec the shifted episodes run on (the same spec for wrapper-only shifts)."""
    if shift == NONE:
        return spec
    kind, fam = SHIFTS[shift.name], families.of(spec)
    if not applies_to(shift.name, fam):
        those = [f.name for f in families.all_families() if applies_to(shift.name, f)]
        raise DrivebenchError(f"shift {shift.name} applies to {' and '.join(those) or 'no'} scenarios, "
                              f"not to {spec.name} ({spec.family})")
    if kind.wrapper is not None:
        return spec
    try:
        rewrite = fam.shift_rewrites[shift.name]
        return parse_spec(rewrite(spec, **level_parameters(shift, fam)), file=f"{spec.name} under {shift}")
    except ScenarioError as err:
        raise DrivebenchError(f"shift {shift} cannot apply to {spec.name}: {err}") from None


def make_env(spec: Spec, shift: Shift = NONE, *, render_mode: str | None = None) -> gymnasium.Env:
    """The env for a (shifted) spec: `spec` must already be `shifted_spec(...)`. `render_mode="rgb_array"`
    renders off screen (the report's GIFs); rendering does not change the episode."""
    fam = families.of(spec)
    env = fam.env_class(spec, render_mode=render_mode)
    if shift != NONE and SHIFTS[shift.name].wrapper is not None:
        env = SHIFTS[shift.name].wrapper(env, **level_parameters(shift, fam))
    return env
