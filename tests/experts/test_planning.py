"""drivebench.experts.planning and the parking experts' plans: collision-free paths the car can drive, cusps where
the lot needs them, determinism, and the planning expert in lots its simple paths cannot park in."""
from __future__ import annotations

import math

import numpy as np
import pytest

from drivebench.core.rollout import run_episode
from drivebench.experts import planning
from drivebench.experts.paths import PathBuilder
from drivebench.experts.planning import Car, Planner, Problem, Region, body_poses, boxes_overlap
from drivebench.experts.registry import get_expert
from drivebench.families.parking import experts as parking
from drivebench.families.parking.env import ParkingEnv
from drivebench.families.parking.geometry import build_lot
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.scenarios.roads import Rect, rect_table, wrap_angle
from drivebench.scenarios.spec import parse_spec
from drivebench.seeds import demo_seeds

# Ordinary lots the simple paths crash in (issue 18): both neighbours of the goal parked, narrow bays and aisle.
TIGHT_NOSE_IN = {"family": "parking", "name": "tight-nose-in", "horizon": 300,
                 "lot": {"bays_per_row": 10, "bay_width": 3.0, "aisle_width": 8.0},
                 "occupancy": {"occupied": ["N5", "N7"], "count": 6}, "goal": {"bay": "N6", "orientation": "nose-in"}}
TIGHT_REVERSE_IN = {"family": "parking", "name": "tight-reverse-in", "horizon": 300,
                    "lot": {"bays_per_row": 10, "bay_width": 3.2, "aisle_width": 9.0},
                    "occupancy": {"occupied": ["N4", "N6"], "count": 4},
                    "goal": {"bay": "N5", "orientation": "reverse-in"}}


def tight_problem():
    """The nose-in lot with only the goal's neighbours parked: walls, two cars, other bays costly."""
    spec = parse_spec(TIGHT_NOSE_IN)
    lot = build_lot(spec.lot)
    parked = tuple(Rect(b.rect.x, b.rect.y, CAR_LENGTH, CAR_WIDTH, b.rect.heading) for b in lot.bays
                   if b.id in ("N5", "N7"))
    others = Region(tuple(b.rect for b in lot.bays if b.id not in ("N5", "N6", "N7")), 5.0)
    problem = Problem(parked + lot.walls, lot.interior, (others,))
    return lot, problem, parked + lot.walls


def assert_clear(path, obstacles):
    poses = body_poses(path, CAR_LENGTH)
    assert not boxes_overlap(poses, CAR_LENGTH, CAR_WIDTH, rect_table(obstacles)).any()


# ---------------------------------------------------------------------------------------------- geometry
def test_boxes_overlap_is_exact_for_rectangles():
    wall = rect_table([Rect(0.0, 0.0, 10.0, 1.0)])
    poses = np.array([[0.0, 1.45, 0.0], [0.0, 1.55, 0.0], [0.0, 3.0, math.pi / 2], [0.0, 3.55, math.pi / 2],
                      [6.0, 0.0, 0.0], [7.6, 0.0, 0.0]])
    # 2 m wide car beside a 1 m wall: touching below 1.5 m; upright (5 m long): below 3 m; end on: below 7.5 m
    assert boxes_overlap(poses, 5.0, 2.0, wall).tolist() == [True, False, True, False, True, False]
    # turned 45 degrees, its lowest corner just inside the wall's end, then just beyond it: the wall's own axes
    # do not separate the second (both projections overlap), the car's diagonal side does
    corner = Rect(0.0, 0.0, 5.0, 2.0, math.pi / 4).corners()
    lowest = corner[np.argmin(corner[:, 1])]
    for at, touching in (((4.9, 0.4), True), ((5.3, 0.4), False)):
        pose = np.array([[at[0] - lowest[0], at[1] - lowest[1], math.pi / 4]])
        assert boxes_overlap(pose, 5.0, 2.0, wall).tolist() == [touching]


def test_rear_axle_model_is_the_simulators():
    """A plan's centre path, driven by the bicycle model of controllers.py at constant steering, is the arc of the
    rear axle moved L/2 ahead: its curvature is sin(beta) / (L/2) and the body lags the travel by beta."""
    move = planning.Move(1, 1 / 5.5, 4.0)
    path = planning.path_from_moves((0.0, 0.0, 0.0), [move], CAR_LENGTH)
    beta = math.atan(CAR_LENGTH / 2 / 5.5)  # tan(steering) = L x rear axle curvature; tan(beta) = tan(steering) / 2
    assert path.curvature[0] == pytest.approx(math.sin(beta) / (CAR_LENGTH / 2))
    assert body_poses(path, CAR_LENGTH)[-1, 2] == pytest.approx(4.0 / 5.5)  # heading = curvature x distance
    assert path.xy[0] == pytest.approx([CAR_LENGTH / 2, 0.0])  # the centre, L/2 ahead of the rear axle
    rear = planning.rear_axle_path(path, CAR_LENGTH)
    assert np.hypot(*(rear.xy - [0.0, 5.5]).T) == pytest.approx(np.full(len(rear.s), 5.5))


