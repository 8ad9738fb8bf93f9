"""The episode logic every family's env shares (ScenarioEnv, a highway-env `AbstractEnv`): build the scene from a
spec, observe cheaply through a declared observation type, end episodes. Each family's env subclasses it in its
plugin (drivebench/families/<family>/env.py).

All families share one action space, highway-env's ContinuousAction: a Box(-1, 1, (2,)) of
[acceleration, steering], mapped to [-5, 5] m/s^2 and [-pi/4, pi/4] rad. Observations are flat float32
vectors of named features (each observation type's `FEATURES`, with units), so BC, DAgger, GAIL and AIRL
take the same Box input without wrappers.

Episode ends (`info["termination"]`, a `Termination` value):
- arrived: success (curves: the car centre passed the road's end on the road; parking: stopped inside the
  goal bay facing the required way). Terminates.
- crashed: the body overlapped another vehicle, a parked car or a wall. Terminates.
- off_road: the car centre is more than `road.offroad_grace` past the road edge (curves), or 5 m outside the
  lot (parking without walls). Terminates. Brief excursions are reported per step in `info["off_road"]`.
- timeout: `horizon` steps elapsed. Truncates.

Per-step signals (`SIGNALS` on each class, documented there) are in `info` under their names; the evaluation
harness reads them and turns them into events and metrics with pure functions.
"""
from __future__ import annotations

import math
from enum import Enum

import numpy as np
from gymnasium import spaces
from highway_env.envs.common.abstract import AbstractEnv
from highway_env.envs.common.action import ContinuousAction
from highway_env.envs.common.observation import ObservationType
from highway_env.vehicle.graphics import VehicleGraphics
from highway_env.vehicle.kinematics import Vehicle

from drivebench.errors import DrivebenchError
from drivebench.scenarios.spec import Spec, parse_spec

CAR_LENGTH, CAR_WIDTH = Vehicle.LENGTH, Vehicle.WIDTH  # [m]
OFFROAD_TOLERANCE = 0.3
"""A body corner may be this far past the road edge before the step counts as off-road [m] (nuPlan's)."""


class Termination(str, Enum):
    """Why an episode ended (MetaDrive-like names)."""

    ARRIVED = "arrived"
    CRASHED = "crashed"
    OFF_ROAD = "off_road"
    TIMEOUT = "timeout"


class Collision(int, Enum):
    """What the car hit, as the `collision` signal: 0 nothing, 1 a vehicle (moving or parked), 2 a static object."""

    NONE = 0
    VEHICLE = 1
    STATIC = 2


COMMON_SIGNALS = (
    ("off_road", "1 if a body corner is more than OFFROAD_TOLERANCE past the drivable area, else 0"),
    ("progress", "route completion in [0, 1]"),
    ("collision", "a Collision value: 0 none, 1 a vehicle, 2 a static object"),
)


class FeatureObservation(ObservationType):
    """A declared observation type, as highway-env's are: a flat float32 vector of named features (FEATURES:
    (name, doc with its unit)). A family's env lists its types in OBSERVATIONS; the env's config picks one,
    `{"observation": {"type": NAME, ...params}}` (the default: "ego"). `observe()` reads the env's step facts."""

    FEATURES: tuple[tuple[str, str], ...] = ()

    def __init__(self, env: "ScenarioEnv", **params):
        super().__init__(env)
        self.params = params

    def space(self) -> spaces.Space:
        return spaces.Box(-np.inf, np.inf, shape=(len(self.FEATURES),), dtype=np.float32)

    def observe(self) -> np.ndarray:
        raise NotImplementedError


