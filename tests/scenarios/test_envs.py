"""drivebench.scenarios.envs: the gymnasium contract, determinism, and every way an episode ends."""
from __future__ import annotations

import math
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from highway_env.vehicle.kinematics import Vehicle

from drivebench.scenarios import registry
from drivebench.families.curve.env import CurveEnv
from drivebench.families.parking.env import RAY_COUNT, RAY_RANGE, ParkingEnv
from drivebench.scenarios.envs import CAR_LENGTH, Termination
from drivebench.families.curve.geometry import lane_offsets
from drivebench.scenarios.spec import parse_spec

ENTRIES = registry.entries()
IDS = [e.name for e in ENTRIES]
CURVES = [e for e in ENTRIES if e.family == "curve"]
PARKINGS = [e for e in ENTRIES if e.family == "parking"]
INFO_KEYS = {"is_success", "crashed", "off_road", "progress", "termination", "x", "y", "heading", "speed"}
"""The keys every step's info has (ScenarioEnv._info); each class may add the per-step `SIGNALS` it documents."""


def documented_info_keys(env) -> set[str]:
    return INFO_KEYS | {name for name, _ in getattr(type(env.unwrapped), "SIGNALS", ())}


def make(entry):
    return gym.make(entry.id)


def test_every_family_is_registered():
    assert CURVES and PARKINGS


# ---------------------------------------------------------------------------------------------- gymnasium contract
# gymnasium 0.29's check_space_limit advises against any infinite Box bound (its "maximum value is -infinity" is
# its own typo for +infinity). The observation space is unbounded on purpose: lateral offsets, previews, gaps and
# speeds have no fixed range. Only that advice, and only for the observation space, is allowed; every other
# warning check_env gives (obs dtype, obs outside the space, reward type, render modes, ...) fails the test.
UNBOUNDED_OBSERVATION_ADVICE = re.compile(
    r"A Box observation space (minimum value is -infinity\. This is probably too low|"
    r"maximum value is -infinity\. This is probably too high)\.")


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_check_env(entry, monkeypatch):
    monkeypatch.setattr(gym.logger, "min_level", gym.logger.WARN)  # check_env's warnings go through this logger
    env = make(entry)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    env.close()
    unexpected = [re.sub(r"\x1b\[\d+m", "", f"{w.category.__name__}: {w.message}") for w in caught  # no colours
                  if not UNBOUNDED_OBSERVATION_ADVICE.search(str(w.message))]
    assert not unexpected, "check_env warned:\n" + "\n".join(unexpected)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_spaces(entry):
    env = make(entry)
    cls = type(env.unwrapped)
    obs, info = env.reset(seed=3)
    assert env.observation_space.shape == (len(cls.observation_class().FEATURES),)
    assert obs.shape == (len(cls.observation_class().FEATURES),) and obs.dtype == np.float32
    assert env.observation_space.contains(obs)
    names = [n for n, _ in cls.observation_class().FEATURES]
    assert len(names) == len(set(names))
    assert all(doc for _, doc in cls.observation_class().FEATURES)
    assert env.action_space.shape == (2,)
    assert env.action_space.low.tolist() == [-1, -1] and env.action_space.high.tolist() == [1, 1]
    obs, *_ = env.step(env.action_space.sample())
    assert obs.shape == (len(cls.observation_class().FEATURES),) and np.isfinite(obs).all()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_info_has_the_documented_keys(entry):
    env = make(entry)
    _, info = env.reset(seed=0)
    keys = documented_info_keys(env)
    assert set(info) == keys
    assert info["termination"] is None and info["is_success"] is False and info["progress"] == 0.0
    _, _, _, _, info = env.step(np.zeros(2, dtype=np.float32))
    assert set(info) == keys
    assert isinstance(info["is_success"], bool) and isinstance(info["crashed"], bool)
    for key in ("progress", "x", "y", "heading", "speed"):
        assert isinstance(info[key], float)
    for key in keys - {"is_success", "crashed", "termination"}:
        assert isinstance(info[key], (bool, float)) and math.isfinite(info[key]), key  # plain numbers, for logs
    assert 0.0 <= info["progress"] <= 1.0
    v = env.unwrapped.vehicle
    assert (info["x"], info["y"], info["heading"], info["speed"]) == (v.position[0], v.position[1], v.heading,
                                                                     v.speed)


