"""fastsim's replacements give highway-env's own answers: the closest-lane query and the obstacle collision exit
(the same decisions), the traffic cars and arc lanes (the same numbers, bit for bit)."""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from highway_env import utils
from highway_env.road.lane import CircularLane, StraightLane
from highway_env.road.road import RoadNetwork
from highway_env.vehicle.behavior import IDMVehicle
from highway_env.vehicle.kinematics import Vehicle
from highway_env.vehicle.objects import Obstacle, RoadObject

from drivebench.experts.registry import experts_for
from drivebench.families.curve import env as curve_env
from drivebench.families.parking import env as parking_env
from drivebench.scenarios import fastsim, registry
from drivebench.scenarios import family as families
from drivebench.scenarios.fastsim import ArcLane, EgoVehicle, LaneNetwork, StaticObstacle, TrafficVehicle

SCENARIOS = ["curve-gentle", "curve-s-bend", "curve-hairpin", "curve-traffic", "parking-empty", "parking-crowded"]


def scene(name: str):
    env = gym.make(registry.get(name).id).unwrapped
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("name", SCENARIOS)
def test_closest_lane_matches_highway_env(name):
    env = scene(name)
    network = env.road.network
    assert isinstance(network, LaneNetwork)
    rng = np.random.default_rng(0)
    points = np.array([lane.position(s, 0.0) for _, _, lanes in _lanes(network) for lane in lanes
                       for s in np.linspace(-5, lane.length + 5, 9)])
    low, high = points.min(axis=0) - 20, points.max(axis=0) + 20
    for _ in range(2000):
        position = rng.uniform(low, high)
        heading = rng.uniform(-math.pi, math.pi) if rng.random() < 0.8 else None
        assert network.get_closest_lane_index(position, heading) == RoadNetwork.get_closest_lane_index(
            network, position, heading)


def _lanes(network):
    for _from, to_dict in network.graph.items():
        for _to, lanes in to_dict.items():
            yield _from, _to, lanes


def test_adding_a_lane_refreshes_the_table():
    env = scene("parking-empty")
    network = env.road.network
    far = np.array([500.0, 500.0])
    before = network.get_closest_lane_index(far, 0.0)
    network.add_lane("far:a", "far:b", StraightLane([495.0, 500.0], [505.0, 500.0]))
    assert before != ("far:a", "far:b", 0)
    assert network.get_closest_lane_index(far, 0.0) == ("far:a", "far:b", 0)


def test_quick_exit_only_when_the_polygon_test_finds_no_contact():
    env = scene("parking-crowded")
    rng = np.random.default_rng(1)
    obstacles = [o for o in env.road.objects if isinstance(o, StaticObstacle)]
    assert obstacles
    exits = contacts = 0
    for _ in range(3000):
        wall = obstacles[rng.integers(len(obstacles))]
        position = np.asarray(wall.position) + rng.normal(0, 2 + wall.LENGTH / 2, size=2)
        car = EgoVehicle(env.road, position, rng.uniform(-math.pi, math.pi), rng.uniform(-3, 6))
        dt = 1 / 15
        fast = car._is_colliding(wall, dt)
        slow = Vehicle._is_colliding(car, wall, dt)  # highway-env's test, polygon and all
        if wall.clear_of(*position, car.diagonal / 2 + abs(car.speed) * dt):
            exits += 1
            assert slow[:2] == (False, False)
        else:
            assert fast[:2] == slow[:2]
            contacts += slow[0]
        assert fast[:2] == slow[:2]
    assert exits > 500 and contacts > 50  # both branches were exercised


def test_static_obstacle_polygon_is_highway_envs():
    env = scene("parking-crowded")
    wall = next(o for o in env.road.objects if isinstance(o, StaticObstacle))
    assert np.array_equal(wall.polygon(), Obstacle.polygon(wall))
    assert wall.diagonal == pytest.approx(math.hypot(wall.LENGTH, wall.WIDTH))
    assert utils.are_polygons_intersecting(wall.polygon(), wall.polygon(), np.zeros(2), np.zeros(2))[0]


def test_clip_is_numpys_on_numbers():
    values = [-2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, math.inf, -math.inf, math.nan, 1e-300, 3]
    for x in values:
        for low, high in [(-1, 1), (0, 15.0), (-0.0, 0.0), (0.0, -0.0), (-math.pi / 4, math.pi / 4)]:
            fast, slow = fastsim._clip(x, low, high), np.clip(x, low, high)
            assert (math.isnan(fast) and math.isnan(slow)) or (fast == slow and
                                                                 math.copysign(1, fast) == math.copysign(1, slow))


def test_arc_lane_coordinates_are_highway_envs_bit_for_bit():
    rng = np.random.default_rng(0)
    for _ in range(300):
        args = (rng.uniform(-50, 50, 2), rng.uniform(5, 200), rng.uniform(-4, 4))
        end = args[2] + rng.uniform(0.1, 2) * rng.choice([-1, 1])
        fast, slow = ArcLane(*args, end, clockwise=end > args[2]), CircularLane(*args, end, clockwise=end > args[2])
        for position in rng.uniform(-300, 300, (20, 2)):
            assert fast.local_coordinates(position) == slow.local_coordinates(position)


