"""What a scenario family is: the one record through which every stage asks a family for what it owns.

A family is a plugin, one folder `drivebench/families/<name>/` that builds a `Family` and registers it
(`drivebench/families/__init__.py` imports each: that is the one registration line). The stages below the
families (spec parsing, the registry, experts, recording, agents, the harness, the report) import this module,
never a family: they look the family up by the `family` field of a scenario file and call what it provides.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivebench.errors import UnknownIdError


@dataclass(frozen=True)
class Infractions:
    """A family's per-episode rule breaking, from the episode's signals (eval/metrics.py scores it). Rules a family
    does not have stay at their zero value."""

    lane_departures: int = 0
    """times the body crossed a lane line without completing a lane change"""
    wrong_way: np.ndarray | None = None
    """(T + 1,) bool: driving against the road's direction (held long enough to count)"""
    speeding: np.ndarray | None = None
    """(T + 1,) bool: above the speed limit"""
    occupied_bay_time: float = 0.0
    """time with the car centre in a bay holding a parked car [s]"""
    other_bay_time: float = 0.0
    """time with the body in a bay other than the goal [s]"""


@dataclass(frozen=True)
class Costs:
    """Measured time of a scenario's work on the project's 2-core machine, two runs at a time (BENCHMARKS.md), for the
    pipeline's time-left estimate and to start the longest training runs first."""

    train_seconds: Mapping[str, float] = field(default_factory=dict)
    """standard-preset training time of one run, by algorithm [s]; an algorithm not listed is assumed 60 s"""
    episode_seconds: float = 0.1
    """evaluation time of one episode in one worker [s]"""


@dataclass(frozen=True)
class Family:
    name: str
    """the `family` field of its scenario files"""
    spec_model: type
    """its scenario file's model: a scenarios.spec.ScenarioBase subclass with `family: Literal[name]`"""
    env_class: type
    """its env: a scenarios.envs.ScenarioEnv subclass taking (spec, render_mode, config)"""
    experts: tuple
    """its experts (`id`, `style`, `supports(spec)`, `act(env)`); per scenario, the first that supports it is the one
    the agents learn from"""
    infractions: Callable[[Mapping[str, np.ndarray], np.ndarray, Any, float], Infractions]
    """(signals, poses, spec, dt) -> Infractions"""
    drawing: str
    """the module that draws it on the report's maps, imported only when a map is drawn (it needs matplotlib):
    `bounds(spec) -> (xmin, xmax, ymin, ymax)` [m] and `draw(ax, spec)` on a matplotlib Axes"""
    shift_rewrites: Mapping[str, Callable[..., dict]] = field(default_factory=dict)
    """spec-rewriting shifts it supports: name -> rewrite(spec, **level params) -> spec data"""
    env_shifts: tuple[str, ...] = ("start_offset", "bump", "obs_noise")
    """env-wrapping shifts (eval/shifts.py) that apply to it"""
    shift_levels: Mapping[str, Mapping[int, Mapping[str, Any]]] = field(default_factory=dict)
    """its own parameters for a shift's levels where eval/shifts.py's shared ones do not fit it (e.g. a disturbance
    calibrated to its speeds): shift name -> {level: parameters}; a shift or level not listed takes the shared ones"""
    describe: Callable[[Any], str] = lambda spec: ""
    """one line on the scenario's geometry for `drivebench scenarios show`"""
    costs: Callable[[Any], Costs] = lambda spec: Costs()
    """what a scenario costs to train on and to evaluate (the pipeline's time estimates and job order)"""
    gif_crop: float = 1.0
    """share of the map a report GIF shows around the car (1: all of it)"""
    style: Any = None
    """its style-experiment hooks (styles/ asks them; None: no style experiment for this family)"""
    generate: Callable[[np.random.Generator], dict] | None = None
    """a random scenario across its schema's ranges, as the data of a scenario file (scenarios.spec.parse_spec
    validates it; some draws are meant to fail its checks), for property tests and benchmarks; None: none"""

    def bounds(self, spec) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of the scenario's road or lot [m], for maps."""
        return importlib.import_module(self.drawing).bounds(spec)

    def draw(self, ax, spec) -> None:
        """The scenario's map under trajectories, on a matplotlib Axes."""
        importlib.import_module(self.drawing).draw(ax, spec)

    @property
    def observation_features(self) -> tuple[tuple[str, str], ...]:
        """(name, doc) of the default observation's features."""
        return self.env_class.observation_class().FEATURES


_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family (idempotent for the same record; a second, different family of that name is an error)."""
    known = _FAMILIES.get(family.name)
    if known is not None and known is not family:
        raise ValueError(f"scenario family {family.name!r} is registered twice")
    _FAMILIES[family.name] = family
    return family


def get(name: str) -> Family:
    if name not in _FAMILIES:
        raise UnknownIdError("scenario family", name, list(_FAMILIES))
    return _FAMILIES[name]


def of(spec) -> Family:
    """The family a spec belongs to."""
    return get(spec.family)


def names() -> list[str]:
    return list(_FAMILIES)


def names_text() -> str:
    return ", ".join(repr(n) for n in _FAMILIES)


def all_families() -> list[Family]:
    return list(_FAMILIES.values())
