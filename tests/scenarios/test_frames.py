"""The third-person frames (issue 19): the transforms, the follower's trail and each family's world and follower
observations on constructed states, against values computed by hand."""
from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest

from drivebench.agents.thirdperson import to_ego_frame
from drivebench.core.rollout import expert_policy, run_episode
from drivebench.experts.registry import experts_for
from drivebench.scenarios import frames, registry


def test_a_point_in_a_frame_is_forward_and_to_the_right():
    # a frame at (1, 2) facing south (heading pi/2: y points south): a point 3 m south of it is 3 m ahead, a point
    # 1 m west of it is 1 m to its right (facing south, the right hand points west)
    assert frames.to_frame([(1, 5), (0, 2)], (1, 2), math.pi / 2) == pytest.approx(np.array([[3, 0], [0, 1]]))
    assert frames.rotate((0.0, 2.0), math.pi / 2) == pytest.approx([2.0, 0.0])
    assert frames.velocity(-2.0, math.pi) == pytest.approx((2.0, 0.0))  # reversing while facing west: moving east


def test_the_follower_trails_the_car_along_its_own_path():
    trail = frames.Trail(lag=5, gap=8.0)
    # step 0: no trail yet; the start pose driven back 5 decisions at 5 m/s (0.2 s each): 5 m, plus the gap
    assert trail.follower(0, 0.0, 0.0, 0.0, 5.0, 0.2) == pytest.approx((-13.0, 0.0, 0.0))
    for k in range(1, 5):
        trail.follower(k, float(k), 0.0, 0.0, 5.0, 0.2)
    assert trail.follower(5, 5.0, 1.0, 0.3, 5.0, 0.2) == pytest.approx((-8.0, 0.0, 0.0))  # the pose at step 0
    assert trail.follower(5, 5.0, 1.0, 0.3, 5.0, 0.2) == pytest.approx((-8.0, 0.0, 0.0))  # observing twice: the same
    assert trail.follower(0, 9.0, 9.0, math.pi, 0.0, 0.2) == pytest.approx((17.0, 9.0, math.pi))  # a new episode


def _placed(scenario: str, frame: str, x: float, y: float, heading: float, speed: float):
    """An env of `scenario` observed in `frame`, reset, its car moved to the pose, observed at step 0."""
    env = gymnasium.make(registry.get(scenario).id, config={"observation": {"type": frame}})
    env.reset(seed=0)
    base = env.unwrapped
    v = base.vehicle
    v.position, v.heading, v.speed = np.array([x, y]), heading, speed
    v.on_state_update()
    base.step_count = 0
    base.facts = base.measure()
    names = [n for n, _ in base.observation_type.FEATURES]
    return base, dict(zip(names, base.observe().tolist()))


def test_curve_world_frame_on_a_constructed_state():
    # curve-gentle's road starts at (0, 0) heading east with a 40 m straight: the car at s = 10, 1 m right of it
    _, obs = _placed("curve-gentle", "world", 10.0, 1.0, 0.1, 10.0)
    assert [obs[k] for k in ("x", "y", "cos_heading", "sin_heading", "vx", "vy")] == pytest.approx(
        [10.0, 1.0, math.cos(0.1), math.sin(0.1), 10 * math.cos(0.1), 10 * math.sin(0.1)], abs=1e-5)
    assert (obs["speed_limit"], obs["half_width"]) == (15.0, 4.0)
    assert (obs["road_5m_x"], obs["road_5m_y"], obs["road_20m_x"]) == pytest.approx((15.0, 0.0, 30.0), abs=1e-4)
    assert obs["vehicle0_present"] == 0.0


def test_curve_follower_frame_on_a_constructed_state():
    # step 0 at 10 m/s, 5 Hz: the follower is 5 decisions (10 m) + 8 m behind, on the car's heading (east)
    _, obs = _placed("curve-gentle", "follower", 10.0, 1.0, 0.0, 10.0)
    assert [obs[k] for k in ("car_x", "car_y", "car_cos", "car_sin", "car_vx", "car_vy")] == pytest.approx(
        [18.0, 0.0, 1.0, 0.0, 10.0, 0.0], abs=1e-5)
    # the road 5 m ahead of the car, (15, 0), from the follower at (-8, 1) facing east: 23 m ahead, 1 m to its left
    assert (obs["road_5m_x"], obs["road_5m_y"]) == pytest.approx((23.0, -1.0), abs=1e-4)


