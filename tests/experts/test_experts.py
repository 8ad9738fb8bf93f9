"""drivebench.experts: the registry, every expert on every scenario it supports, and state feedback."""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from drivebench.errors import UnknownIdError
from drivebench.families.curve.experts import CURVE_STYLES, apex_offset, speed_profile
from drivebench.families.parking.experts import PARKING_STYLES, ParkingExpert, plan
from drivebench.experts.registry import all_experts, experts_for, get_expert
from drivebench.scenarios import registry
from drivebench.families.curve.env import CurveEnv
from drivebench.families.curve.geometry import build_centreline
from drivebench.families.parking.geometry import build_lot
from drivebench.scenarios.roads import wrap_angle
from drivebench.families.curve.spec import CurveRoad
from drivebench.scenarios.spec import parse_spec
from drivebench.seeds import demo_seeds

ENTRIES = registry.entries()
PAIRS = [(entry, expert) for entry in ENTRIES for expert in experts_for(entry.spec)]


def drive(env, expert, seed, perturb=None):
    """One episode; returns the infos. `perturb(vehicle)` moves the car right after reset."""
    env.reset(seed=seed)
    if perturb is not None:
        perturb(env.unwrapped.vehicle)
    infos = []
    for _ in range(env.unwrapped.scenario.horizon):
        action = expert.act(env)
        assert action.shape == (2,) and np.all(np.abs(action) <= 1.0)
        _, _, terminated, truncated, info = env.step(action)
        infos.append(info)
        if terminated or truncated:
            break
    return infos


# ---------------------------------------------------------------------------------------------- registry
def test_expert_ids():
    assert set(all_experts()) == {f"expert:{n}" for n in [*CURVE_STYLES, *PARKING_STYLES]}
    for key, expert in all_experts().items():
        assert expert.id == key and expert.style.name == key.split(":")[1]
        assert expert.family in ("curve", "parking")


@pytest.mark.parametrize("name", ["tidy", "expert:tidy"])
def test_get_expert_accepts_both_spellings(name):
    assert get_expert(name) is all_experts()["expert:tidy"]


def test_a_family_registered_later_has_its_experts_found(monkeypatch):
    """The expert table is computed when asked, not frozen when the registry was first imported: a family that
    registers afterwards (a plugin importing experts.registry while it registers) has its experts found."""
    from types import SimpleNamespace

    from drivebench.scenarios import family as families

    late = SimpleNamespace(id="expert:late", family="late", style=SimpleNamespace(name="late"))
    monkeypatch.setitem(families._FAMILIES, "late", families.Family("late", object, object, (late,),
                                                                   lambda *args: families.Infractions(), "nowhere"))
    assert get_expert("late") is late and all_experts()["expert:late"] is late
    monkeypatch.delitem(families._FAMILIES, "late")
    with pytest.raises(UnknownIdError, match="late"):
        get_expert("late")


@pytest.mark.parametrize("name", ["tidyy", "expert:nobody", "", "expert:"])
def test_get_expert_unknown(name):
    with pytest.raises(UnknownIdError) as info:
        get_expert(name)
    assert repr(name) in str(info.value) and "expert:tidy" in str(info.value)


def test_every_scenario_has_an_expert():
    for entry in ENTRIES:
        assert experts_for(entry.spec), entry.name
        assert all(e.family == entry.family for e in experts_for(entry.spec))


@pytest.mark.parametrize("expert, scenario, words", [
    ("reverse", "parking-empty", ["reverse-in", "nose-in"]),
    ("tidy", "parking-reverse", ["nose-in", "reverse-in"]),
    ("shortcut", "parking-reverse", ["nose-in"]),
    ("shortcut", "parking-crowded", ["empty"]),
    ("tidy", "curve-gentle", ["parks"]),
    ("cautious", "parking-empty", ["curve"]),
    ("sporty", "parking-crowded", ["curve"]),
])
def test_supports_explains_a_refusal(expert, scenario, words):
    expert, spec = get_expert(expert), registry.get(scenario).spec
    reason = expert.supports(spec)
    assert isinstance(reason, str) and reason
    for word in words:
        assert word in reason
    assert expert not in experts_for(spec)


