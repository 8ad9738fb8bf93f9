"""drivebench.eval.shifts: parsing, spec rewrites, and the env wrappers measured in the simulator."""
from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest

from drivebench.errors import DrivebenchError
from drivebench.eval import shifts
from drivebench.eval.harness import run_chunk
from drivebench.eval.shifts import NONE, SHIFTS, Bump, ObservationNoise, Shift, StartOffset, applies_to, make_env, \
    parse_shift, shifted_spec
from drivebench.scenarios import family as families
from drivebench.scenarios import registry
from drivebench.scenarios.spec import spec_hash


def spec_of(name):
    return registry.get(name).spec


# ---------------------------------------------------------------------------------------------- parsing
def test_every_shift_has_three_levels_and_applies_to_some_family():
    for name, kind in SHIFTS.items():
        assert sorted(kind.levels) == [1, 2, 3], name
        those = {f.name for f in families.all_families() if applies_to(name, f)}
        assert those, name
        if kind.wrapper is None:  # a rewriting shift: every family that takes it brings its rewrite
            assert all(name in families.get(f).shift_rewrites for f in those), name
    assert {f.name for f in families.all_families() if applies_to("traffic", f)} == {"curve"}
    assert {f.name for f in families.all_families() if applies_to("bump", f)} == {"curve", "parking"}


@pytest.mark.parametrize("text, expected", [
    ("start_offset:2", Shift("start_offset", 2)),
    ("tighter_radius:3", Shift("tighter_radius", 3)),
    ("none", NONE),
    ("", NONE),
    (None, NONE),
])
def test_parse_shift(text, expected):
    assert parse_shift(text) == expected


def test_shift_names_round_trip():
    assert str(NONE) == "none" and str(Shift("bump", 2)) == "bump:2"
    for name, kind in SHIFTS.items():
        for level in kind.levels:
            assert parse_shift(str(Shift(name, level))) == Shift(name, level)


def test_unknown_shift_names_the_known_ones():
    with pytest.raises(DrivebenchError, match="unknown shift 'warp'") as err:
        parse_shift("warp:1")
    assert all(name in str(err.value) for name in SHIFTS)


@pytest.mark.parametrize("text", ["start_offset", "start_offset:", "start_offset:0", "start_offset:4",
                                  "start_offset:two", "start_offset:-1", "start_offset:1.5"])
def test_bad_level_names_the_allowed_levels(text):
    with pytest.raises(DrivebenchError, match=r"start_offset takes a level in \[1, 2, 3\]"):
        parse_shift(text)


# ---------------------------------------------------------------------------------------------- spec rewrites
def test_no_shift_and_wrapper_shifts_keep_the_spec():
    spec = spec_of("curve-gentle")
    assert shifted_spec(spec, NONE) is spec
    for name in ("start_offset", "bump", "obs_noise"):
        assert shifted_spec(spec, Shift(name, 2)) is spec


@pytest.mark.parametrize("scenario", ["curve-gentle", "curve-traffic"])
def test_traffic_adds_vehicles(scenario):
    spec = spec_of(scenario)
    for level, extra in ((1, 2), (2, 4), (3, 6)):
        shifted = shifted_spec(spec, Shift("traffic", level))
        assert shifted.traffic.count == spec.traffic.count + extra
        assert shifted.road == spec.road and shifted.start == spec.start and shifted.name == spec.name
        assert spec_hash(shifted) != spec_hash(spec)


def test_traffic_shift_puts_the_vehicles_on_the_road():
    spec = shifted_spec(spec_of("curve-gentle"), Shift("traffic", 2))
    env = make_env(spec, Shift("traffic", 2))
    env.reset(seed=1)
    others = [v for v in env.unwrapped.road.vehicles if v is not env.unwrapped.vehicle]
    assert 1 <= len(others) <= 4  # placement stops 10 m before the road's end


def test_tighter_radius_scales_every_arc():
    spec = spec_of("curve-s-bend")
    for level, factor in ((1, 0.8), (2, 0.65), (3, 0.5)):
        shifted = shifted_spec(spec, Shift("tighter_radius", level))
        for before, after in zip(spec.road.segments, shifted.road.segments):
            if before.kind == "arc":
                assert after.radius == pytest.approx(before.radius * factor)
                assert after.angle_deg == before.angle_deg and after.direction == before.direction
            else:
                assert after == before
    assert spec.road.segments[1].radius == 40.0  # the registered spec itself is untouched


@pytest.mark.parametrize("name", ["traffic", "tighter_radius"])
def test_curve_only_shift_on_a_lot_raises_naming_the_shift(name):
    with pytest.raises(DrivebenchError, match=rf"shift {name} applies to curve scenarios.*parking-empty"):
        shifted_spec(spec_of("parking-empty"), Shift(name, 1))