# ---------------------------------------------------------------------------------------------- determinism
def _rollout(entry, seed, actions):
    env = make(entry)
    obs, info = env.reset(seed=seed)
    trace = [(obs, 0.0, info)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        trace.append((obs, reward, info))
        if terminated or truncated:
            break
    return trace


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_same_seed_same_episode(entry):
    actions = np.random.default_rng(7).uniform(-0.4, 0.6, size=(40, 2)).astype(np.float32)
    a, b = _rollout(entry, 11, actions), _rollout(entry, 11, actions)
    assert len(a) == len(b)
    for (obs_a, r_a, info_a), (obs_b, r_b, info_b) in zip(a, b):
        assert np.array_equal(obs_a, obs_b)
        assert r_a == r_b
        assert info_a == info_b


def test_reset_with_a_seed_restarts_the_same_episode():
    env = make(registry.get("curve-traffic"))
    first, _ = env.reset(seed=5)
    for _ in range(5):
        env.step(np.array([1.0, 0.2], dtype=np.float32))
    again, _ = env.reset(seed=5)
    assert np.array_equal(first, again)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_different_seeds_different_starts(entry):
    env = make(entry)
    starts = set()
    for seed in range(5):
        _, info = env.reset(seed=seed)
        starts.add((info["x"], info["y"], info["heading"], info["speed"]))
    assert len(starts) == 5


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_start_states_follow_the_spec(entry):
    env = make(entry)
    spec, u = entry.spec, env.unwrapped
    for seed in range(5):
        env.reset(seed=seed)
        v = u.vehicle
        st = spec.start
        assert st.speed[0] <= v.speed <= st.speed[1]
        if entry.family == "curve":
            s, d, th = u.centreline.project(*v.position)
            assert st.position[0] - 1e-9 <= s <= st.position[1] + 1e-9
            offsets = lane_offsets(spec.road)
            lanes = range(spec.road.lanes) if st.lane == "any" else [st.lane]
            assert any(st.lateral_offset[0] - 1e-9 <= d - offsets[k] <= st.lateral_offset[1] + 1e-9 for k in lanes)
            assert st.heading_deg[0] - 1e-6 <= math.degrees(v.heading - th) <= st.heading_deg[1] + 1e-6
        else:
            assert st.x[0] <= v.position[0] <= st.x[1] and st.y[0] <= v.position[1] <= st.y[1]
            assert st.heading_deg[0] <= math.degrees(v.heading) <= st.heading_deg[1]


# ---------------------------------------------------------------------------------------------- curve episodes
@pytest.mark.parametrize("entry", CURVES, ids=[e.name for e in CURVES])
def test_hard_left_leaves_the_road(entry, episode, constant_policy):
    env = make(entry)
    env.reset(seed=0)
    infos, rewards, terminated, truncated = episode(env, constant_policy([0.5, -1.0]), entry.spec.horizon)
    assert terminated and not truncated
    assert infos[-1]["termination"] in ("off_road", "crashed")
    assert not infos[-1]["is_success"]
    assert any(i["off_road"] for i in infos)
    assert rewards[-1] < 0  # the -1 end penalty outweighs any progress in one step
    if infos[-1]["termination"] == "off_road":
        spec = entry.spec.road
        assert abs(env.unwrapped.facts["d"]) > spec.lanes * spec.lane_width / 2 + spec.offroad_grace


def test_off_road_flag_is_per_step_and_does_not_end_the_episode(curve_data):
    """A car driving straight 2.5 m right of centre on a 4 m lane pokes out but stays within the grace."""
    curve_data["road"] = {"lanes": 1, "lane_width": 4.0, "speed_limit": 10.0,
                          "segments": [{"kind": "straight", "length": 200.0}]}
    curve_data["start"] = {"lateral_offset": [0, 0], "heading_deg": [0, 0], "speed": [5, 5]}
    env = CurveEnv({**curve_data, "name": "poke-out"})
    env.reset(seed=0)  # a start this far out is refused (start.lateral_offset): the car is moved there
    env.vehicle.position = env.vehicle.position + 2.5 * np.array([-math.sin(env.vehicle.heading),
                                                                   math.cos(env.vehicle.heading)])
    for _ in range(10):
        _, _, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))
        assert info["off_road"] and not terminated and info["termination"] is None
    centred = CurveEnv({**curve_data, "name": "centred", "start": {"lateral_offset": [0, 0], "heading_deg": [0, 0]}})
    centred.reset(seed=0)
    assert not centred.step(np.zeros(2, dtype=np.float32))[4]["off_road"]


