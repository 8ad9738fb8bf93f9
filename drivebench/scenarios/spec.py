"""Typed scenario specs, loaded once from a TOML file and never mutated.

A scenario file is data only: `scenarios/<name>.toml` becomes the gymnasium id `drivebench/<name>-v<version>`.
Units are SI unless a field name says otherwise (`*_deg` are degrees). Coordinates follow highway-env: x to the
east, y to the south (the y axis points down on screen), so a heading that increases turns the car to its right.

Every mistake in a file is reported as `ScenarioError(file, [(field, what is wrong and what is allowed)])`.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from drivebench.errors import ScenarioError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError(f"a range is [low, high] with low <= high, got [{value[0]}, {value[1]}]")
    return value


Range = Annotated[tuple[float, float], AfterValidator(_ordered)]
"""A closed interval [low, high] from which a value is drawn uniformly with the episode's seed."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------------------------------------- curves
class Straight(_Spec):
    kind: Literal["straight"]
    length: float = Field(gt=0, le=2000, description="length of the road centreline [m]")


class Arc(_Spec):
    kind: Literal["arc"]
    radius: float = Field(gt=0, le=5000, description="radius of the road centreline [m]")
    angle_deg: float = Field(gt=0, le=330, description="how far the road turns [deg]")
    direction: Literal["left", "right"] = Field(description="the way the road turns, seen by the driver")


Segment = Annotated[Union[Straight, Arc], Field(discriminator="kind")]


class CurveRoad(_Spec):
    segments: list[Segment] = Field(min_length=1, description="road pieces, in driving order")
    lanes: int = Field(default=1, ge=1, le=4, description="number of lanes, all in the driving direction")
    lane_width: float = Field(default=4.0, ge=2.5, le=6.0, description="width of each lane [m]")
    speed_limit: float = Field(gt=0, le=40, description="speed limit [m/s]")
    offroad_grace: float = Field(
        default=2.0, ge=0, le=20, description="how far past the road edge the car centre may go before the "
        "episode ends as off-road [m]"
    )


class Traffic(_Spec):
    count: int = Field(default=0, ge=0, le=30, description="vehicles placed ahead of the ego car")
    speed: Range = Field(default=(8.0, 10.0), description="their target speed [m/s]")
    first_gap: Range = Field(default=(30.0, 40.0), description="distance from the ego car to the first [m]")
    spacing: Range = Field(default=(25.0, 40.0), description="distance between consecutive vehicles [m]")


class CurveStart(_Spec):
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


class _Scenario(_Spec):
    """Fields every scenario family has."""

    name: str = Field(description="the file name without .toml; set by the loader")
    description: str = ""
    version: int = Field(default=0, ge=0, description="bump when dynamics, reward or termination change")
    horizon: int = Field(default=300, ge=10, le=5000, description="episode length limit [steps]")
    policy_frequency: int = Field(default=5, ge=1, le=30, description="decisions per second [Hz]")
    simulation_frequency: int = Field(default=15, ge=1, le=60, description="physics steps per second [Hz]")


class CurveScenario(_Scenario):
    """A road built from straight and arc segments; success is reaching its end on the road, uncrashed."""

    family: Literal["curve"]
    road: CurveRoad
    traffic: Traffic = Traffic()
    start: CurveStart = CurveStart()


# ---------------------------------------------------------------------------------------------- parking
BAY_PATTERN = r"^[NS][0-9]+$"
BayId = Annotated[str, Field(pattern=BAY_PATTERN, description="'N<i>' or 'S<i>': row and index from the west")]


class LotLayout(_Spec):
    bays_per_row: int = Field(ge=1, le=40, description="bays in each row, numbered 0.. from the west")
    rows: Literal[1, 2] = Field(default=2, description="1: a north row only; 2: north and south of the aisle")
    bay_width: float = Field(default=3.5, ge=2.5, le=6.0, description="[m]")
    bay_depth: float = Field(default=6.0, ge=5.5, le=10.0, description="[m]")
    aisle_width: float = Field(default=12.0, ge=6.0, le=25.0, description="[m]")
    margin: float = Field(
        default=10.0, ge=4.0, le=50.0, description="open space at each end of the aisle, beyond the bays [m]"
    )
    walls: bool = Field(default=True, description="walls around the lot (a car that leaves it crashes)")


class Occupancy(_Spec):
    occupied: list[BayId] = Field(default=[], description="bays that always hold a parked car")
    count: int = Field(default=0, ge=0, description="further parked cars, in free bays drawn from the seed")


class Goal(_Spec):
    bay: BayId
    orientation: Literal["nose-in", "reverse-in", "any"] = Field(
        default="nose-in", description="nose-in: the car faces into the bay; reverse-in: it faces the aisle"
    )
    position_tolerance: float = Field(
        default=0.25, ge=0.0, le=2.0, description="how far a body corner may stick out of the bay [m]"
    )
    heading_tolerance_deg: float = Field(default=10.0, gt=0, le=45, description="[deg]")
    stop_speed: float = Field(default=0.3, gt=0, le=2, description="the car counts as stopped below this [m/s]")


class ParkingStart(_Spec):
    x: Range = Field(default=(3.0, 6.0), description="from the lot's west end along the aisle [m]")
    y: Range = Field(default=(-1.0, 1.0), description="from the aisle centre line, + to the south [m]")
    heading_deg: Range = Field(default=(-10.0, 10.0), description="0 faces east along the aisle [deg]")
    speed: Range = Field(default=(0.0, 2.0), description="[m/s]")


class ParkingScenario(_Scenario):
    """A lot with one aisle and rows of bays; success is stopping inside the goal bay, facing the right way."""

    family: Literal["parking"]
    horizon: int = Field(default=250, ge=10, le=5000, description="episode length limit [steps]")
    lot: LotLayout
    occupancy: Occupancy = Occupancy()
    goal: Goal
    start: ParkingStart = ParkingStart()


