"""drivebench.scenarios.spec: loading, validation messages, hashing, field docs."""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

from typing import Literal, get_args, get_origin

import pytest

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from drivebench.errors import DrivebenchError, ScenarioError
from drivebench.paths import REPO_ROOT
from drivebench.families.curve.spec import CurveRoad, CurveScenario
from drivebench.families.parking.spec import ParkingScenario, valid_bays
from drivebench.families.curve.geometry import build_centreline, closest_overlap
from drivebench.scenarios import family as families
from drivebench.scenarios.spec import (bounds, field_docs, interval_text, load_scenario, parse_spec, scenario_id,
                                       spec_hash)

SHIPPED = sorted((REPO_ROOT / "scenarios").glob("*.toml"))


def expect_error(path: Path, field: str, *fragments: str) -> ScenarioError:
    """Load `path`, expect a ScenarioError naming the file and `field`, with each fragment in that field's text."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    text = str(err)
    assert err.file == str(path)
    assert str(path) in text.splitlines()[0]
    fields = [f for f, _ in err.problems]
    assert field in fields, f"{field!r} not among {fields}"
    message = " | ".join(m for f, m in err.problems if f == field)
    assert f"  {field}: " in text  # the message lists the field, as the CLI prints it
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return err


def nested_set(data: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[last] = value


def nested_del(data: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[key]
    del data[last]


# ---------------------------------------------------------------------------------------------- valid files
def test_base_fixtures_load(curve_data, parking_data, write_scenario):
    """The mutations below start from these; they must be valid so each error is the mutation's."""
    curve = load_scenario(write_scenario(curve_data, "base-curve"))
    parking = load_scenario(write_scenario(parking_data, "base-parking"))
    assert isinstance(curve, CurveScenario) and curve.name == "base-curve"
    assert isinstance(parking, ParkingScenario) and parking.name == "base-parking"
    assert scenario_id(curve) == "drivebench/base-curve-v0"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_loads(path):
    spec = load_scenario(path)
    assert spec.name == path.stem
    assert spec.family in ("curve", "parking")
    assert spec.simulation_frequency % spec.policy_frequency == 0
    assert scenario_id(spec) == f"drivebench/{path.stem}-v{spec.version}"
    if isinstance(spec, ParkingScenario):
        assert spec.goal.bay in valid_bays(spec.lot)
        assert spec.goal.bay not in spec.occupancy.occupied


def test_shipped_scenarios_exist():
    names = {p.stem for p in SHIPPED}
    assert {"curve-gentle", "curve-hairpin", "curve-s-bend", "curve-traffic", "parking-crowded", "parking-empty",
            "parking-reverse"} <= names


def test_specs_are_frozen(curve_data):
    spec = parse_spec({**curve_data, "name": "frozen"})
    with pytest.raises(ValidationError, match="frozen"):
        spec.horizon = 5
    with pytest.raises(ValidationError, match="frozen"):
        spec.road.lanes = 3


def test_boundary_values_are_accepted(curve_data, parking_data, write_scenario):
    # inner road edge exactly 6 m: 10 - 2 * 4 / 2 = 6
    curve_data["road"]["segments"][1]["radius"] = 10.0
    assert load_scenario(write_scenario(curve_data, "inner-six")).road.segments[1].radius == 10.0
    # 12 bays, goal N2 and N1 taken: exactly 10 free bays remain for the drawn cars
    parking_data["occupancy"] = {"occupied": ["N1"], "count": 10}
    assert load_scenario(write_scenario(parking_data, "all-full")).occupancy.count == 10