def test_curve_timeout(curve_data, episode, constant_policy):
    curve_data.update(horizon=10, road={"lanes": 1, "speed_limit": 10.0,
                                         "segments": [{"kind": "straight", "length": 300.0}]})
    env = CurveEnv({**curve_data, "name": "timeout"})
    env.reset(seed=0)
    infos, rewards, terminated, truncated = episode(env, constant_policy([0.0, 0.0]), 50)
    assert len(infos) == 10
    assert truncated and not terminated
    assert infos[-1]["termination"] == "timeout" and not infos[-1]["is_success"]
    assert all(i["termination"] is None for i in infos[:-1])


def test_curve_arrival_and_reward_telescopes(curve_data, episode, constant_policy):
    """Drive straight down a straight road: arrive; the rewards sum to progress (0 -> 1) plus the bonus 1."""
    curve_data["road"] = {"lanes": 1, "speed_limit": 10.0, "segments": [{"kind": "straight", "length": 60.0}]}
    curve_data["start"] = {"lateral_offset": [0, 0], "heading_deg": [0, 0], "speed": [10, 10]}
    env = CurveEnv({**curve_data, "name": "straight-on"})
    env.reset(seed=1)
    infos, rewards, terminated, truncated = episode(env, constant_policy([0.0, 0.0]), 100)
    assert terminated and not truncated
    assert infos[-1]["termination"] == "arrived" and infos[-1]["is_success"]
    assert infos[-1]["progress"] == 1.0
    assert sum(rewards) == pytest.approx(2.0)
    # 60 m minus a start at 5..10 m, at 10 m/s with 5 decisions per second: 2 m per step
    assert 25 <= len(infos) <= 28


def test_curve_observation_features(curve_data):
    env = CurveEnv({**curve_data, "name": "obs"})
    obs, _ = env.reset(seed=4)
    names = [n for n, _ in CurveEnv.observation_class().FEATURES]
    f = dict(zip(names, obs.tolist()))
    v, road = env.vehicle, env.scenario.road
    s, d, th = env.centreline.project(*v.position)
    assert f["lateral_offset"] == pytest.approx(d, abs=1e-5)
    assert f["heading_error"] == pytest.approx(v.heading - th, abs=1e-5)
    assert f["speed"] == pytest.approx(v.speed, abs=1e-5) and f["speed_limit"] == road.speed_limit
    assert f["left_edge"] + f["right_edge"] == pytest.approx(road.lanes * road.lane_width)
    assert f["left_edge"] == pytest.approx(road.lanes * road.lane_width / 2 + d, abs=1e-5)
    # the preview points are the centreline ahead, in the car frame: about `distance` forward (first 40 m straight)
    assert f["preview_5m_x"] == pytest.approx(5.0, abs=0.2)
    assert f["preview_5m_y"] == pytest.approx(-d, abs=0.5)
    assert math.hypot(f["preview_20m_x"], f["preview_20m_y"]) == pytest.approx(math.hypot(20, d), abs=0.05)
    assert f["vehicle0_present"] == 0.0  # no traffic


def test_traffic_is_observed_and_keeps_its_lanes(episode):
    entry = registry.get("curve-traffic")
    env = make(entry)
    obs, _ = env.reset(seed=0)
    u = env.unwrapped
    others = [v for v in u.road.vehicles if v is not u.vehicle]
    t = entry.spec.traffic
    # the last car is at most start + first_gap + (count - 1) * spacing = 150 m along a 338 m road: all are placed
    assert entry.spec.start.position[1] + t.first_gap[1] + (t.count - 1) * t.spacing[1] < u.centreline.length - 10
    assert len(others) == t.count
    names = [n for n, _ in u.observation_type.FEATURES]
    f = dict(zip(names, obs.tolist()))
    s_ego = u.centreline.project(*u.vehicle.position)[0]
    nearest = min(u.centreline.project(*v.position)[0] - s_ego for v in others)
    lo, hi = entry.spec.traffic.first_gap
    assert lo - 1e-6 <= nearest <= hi + 1e-6
    assert f["vehicle0_present"] == 1.0 and f["vehicle0_ds"] == pytest.approx(nearest, abs=1e-4)
    offsets = lane_offsets(entry.spec.road)
    # IDM traffic follows the lane network built from the centreline: it stays on its lane centre
    for _ in range(60):
        env.step(np.array([-0.2, 0.0], dtype=np.float32))  # the ego car slows down behind
        for v in others:
            s, d, _ = u.centreline.project(*v.position)
            if s < u.centreline.length - 5:
                assert np.min(np.abs(offsets - d)) < 0.3