# ---------------------------------------------------------------------------------------------- StartOffset
@pytest.mark.parametrize("level", [1, 3])
def test_start_offset_moves_the_car_sideways_by_the_level(level):
    spec = spec_of("curve-gentle")  # starts 5-10 m into a 40 m straight: the normal is the road's
    params = SHIFTS["start_offset"].levels[level]
    plain, shifted = make_env(spec), make_env(spec, Shift("start_offset", level))
    assert isinstance(shifted, StartOffset)
    sides = set()
    for seed in range(6):
        plain.reset(seed=seed)
        _, info = shifted.reset(seed=seed)
        before, after = plain.unwrapped, shifted.unwrapped
        heading_error = before.facts["heading_error"]
        moved = after.facts["d"] - before.facts["d"]
        side = math.copysign(1.0, moved)
        sides.add(side)
        # moved by `lateral` to the side of the car's own heading: lateral cos(he) across the road and
        # -lateral sin(he) along it (a car turned right by he has its right side pointing slightly backwards)
        assert abs(moved) == pytest.approx(params["lateral"] * math.cos(heading_error), abs=1e-6)
        assert after.facts["s"] - before.facts["s"] == pytest.approx(
            -side * params["lateral"] * math.sin(heading_error), abs=1e-6)
        assert after.vehicle.heading - before.vehicle.heading == pytest.approx(side * params["heading"])
        assert after.vehicle.speed == before.vehicle.speed
        assert info["progress"] == 0.0  # progress counts from where the car was put
        assert info["lateral_offset"] == pytest.approx(after.facts["d"])
    assert sides == {-1.0, 1.0}  # the side is drawn per seed


def test_start_offset_is_deterministic_per_seed():
    spec = spec_of("parking-empty")
    env = make_env(spec, Shift("start_offset", 2))
    first = env.reset(seed=11)[0]
    env.reset(seed=12)
    again = env.reset(seed=11)[0]
    np.testing.assert_array_equal(first, again)
    other = make_env(spec, Shift("start_offset", 2)).reset(seed=11)[0]
    np.testing.assert_array_equal(first, other)


def test_start_offset_in_a_lot_moves_across_the_car_heading():
    spec = spec_of("parking-empty")
    plain, shifted = make_env(spec), make_env(spec, Shift("start_offset", 2))
    plain.reset(seed=5)
    shifted.reset(seed=5)
    a, b = plain.unwrapped.vehicle, shifted.unwrapped.vehicle
    delta = b.position - a.position
    assert np.hypot(*delta) == pytest.approx(1.5)
    assert delta @ np.array([math.cos(a.heading), math.sin(a.heading)]) == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------------------------- Bump
class RecordingEnv(gymnasium.Env):
    """Records the actions it is stepped with."""

    observation_space = gymnasium.spaces.Box(-1, 1, (1,))
    action_space = gymnasium.spaces.Box(-1, 1, (2,))

    def __init__(self):
        self.actions = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.actions = []
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.actions.append(np.array(action))
        return np.zeros(1, np.float32), 0.0, False, False, {}


@pytest.mark.parametrize("level", [1, 2, 3])
def test_bump_replaces_steering_only_in_its_window(level):
    steps = SHIFTS["bump"].levels[level]["steps"]
    env = Bump(RecordingEnv(), steps=steps)
    env.reset(seed=4)
    policy = [np.array([0.25, 0.1 * (i % 3)], np.float32) for i in range(25)]
    for action in policy:
        env.step(action)
    got = np.array(env.unwrapped.actions)
    window = np.zeros(25, bool)
    window[10:10 + steps] = True
    np.testing.assert_array_equal(got[:, 0], 0.25)  # acceleration untouched
    np.testing.assert_array_equal(got[~window, 1], np.array(policy)[~window, 1])
    assert np.all(np.abs(got[window, 1]) == pytest.approx(0.6)) and len(set(got[window, 1])) == 1
    assert policy[12][1] == pytest.approx(0.0)  # the caller's arrays are not modified


def test_bump_side_is_drawn_per_seed_and_restarts_on_reset():
    sides = {}
    for seed in range(8):
        env = Bump(RecordingEnv(), steps=2)
        for _ in range(2):  # the second episode on the same wrapper bumps at the same decisions
            env.reset(seed=seed)
            for _ in range(12):
                env.step(np.zeros(2, np.float32))
            bumped = [a[1] for a in env.unwrapped.actions]
            assert bumped[:10] == [0.0] * 10 and bumped[10] == bumped[11] != 0.0
            assert sides.setdefault(seed, bumped[10]) == bumped[10]
    assert set(np.sign(list(sides.values()))) == {-1.0, 1.0}