# ---------------------------------------------------------------------------------------------- field errors
def _curve_cases():
    seg = "road.segments[1]"
    return [
        # unknown fields, with suggestions
        ("typo-radius", lambda d: d["road"]["segments"][1].update(radiu=d["road"]["segments"][1].pop("radius")),
         f"{seg}.radiu", ["unknown field", "did you mean 'radius'"]),
        ("typo-top", lambda d: d.update(horizn=d.pop("horizon")), "horizn", ["did you mean 'horizon'"]),
        ("typo-road", lambda d: d["road"].update(lane_widht=d["road"].pop("lane_width")), "road.lane_widht",
         ["did you mean 'lane_width'"]),
        ("unknown-no-guess", lambda d: d.update(zzzzqqq=1), "zzzzqqq", ["unknown field"]),
        # missing required fields
        ("missing-speed-limit", lambda d: nested_del(d, "road.speed_limit"), "road.speed_limit",
         ["required field is missing"]),
        ("missing-road", lambda d: nested_del(d, "road"), "road", ["required field is missing"]),
        ("missing-length", lambda d: nested_del(d["road"]["segments"][0], "length"), "road.segments[0].length",
         ["required field is missing"]),
        # not finite: NaN and inf name their field (pydantic's allow_inf_nan=False on every model)
        ("nan-start-speed", lambda d: nested_set(d, "start.speed", [float("nan"), float("nan")]), "start.speed[0]",
         ["finite number"]),
        ("inf-speed-limit", lambda d: nested_set(d, "road.speed_limit", float("inf")), "road.speed_limit",
         ["finite number"]),
        # absurd magnitudes: each numeric field has a plausible interval, named in the message
        ("huge-start-speed", lambda d: nested_set(d, "start.speed", [1e308, 1e308]), "start.speed",
         ["must lie within [0, 40]", "1e+308"]),
        ("huge-speed-limit", lambda d: nested_set(d, "road.speed_limit", 1e308), "road.speed_limit",
         ["less than or equal to 40", "allowed (0, 40] m/s"]),
        ("negative-gap", lambda d: nested_set(d, "traffic.first_gap", [-1e308, 10]), "traffic.first_gap",
         ["must lie within [5, 1000]"]),
        ("lane-beyond-four", lambda d: nested_set(d, "start.lane", 4), "start.lane", ["0, 1, ... 3", "'any'"]),
        ("too-many-segments", lambda d: nested_set(d, "road.segments", [{"kind": "straight", "length": 10}] * 101),
         "road.segments", ["at most 100"]),
        ("too-long", lambda d: nested_set(d, "road.segments", [{"kind": "straight", "length": 2000}] * 11),
         "road.segments", ["22.0 km long", "at most 20 km"]),
        # wrong types
        ("type-speed-limit", lambda d: nested_set(d, "road.speed_limit", "fast"), "road.speed_limit",
         ["number"]),
        ("type-lanes", lambda d: nested_set(d, "road.lanes", "two"), "road.lanes", ["integer"]),
        ("type-segments", lambda d: nested_set(d, "road.segments", "straight"), "road.segments", ["list"]),
        ("type-range", lambda d: nested_set(d, "start.speed", "fast"), "start.speed", []),
        ("type-range-item", lambda d: nested_set(d, "start.speed", ["fast", 10]), "start.speed[0]", ["number"]),
        # out of range
        ("negative-radius", lambda d: d["road"]["segments"][1].update(radius=-5.0), f"{seg}.radius",
         ["greater than 0"]),
        ("nine-lanes", lambda d: nested_set(d, "road.lanes", 9), "road.lanes", ["less than or equal to 4"]),
        ("angle-400", lambda d: d["road"]["segments"][1].update(angle_deg=400), f"{seg}.angle_deg",
         ["less than or equal to 330"]),
        ("short-horizon", lambda d: nested_set(d, "horizon", 5), "horizon", ["greater than or equal to 10"]),
        ("bad-direction", lambda d: d["road"]["segments"][1].update(direction="up"), f"{seg}.direction",
         ["'left'", "'right'"]),
        # discriminators
        ("bad-kind", lambda d: d["road"]["segments"][1].update(kind="curvy"), seg, ["'curvy'", "'kind'"]),
        ("bad-family", lambda d: d.update(family="boat"), "family", ["'boat'", "'curve'", "'parking'"]),
        ("no-family", lambda d: d.pop("family"), "family", []),
        # ranges
        ("range-reversed", lambda d: nested_set(d, "start.speed", [10.0, 5.0]), "start.speed", ["low <= high"]),
        ("traffic-range-reversed", lambda d: nested_set(d, "traffic.spacing", [40, 20]), "traffic.spacing",
         ["low <= high"]),
        # consistency
        ("lane-too-high", lambda d: nested_set(d, "start.lane", 2), "start.lane", ["0..1", "'any'"]),
        ("freq", lambda d: d.update(policy_frequency=4, simulation_frequency=15), "simulation_frequency",
         ["multiple of policy_frequency"]),
        ("inner-edge", lambda d: d["road"]["segments"][1].update(radius=9.0), f"{seg}.radius",
         ["inner road edge", "6 m"]),
        # radius 12 m is fine for 2 lanes of 4 m (inner edge 8 m) but not for 4 (inner edge 4 m)
        ("inner-edge-lanes", lambda d: (d["road"]["segments"][1].update(radius=12.0), nested_set(d, "road.lanes", 4)),
         f"{seg}.radius", ["inner road edge has radius 4.0 m"]),
        ("start-too-late", lambda d: nested_set(d, "start.position", [100.0, 150.0]), "start.position",
         ["20 m before"]),
    ]