# ---------------------------------------------------------------------------------------------- the planner
def test_plan_in_a_tight_lot_is_collision_free_and_has_cusps():
    lot, problem, obstacles = tight_problem()
    goal_bay = lot.bay("N6").rect
    goal = (goal_bay.x, goal_bay.y, goal_bay.heading)
    planner = Planner(Car(CAR_LENGTH, CAR_WIDTH, 5.5, 0.35), problem)
    path = planner.plan((4.5, 0.0, 0.0), goal, runway=CAR_LENGTH)
    assert path is not None
    assert path.xy[0] == pytest.approx([4.5, 0.0], abs=1e-6)
    assert path.xy[-1] == pytest.approx(goal[:2], abs=1e-2)
    assert wrap_angle(body_poses(path, CAR_LENGTH)[-1, 2] - goal[2]) == pytest.approx(0.0, abs=1e-3)
    assert_clear(path, obstacles)
    assert np.count_nonzero(np.diff(path.gear)) >= 1  # a 3 m bay off an 8 m aisle: no single sweep gets in
    assert np.diff(path.s).max() <= 0.11 and lot.interior.contains(path.xy).all()
    again = Planner(Car(CAR_LENGTH, CAR_WIDTH, 5.5, 0.35), problem).plan((4.5, 0.0, 0.0), goal, runway=CAR_LENGTH)
    for field in ("xy", "travel_heading", "gear", "curvature", "s"):  # deterministic
        assert np.array_equal(getattr(path, field), getattr(again, field))


def test_plan_needs_no_cusp_in_the_open():
    bounds = Rect(20.0, 0.0, 60.0, 30.0)
    planner = Planner(Car(CAR_LENGTH, CAR_WIDTH, 5.5), Problem((), bounds))
    path = planner.plan((5.0, 0.0, 0.0), (30.0, 8.0, math.pi / 2))
    assert path is not None and (path.gear == 1).all()


def test_planner_gives_up_within_its_budget():
    """A goal walled in: no plan, after at most max_expansions nodes (no clock)."""
    bounds = Rect(20.0, 0.0, 60.0, 30.0)
    box = (Rect(30.0, -4.0, 8.0, 0.5), Rect(30.0, 4.0, 8.0, 0.5), Rect(26.0, 0.0, 0.5, 8.0), Rect(34.0, 0.0, 0.5, 8.0))
    planner = Planner(Car(CAR_LENGTH, CAR_WIDTH, 5.5), Problem(box, bounds), planning.Settings(max_expansions=300))
    assert planner.plan((5.0, 0.0, 0.0), (30.0, 0.0, 0.0)) is None
    assert planner.expansions <= 300


# ---------------------------------------------------------------------------------------------- the expert
@pytest.mark.parametrize("data, style", [(TIGHT_NOSE_IN, "tidy"), (TIGHT_REVERSE_IN, "reverse")])
def test_expert_parks_where_its_simple_path_crashes(data, style):
    spec = parse_spec(data)
    expert = get_expert(style)
    assert expert.supports(spec) is None
    env = ParkingEnv(spec)
    for seed in demo_seeds(2):
        env.reset(seed=seed)
        simple = parking.plan(expert.style, env.lot, spec.goal.bay, (4.5, 0.0))
        assert not parking.simple_path_clear(simple, env.lot, spec.goal.bay, tuple(env.occupied), (4.5, 0.0, 0.0))
        episode = run_episode(env, lambda e, obs: expert.act(e), seed)
        assert episode.termination == "arrived", (seed, episode.termination)
    path = expert.path(env)
    assert np.count_nonzero(np.diff(path.gear)) >= 1