class ScenarioEnv(AbstractEnv):
    """Shared episode logic; subclasses build the scene and measure the step's facts."""

    metadata = {"render_modes": ["human", "rgb_array"]}
    OBSERVATIONS: dict[str, type[FeatureObservation]] = {}
    """the observation types this env declares, by config name; "ego" is the default"""
    DEFAULT_OBSERVATION = {"type": "ego"}
    SIGNALS: tuple[tuple[str, str], ...] = COMMON_SIGNALS

    def __init__(self, spec: dict | Spec, render_mode: str | None = None, config: dict | None = None):
        self.scenario = spec if not isinstance(spec, dict) else parse_spec(spec)
        self.step_count = 0
        self.facts: dict = {}
        self.build_geometry()
        base = {
            "simulation_frequency": self.scenario.simulation_frequency,
            "policy_frequency": self.scenario.policy_frequency,
            "offscreen_rendering": render_mode == "rgb_array",
        }
        super().__init__({**base, **self.render_config(), **(config or {})}, render_mode)

    # --- spaces ------------------------------------------------------------------------------------
    @classmethod
    def default_config(cls) -> dict:
        return {**super().default_config(), "observation": dict(cls.DEFAULT_OBSERVATION)}

    @classmethod
    def observation_class(cls, config: dict | None = None) -> type[FeatureObservation]:
        """The declared observation type an observation config names (default: "ego")."""
        name = (config or cls.DEFAULT_OBSERVATION).get("type")
        if name not in cls.OBSERVATIONS:
            raise DrivebenchError(f"{cls.__name__} has no observation type {name!r}; declared: "
                                  f"{', '.join(cls.OBSERVATIONS) or '(none)'}")
        return cls.OBSERVATIONS[name]

    def define_spaces(self) -> None:
        self.action_type = ContinuousAction(self)
        self.action_space = self.action_type.space()
        config = dict(self.config["observation"])
        self.observation_type = self.observation_class(config)(self, **{k: v for k, v in config.items() if k != "type"})
        self.observation_space = self.observation_type.space()

    def observe(self) -> np.ndarray:
        return self.observation_type.observe()

    # --- episode -----------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.step_count = 0
        self.build_scene()
        self.vehicle.color = VehicleGraphics.EGO_COLOR
        self.facts = self.measure()

    def displace_ego(self, lateral: float, heading: float) -> tuple[np.ndarray, dict]:
        """Move the car sideways by `lateral` [m] (+ to its right) and turn it by `heading` [rad] (+ right),
        then take progress from there: the start-offset shift's hook, called right after reset.
        Returns the new (observation, info)."""
        v = self.vehicle
        v.position = v.position + lateral * np.array([-math.sin(v.heading), math.cos(v.heading)])
        v.heading += heading
        v.on_state_update()
        self.set_progress_reference()
        self.facts = self.measure()
        obs = self.observe()
        return obs, self._info(obs)

    def step(self, action):
        action = np.asarray(action, dtype=np.float32).reshape(self.action_space.shape)
        previous = self.facts
        self.time += 1 / self.config["policy_frequency"]
        self._simulate(action)
        self.step_count += 1
        self.facts = self.measure()
        termination = self.facts["termination"]
        terminated = termination is not None
        truncated = not terminated and self.step_count >= self.scenario.horizon
        if truncated:
            termination = self.facts["termination"] = Termination.TIMEOUT
        reward = self.facts["progress"] - previous["progress"]
        reward += {Termination.ARRIVED: 1.0, Termination.CRASHED: -1.0, Termination.OFF_ROAD: -1.0}.get(
            termination, 0.0)
        obs = self.observe()
        if self.render_mode == "human":
            self.render()
        return obs, float(reward), terminated, truncated, self._info(obs, action)

    def _info(self, obs, action=None) -> dict:
        f, v = self.facts, self.vehicle
        termination = f["termination"]
        return {
            "is_success": termination is Termination.ARRIVED,
            "crashed": bool(v.crashed),
            "termination": termination.value if termination is not None else None,
            "x": float(v.position[0]), "y": float(v.position[1]),
            "heading": float(v.heading), "speed": float(v.speed),
            **{name: float(f[name]) for name, _ in self.SIGNALS},
        }

    def collision(self) -> Collision:
        """What the ego car is in collision with (highway-env marks both parties of a crash)."""
        if not self.vehicle.crashed:
            return Collision.NONE
        others = [o for o in (*self.road.vehicles, *self.road.objects) if o is not self.vehicle and o.crashed]
        if any(isinstance(o, Vehicle) or getattr(o, "is_parked_car", False) for o in others):
            return Collision.VEHICLE
        return Collision.STATIC

    # --- to implement --------------------------------------------------------------------------------
    def build_geometry(self) -> None:
        """Derive the scenario's fixed geometry from `self.scenario` (runs once, before the first reset)."""

    def render_config(self) -> dict:
        return {}

    def build_scene(self) -> None:
        """Create the road, the ego car and the other objects for a new episode (uses self.np_random)."""
        raise NotImplementedError

    def set_progress_reference(self) -> None:
        """Remember where the car starts, so that `progress` measures from there."""
        raise NotImplementedError

    def measure(self) -> dict:
        """Facts about the current state: at least termination (or None), progress [0, 1], off_road."""
        raise NotImplementedError
