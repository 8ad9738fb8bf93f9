"""The curve family: a road of straight and arc segments, optional IDM traffic ahead; drive to its end.

Files: spec.py (the scenario file's model), env.py (CurveEnv and its observation types), experts.py (the
pure-pursuit experts and their styles), metrics.py (lane departures, wrong way, speeding), shifts.py (traffic and
tighter radius), draw.py (the map), styles.py (the style experiment's hooks).
"""
from __future__ import annotations

from drivebench.families.curve import metrics, shifts, styles
from drivebench.families.curve.env import CurveEnv
from drivebench.families.curve.experts import CURVE_STYLES, CurveExpert
from drivebench.families.curve.spec import CurveScenario
from drivebench.scenarios import family, roads


def _describe(spec: CurveScenario) -> str:
    line = roads.build_centreline(spec.road)
    return f"road: {line.length:.1f} m, {spec.road.lanes} lane(s) of {spec.road.lane_width} m"


def _cost_kind(spec: CurveScenario) -> str:
    return "traffic" if spec.traffic.count else "curve"  # IDM cars make each step ~10x dearer


def _bounds(spec):
    from drivebench.families.curve import draw

    return draw.bounds(spec)


def _draw(ax, spec) -> None:
    from drivebench.families.curve import draw

    draw.draw(ax, spec)


FAMILY = family.register(family.Family(
    name="curve",
    spec_model=CurveScenario,
    env_class=CurveEnv,
    experts=tuple(CurveExpert(style) for style in CURVE_STYLES.values()),
    infractions=metrics.infractions,
    shift_rewrites={"traffic": shifts.more_traffic, "tighter_radius": shifts.tighter_radius},
    describe=_describe,
    cost_kind=_cost_kind,
    bounds=_bounds,
    draw=_draw,
    gif_crop=0.5,  # highway-env's curve view spans 200 m, too far for a small GIF: keep 100 m at its own scale
    style=styles.HOOKS,
))