def test_expert_replans_from_a_displaced_state():
    """A third of the way along the aisle, 1 m north of its centre line, turned 55 degrees toward the north row and
    stopped: the car is off its plan, the expert plans from where it is (the same action for the same state) and the
    car still parks."""
    spec = parse_spec(TIGHT_NOSE_IN)
    expert = get_expert("tidy")
    env = ParkingEnv(spec)
    env.reset(seed=3)
    v = env.vehicle
    path = expert.path(env)
    for _ in range(15):
        env.step(expert.act(env))
    v.position = np.array([12.2, -1.0])
    v.heading = -math.radians(55)
    v.speed = 0.0
    x, y = v.position
    rear = expert._episode_plan(env).rear
    half = parking.CAR_LENGTH / 2
    assert parking.off_plan(rear, x - half * math.cos(v.heading), y - half * math.sin(v.heading), v.heading, v.speed)
    first = expert.act(env)
    fresh = parking.ParkingExpert(parking.PARKING_STYLES["tidy"])  # no history: state feedback, the same action
    assert np.array_equal(first, fresh.act(env))
    assert np.array_equal(first, expert.act(env))
    replanned = expert.replan(env, x, y, v.heading)
    assert replanned is not None and replanned.path is not path
    assert replanned.path.xy[0] == pytest.approx([x, y], abs=0.5)  # from the state rounded (REPLAN_ROUNDING)
    for _ in range(spec.horizon):
        _, _, terminated, truncated, info = env.step(expert.act(env))
        if terminated or truncated:
            break
    assert info["termination"] == "arrived"


def test_shipped_lots_keep_their_simple_paths():
    """Where the simple path fits and keeps clear of the episode's parked cars, the expert drives it as before (demo
    statistics stay comparable); the planner is for the episodes it does not fit. The scenario's reference path (the
    progress routes) is the simple one on every shipped lot."""
    from drivebench.scenarios import registry
    for name, style in (("parking-empty", "tidy"), ("parking-crowded", "tidy"), ("parking-reverse", "reverse")):
        spec = registry.get(name).spec
        env = ParkingEnv(spec)
        expert = get_expert(style)
        simple = parking.plan(expert.style, env.lot, spec.goal.bay, parking._start_centre(spec))
        assert np.array_equal(expert.scenario_path(spec).xy, simple.xy)
        kinds = []
        for seed in range(10):
            env.reset(seed=seed)
            clear = parking.simple_path_clear(simple, env.lot, spec.goal.bay, tuple(sorted(env.occupied)),
                                              parking._start_pose(spec))
            assert np.array_equal(expert.path(env).xy, simple.xy) == clear, (name, seed)
            kinds.append(clear)
        assert all(kinds), (name, kinds)  # no episode of the shipped lots plans (their demos stay as they were)


def test_a_planned_path_ends_with_a_straight_way_in():
    spec = parse_spec(TIGHT_REVERSE_IN)
    env = ParkingEnv(spec)
    env.reset(seed=0)
    expert = get_expert("reverse")
    path = expert.path(env)
    assert expert._episode_plan(env).rear is not None  # planned: the simple path meets this episode's cars
    bay = build_lot(spec.lot).bay("N5").rect
    tail = path.s >= path.s[-1] - parking.RUNWAYS[0] + 0.1
    assert (path.gear[tail] == -1).all() and np.allclose(path.curvature[tail], 0.0)
    assert wrap_angle(path.car_heading[-1] - bay.heading - math.pi) == pytest.approx(0.0, abs=1e-3)


def test_an_episode_plan_starts_where_the_episode_does():
    """A planned episode starts from the car's drawn pose (ParkingEnv.start_pose), not from the start region's centre:
    a plan that turns at once from the centre cannot be tracked from a start 1 m beside it."""
    spec = parse_spec(TIGHT_REVERSE_IN)
    env = ParkingEnv(spec)
    expert = get_expert("reverse")
    starts = []
    for seed in (0, 1):
        env.reset(seed=seed)
        plan = expert._episode_plan(env)
        assert plan.rear is not None
        x, y, heading = env.start_pose
        assert (x, y) == (env.vehicle.position[0], env.vehicle.position[1]) and heading == env.vehicle.heading
        assert plan.path.xy[0] == pytest.approx([x, y], abs=1e-6)
        assert wrap_angle(body_poses(plan.path, CAR_LENGTH)[0, 2] - heading) == pytest.approx(0.0, abs=1e-6)
        starts.append(env.start_pose)
    assert starts[0] != starts[1]


# Generated lots (benchmarks/generated_scenarios.py) whose simple path crashed before the checks that now plan there.
NEXT_TO_START = {"family": "parking", "name": "next-to-start", "horizon": 400,
                 "lot": {"bays_per_row": 3, "bay_width": 4.13, "bay_depth": 7.44, "aisle_width": 11.72, "margin": 9.5},
                 "occupancy": {"count": 5}, "goal": {"bay": "S0", "orientation": "nose-in"}}
