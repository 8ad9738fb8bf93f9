"""The curve family's spec-rewriting shifts (eval/shifts.py names them and their levels)."""
from __future__ import annotations


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