def test_a_lot_too_narrow_for_the_simple_paths_gets_plans():
    """The shortcut's 13 m turn needs its run-in line 13 m south of the north bays' entrance: y = -4 + 13 = 9 m,
    beyond the 4 + 5.5 - 1.2 = 8.3 m a car centre may reach in a lot with an 8 m aisle and 5.5 m bays; tidy's line
    (6.5 + 2.5: y = 5 m) fits the lot but runs through the south row, which tidy pays for. Both used to drive or
    refuse their simple paths; now they plan, and tidy's plan keeps out of the other bays."""
    spec = parse_spec({"family": "parking", "name": "narrow",
                       "lot": {"bays_per_row": 10, "aisle_width": 8.0, "bay_depth": 5.5}, "goal": {"bay": "N6"}})
    lot = build_lot(spec.lot)
    others = [b.rect for b in lot.bays if b.id != "N6"]
    for name in ("shortcut", "tidy"):
        expert = get_expert(name)
        assert expert.supports(spec) is None
        path = expert.scenario_path(spec)
        assert lot.interior.contains(path.xy).all()
        assert path.xy[0] == pytest.approx([4.5, 0.0])  # a plan, from the start region's centre
    inside = np.zeros(len(path.s), bool)
    for r in others:
        inside |= r.contains(path.xy)
    assert np.diff(path.s)[inside[1:]].sum() < 1.0


# ---------------------------------------------------------------------------------------------- success
@pytest.mark.parametrize("entry, expert", PAIRS, ids=[f"{e.name}-{x.style.name}" for e, x in PAIRS])
def test_expert_succeeds(entry, expert):
    env = gym.make(entry.id)
    for seed in demo_seeds(3):
        infos = drive(env, expert, seed)
        assert infos[-1]["is_success"], (seed, infos[-1])
        assert infos[-1]["termination"] == "arrived"
        assert not any(i["crashed"] for i in infos)
    env.close()


def test_every_expert_is_exercised():
    assert {x.id for _, x in PAIRS} == set(all_experts())


@pytest.mark.parametrize("scenario", ["curve-gentle", "curve-hairpin", "curve-s-bend"])
@pytest.mark.parametrize("side", [1.0, -1.0], ids=["right", "left"])
def test_curve_expert_recovers_from_a_perturbed_start(scenario, side):
    """State feedback: shift the car 1.5 m sideways and turn it 0.2 rad after reset; it still arrives."""
    env = gym.make(registry.get(scenario).id)
    u = env.unwrapped
    shifted = []

    def perturb(v):
        h = v.heading
        _, d0, _ = u.centreline.project(*v.position)
        v.position = v.position + side * 1.5 * np.array([-math.sin(h), math.cos(h)])  # + side: to the right
        v.heading = h + side * 0.2
        _, d1, _ = u.centreline.project(*v.position)
        shifted.append(d1 - d0)

    expert = get_expert("cautious")
    for seed in demo_seeds(2):
        infos = drive(env, expert, seed, perturb)
        assert shifted[-1] == pytest.approx(side * 1.5, abs=0.05)  # the car really started off its lane
        assert infos[-1]["is_success"], (seed, infos[-1])
        assert not any(i["crashed"] for i in infos)


def test_parking_expert_recovers_from_a_perturbed_start():
    def perturb(v):
        v.position = v.position + np.array([0.5, 1.0])
        v.heading += 0.25

    env = gym.make(registry.get("parking-crowded").id)
    for seed in demo_seeds(2):
        infos = drive(env, get_expert("tidy"), seed, perturb)
        assert infos[-1]["is_success"] and not any(i["crashed"] for i in infos)