def test_circle_precheck_is_highway_envs_bit_for_bit():
    env = scene("curve-traffic")
    rng = np.random.default_rng(2)
    a, b = env.road.vehicles[:2]
    hits = 0
    for _ in range(2000):
        for v in (a, b):
            v.position = v.position + rng.normal(0, 3, 2)
            v.heading, v.speed = rng.uniform(-math.pi, math.pi), rng.uniform(-2, 12)
        fast, slow = fastsim._is_colliding(a, b, 1 / 15), RoadObject._is_colliding(a, b, 1 / 15)
        assert fast[:2] == slow[:2] and np.array_equal(fast[2], slow[2])
        hits += fast[1]
    assert hits > 5  # the polygon test ran


def _state(env) -> list:
    return [(v.position.tolist(), float(v.heading), float(v.speed), v.crashed, v.lane_index,
             getattr(v, "target_lane_index", None), float(getattr(v, "timer", 0.0))) for v in env.road.vehicles]


def _highway_envs_classes(patch) -> None:
    """Build scenes from highway-env's own classes instead of fastsim's."""
    patch.setattr(curve_env, "TrafficVehicle", IDMVehicle)
    patch.setattr(curve_env, "ArcLane", CircularLane)
    patch.setattr(curve_env, "EgoVehicle", Vehicle)
    patch.setattr(parking_env, "EgoVehicle", Vehicle)


@pytest.mark.parametrize("name", ["curve-traffic", "curve-gentle", "parking-crowded"])
def test_scenes_run_exactly_as_with_highway_envs_classes(monkeypatch, name):
    """A scenario built from fastsim's classes (TrafficVehicle, ArcLane, EgoVehicle) against the same scenario
    built from highway-env's IDMVehicle, CircularLane and Vehicle: every car's state (the ego car's lane
    included), the observation, reward and termination are equal at every step, over the expert's episodes,
    episodes with noisy actions and episodes at full throttle (which crash into the cars ahead or parked)."""
    entry = registry.get(name)
    family = families.get(entry.spec.family).env_class
    fast = family(entry.spec)
    with monkeypatch.context() as patch:
        _highway_envs_classes(patch)
        slow = family(entry.spec)
    expert = experts_for(entry.spec)[0]
    rng = np.random.default_rng(0)
    crashes = 0
    for seed, noise, ram in [(0, 0.0, False), (1, 0.0, False), (2, 0.6, False), (3, 0.0, True), (4, 0.3, True)]:
        fast.reset(seed=seed)
        with monkeypatch.context() as patch:
            _highway_envs_classes(patch)
            slow.reset(seed=seed)
        assert type(fast.vehicle) is EgoVehicle and type(slow.vehicle) is Vehicle
        if name == "curve-traffic":
            assert type(fast.road.vehicles[1]) is TrafficVehicle and type(slow.road.vehicles[1]) is IDMVehicle
        if entry.spec.family == "curve":
            assert {type(lane) for _, _, lanes in _lanes(slow.road.network) for lane in lanes} <= {StraightLane,
                                                                                                 CircularLane}
        done = False
        while not done:
            action = np.clip(expert.act(slow) + rng.normal(0, noise, 2), -1, 1)
            if ram:  # full throttle
                action[0] = 1.0
            obs_fast, reward_fast, *end_fast = fast.step(action)
            obs_slow, reward_slow, *end_slow = slow.step(action)
            assert _state(fast) == _state(slow)
            assert np.array_equal(obs_fast, obs_slow) and reward_fast == reward_slow
            assert end_fast[:2] == end_slow[:2]
            done = end_slow[0] or end_slow[1]
        crashes += slow.vehicle.crashed
    assert crashes >= 1 or name == "curve-gentle"  # a collision was simulated too (the empty road has nothing to hit)


@pytest.mark.parametrize("clockwise", [True, False])
def test_an_arc_of_more_than_half_a_circle_is_measured_along_it(clockwise):
    """highway-env wraps a point's angle to within half a turn of the arc's start, so on a 250 degree arc its last
    part reads as before the start: the traffic there never reached the lane's end and circled on, off the road.
    ArcLane and LaneNetwork measure along the arc; on arcs of at most half a circle they stay highway-env's."""
    span = math.radians(250)
    end = span if clockwise else -span
    lane = ArcLane(np.array([0.0, 0.0]), 30.0, 0.0, end, clockwise=clockwise)
    near_end = lane.position(lane.length - 1.0, 0.5)
    s, r = lane.local_coordinates(near_end)
    assert s == pytest.approx(lane.length - 1.0) and r == pytest.approx(0.5)
    assert lane.after_end(lane.position(lane.length + 1.0, 0.0))
    assert lane.local_coordinates(lane.position(-3.0, 0.0))[0] == pytest.approx(-3.0)  # before the start stays so
    network = LaneNetwork()
    network.add_lane("a", "b", lane)
    network.add_lane("b", "c", StraightLane(lane.position(lane.length, 0.0), lane.position(lane.length + 50, 0.0)))
    assert network.get_closest_lane_index(lane.position(lane.length - 2.0, 0.0)) == ("a", "b", 0)
