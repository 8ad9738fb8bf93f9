"""The curve family's spec-rewriting shifts and its own levels of the shared ones (eval/shifts.py names them)."""
from __future__ import annotations

LEVELS = {
    "bump": {1: {"steps": 2, "steering": 0.2}, 2: {"steps": 4, "steering": 0.2}, 3: {"steps": 6, "steering": 0.2}},
}
"""The bump recalibrated to road speeds. The shared bump forces steering 0.6 (27 deg) for 2/4/6 decisions, sized for
parking at 1.5-4 m/s; a car's heading turns at a rate proportional to its speed, so at 6-15 m/s the same steering
turned the car about three times as far and threw it off the road: the reference driver arrived in 0 of 50
curve-gentle episodes under bump:2. Steering 0.2 turns a car at 10 m/s about as fast as 0.6 turns one at 3 m/s;
the reference driver then recovers at every level (BENCHMARKS.md, "Reference driver and random agent under the
scored conditions")."""


def more_traffic(spec, extra: int) -> dict:
    data = spec.model_dump(mode="json")
    data["traffic"]["count"] += extra
    return data


def tighter_radius(spec, factor: float) -> dict:
    data = spec.model_dump(mode="json")
    for seg in data["road"]["segments"]:
        if seg["kind"] == "arc":
            seg["radius"] *= factor
    return data
