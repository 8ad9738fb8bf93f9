"""Can a scenario be driven? Each of its experts (registry.experts_for) drives a few seeds; what failed is named:
the end of the episode, and for a crash what the car hit (a vehicle, a parked car, a wall) and where."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from highway_env.vehicle.kinematics import Vehicle

from drivebench.experts.registry import experts_for
from drivebench.scenarios import family as families
from drivebench.seeds import demo_seeds

DEFAULT_SEEDS = 5


@dataclass(frozen=True)
class Failure:
    """One episode an expert did not finish."""

    seed: int
    termination: str
    """how it ended: crashed, off_road, timeout"""
    step: int
    x: float
    """car centre, east [m]"""
    y: float
    """car centre, south [m]"""
    hit: str = ""
    """what it crashed into: 'vehicle', 'parked car', 'wall' (or the object's class name); '' if it did not crash"""
    hit_at: tuple[float, float] | None = None
    """centre of what it hit [m]"""

    def describe(self) -> str:
        where = f"at ({self.x:.1f}, {self.y:.1f}) m, step {self.step}"
        if self.hit:
            what = f"crashed into a {self.hit}"
            if self.hit_at is not None:
                what += f" (centred at ({self.hit_at[0]:.1f}, {self.hit_at[1]:.1f}) m)"
            return f"seed {self.seed}: {what} {where}"
        return f"seed {self.seed}: {self.termination} {where}"


@dataclass(frozen=True)
class ExpertCheck:
    expert: str
    """the expert's id"""
    seeds: tuple[int, ...]
    failures: tuple[Failure, ...] = field(default=())

    @property
    def successes(self) -> int:
        return len(self.seeds) - len(self.failures)

    @property
    def ok(self) -> bool:
        return not self.failures


def check(spec, n_seeds: int = DEFAULT_SEEDS) -> list[ExpertCheck]:
    """Drive the scenario with each expert meant for it on the first `n_seeds` demo seeds. A scenario no expert
    supports gets no rows (the caller says so)."""
    env = families.of(spec).env_class(spec)
    rows = []
    try:
        for expert in experts_for(spec):
            failures = [f for seed in demo_seeds(n_seeds) if (f := drive(env, expert, seed)) is not None]
            rows.append(ExpertCheck(expert.id, tuple(demo_seeds(n_seeds)), tuple(failures)))
    finally:
        env.close()
    return rows


def drive(env, expert, seed: int) -> Failure | None:
    """One episode of an expert; None if it arrived, else how it failed."""
    env.reset(seed=seed)
    u = env.unwrapped
    for step in range(1, u.scenario.horizon + 1):
        _, _, terminated, truncated, info = env.step(expert.act(env))
        if terminated or truncated:
            break
    if info["is_success"]:
        return None
    hit, hit_at = "", None
    if info["termination"] == "crashed":
        hit, hit_at = crashed_into(u)
    return Failure(seed, info["termination"], step, info["x"], info["y"], hit, hit_at)


def crashed_into(env) -> tuple[str, tuple[float, float] | None]:
    """What the crashed ego car hit: of the other objects highway-env marked crashed too (or, if it marked none, of
    every solid one), the one whose rectangle is nearest the car's centre."""
    ego = env.vehicle
    solid = [o for o in (*env.road.vehicles, *env.road.objects) if o is not ego and getattr(o, "solid", True)]
    others = [o for o in solid if getattr(o, "crashed", False)] or solid
    if not others:
        return "object", None
    o = min(others, key=lambda o: _distance_to_rectangle(ego.position, o))
    if getattr(o, "is_parked_car", False):
        kind = "parked car"
    elif isinstance(o, Vehicle):
        kind = "vehicle"
    elif type(o).__name__ == "StaticObstacle":
        kind = "wall"
    else:
        kind = type(o).__name__
    return kind, (float(o.position[0]), float(o.position[1]))


def _distance_to_rectangle(point, o) -> float:
    """From a point to an object's rectangle (LENGTH x WIDTH about its position, turned by its heading) [m]."""
    dx, dy = float(point[0] - o.position[0]), float(point[1] - o.position[1])
    c, s = math.cos(o.heading), math.sin(o.heading)
    along, across = abs(dx * c + dy * s) - o.LENGTH / 2, abs(-dx * s + dy * c) - o.WIDTH / 2
    return math.hypot(max(along, 0.0), max(across, 0.0))
