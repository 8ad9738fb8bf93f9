"""The curve family's scenario file: a road of straight and arc segments, optional traffic, a start
distribution. Units are SI unless a field name says otherwise (`*_deg` are degrees)."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field, field_validator

from drivebench.scenarios.spec import Range, ScenarioBase, SpecModel


class Straight(SpecModel):
    kind: Literal["straight"]
    length: float = Field(gt=0, le=2000, description="length of the road centreline [m]")


class Arc(SpecModel):
    kind: Literal["arc"]
    radius: float = Field(gt=0, le=5000, description="radius of the road centreline [m]")
    angle_deg: float = Field(gt=0, le=330, description="how far the road turns [deg]")
    direction: Literal["left", "right"] = Field(description="the way the road turns, seen by the driver")


Segment = Annotated[Union[Straight, Arc], Field(discriminator="kind")]


class CurveRoad(SpecModel):
    segments: list[Segment] = Field(min_length=1, description="road pieces, in driving order")
    lanes: int = Field(default=1, ge=1, le=4, description="number of lanes, all in the driving direction")
    lane_width: float = Field(default=4.0, ge=2.5, le=6.0, description="width of each lane [m]")
    speed_limit: float = Field(gt=0, le=40, description="speed limit [m/s]")
    offroad_grace: float = Field(
        default=2.0, ge=0, le=20, description="how far past the road edge the car centre may go before the "
        "episode ends as off-road [m]"
    )


class Traffic(SpecModel):
    count: int = Field(default=0, ge=0, le=30, description="vehicles placed ahead of the ego car")
    speed: Range = Field(default=(8.0, 10.0), description="their target speed [m/s]")
    first_gap: Range = Field(default=(30.0, 40.0), description="distance from the ego car to the first [m]")
    spacing: Range = Field(default=(25.0, 40.0), description="distance between consecutive vehicles [m]")


class CurveStart(SpecModel):
    lane: int | Literal["any"] = Field(default=0, description="start lane, 0 the leftmost, or 'any'")
    position: Range = Field(default=(5.0, 10.0), description="distance along the road [m]")
    lateral_offset: Range = Field(default=(-0.3, 0.3), description="from the lane centre, + to the right [m]")
    heading_deg: Range = Field(default=(-3.0, 3.0), description="heading error to the lane [deg]")
    speed: Range = Field(default=(8.0, 10.0), description="initial speed [m/s]")

    @field_validator("lane", mode="before")
    @classmethod
    def _lane(cls, value):
        if value == "any" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return value
        raise ValueError(f"use a lane index 0, 1, ... or 'any', got {value!r}")


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
        for i, seg in enumerate(spec.road.segments):
            if isinstance(seg, Arc):
                inner = seg.radius - spec.road.lanes * spec.road.lane_width / 2
                if inner < 6.0:
                    problems.append((f"road.segments[{i}].radius", f"the inner road edge has radius {inner:.1f} m;"
                                     " a car needs >= 6 m: raise the radius or use fewer/narrower lanes"))
        return problems