# ---------------------------------------------------------------------------------------------- parking episodes
def _parking(parking_data, name="lot", **overrides):
    for key, value in overrides.items():
        parking_data[key] = {**parking_data.get(key, {}), **value}
    return ParkingEnv({**parking_data, "name": name})


def test_parking_drive_into_the_north_wall_crashes(parking_data, episode, constant_policy):
    # start in the west margin (no bays there), facing north
    env = _parking(parking_data, start={"heading_deg": [-90, -90], "speed": [2, 2]})
    env.reset(seed=0)
    infos, rewards, terminated, truncated = episode(env, constant_policy([0.4, 0.0]), 100)
    assert terminated and not truncated
    assert infos[-1]["termination"] == "crashed" and infos[-1]["crashed"]
    assert rewards[-1] < 0
    north = env.lot.interior.y - env.lot.interior.width / 2
    # the car's nose (centre - L/2, facing north) is at the wall when the crash is detected
    assert infos[-1]["y"] - CAR_LENGTH / 2 == pytest.approx(north, abs=1.0)


def test_parking_teleported_into_wall_course_crashes(episode, constant_policy):
    """The same with the registered lot: place the car in the aisle below bay N0, facing north."""
    entry = registry.get("parking-empty")
    env = make(entry)
    env.reset(seed=0)
    u = env.unwrapped
    bay = u.lot.bay("N0").rect
    u.vehicle.position = np.array([bay.x, 0.0])
    u.vehicle.heading = -math.pi / 2
    u.vehicle.speed = 2.0
    infos, *_ = episode(env, constant_policy([0.5, 0.0]), 60)
    assert infos[-1]["termination"] == "crashed"
    assert infos[-1]["y"] < bay.y  # it drove through the empty bay to the wall behind it


def test_parking_without_walls_goes_off_road(parking_data, episode, constant_policy):
    env = _parking(parking_data, lot={"walls": False}, start={"heading_deg": [-90, -90], "speed": [3, 3]})
    env.reset(seed=0)
    assert env.lot.walls == ()
    infos, _, terminated, _ = episode(env, constant_policy([0.3, 0.0]), 100)
    assert terminated
    assert infos[-1]["termination"] == "off_road" and not infos[-1]["crashed"]
    north = env.lot.interior.y - env.lot.interior.width / 2
    assert infos[-1]["y"] < north - 5.0  # centre more than 5 m outside the lot
    assert infos[-2]["y"] >= north - 5.0
    assert any(i["off_road"] for i in infos[:-1])  # the body left the lot before the episode ended


def test_parking_timeout_standing_still(parking_data, episode, constant_policy):
    env = _parking(parking_data, start={"speed": [0, 0]})
    env.reset(seed=0)
    x0, y0 = env.vehicle.position.copy()
    infos, rewards, terminated, truncated = episode(env, constant_policy([0.0, 0.0]), 500)
    assert len(infos) == parking_data["horizon"]
    assert truncated and not terminated
    assert infos[-1]["termination"] == "timeout"
    assert (infos[-1]["x"], infos[-1]["y"]) == (x0, y0)
    assert rewards == [0.0] * len(rewards)  # no progress, no end bonus


def test_negative_acceleration_reverses(episode, constant_policy):
    """Full brake does not stop at 0 m/s: the car reverses (down to -40 m/s), here into the west wall."""
    entry = registry.get("parking-empty")
    env = make(entry)
    env.reset(seed=0)
    infos, *_ = episode(env, constant_policy([-1.0, 0.0]), entry.spec.horizon)
    assert min(i["speed"] for i in infos) < -1.0
    assert infos[-1]["termination"] == "crashed"
    assert infos[-1]["x"] < entry.spec.start.x[0]  # it went west, backwards


def test_parking_registered_timeout_braking(episode):
    """On a registered lot: hold the car still with a P brake until the horizon."""
    entry = registry.get("parking-empty")
    env = make(entry)
    env.reset(seed=2)

    def brake(env):
        return np.array([np.clip(-env.unwrapped.vehicle.speed, -1, 1), 0.0], dtype=np.float32)

    infos, _, terminated, truncated = episode(env, brake, 1000)
    assert len(infos) == entry.spec.horizon
    assert truncated and not terminated and infos[-1]["termination"] == "timeout"