def _parking_cases():
    return [
        ("missing-goal-bay", lambda d: nested_del(d, "goal.bay"), "goal.bay", ["required field is missing"]),
        ("missing-lot", lambda d: nested_del(d, "lot"), "lot", ["required field is missing"]),
        ("typo-lot", lambda d: d["lot"].update(bays_per_rwo=d["lot"].pop("bays_per_row")), "lot.bays_per_rwo",
         ["did you mean 'bays_per_row'"]),
        ("type-walls", lambda d: nested_set(d, "lot.walls", [1, 2]), "lot.walls", ["boolean"]),
        ("bays-zero", lambda d: nested_set(d, "lot.bays_per_row", 0), "lot.bays_per_row",
         ["greater than or equal to 1"]),
        ("rows-three", lambda d: nested_set(d, "lot.rows", 3), "lot.rows", []),
        ("goal-pattern", lambda d: nested_set(d, "goal.bay", "X1"), "goal.bay", []),
        ("goal-not-in-lot", lambda d: nested_set(d, "goal.bay", "N6"), "goal.bay", ["no bay 'N6'", "N0..N5"]),
        ("goal-south-one-row", lambda d: (nested_set(d, "lot.rows", 1), nested_set(d, "goal.bay", "S0")), "goal.bay",
         ["no bay 'S0'"]),
        ("goal-occupied", lambda d: nested_set(d, "occupancy.occupied", ["N1", "N2"]), "goal.bay",
         ["occupancy.occupied"]),
        ("occupied-not-in-lot", lambda d: nested_set(d, "occupancy.occupied", ["N1", "S9"]), "occupancy.occupied[1]",
         ["no bay 'S9'"]),
        # 12 bays - goal - N1 = 10 free
        ("count-too-large", lambda d: nested_set(d, "occupancy", {"occupied": ["N1"], "count": 11}),
         "occupancy.count", ["only 10 free bays"]),
        ("start-x-outside", lambda d: nested_set(d, "start.x", [3.0, 45.0]), "start.x", ["must lie in the lot"]),
        ("start-x-wall", lambda d: nested_set(d, "start.x", [0.0, 5.0]), "start.x", ["must lie in the lot"]),
        ("start-y-outside", lambda d: nested_set(d, "start.y", [-1.0, 5.5]), "start.y", ["aisle"]),
        ("heading-reversed", lambda d: nested_set(d, "start.heading_deg", [10, -10]), "start.heading_deg",
         ["low <= high"]),
        ("tolerance-range", lambda d: nested_set(d, "goal.heading_tolerance_deg", 0), "goal.heading_tolerance_deg",
         ["greater than 0"]),
        ("orientation", lambda d: nested_set(d, "goal.orientation", "sideways"), "goal.orientation", []),
        ("huge-count", lambda d: nested_set(d, "occupancy.count", 10**12), "occupancy.count",
         ["less than or equal to 80", "allowed [0, 80]"]),
        ("huge-start-speed", lambda d: nested_set(d, "start.speed", [1e308, 1e308]), "start.speed",
         ["must lie within [-5, 15]"]),
        ("huge-bay-index", lambda d: nested_set(d, "goal.bay", "N" + "9" * 40), "goal.bay", ["pattern"]),
    ]


@pytest.mark.parametrize("case, mutate, field, fragments", _curve_cases(), ids=[c[0] for c in _curve_cases()])
def test_curve_field_errors(curve_data, write_scenario, case, mutate, field, fragments):
    mutate(curve_data)
    expect_error(write_scenario(curve_data, case), field, *fragments)


@pytest.mark.parametrize("case, mutate, field, fragments", _parking_cases(), ids=[c[0] for c in _parking_cases()])
def test_parking_field_errors(parking_data, write_scenario, case, mutate, field, fragments):
    mutate(parking_data)
    expect_error(write_scenario(parking_data, case), field, *fragments)


