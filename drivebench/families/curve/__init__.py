"""The curve family: a road of straight and arc segments, optional IDM traffic ahead; drive to its end.

Files: spec.py (the scenario file's model), geometry.py (the centreline and lanes), env.py (CurveEnv and its
observation types), experts.py (the pure-pursuit experts and their styles), metrics.py (lane departures, wrong way,
speeding), shifts.py (traffic and tighter radius), draw.py (the map), styles.py (the style experiment's hooks).
"""
from __future__ import annotations

from drivebench.families.curve import generate, geometry, metrics, shifts, styles
from drivebench.families.curve.env import CurveEnv
from drivebench.families.curve.experts import CURVE_STYLES, CurveExpert
from drivebench.families.curve.spec import CurveScenario
from drivebench.scenarios import family


def _describe(spec: CurveScenario) -> str:
    line = geometry.build_centreline(spec.road)
    return f"road: {line.length:.1f} m, {spec.road.lanes} lane(s) of {spec.road.lane_width} m"


def _costs(spec: CurveScenario) -> family.Costs:
    """Training seconds from session 10's standard run (BENCHMARKS.md; GAIL and AIRL start from the run's BC agents),
    episode seconds from session 7's: with traffic, the IDM cars make each step ~10x dearer."""
    if spec.traffic.count:
        return family.Costs({"bc": 5, "dagger": 18, "gail": 25, "airl": 26}, episode_seconds=0.25)
    return family.Costs({"bc": 5, "dagger": 15, "gail": 7, "airl": 8}, episode_seconds=0.03)


FAMILY = family.register(family.Family(
    name="curve",
    spec_model=CurveScenario,
    env_class=CurveEnv,
    experts=tuple(CurveExpert(style) for style in CURVE_STYLES.values()),
    infractions=metrics.infractions,
    drawing="drivebench.families.curve.draw",
    shift_rewrites={"traffic": shifts.more_traffic, "tighter_radius": shifts.tighter_radius},
    shift_levels=shifts.LEVELS,
    describe=_describe,
    costs=_costs,
    gif_crop=0.5,  # highway-env's curve view spans 200 m, too far for a small GIF: keep 100 m at its own scale
    style=styles.HOOKS,
    generate=generate.generate,
))