def test_parking_arrival_when_placed_in_the_bay(parking_data, episode, constant_policy):
    env = _parking(parking_data)
    env.reset(seed=0)
    g = env.goal_bay.rect
    env.vehicle.position = np.array([g.x, g.y])
    env.vehicle.heading = g.heading
    env.vehicle.speed = 0.0
    infos, rewards, terminated, _ = episode(env, constant_policy([0.0, 0.0]), 5)
    assert terminated and infos[-1]["termination"] == "arrived" and infos[-1]["is_success"]
    assert infos[-1]["progress"] == 1.0
    assert rewards[-1] > 1.0  # progress jumps to 1, plus the arrival bonus


@pytest.mark.parametrize("orientation, heading_offset, arrives", [
    ("nose-in", 0.0, True), ("nose-in", math.pi, False), ("reverse-in", math.pi, True),
    ("reverse-in", 0.0, False), ("any", 0.0, True), ("any", math.pi, True), ("any", math.pi / 2, False),
    ("nose-in", math.radians(8), True), ("nose-in", math.radians(12), False),
])
def test_parking_orientation(parking_data, orientation, heading_offset, arrives):
    env = _parking(parking_data, goal={"orientation": orientation})
    env.reset(seed=0)
    g = env.goal_bay.rect
    env.vehicle.position = np.array([g.x, g.y])
    env.vehicle.heading = g.heading + heading_offset
    env.vehicle.speed = 0.0
    info = env.step(np.zeros(2, dtype=np.float32))[4]
    assert info["is_success"] is arrives


def test_parking_moving_car_in_the_bay_has_not_arrived(parking_data):
    env = _parking(parking_data)
    env.reset(seed=0)
    g = env.goal_bay.rect
    env.vehicle.position = np.array([g.x, g.y + 1.0])  # 1 m short of the centre, moving in at 1 m/s
    env.vehicle.heading, env.vehicle.speed = g.heading, 1.0
    info = env.step(np.zeros(2, dtype=np.float32))[4]
    assert not info["is_success"] and info["termination"] is None