def test_all_problems_are_reported_at_once(curve_data, write_scenario):
    curve_data["road"]["lanes"] = 9
    curve_data["road"]["segments"][1]["radius"] = -1
    del curve_data["road"]["speed_limit"]
    err = expect_error(write_scenario(curve_data, "many"), "road.lanes")
    assert {"road.lanes", "road.segments[1].radius", "road.speed_limit"} <= {f for f, _ in err.problems}


# ---------------------------------------------------------------------------------------------- file errors
def test_name_key_is_rejected(curve_data, write_scenario):
    expect_error(write_scenario({**curve_data, "name": "other"}, "named"), "name", "file name")


@pytest.mark.parametrize("stem", ["Bad_Name", "bad_name", "1curve", "curve--x", "curve-"])
def test_bad_file_name(curve_data, write_scenario, stem):
    path = write_scenario(curve_data, stem)
    err = expect_error(path, "(file name)", "lower-case")
    assert f"{stem}.toml" in str(err)


def test_not_a_toml_file(curve_data, write_scenario):
    expect_error(write_scenario(curve_data, "curve", suffix=".yaml"), "(file)", "TOML")


def test_invalid_toml_syntax(write_scenario):
    expect_error(write_scenario('family = "curve"\n[road\nlanes = 2\n', "broken"), "(syntax)", "not valid TOML")


def test_missing_file(tmp_path):
    expect_error(tmp_path / "does-not-exist.toml", "(file)", "no such file")


def test_scenario_error_is_a_drivebench_error():
    assert issubclass(ScenarioError, DrivebenchError)
    err = ScenarioError("x.toml", [("road.lanes", "too many"), ("horizon", "too short")])
    assert str(err).splitlines() == ["x.toml: invalid scenario", "  road.lanes: too many", "  horizon: too short"]


def test_parse_spec_names_its_source(curve_data):
    with pytest.raises(ScenarioError) as info:
        parse_spec({**curve_data, "name": "Upper"}, file="from-json")
    assert info.value.file == "from-json"
    assert "name" in [f for f, _ in info.value.problems]
    with pytest.raises(ScenarioError) as info:
        parse_spec({k: v for k, v in curve_data.items() if k != "road"} | {"name": "x"})
    assert info.value.file == "<spec>"


def test_negative_start_lane_is_rejected(curve_data, write_scenario):
    curve_data["start"]["lane"] = -1
    expect_error(write_scenario(curve_data, "negative-lane"), "start.lane")


# ---------------------------------------------------------------------------------------------- bounds
def _numeric_fields(model: type[BaseModel], path: tuple = ()):
    """(path, field info, is a range) of every numeric field of `model` and of the models nested in it; an item of a
    list of models is written as its `kind` tag (e.g. ("road", "segments", "arc", "radius")). Literal choices (a
    lot's rows: 1 or 2) are not numeric."""
    for name, info in model.model_fields.items():
        ann, here = info.annotation, (*path, name)
        if get_origin(ann) is list:
            item = get_args(ann)[0]
            item = get_args(item)[0] if get_args(item) and get_origin(get_args(item)[0]) is not None else item
            for kind in get_args(item) or [item]:
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    tag = get_args(kind.model_fields["kind"].annotation)[0]
                    yield from _numeric_fields(kind, (*here, tag))
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _numeric_fields(ann, here)
        elif ann in (int, float) or ann == tuple[float, float] or (int in get_args(ann) and get_origin(ann) is not Literal):
            yield here, info, ann == tuple[float, float]


NUMERIC = [(family, path, info, is_range) for family in ("curve", "parking")
           for path, info, is_range in _numeric_fields(families.get(family).spec_model)]


def _locate(data: dict, path: tuple) -> tuple[object, object, str]:
    """(container, key, error path) of `path` in scenario data: a kind tag picks the list's first item of that kind."""
    parts, parent, key = [], None, None
    target = data
    for part in path:
        if isinstance(target, list):
            key = next(i for i, item in enumerate(target) if item.get("kind") == part)
            parts[-1] += f"[{key}]"
        else:
            key = part
            parts.append(part)
            target.setdefault(part, {})
        parent, target = target, target[key]
    return parent, key, ".".join(parts)


@pytest.mark.parametrize("family, path, info, is_range", NUMERIC,
                         ids=[f"{f}:{'.'.join(p)}" for f, p, _, _ in NUMERIC])
