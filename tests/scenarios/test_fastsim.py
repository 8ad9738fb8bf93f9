"""The fast closest-lane query and obstacle collision exit give highway-env's own answers."""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from highway_env import utils
from highway_env.road.lane import StraightLane
from highway_env.road.road import RoadNetwork
from highway_env.vehicle.kinematics import Vehicle
from highway_env.vehicle.objects import Obstacle

from drivebench.scenarios import registry
from drivebench.scenarios.fastsim import EgoVehicle, LaneNetwork, StaticObstacle

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