def test_bump_in_the_simulator_turns_the_car():
    spec = spec_of("curve-gentle")
    plain, bumped = make_env(spec), make_env(spec, Shift("bump", 3))
    assert isinstance(bumped, Bump)
    plain.reset(seed=2)
    bumped.reset(seed=2)
    straight = np.zeros(2, np.float32)
    headings = []
    for t in range(16):
        plain.step(straight)
        bumped.step(straight)
        headings.append(bumped.unwrapped.vehicle.heading - plain.unwrapped.vehicle.heading)
    assert headings[9] == pytest.approx(0.0, abs=1e-9)  # identical before decision 10
    assert abs(headings[15]) > 0.1


# ---------------------------------------------------------------------------------------------- ObservationNoise
def rollout_obs(env, seed, steps=8):
    obs = [env.reset(seed=seed)[0]]
    for _ in range(steps):
        obs.append(env.step(np.array([0.1, 0.0], np.float32))[0])
    return np.array(obs)


def test_observation_noise_is_deterministic_per_seed_and_differs_across_seeds():
    spec = spec_of("parking-empty")
    env = make_env(spec, Shift("obs_noise", 2))
    assert isinstance(env, ObservationNoise)
    a, b = rollout_obs(env, 7), rollout_obs(env, 7)
    np.testing.assert_array_equal(a, b)
    clean = rollout_obs(make_env(spec), 7)
    clean8 = rollout_obs(make_env(spec), 8)
    noise7 = a - clean
    noise8 = rollout_obs(env, 8) - clean8
    assert not np.allclose(noise7, noise8)
    assert a.dtype == np.float32 and a.shape == clean.shape


def test_observation_noise_has_the_documented_scale():
    """obs = x + sigma (1 + |x|) N(0, 1): the residuals divided by sigma (1 + |x|) are standard normal."""
    spec = spec_of("curve-gentle")
    sigma = SHIFTS["obs_noise"].levels[3]["sigma"]
    z = []
    for seed in range(4):
        clean = rollout_obs(make_env(spec), seed)
        noisy = rollout_obs(make_env(spec, Shift("obs_noise", 3)), seed)
        z.append(((noisy - clean) / (sigma * (1 + np.abs(clean)))).ravel())
    z = np.concatenate(z)  # ~1300 draws
    assert abs(z.mean()) < 0.1
    assert z.std() == pytest.approx(1.0, abs=0.08)


def test_observation_noise_leaves_the_dynamics_alone():
    spec = spec_of("curve-gentle")
    clean, noisy = make_env(spec), make_env(spec, Shift("obs_noise", 3))
    clean.reset(seed=3)
    noisy.reset(seed=3)
    for _ in range(10):
        *_, info_clean = clean.step(np.array([0.2, 0.05], np.float32))
        *_, info_noisy = noisy.step(np.array([0.2, 0.05], np.float32))
    assert info_clean == info_noisy


# ---------------------------------------------------------------------------------------------- experts recover
@pytest.mark.parametrize("scenario, expert", [("curve-gentle", "expert:cautious"), ("parking-empty", "expert:tidy")])
def test_experts_still_succeed_under_the_strongest_start_offset(scenario, expert):
    records = run_chunk(expert, spec_of(scenario).model_dump(mode="json"), "start_offset", 3, [1_000_000, 1_000_001])
    assert [r.metrics.termination for r in records] == ["arrived", "arrived"]
    for r in records:
        assert (r.shift, r.level) == ("start_offset", 3)
        assert r.metrics.collision == "none"
        assert r.metrics.driving_score >= 90.0


def family_class(name):
    """The env class gymnasium builds for a registered scenario (wherever the family's module lives)."""
    return type(gymnasium.make(registry.get(name).id).unwrapped)


# curve-gentle: 40 m straight, 100 m radius arc of 60 deg, 40 m straight; no traffic
GENTLE_LENGTH = 40.0 + 100.0 * math.pi / 3 + 40.0
REWRITTEN_GENTLE = {  # (shift, level) -> (traffic count, arc radius [m]) of the env make_env builds
    ("traffic", 1): (2, 100.0), ("traffic", 2): (4, 100.0), ("traffic", 3): (6, 100.0),
    ("tighter_radius", 1): (0, 80.0), ("tighter_radius", 2): (0, 65.0), ("tighter_radius", 3): (0, 50.0),
}


def test_make_env_without_a_shift_is_the_bare_family_env():
    spec = spec_of("curve-gentle")
    for env in (make_env(spec), shifts.make_env(spec, NONE)):
        assert type(env) is family_class("curve-gentle")  # no wrapper at all
        assert env.unwrapped is env and env.scenario is spec and env.render_mode is None
        assert env.centreline.length == pytest.approx(GENTLE_LENGTH)
    assert make_env(spec_of("parking-empty")).scenario is spec_of("parking-empty")
    assert type(make_env(spec_of("parking-empty"))) is family_class("parking-empty")