"""the goal is the bay beside the start: the tidy path turns 0.6 m after the start region's centre (SIMPLE_PATH_RUN_IN)"""
ACROSS_THE_AISLE = {"family": "parking", "name": "across-the-aisle", "horizon": 400,
                    "lot": {"bays_per_row": 12, "bay_width": 4.39, "bay_depth": 6.97, "aisle_width": 9.84, "margin": 7.0},
                    "occupancy": {"occupied": ["S7", "S9"], "count": 4}, "goal": {"bay": "S8", "orientation": "reverse-in"}}
"""reversing into S8 swings the nose toward the far row, whose cars the exact path misses by less than
SIMPLE_PATH_WALL_MARGIN (seed 1 of the demo seeds: N8 and N9 parked)"""


@pytest.mark.parametrize("data, style, seed", [(NEXT_TO_START, "tidy", 0), (ACROSS_THE_AISLE, "reverse", 1)])
def test_expert_plans_where_its_simple_path_is_not_safe(data, style, seed):
    spec = parse_spec(data)
    env = ParkingEnv(spec)
    expert = get_expert(style)
    env.reset(seed=demo_seeds(seed + 1)[seed])
    simple = parking.plan(expert.style, env.lot, spec.goal.bay, parking._start_centre(spec))
    assert expert._episode_plan(env).rear is not None  # planned
    if data is NEXT_TO_START:
        assert parking.straight_before_turn(simple, parking._start_pose(spec)) < parking.SIMPLE_PATH_RUN_IN * expert.style.lookahead
    else:
        assert parking.simple_path_clear(simple, env.lot, spec.goal.bay, (), parking._start_pose(spec))
        assert not parking.simple_path_clear(simple, env.lot, spec.goal.bay, tuple(sorted(env.occupied)),
                                             parking._start_pose(spec))
    episode = run_episode(env, lambda e, obs: expert.act(e), demo_seeds(seed + 1)[seed])
    assert episode.termination == "arrived"


def test_plan_is_driveable_by_the_builder_convention():
    """A plan's Path is the same kind of data PathBuilder makes: travel heading along the motion, car heading
    flipped when reversing, s increasing."""
    b = PathBuilder(0.0, 0.0, 0.0).straight(3.0)
    builder_path = b.build()
    plan = planning.path_from_moves((-CAR_LENGTH / 2, 0.0, 0.0), [planning.Move(1, 0.0, 3.0)], CAR_LENGTH)
    assert plan.xy[[0, -1]] == pytest.approx(builder_path.xy[[0, -1]])
    assert plan.car_heading == pytest.approx(np.zeros(len(plan.s)))
    back = planning.path_from_moves((0.0, 0.0, 0.0), [planning.Move(-1, 0.0, 3.0)], CAR_LENGTH)
    assert back.car_heading == pytest.approx(np.zeros(len(back.s))) and (np.diff(back.s) > 0).all()
    assert back.xy[-1] == pytest.approx([CAR_LENGTH / 2 - 3.0, 0.0])


def test_rear_axle_pursuit_drives_a_three_point_turn():
    """Closed loop with highway-env's kinematic Vehicle (decisions at 5 Hz, integration at 15 Hz): forward at full
    lock, back at full lock the other way, forward and straight; the car ends on the plan's end within 0.2 m."""
    from highway_env.vehicle.kinematics import Vehicle

    from drivebench.experts import controllers as ctl

    k = 1 / 5.5
    moves = [planning.Move(1, 0.0, 3.0), planning.Move(1, k, 5.0), planning.Move(-1, -k, 4.0),
             planning.Move(1, k, 2.0), planning.Move(1, 0.0, 5.0)]
    path = planning.path_from_moves((0.0, 0.0, 0.0), moves, CAR_LENGTH)
    rear = planning.rear_axle_path(path, CAR_LENGTH)
    v = Vehicle(None, list(path.xy[0]), heading=0.0, speed=0.0)
    for i in range(600):
        if i % 3 == 0:
            h = v.heading
            a = ctl.track_rear_axle_path(rear, v.position[0] - 2.5 * math.cos(h), v.position[1] - 2.5 * math.sin(h), h,
                                         v.speed, cruise=3.0, reverse_cruise=1.5, lookahead=2.0)
            v.act({"acceleration": float(a[0]) * ctl.ACCELERATION_MAX, "steering": float(a[1]) * ctl.STEERING_MAX})
        v.step(1 / 15)
    assert v.position == pytest.approx(path.xy[-1], abs=0.2)
    assert abs(wrap_angle(v.heading - body_poses(path, CAR_LENGTH)[-1, 2])) < 0.05 and abs(v.speed) < 0.3