def test_every_numeric_field_has_a_documented_bound_and_absurd_values_name_it(
        family, path, info, is_range, curve_data, parking_data, write_scenario):
    """Each numeric field of each family (the common ones too) has a finite interval of physically plausible
    values, written in its description (with the unit, where it has one); values far outside it on either side
    are rejected naming the field and that interval."""
    if path == ("start", "lane") and family == "curve":  # an index or 'any': its validator bounds it (0..3)
        return
    found = bounds(info)
    assert found is not None and None not in found[1:3], f"{path} has no upper or lower bound"
    allowed = interval_text(info)
    assert allowed in info.description, f"{path}: the description {info.description!r} does not say {allowed}"
    for absurd in (1e308, -1e308):
        data = copy.deepcopy(curve_data if family == "curve" else parking_data)
        parent, key, field = _locate(data, path)
        value = absurd if info.annotation is not int else int(math.copysign(10**15, absurd))
        parent[key] = [value, value] if is_range else value
        expect_error(write_scenario(data, f"absurd-{family}"), field, allowed)


def test_numeric_fields_are_all_found():
    """The walk above reaches the nested, list and common fields (so a field added later is checked too)."""
    fields = {(f, ".".join(p)) for f, p, _, _ in NUMERIC}
    assert {("curve", "horizon"), ("curve", "version"), ("curve", "road.segments.arc.radius"),
            ("curve", "road.segments.straight.length"), ("curve", "start.speed"), ("curve", "start.lane"),
            ("curve", "traffic.spacing"), ("parking", "occupancy.count"), ("parking", "start.y"),
            ("parking", "goal.stop_speed"), ("parking", "lot.margin"), ("parking", "policy_frequency")} <= fields
    assert ("parking", "lot.rows") not in fields  # Literal[1, 2]: a choice, not a magnitude


# ---------------------------------------------------------------------------------------------- roads that cross
def _arc(radius, angle, direction):
    return {"kind": "arc", "radius": radius, "angle_deg": angle, "direction": direction}


def _straight(length):
    return {"kind": "straight", "length": length}


S_LOOP = [_straight(30), _arc(20, 265, "left"), _arc(20, 265, "right"), _straight(30)]
"""An S of two 265-degree arcs: the second loop comes back within 5.5 m of the first straight."""


