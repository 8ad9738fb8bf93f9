"""Experts by id: `expert:<style>`. An expert has `id`, `family`, `style`, `supports(spec) -> reason | None`
and `act(env) -> action`, reading the env's true state (never the observation)."""
from __future__ import annotations

from drivebench.errors import UnknownIdError
from drivebench.experts.curve import CurveExpert
from drivebench.experts.parking import ParkingExpert
from drivebench.experts.styles import CURVE_STYLES, PARKING_STYLES

EXPERT_VERSION = 2
"""Bump when a control law changes what an expert does: demo sets recorded by another version are re-recorded."""

EXPERTS = {e.id: e for e in [*(CurveExpert(s) for s in CURVE_STYLES.values()),
                            *(ParkingExpert(s) for s in PARKING_STYLES.values())]}


def get_expert(name: str):
    """`expert:tidy` or just `tidy`."""
    key = name if name.startswith("expert:") else f"expert:{name}"
    if key not in EXPERTS:
        raise UnknownIdError("expert", name, list(EXPERTS))
    return EXPERTS[key]


def experts_for(spec) -> list:
    """The experts meant for a scenario (their `supports` returns no reason)."""
    return [e for e in EXPERTS.values() if e.supports(spec) is None]