def test_make_env_for_every_shift_and_family():
    for family, name in (("curve", "curve-gentle"), ("parking", "parking-empty")):
        spec, cls = spec_of(name), family_class(name)
        for shift_name, kind in SHIFTS.items():
            if not applies_to(shift_name, families.get(family)):
                continue
            for level, params in kind.levels.items():
                shift = Shift(shift_name, level)
                env = make_env(shifted_spec(spec, shift), shift)
                if kind.wrapper is not None:
                    # exactly one wrapper, of the shift's type and with the level's parameters, on the family env
                    assert type(env) is kind.wrapper and type(env.env) is cls, shift
                    assert {k: getattr(env, k) for k in params} == params, shift
                    assert env.unwrapped.scenario is spec, shift  # a wrapper shift keeps the spec
                else:
                    # a rewrite shift is not a wrapper: the bare family env, built on the rewritten spec
                    assert type(env) is cls, shift
                    count, radius = REWRITTEN_GENTLE[shift_name, level]
                    scenario = env.scenario
                    assert scenario == shifted_spec(spec, shift) and scenario != spec, shift
                    assert scenario.traffic.count == count, shift
                    assert [s.radius for s in scenario.road.segments if s.kind == "arc"] == \
                        [pytest.approx(radius)], shift
                    assert env.centreline.length == pytest.approx(80.0 + radius * math.pi / 3), shift
                obs, info = env.reset(seed=0)
                assert obs.shape == env.observation_space.shape and "progress" in info
    rendered = make_env(spec_of("curve-gentle"), Shift("bump", 1), render_mode="rgb_array")
    assert rendered.unwrapped.render_mode == "rgb_array"


# ---------------------------------------------------------------------------------------------- per-family levels
def test_a_family_recalibrates_a_level_as_data_and_the_others_take_the_shared_one():
    curve, parking = families.get("curve"), families.get("parking")
    bump = Shift("bump", 2)
    assert shifts.level_parameters(bump, curve) == {"steps": 4, "steering": 0.2}
    assert shifts.level_parameters(bump, parking) == SHIFTS["bump"].levels[2] == {"steps": 4}
    assert shifts.level_parameters(Shift("start_offset", 2), curve) == SHIFTS["start_offset"].levels[2]
    curve_env, parking_env = make_env(spec_of("curve-gentle"), bump), make_env(spec_of("parking-empty"), bump)
    assert (curve_env.steps, curve_env.steering) == (4, 0.2)
    assert (parking_env.steps, parking_env.steering) == (4, 0.6)  # Bump's own default steering


def test_every_family_level_names_a_known_shift_level_and_its_parameters():
    for fam in families.all_families():
        for name, levels in fam.shift_levels.items():
            assert name in SHIFTS and set(levels) <= set(SHIFTS[name].levels), (fam.name, name)
            for level, params in levels.items():  # the parameters the wrapper or the rewrite takes
                assert set(SHIFTS[name].levels[level]) <= set(params), (fam.name, name, level)


# ---------------------------------------------------------------------------------------------- scored conditions
def _scored_conditions():
    from drivebench.leaderboard import official_suite
    suite = official_suite()
    return [(scenario, shift) for scenario in suite.scenarios for shift in (NONE, *suite.offdist)]


@pytest.mark.parametrize("scenario, shift", _scored_conditions(), ids=lambda v: str(v))
def test_the_reference_driver_passes_every_scored_condition(scenario, shift):
    """The guard of benchmarks/reference_conditions.py (BENCHMARKS.md has the 50-seed table): each official
    scenario's first expert (the leaderboard's `expert` baseline) arrives under every scored condition."""
    from drivebench.experts.registry import experts_for
    from drivebench.seeds import eval_seeds
    spec = shifted_spec(spec_of(scenario), shift)
    expert = experts_for(spec_of(scenario))[0].id
    records = run_chunk(expert, spec.model_dump(mode="json"), shift.name, shift.level, eval_seeds(4))
    assert [r.metrics.termination for r in records] == ["arrived"] * 4


@pytest.mark.parametrize("scenario", ["parking-empty", "parking-crowded", "parking-reverse"])
def test_random_driving_completes_little_of_a_parking_route(scenario):
    """Random actions coast along the aisle; along the reference routes that is little of the way (toward the bay
    it counted 15-22% on average, and scored 9.9-13.7 over 50 seeds)."""
    from drivebench.seeds import eval_seeds
    spec = spec_of(scenario)
    records = run_chunk("random", spec.model_dump(mode="json"), "none", 0, eval_seeds(10))
    assert not any(r.metrics.success for r in records)
    assert np.mean([r.metrics.driving_score for r in records]) <= 10.0