ScenarioSpec = Annotated[Union[CurveScenario, ParkingScenario], Field(discriminator="family")]
_ADAPTER: TypeAdapter = TypeAdapter(ScenarioSpec)
_ALL_FIELDS = sorted(
    {name for model in (CurveScenario, ParkingScenario, CurveRoad, Straight, Arc, Traffic, CurveStart, LotLayout,
                        Occupancy, Goal, ParkingStart) for name in model.model_fields}
)


def scenario_id(spec: CurveScenario | ParkingScenario) -> str:
    """The gymnasium id: `drivebench/<name>-v<version>`."""
    return f"drivebench/{spec.name}-v{spec.version}"


def spec_hash(spec: CurveScenario | ParkingScenario) -> str:
    """sha256 of the spec's canonical JSON: identifies the exact scenario a demo or result was made on."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def canonical_json(spec: CurveScenario | ParkingScenario) -> str:
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def parse_spec(data: dict, *, file: str | Path = "<spec>") -> CurveScenario | ParkingScenario:
    """Validate a spec given as data (e.g. from JSON). Raises ScenarioError naming each bad field."""
    try:
        spec = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ScenarioError(file, [_describe(err) for err in exc.errors()]) from None
    problems = _consistency_problems(spec)
    if problems:
        raise ScenarioError(file, problems)
    return spec


def load_scenario(path: str | Path) -> CurveScenario | ParkingScenario:
    """Read and validate one scenario file; its name is the file name without `.toml`."""
    path = Path(path)
    if path.suffix != ".toml":
        raise ScenarioError(path, [("(file)", "scenario files are TOML: name it <name>.toml")])
    if not NAME_PATTERN.match(path.stem):
        raise ScenarioError(path, [("(file name)", "use lower-case words joined by '-', e.g. curve-gentle.toml")])
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(path, [("(file)", "no such file")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [("(syntax)", f"not valid TOML: {exc}")]) from None
    if "name" in data:
        raise ScenarioError(path, [("name", "remove it: the scenario's name is its file name")])
    return parse_spec({**data, "name": path.stem}, file=path)


def _describe(err: dict) -> tuple[str, str]:
    loc = err["loc"]
    # Drop the union tags pydantic inserts ("curve", "straight") so the path reads like the file.
    parts: list[str] = []
    for i, part in enumerate(loc):
        if i == 0 and part in ("curve", "parking"):
            continue
        if isinstance(part, str) and part in ("straight", "arc") and parts and parts[-1].endswith("]"):
            continue
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        else:
            parts.append(str(part))
    field = ".".join(parts) or "(top level)"
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        unknown = str(loc[-1])
        close = difflib.get_close_matches(unknown, _ALL_FIELDS, n=1)
        msg = f"unknown field{'; did you mean ' + repr(close[0]) + '?' if close else ''}"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
        if loc == () or loc[0] in ("family",):
            field = "family"
        msg = msg.replace("Input tag", "value").replace("found using", "of")
    return field, msg


def _consistency_problems(spec: CurveScenario | ParkingScenario) -> list[tuple[str, str]]:
    """Checks that span several fields (pydantic validated each field alone)."""
    problems: list[tuple[str, str]] = []
    if not NAME_PATTERN.match(spec.name):
        problems.append(("name", "use lower-case words joined by '-'"))
    if spec.simulation_frequency % spec.policy_frequency:
        problems.append(("simulation_frequency", "must be a multiple of policy_frequency"))
    if isinstance(spec, CurveScenario):
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
    else:
        lot, occ = spec.lot, spec.occupancy
        bays = valid_bays(lot)
        for i, bay in enumerate(occ.occupied):
            if bay not in bays:
                problems.append((f"occupancy.occupied[{i}]", f"no bay {bay!r}: {_bay_range(lot)}"))
        if spec.goal.bay not in bays:
            problems.append(("goal.bay", f"no bay {spec.goal.bay!r}: {_bay_range(lot)}"))
        if spec.goal.bay in occ.occupied:
            problems.append(("goal.bay", "the goal bay is listed in occupancy.occupied"))
        free = len(bays) - len(set(occ.occupied)) - 1
        if occ.count > free:
            problems.append(("occupancy.count", f"only {free} free bays besides the goal"))
        length = 2 * lot.margin + lot.bays_per_row * lot.bay_width
        if not (1.0 <= spec.start.x[0] and spec.start.x[1] <= length - 1.0):
            problems.append(("start.x", f"must lie in the lot: within [1, {length - 1:.1f}] m"))
        if max(abs(spec.start.y[0]), abs(spec.start.y[1])) > lot.aisle_width / 2 - 1.2:
            problems.append(("start.y", f"must keep the car in the aisle: within +-{lot.aisle_width / 2 - 1.2:.1f} m"))
    return problems


def valid_bays(lot: LotLayout) -> list[str]:
    rows = "NS"[: lot.rows]
    return [f"{row}{i}" for row in rows for i in range(lot.bays_per_row)]


def _bay_range(lot: LotLayout) -> str:
    rows = " and ".join(f"{r}0..{r}{lot.bays_per_row - 1}" for r in "NS"[: lot.rows])
    return f"this lot has bays {rows}"


def field_docs(model: type[BaseModel] = CurveScenario, prefix: str = "") -> list[tuple[str, str]]:
    """(field path, description) for every documented field: what `drivebench scenarios show` explains."""
    rows = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if sub is not None:
            rows += field_docs(sub, f"{prefix}{name}.")
        elif info.description:
            rows.append((f"{prefix}{name}", info.description))
    return rows