@pytest.mark.parametrize("case, segments, road, fragments", [
    ("arc-330", [_straight(40), _arc(30, 330, "left"), _straight(40)], {},
     ["crosses itself", "segment 0 (straight, 32 m along the road)", "segment 2 (straight, 221 m along the road)"]),
    ("s-loop-wide", S_LOOP, {"lanes": 2, "lane_width": 3.0},
     ["crosses itself", "segment 0 (straight", "segment 2 (arc", "within 5.5 m", "width (6 m: 2 lane(s) x 3 m)"]),
    ("s-loop-270", [_straight(30), _arc(20, 270, "left"), _arc(20, 270, "right"), _straight(30)], {"lanes": 1},
     ["crosses itself", "segment 1 (arc", "segment 3 (straight"]),
    # the road itself does not cross, but its continuation past the end (along which progress is measured) does
    ("continuation", [_straight(60), _arc(30, 270, "left"), _straight(5)], {"lanes": 1},
     ["crosses itself", "segment 0 (straight", "continuation past its end", "count as arrived"]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_road_that_crosses_itself_is_rejected_naming_where(curve_data, write_scenario, case, segments, road,
                                                             fragments):
    curve_data["road"].update(segments=segments, **road)
    curve_data["start"] = {"lane": 0}
    expect_error(write_scenario(curve_data, case), "road.segments", *fragments)


def test_the_crossing_check_counts_the_roads_width(curve_data, write_scenario):
    """The same S-shaped centreline is valid as a 2.5 m road and invalid as a 6 m one (parts 5.5 m apart)."""
    curve_data["road"].update(segments=S_LOOP, lanes=1, lane_width=2.5)
    curve_data["start"] = {"lane": 0}
    narrow = load_scenario(write_scenario(curve_data, "narrow"))
    assert closest_overlap(narrow.road) is None
    curve_data["road"].update(lane_width=6.0)
    expect_error(write_scenario(curve_data, "wide"), "road.segments", "within 5.5 m", "6 m: 1 lane(s) x 6 m")


def test_closest_overlap_measures_the_true_distance(curve_data):
    """Two parallel straights joined by a 180-degree turn are 2 r apart: no overlap at any width the inner-edge
    check allows; the overlap found on a 330-degree loop is where its centreline crosses (distance ~ 0)."""
    def road(segments, lanes=2):
        return parse_spec({**curve_data, "name": "r", "road": {**curve_data["road"], "lanes": lanes,
                                                                "segments": segments}}).road

    for radius, lanes in ((10.0, 2), (30.0, 4)):
        assert closest_overlap(road([_straight(50), _arc(radius, 180, "left"), _straight(50)], lanes)) is None
    # (parse_spec rejects this road: validate the road alone, without the scenario's cross-field checks)
    loop = CurveRoad.model_validate({**curve_data["road"], "segments": [_straight(40), _arc(30, 330, "left"),
                                                                        _straight(40)]})
    found = closest_overlap(loop)
    assert found is not None and found.distance < 1.0 and found.width == 8.0
    assert 0 <= found.s_a < found.s_b <= build_centreline(loop).length


# ---------------------------------------------------------------------------------------------- hashing
def test_spec_hash_is_the_sha256_of_the_canonical_json(curve_data):
    spec = parse_spec({**curve_data, "name": "h"})
    digest = spec_hash(spec)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)  # lower-case hex, nothing else (int(_, 16) accepts much more)
    # by hand: the validated spec with every default filled in, keys sorted, no whitespace
    data = spec.model_dump(mode="json")
    assert data["road"]["offroad_grace"] == 2.0 and data["traffic"]["count"] == 0  # defaults are in the dump
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert digest == hashlib.sha256(canonical.encode()).hexdigest()


CURVE_BASE_REWRITTEN = """\
# the tests' base curve, written another way: keys in another order, ints for floats, other spacing
horizon   =   100
family = "curve"

[start]
lane = 0

[road]
segments = [
  { length = 40, kind = "straight" },
  { direction = "right", angle_deg = 90, radius = 5e1, kind = "arc" },
  { kind = "straight", length = 40.0 },
]
speed_limit = 12
lane_width = 4
lanes = 2
"""


def test_spec_hash_is_stable(curve_data, write_scenario, tmp_path):
    a = parse_spec({**curve_data, "name": "h"})
    # the same data with keys in another order
    reordered = {k: curve_data[k] for k in reversed(list(curve_data))}
    reordered["road"] = {k: curve_data["road"][k] for k in reversed(list(curve_data["road"]))}
    b = parse_spec({**reordered, "name": "h"})
    assert a == b
    assert spec_hash(a) == spec_hash(b)
    # the same scenario as two differently written files
    other = tmp_path / "other"
    other.mkdir()
    (other / "h.toml").write_text(CURVE_BASE_REWRITTEN)
    from_file, from_other_file = load_scenario(write_scenario(curve_data, "h")), load_scenario(other / "h.toml")
    assert spec_hash(from_file) == spec_hash(from_other_file) == spec_hash(a)
    # the round trip a spec makes to an evaluation worker (model_dump, then parse_spec) keeps the hash
    assert spec_hash(parse_spec(a.model_dump(mode="json"))) == spec_hash(a)
    assert spec_hash(parse_spec(json.loads(json.dumps(a.model_dump(mode="json"))))) == spec_hash(a)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_spec_hash_of_a_file_is_reproducible(path):
    assert spec_hash(load_scenario(path)) == spec_hash(load_scenario(path))


def test_spec_hash_does_not_depend_on_the_process():
    """Results and demos made in other processes (workers, other machines) carry the same hashes: nothing in the
    hash may depend on the interpreter's string hashing (e.g. set order) or on object identity."""
    script = ("import sys; from pathlib import Path; from drivebench.scenarios.spec import load_scenario, spec_hash; "
              "print(' '.join(spec_hash(load_scenario(Path(p))) for p in sys.argv[1:]))")
    here = [spec_hash(load_scenario(p)) for p in SHIPPED]
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", script, *map(str, SHIPPED)], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        assert out.split() == here


@pytest.mark.parametrize("change", [
    lambda d: d.update(horizon=101),
    lambda d: d["road"].update(lane_width=3.5),
    lambda d: d["road"]["segments"][1].update(direction="left"),
    lambda d: d["start"].update(lane="any"),
    lambda d: d.update(description="other words"),
    lambda d: d.update(version=1),
    lambda d: d["road"]["segments"][1].update(radius=49.0),
    lambda d: d["road"]["segments"][1].update(angle_deg=91.0),
    lambda d: d["road"]["segments"][0].update(length=41.0),
    lambda d: d["road"]["segments"].append({"kind": "straight", "length": 10.0}),
    lambda d: d["road"].update(lanes=3),
    lambda d: d["road"].update(speed_limit=13.0),
    lambda d: d["road"].update(offroad_grace=1.5),
    lambda d: d.update(traffic={"count": 1}),
    lambda d: d["start"].update(speed=[8.0, 11.0]),
    lambda d: d.update(policy_frequency=3),
], ids=["horizon", "lane_width", "direction", "start.lane", "description", "version", "radius", "angle_deg",
        "length", "segments", "lanes", "speed_limit", "offroad_grace", "traffic.count", "start.speed",
        "policy_frequency"])
def test_spec_hash_changes_with_any_field(curve_data, change):
    before = spec_hash(parse_spec({**curve_data, "name": "h"}))
    changed = copy.deepcopy(curve_data)
    change(changed)
    assert spec_hash(parse_spec({**changed, "name": "h"})) != before


@pytest.mark.parametrize("change", [
    lambda d: d["goal"].update(bay="N3"),
    lambda d: d["goal"].update(orientation="reverse-in"),
    lambda d: d["lot"].update(bays_per_row=7),
    lambda d: d["lot"].update(walls=False),
    lambda d: d.update(occupancy={"occupied": ["N1"]}),
    lambda d: d.update(start={"x": [3.0, 5.0]}),
], ids=["goal.bay", "goal.orientation", "lot.bays_per_row", "lot.walls", "occupancy.occupied", "start.x"])
def test_spec_hash_changes_with_any_parking_field(parking_data, change):
    before = spec_hash(parse_spec({**parking_data, "name": "h"}))
    changed = copy.deepcopy(parking_data)
    change(changed)
    assert spec_hash(parse_spec({**changed, "name": "h"})) != before


def test_spec_hash_differs_between_shipped_scenarios():
    hashes = [spec_hash(load_scenario(p)) for p in SHIPPED]
    assert len(set(hashes)) == len(hashes)


def test_defaults_hash_like_explicit_values(curve_data):
    """A default written out explicitly is the same scenario."""
    explicit = copy.deepcopy(curve_data)
    explicit["road"]["offroad_grace"] = 2.0
    explicit["traffic"] = {"count": 0}
    assert spec_hash(parse_spec({**curve_data, "name": "h"})) == spec_hash(parse_spec({**explicit, "name": "h"}))


# ---------------------------------------------------------------------------------------------- field docs
def _resolve(model: type[BaseModel], dotted: str):
    info = None
    for part in dotted.split("."):
        name, _, kind = part.partition("[")
        info = model.model_fields[name]
        model = info.annotation
        if kind:  # name[kind]: the list item model whose `kind` is that tag
            model = next(m for m in _leaves(model) if isinstance(m, type) and issubclass(m, BaseModel)
                         and get_args(m.model_fields["kind"].annotation) == (kind.rstrip("]"),))
    return info


def _leaves(annotation) -> list:
    """The types inside an annotation (through list, Union and Annotated)."""
    args = [a for a in get_args(annotation) if not isinstance(a, FieldInfo)]
    return [annotation] if not args else [t for a in args for t in _leaves(a)]


@pytest.mark.parametrize("model", [CurveScenario, ParkingScenario])
def test_field_docs_paths_resolve_to_documented_fields(model):
    rows = field_docs(model)
    paths = [p for p, _ in rows]
    assert len(paths) == len(set(paths))
    for path, doc in rows:
        assert isinstance(doc, str) and doc.strip()
        assert _resolve(model, path).description == doc


def test_field_docs_cover_the_main_fields():
    curve = dict(field_docs(CurveScenario))
    parking = dict(field_docs(ParkingScenario))
    for path in ["horizon", "road.segments", "road.lanes", "road.speed_limit", "road.offroad_grace",
                 "traffic.count", "start.lane", "start.position"]:
        assert path in curve
    for path in ["lot.bays_per_row", "lot.walls", "occupancy.count", "goal.bay", "goal.orientation", "start.x"]:
        assert path in parking
    assert "[m/s]" in curve["road.speed_limit"]
    # the fields of a road's segments, by kind
    assert "(0, 5000]" in curve["road.segments[arc].radius"] and "[m]" in curve["road.segments[straight].length"]
    assert "road.segments" in curve
    # nested models are expanded, never listed as a whole
    assert "road" not in curve and "lot" not in parking
