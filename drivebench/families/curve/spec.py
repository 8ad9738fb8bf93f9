"""The curve family's scenario file: a road of straight and arc segments, optional traffic, a start
distribution. Units are SI unless a field name says otherwise (`*_deg` are degrees)."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field, field_validator

from drivebench.families.curve.geometry import build_centreline, closest_overlap, lane_offsets
from drivebench.scenarios.envs import CAR_WIDTH, OFFROAD_TOLERANCE
from drivebench.scenarios.spec import Range, ScenarioBase, SpecModel

MAX_LANES = 4
MAX_SEGMENTS = 100
MAX_ROAD_LENGTH = 20_000.0
"""The longest road [m]: at the top speed limit (40 m/s) that is over 8 minutes of driving."""


class Straight(SpecModel):
    kind: Literal["straight"]
    length: float = Field(gt=0, le=2000, description="length of the road centreline [m], in (0, 2000]")


class Arc(SpecModel):
    kind: Literal["arc"]
    radius: float = Field(gt=0, le=5000, description="radius of the road centreline [m], in (0, 5000]")
    angle_deg: float = Field(gt=0, le=330, description="how far the road turns [deg], in (0, 330]")
    direction: Literal["left", "right"] = Field(description="the way the road turns, seen by the driver")


Segment = Annotated[Union[Straight, Arc], Field(discriminator="kind")]


class CurveRoad(SpecModel):
    segments: list[Segment] = Field(min_length=1, max_length=MAX_SEGMENTS, description="road pieces, in driving "
                                    f"order: 1 to {MAX_SEGMENTS}, at most {MAX_ROAD_LENGTH / 1000:g} km in all; the "
                                    "road may not cross itself (no two parts closer than its width)")
    lanes: int = Field(default=1, ge=1, le=MAX_LANES, description="number of lanes, all in the driving direction; "
                       f"in [1, {MAX_LANES}]")
    lane_width: float = Field(default=4.0, ge=2.5, le=6.0, description="width of each lane [m], in [2.5, 6]")
    speed_limit: float = Field(gt=0, le=40, description="speed limit [m/s], in (0, 40]")
    offroad_grace: float = Field(
        default=2.0, ge=0, le=20, description="how far past the road edge the car centre may go before the "
        "episode ends as off-road [m], in [0, 20]"
    )


class Traffic(SpecModel):
    count: int = Field(default=0, ge=0, le=30, description="vehicles placed ahead of the ego car, in [0, 30]")
    speed: Range(0, 40) = Field(default=(8.0, 10.0), description="their target speed [m/s], within [0, 40]")
    first_gap: Range(5, 1000) = Field(default=(30.0, 40.0), description="distance from the ego car to the first "
                                      "[m], within [5, 1000] (a car is 5 m long)")
    spacing: Range(5, 1000) = Field(default=(25.0, 40.0), description="distance between consecutive vehicles [m], "
                                    "within [5, 1000]")


class CurveStart(SpecModel):
    lane: int | Literal["any"] = Field(default=0, description=f"start lane, 0 the leftmost, in [0, {MAX_LANES - 1}]"
                                      ", or 'any'")
    position: Range(0, MAX_ROAD_LENGTH) = Field(default=(5.0, 10.0), description="distance along the road [m], "
                                                f"within [0, {MAX_ROAD_LENGTH:g}]")
    lateral_offset: Range(-12, 12) = Field(default=(-0.3, 0.3), description="from the lane centre, + to the right "
                                           "[m], within [-12, 12]")
    heading_deg: Range(-180, 180) = Field(default=(-3.0, 3.0), description="heading error to the lane [deg], "
                                          "within [-180, 180]")
    speed: Range(0, 40) = Field(default=(8.0, 10.0), description="initial speed [m/s], within [0, 40]")

    @field_validator("lane", mode="before")
    @classmethod
    def _lane(cls, value):
        if value == "any" or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_LANES):
            return value
        raise ValueError(f"use a lane index 0, 1, ... {MAX_LANES - 1} or 'any', got {value!r}")


class CurveScenario(ScenarioBase):
    """A road built from straight and arc segments; success is reaching its end on the road, uncrashed."""

    family: Literal["curve"]
    road: CurveRoad
    traffic: Traffic = Traffic()
    start: CurveStart = CurveStart()

    UNION_TAGS: ClassVar[frozenset[str]] = frozenset({"straight", "arc"})

    def problems(self) -> list[tuple[str, str]]:
        """Checks that span several fields (pydantic validated each field alone)."""
        spec, problems = self, []
        lane = spec.start.lane
        if lane != "any" and lane >= spec.road.lanes:
            problems.append(("start.lane", f"the road has {spec.road.lanes} lane(s): use 0..{spec.road.lanes - 1}"
                                           " or 'any'"))
        length = sum(s.length if isinstance(s, Straight) else s.radius * s.angle_deg * 3.141592653589793 / 180
                     for s in spec.road.segments)
        if spec.start.position[1] >= length - 20:
            problems.append(("start.position", f"must end at least 20 m before the road's end ({length:.0f} m)"))
        tight = False
        for i, seg in enumerate(spec.road.segments):
            if isinstance(seg, Arc):
                inner = seg.radius - spec.road.lanes * spec.road.lane_width / 2
                if inner < 6.0:
                    tight = True
                    problems.append((f"road.segments[{i}].radius", f"the inner road edge has radius {inner:.1f} m;"
                                     " a car needs >= 6 m: raise the radius or use fewer/narrower lanes"))
        if lane == "any" or lane < spec.road.lanes:
            lanes = range(spec.road.lanes) if lane == "any" else [lane]
            reach = max(abs(lane_offsets(spec.road)[k] + off) for k in lanes for off in spec.start.lateral_offset)
            edge = spec.road.lanes * spec.road.lane_width / 2 + OFFROAD_TOLERANCE - CAR_WIDTH / 2
            if reach > edge:
                problems.append(("start.lateral_offset", f"puts the car's centre {reach:.1f} m from the road's "
                                                         f"centreline; past {edge:g} m its side is off the road from "
                                                         f"the first step: keep the offsets within the road"))
        if length > MAX_ROAD_LENGTH:
            problems.append(("road.segments", f"the road is {length / 1000:.1f} km long; at most "
                                              f"{MAX_ROAD_LENGTH / 1000:g} km"))
        elif not tight:  # the overlap check assumes every radius is at least half the road's width
            problems += _crossing(spec.road)
        return problems


def _crossing(road: CurveRoad) -> list[tuple[str, str]]:
    """The road.segments problem of a road that comes back over itself (geometry.closest_overlap), if it does."""
    found = closest_overlap(road)
    if found is None:
        return []
    line = build_centreline(road)

    def where(s: float) -> str:
        if s < 0:
            return f"the road's straight continuation before its start ({-s:.0f} m before it)"
        if s > line.length:
            return f"the road's straight continuation past its end ({s - line.length:.0f} m past it)"
        i = next(k for k, p in enumerate(line.pieces) if s <= p.s0 + p.length)
        return f"segment {i} ({road.segments[i].kind}, {s:.0f} m along the road)"

    if found.distance < found.width / 4:
        how = "cross"
    else:
        how = (f"come within {found.distance:.1f} m of each other, closer than the road's width ({found.width:g} m: "
               f"{road.lanes} lane(s) x {road.lane_width:g} m), so they overlap")
    if found.s_b > line.length:
        how += " (past the end, progress is measured along that continuation: a car there would count as arrived)"
    elif found.s_a < 0:
        how += " (before the start, progress is measured along that continuation: a car there would lose its progress)"
    return [("road.segments", f"the road crosses itself: {where(found.s_a)} and {where(found.s_b)} {how}; change the "
                              "segments so that no two parts of the road are closer than its width")]