def test_expert_labels_states_it_never_reaches():
    """Mid-episode after random driving, the expert still returns a valid, deterministic action."""
    env = gym.make(registry.get("parking-empty").id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        env.step(rng.uniform(-1, 1, 2).astype(np.float32))
    expert = get_expert("tidy")
    a, b = expert.act(env), expert.act(env)
    assert np.array_equal(a, b) and np.isfinite(a).all() and (np.abs(a) <= 1).all()


def test_curve_expert_reacts_to_the_true_state():
    """Experts read the simulator's state: turning the car in place changes the steering it asks for."""
    env = gym.make(registry.get("curve-gentle").id)
    env.reset(seed=0)
    expert = get_expert("cautious")
    before = expert.act(env)
    env.unwrapped.vehicle.heading += 0.3
    env.unwrapped.facts = env.unwrapped.measure()
    after = expert.act(env)
    assert after[1] < before[1]  # turned right: it steers left to come back


# ---------------------------------------------------------------------------------------------- parking plans
PARKING_PAIRS = [(e, x) for e, x in PAIRS if e.family == "parking"]


@pytest.mark.parametrize("entry, expert", PARKING_PAIRS, ids=[f"{e.name}-{x.style.name}" for e, x in PARKING_PAIRS])
def test_plan_ends_in_the_goal_bay_facing_the_right_way(entry, expert):
    spec = entry.spec
    lot = build_lot(spec.lot)
    path = expert.path(gym.make(entry.id).unwrapped)
    bay = lot.bay(spec.goal.bay).rect
    assert path.xy[-1] == pytest.approx([bay.x, bay.y], abs=1e-6)
    want = bay.heading + (math.pi if expert.style.manoeuvre == "reverse" else 0.0)
    assert wrap_angle(path.car_heading[-1] - want) == pytest.approx(0.0, abs=1e-9)
    assert gym.make(entry.id).unwrapped.heading_aligned(path.car_heading[-1])  # the goal accepts it
    # the path is sampled without jumps and stays inside the walls
    assert np.diff(path.s).max() < 0.11
    assert lot.interior.contains(path.xy).all()


def test_reverse_plan_has_one_gear_change():
    entry = registry.get("parking-reverse")
    path = get_expert("reverse").path(gym.make(entry.id).unwrapped)
    assert path.gear[0] == 1 and path.gear[-1] == -1
    assert np.count_nonzero(np.diff(path.gear)) == 1


def test_path_is_cached_per_spec():
    expert = get_expert("tidy")
    env = gym.make(registry.get("parking-empty").id).unwrapped
    assert expert.path(env) is expert.path(env)


def test_no_plan_turns_behind_the_start_region():
    spec = parse_spec({"family": "parking", "name": "near-west",
                       "lot": {"bays_per_row": 10, "margin": 4.0, "bay_width": 2.5}, "goal": {"bay": "N0"}})
    expert: ParkingExpert = get_expert("tidy")
    with pytest.raises(ValueError, match="behind the start region"):
        plan(expert.style, build_lot(spec.lot), "N0", (4.5, 0.0))


def test_a_goal_too_close_to_the_start_is_refused_with_a_reason():
    """A bay whose turn would have to begin behind the start region is not 'supported' (it used to be, and the
    expert then parked two bays further on)."""
    spec = parse_spec({"family": "parking", "name": "near-west", "horizon": 150,
                       "lot": {"bays_per_row": 10, "margin": 4.0, "bay_width": 2.5}, "goal": {"bay": "N0"}})
    reason = get_expert("tidy").supports(spec)
    assert reason is not None and "too close to the start" in reason


# ---------------------------------------------------------------------------------------------- curve helpers
def test_speed_profile_respects_limits():
    road = CurveRoad(speed_limit=15.0, segments=[
        {"kind": "straight", "length": 50}, {"kind": "arc", "radius": 20, "angle_deg": 90, "direction": "left"},
        {"kind": "straight", "length": 50}])
    line = build_centreline(road)
    cruise, a_lat, braking = 12.0, 2.0, 1.5
    v = speed_profile(line, cruise, a_lat, braking)
    s = np.arange(len(v)) * 1.0
    assert len(v) == len(np.arange(0.0, line.length + 100.0, 1.0))
    assert v.max() <= cruise
    in_arc = (s >= 50) & (s < 50 + 20 * math.pi / 2)
    assert v[in_arc] == pytest.approx(math.sqrt(a_lat * 20))  # v^2 / R = a_lat
    assert v[0] == cruise and v[-1] == cruise
    # braking before the curve: never faster than what `braking` can shed by the next sample
    assert (v[:-1] ** 2 <= v[1:] ** 2 + 2 * braking * 1.0 + 1e-9).all()
    assert v[45] < cruise  # 5 m before the curve it is already slowing


def test_apex_offset():
    road = CurveRoad(speed_limit=10.0, segments=[
        {"kind": "straight", "length": 20}, {"kind": "arc", "radius": 30, "angle_deg": 60, "direction": "right"},
        {"kind": "arc", "radius": 30, "angle_deg": 60, "direction": "left"}])
    line = build_centreline(road)
    arc_len = 30 * math.pi / 3
    assert apex_offset(line, 10.0, 0.5) == 0.0  # straight
    assert apex_offset(line, 20 + arc_len / 2, 0.5) == pytest.approx(0.5)  # right arc: inside is + (right)
    assert apex_offset(line, 20 + 1.5 * arc_len, 0.5) == pytest.approx(-0.5)  # left arc: inside is left
    assert apex_offset(line, 20.0 + 1e-9, 0.5) == pytest.approx(0.0, abs=1e-9)
    assert apex_offset(line, -5.0, 0.5) == 0.0 and apex_offset(line, line.length + 5, 0.5) == 0.0


def test_sporty_is_faster_than_cautious():
    entry = registry.get("curve-s-bend")
    env = gym.make(entry.id)
    steps = {name: len(drive(env, get_expert(name), 0)) for name in ("cautious", "sporty")}
    assert steps["sporty"] < steps["cautious"]


def test_curve_env_direct_construction_with_expert(curve_data):
    """An expert drives a scenario that was never registered."""
    env = CurveEnv({**curve_data, "name": "fresh"})
    infos = drive(env, get_expert("sporty"), 0)
    assert infos[-1]["is_success"]