def test_parking_world_and_follower_frames_on_a_constructed_state():
    base, obs = _placed("parking-empty", "world", 20.0, 2.0, math.pi / 2, -1.0)  # facing south, reversing
    g, lot = base.goal_bay.rect, base.lot.interior
    assert [obs[k] for k in ("x", "y", "vx", "vy")] == pytest.approx([20.0, 2.0, 0.0, -1.0], abs=1e-5)
    assert [obs[k] for k in ("goal_x", "goal_y", "goal_cos", "goal_sin")] == pytest.approx(
        [g.x, g.y, math.cos(g.heading), math.sin(g.heading)], abs=1e-5)
    assert [obs[k] for k in ("lot_west", "lot_east", "lot_north", "lot_south")] == pytest.approx(
        [lot.x - lot.length / 2, lot.x + lot.length / 2, lot.y - lot.width / 2, lot.y + lot.width / 2])
    assert obs["orientation"] == 1.0 and obs["parked0_present"] == 0.0

    base, obs = _placed("parking-empty", "follower", 20.0, 2.0, math.pi / 2, 0.0)
    # standing still: the follower is the gap (8 m) behind, i.e. 8 m north at (20, -6), facing south
    assert [obs[k] for k in ("car_x", "car_y", "car_cos", "car_vx")] == pytest.approx([8.0, 0.0, 1.0, 0.0], abs=1e-5)
    dx, dy = g.x - 20.0, g.y + 6.0  # the goal from the follower; facing south: ahead = dy, right = -dx
    assert (obs["goal_x"], obs["goal_y"]) == pytest.approx((dy, -dx), abs=1e-4)
    assert obs["goal_cos"] == pytest.approx(math.cos(g.heading - math.pi / 2), abs=1e-6)


@pytest.mark.parametrize("scenario", ["curve-gentle", "parking-empty"])
def test_the_oracle_maps_a_drive_back_into_the_ego_frame(scenario):
    """An expert drive's poses, put back into the scene, give the ego observations it was recorded with."""
    entry = registry.get(scenario)
    expert = experts_for(entry.spec)[0]
    env = gymnasium.make(entry.id)
    episode = run_episode(env, expert_policy(expert), seed=3)
    mapped = to_ego_frame(lambda: gymnasium.make(entry.id), [3], [episode.poses])[0]
    assert mapped.shape == episode.observations.shape
    # poses are float32 (the rollout's Episode, as stored): a pose of up to ~100 m is off by up to ~4e-6 m, and the
    # features computed from it by up to ~1e-5 (measured 9e-6): 1e-4 bounds the rounding, not a wrong transform
    assert mapped == pytest.approx(episode.observations, abs=1e-4)


@pytest.mark.parametrize("frame", ["world", "follower"])
def test_every_scenario_declares_the_third_person_frames(frame):
    """Every registered scenario observes in both frames: documented features (with a unit or a meaning), finite
    float32 values of the declared length, the same drive in every frame (the frame changes no step)."""
    for entry in registry.entries():
        cls = gymnasium.spec(entry.id)
        env = gymnasium.make(entry.id, config={"observation": {"type": frame}})
        ego = gymnasium.make(entry.id)
        features = env.unwrapped.observation_type.FEATURES
        assert all(doc for _, doc in features) and len({n for n, _ in features}) == len(features), cls.id
        obs, info = env.reset(seed=11)
        _, ego_info = ego.reset(seed=11)
        for _ in range(6):
            assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape and np.isfinite(obs).all()
            action = np.array([0.4, 0.1], np.float32)
            obs, *_, info = env.step(action)
            *_, ego_info = ego.step(action)
            assert (info["x"], info["y"]) == (ego_info["x"], ego_info["y"])