def test_parking_observation_features(parking_data):
    env = _parking(parking_data)
    env.reset(seed=0)
    x = 5.0
    env.vehicle.position = np.array([x, 0.0])
    env.vehicle.heading = -math.pi / 2  # north
    obs = env.observe()
    f = dict(zip([n for n, _ in ParkingEnv.observation_class().FEATURES], obs.tolist()))
    g, lot = env.goal_bay.rect, env.lot
    # the goal bay (N2) is north of the aisle: the car, in the aisle, is 'before' the bay along its axis
    assert f["goal_x"] == pytest.approx(-abs(g.y))  # |g.y| short of the bay centre: negative
    # across the bay axis, + is to the right of a car facing into the bay: east for a north bay
    assert f["goal_y"] == pytest.approx(x - g.x, abs=1e-5)
    assert (f["goal_cos"], f["goal_sin"]) == pytest.approx((1.0, 0.0), abs=1e-6)  # facing into the bay
    assert (f["lot_x"], f["lot_y"]) == pytest.approx((x, 0.0))
    assert (f["lot_cos"], f["lot_sin"]) == pytest.approx((0.0, -1.0), abs=1e-6)
    assert f["orientation"] == 1.0
    rays = np.array([f[f"ray{i}"] for i in range(RAY_COUNT)])
    half = lot.interior.width / 2
    assert rays[0] == pytest.approx(half)  # straight ahead: the north wall
    assert rays[RAY_COUNT // 2] == pytest.approx(half)  # behind: the south wall
    assert rays[RAY_COUNT * 3 // 4] == pytest.approx(x)  # 270 deg from north: west wall at x = 0
    assert rays[RAY_COUNT // 4] == RAY_RANGE  # east: the far wall is beyond the range
    assert (rays > 0).all() and (rays <= RAY_RANGE).all()


def test_parked_cars():
    entry = registry.get("parking-crowded")
    env = make(entry)
    occ, goal = entry.spec.occupancy, entry.spec.goal.bay
    layouts = []
    for seed in range(3):
        env.reset(seed=seed)
        u = env.unwrapped
        # which bay holds each parked car (read from the scene; occupied_bays() would draw again)
        bays = []
        for car in u.parked:
            holders = [b.id for b in u.lot.bays if b.rect.contains(car.corners()).all()]
            assert len(holders) == 1
            bays.append(holders[0])
        assert len(bays) == len(set(bays)) == len(occ.occupied) + occ.count
        assert set(occ.occupied) <= set(bays) and goal not in bays
        obstacles = [o for o in u.road.objects if o.solid]
        assert len(obstacles) == len(u.parked) + len(u.lot.walls)
        layouts.append(frozenset(bays))
    assert len(set(layouts)) > 1  # the drawn bays depend on the seed


def test_parked_car_is_an_obstacle(parking_data, episode, constant_policy):
    """A car driven into an occupied bay crashes into the parked car (not the wall behind it)."""
    parking_data["occupancy"] = {"occupied": ["N0"]}
    env = _parking(parking_data)
    env.reset(seed=0)
    bay = env.lot.bay("N0").rect
    env.vehicle.position, env.vehicle.heading, env.vehicle.speed = np.array([bay.x, 0.0]), -math.pi / 2, 2.0
    infos, *_ = episode(env, constant_policy([0.3, 0.0]), 50)
    assert infos[-1]["termination"] == "crashed"
    parked_front = bay.y + CAR_LENGTH / 2  # the parked car's aisle-side end
    assert infos[-1]["y"] - CAR_LENGTH / 2 == pytest.approx(parked_front, abs=1.0)


def test_action_ranges_match_the_controllers():
    """ContinuousAction maps [-1, 1] to +-5 m/s^2 and +-pi/4 rad, as the module docstring says."""
    env = make(registry.get("curve-gentle"))
    at = env.unwrapped.action_type
    assert tuple(at.acceleration_range) == (-5.0, 5.0)
    assert tuple(at.steering_range) == pytest.approx((-math.pi / 4, math.pi / 4))
    assert CAR_LENGTH == Vehicle.LENGTH


def test_termination_values():
    assert {t.value for t in Termination} == {"arrived", "crashed", "off_road", "timeout"}


def test_env_accepts_a_parsed_spec(parking_data):
    spec = parse_spec({**parking_data, "name": "parsed"})
    env = ParkingEnv(spec)
    assert env.scenario is spec
    obs, _ = env.reset(seed=0)
    assert obs.shape == (len(ParkingEnv.observation_class().FEATURES),)


# ---------------------------------------------------------------------------------------------- parking route
def _route(*corners):
    from drivebench.families.parking.geometry import Route
    return Route.along(np.array(corners, float))


def test_a_route_is_its_polyline_resampled_every_half_metre():
    route = _route((0, 0), (10, 0), (10, -5))
    assert len(route.points) == 31 and route.s[-1] == pytest.approx(15.0)
    np.testing.assert_allclose(route.points[20], [10.0, 0.0])  # the corner, 10 m along
    np.testing.assert_allclose(route.points[24], [10.0, -2.0])
    np.testing.assert_allclose(np.diff(route.s), 0.5)


def test_track_reaches_the_furthest_waypoint_within_tolerance_and_never_goes_back():
    route = _route((0, 0), (10, 0), (10, -5))
    # within 2 m of (3, 1): the waypoints (x, 0) with (x - 3)^2 + 1 <= 4, up to x = 3 + sqrt(3) = 4.73 -> x = 4.5
    assert route.track(0, (3.0, 1.0), tolerance=2.0) == 9
    assert route.track(9, (0.0, 0.0), tolerance=2.0) == 9  # driving back along the route un-reaches nothing
    assert route.track(9, (3.0, 5.0), tolerance=2.0) == 9  # off the route: nothing new
    assert route.track(9, (10.0, -1.0), tolerance=2.0) == 26  # past the corner: (10, -3), 13 m on, is 2 m away


def test_track_does_not_skip_to_where_the_route_comes_back_near_itself():
    """A U: east 20 m, 3 m south, back west. A car near the start is also near the route's end, 40 m on."""
    route = _route((0, 0), (20, 0), (20, 3), (0, 3))
    assert route.track(0, (2.0, 2.0), tolerance=2.0) == 4  # (2, 0) is exactly 2 m away; (0.5, 3) is 42.5 m on
    assert route.track(0, (2.0, 2.0), tolerance=2.0, window=100.0) == 85  # an unlimited window would jump


def test_remaining_is_the_way_back_onto_the_route_plus_the_rest_of_it():
    """remaining = min over the waypoints from the reached one to 10 m on of (route after it) + (distance to it beyond
    the 2 m tolerance): the shortest way to the end through a point of the route ahead."""
    straight = _route((0, 0), (20, 0))
    # reached (6, 0) [index 12], on the route: (8, 0) is within the tolerance, 12 m after it
    assert straight.remaining(12, (6.0, 0.0), tolerance=2.0) == pytest.approx(12.0)
    # 5 m to the side: back onto the route as far on as the window lets, (16, 0): 4 m after it + sqrt(10^2 + 5^2) - 2
    assert straight.remaining(12, (6.0, 5.0), tolerance=2.0) == pytest.approx(2.0 + math.sqrt(125))
    # driven back to (1, 0), 5 m behind the reached waypoint: (20 - x) + (x - 1) - 2 for every x ahead, 17 m
    assert straight.remaining(12, (1.0, 0.0), tolerance=2.0) == pytest.approx(17.0)
    # at a corner the way back may cut it: from (4, 0) straight to the end (10, -5), sqrt(6^2 + 5^2) - 2 m, less
    # than the 9 m along the route
    corner = _route((0, 0), (10, 0), (10, -5))
    assert corner.remaining(12, (4.0, 0.0), tolerance=2.0) == pytest.approx(math.sqrt(61) - 2.0)


@pytest.mark.parametrize("remaining, start, expected", [(5.0, 20.0, 0.75), (20.0, 20.0, 0.0), (25.0, 20.0, 0.0),
                                                         (0.0, 20.0, 1.0), (0.0, 0.0, 1.0)])
def test_route_completion_is_the_share_of_the_start_distance_done(remaining, start, expected):
    from drivebench.families.parking.geometry import route_completion
    assert route_completion(remaining, start) == pytest.approx(expected)


def test_parking_routes_are_the_reference_drivers_paths():
    """parking-empty is driven by the tidy and the shortcut experts: progress follows either of their paths."""
    from drivebench.experts.registry import experts_for
    env = make(registry.get("parking-empty")).unwrapped
    experts = experts_for(env.scenario)
    assert [e.id for e in experts] == ["expert:tidy", "expert:shortcut"] and len(env.routes) == 2
    for expert, route in zip(experts, env.routes):
        path = expert.path(env)
        np.testing.assert_allclose(route.points[[0, -1]], path.xy[[0, -1]], atol=1e-6)


def test_parking_driving_straight_past_the_bay_completes_little_of_the_route(episode, constant_policy):
    """Coasting along the aisle past the goal bay into the far wall: distance toward the bay counted about 0.3 of
    the way at the crash (1 - 21 m / 30 m); along the reference routes the car has nearly everything still to do."""
    env = make(registry.get("parking-empty"))
    env.reset(seed=0)
    u = env.unwrapped
    u.vehicle.position, u.vehicle.heading, u.vehicle.speed = np.array([4.5, 0.0]), 0.0, 2.0
    u.set_progress_reference()
    infos, *_ = episode(env, constant_policy([0.3, 0.0]), 200)
    assert infos[-1]["termination"] == "crashed" and infos[-1]["x"] > 45  # the east end wall
    g = u.goal_bay.rect
    assert 1 - infos[-1]["goal_distance"] / math.hypot(4.5 - g.x, g.y) > 0.25  # the old measure's credit
    assert infos[-1]["progress"] < 0.05
    assert max(i["progress"] for i in infos) < 0.6  # the aisle at y = 0 is off both routes (y = 3 and y = 7)


def test_a_lot_no_expert_parks_in_measures_along_the_straight_way_in(parking_data, episode, constant_policy):
    """Goal N0 at a 4 m margin: every style's turn would begin behind the start, so no expert supports the lot and
    the route is the start region's centre -> the bay's mouth -> its centre."""
    from drivebench.experts.registry import experts_for
    env = _parking(parking_data, lot={"margin": 4.0}, goal={"bay": "N0"})
    assert experts_for(env.scenario) == [] and len(env.routes) == 1
    bay = env.lot.bay("N0")
    np.testing.assert_allclose(env.routes[0].points[[0, -1]], [(4.5, 0.0), (bay.rect.x, bay.rect.y)])
    _, info = env.reset(seed=0)
    assert info["progress"] == 0.0
