"""drivebench.styles.metrics: style metrics on synthetic paths (values derived by hand) and on recorded demos."""
from __future__ import annotations

import math

import numpy as np
import pytest

from drivebench.data import store
from drivebench.paths import REPO_ROOT
from drivebench.families.curve import geometry as curve_geometry
from drivebench.families.parking import geometry as parking_geometry
from drivebench.scenarios import registry, roads
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.families.curve.styles import CENTRE_BAND, curve_signals
from drivebench.families.parking.styles import geometry_for as lot_geometry_for
from drivebench.families.parking.styles import parked_cars
from drivebench.scenarios.family import all_families
from drivebench.scenarios.spec import parse_spec
from drivebench.styles.metrics import (
    COMMON_METRICS,
    METRIC_DOCS,
    METRIC_NAMES,
    body_corners,
    direction_changes,
    geometry_for,
    min_clearance,
    rect_gap,
    style_metrics,
)

DT = 0.2


def poses_from(xy, heading, speed) -> np.ndarray:
    n = len(xy)
    return np.column_stack([np.asarray(xy, float), np.broadcast_to(heading, n), np.broadcast_to(speed, n)])


@pytest.fixture
def lot_geometry(parking_data):
    """The conftest lot: 6 bays per row, 3.5 m wide, 6 m deep, a 12 m aisle, 10 m margins (x in [0, 41] m), walls;
    goal N2. South bays span y in [6, 12], bay S<i> x in [10 + 3.5 i, 13.5 + 3.5 i]."""
    return geometry_for(parse_spec({**parking_data, "name": "lot"}))


def test_every_metric_has_a_unit_and_each_family_lists_its_own():
    assert set(METRIC_DOCS) == set(METRIC_NAMES)
    for family in all_families():
        if family.style is not None:
            names = family.style.metric_names
            assert names[:len(COMMON_METRICS)] == COMMON_METRICS and set(names) <= set(METRIC_NAMES), family.name


def test_straight_line_along_the_aisle(lot_geometry):
    # 4 m/s east along y = 3.5 for 4 s: 21 poses 0.8 m apart, from x = 12 to 28
    x = 12.0 + 0.8 * np.arange(21)
    poses = poses_from(np.column_stack([x, np.full(21, 3.5)]), 0.0, 4.0)
    m = style_metrics(poses, {}, DT, lot_geometry)
    assert m.mean_speed == m.max_speed == 4.0
    assert m.path_length == pytest.approx(16.0)
    assert m.reversing_share == 0.0 and m.direction_changes == 0.0
    assert m.mean_jerk == pytest.approx(0.0, abs=1e-9)
    assert m.through_bay_share == 0.0 and m.line_crossing_share == 0.0
    assert m.aisle_offset == pytest.approx(3.5)
    # nearest obstacle: the south wall's inner face at y = 12, 12 - 3.5 - 1 = 7.5 m from the body's side (the
    # west wall is 12 - 2.5 = 9.5 m behind the rear bumper, the east one 41 - 30.5 = 10.5 m ahead)
    assert m.min_clearance == pytest.approx(12.0 - 3.5 - CAR_WIDTH / 2)
    assert math.isnan(m.apex_cut) and math.isnan(m.outside_band_share)  # curve metrics


def test_reversing_segment_and_direction_changes(lot_geometry):
    # 10 periods forward at 2 m/s, a standstill, then 10 periods backwards at 1 m/s, facing east all along
    speed = np.concatenate([np.full(11, 2.0), [0.0], np.full(10, -1.0)])
    x = 15.0 + np.concatenate([[0.0], np.cumsum(speed[1:] * DT)])
    poses = poses_from(np.column_stack([x, np.zeros(len(x))]), 0.0, 0.0)
    poses[:, 3] = speed
    m = style_metrics(poses, {}, DT, lot_geometry)
    assert m.reversing_share == pytest.approx(10 / 21)  # 10 of the 21 periods end moving backwards
    assert m.direction_changes == 1.0
    assert m.path_length == pytest.approx(10 * 0.4 + 10 * 0.2)
    assert m.max_speed == 2.0


def test_direction_changes_ignore_standstill():
    assert direction_changes(np.array([1.0, 0.0, 0.05, 1.0, -1.0, -0.05, -1.0, 1.0])) == 2
    assert direction_changes(np.array([0.0, 0.0])) == 0
    assert direction_changes(np.array([-1.0])) == 0


def test_path_through_a_bay(lot_geometry):
    # north to south across the aisle and into S3 (x in [20.5, 24]), facing south: y from -2 to 10 in 1 m steps
    y = np.arange(-2.0, 10.5, 1.0)
    poses = poses_from(np.column_stack([np.full(len(y), 22.25), y]), math.pi / 2, 5.0)
    m = style_metrics(poses, {}, DT, lot_geometry)
    # the centre is in S3 from y = 6 on: the periods ending at 6, 7, 8, 9, 10 (5 of 12 metres)
    assert m.through_bay_share == pytest.approx(5 / 12)
    # the front corners (2.5 m ahead) reach y >= 6 from centre y = 3.5 on: ends at 4 ... 10 (7 of 12)
    assert m.line_crossing_share == pytest.approx(7 / 12)
    # its nose ends 12 - 10 - 2.5 = -0.5 m into the south wall's inner face: overlapping by 0.5 m
    assert m.min_clearance == pytest.approx(-0.5)


def test_the_goal_bay_is_not_another_bay(lot_geometry):
    goal = lot_geometry.lot.bay("N2").rect
    poses = poses_from([[goal.x, goal.y + 3], [goal.x, goal.y]], -math.pi / 2, 1.0)
    m = style_metrics(poses, {}, DT, lot_geometry)
    assert m.through_bay_share == 0.0 and m.line_crossing_share == 0.0


def test_clearance_to_a_parked_car(parking_data):
    spec = parse_spec({**parking_data, "name": "lot", "lot": {"bays_per_row": 6, "walls": False}})
    bay = parking_geometry.build_lot(spec.lot).bay("S1").rect
    car = roads.Rect(bay.x, bay.y, CAR_LENGTH, CAR_WIDTH, bay.heading)
    geometry = lot_geometry_for(spec, parked=(car,))
    # our car faces south in the neighbouring bay S2, 3.5 m east: gap = 3.5 - 2 x half width
    poses = poses_from([[bay.x + 3.5, bay.y]], math.pi / 2, 0.0)
    assert style_metrics(poses, {}, DT, geometry).min_clearance == pytest.approx(3.5 - CAR_WIDTH)
    # no walls, no parked cars: nothing to keep clear of (capped)
    assert style_metrics(poses, {}, DT, geometry_for(spec)).min_clearance == 10.0


def test_rect_gap_is_the_distance_apart_and_minus_the_overlap():
    a = body_corners(np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), np.array([0.0, 0.0, math.pi / 4]))
    b = np.stack([roads.Rect(10.0, 0.0, 4.0, 2.0).corners(), roads.Rect(3.0, 0.0, 4.0, 2.0).corners(),
                  roads.Rect(0.0, 6.0, 4.0, 2.0).corners()])
    gap = rect_gap(a, b)
    assert gap[0] == pytest.approx(10.0 - 2.0 - CAR_LENGTH / 2)  # end to end along x
    assert gap[1] == pytest.approx(-(CAR_LENGTH / 2 + 2.0 - 3.0))  # overlapping by 0.5 m along x
    # the car turned 45 deg: its lowest corner (+y is south) reaches y = (2.5 + 1) / sqrt(2); b's top is at 5
    assert gap[2] == pytest.approx(5.0 - (CAR_LENGTH / 2 + CAR_WIDTH / 2) / math.sqrt(2))
    assert min_clearance(a[:1], ()) == math.inf


# ---------------------------------------------------------------------------------------------- curves
@pytest.fixture
def curve(curve_data):
    """The conftest road: 40 m straight, a 90 deg right arc of radius 50, 40 m straight; 2 lanes of 4 m."""
    spec = parse_spec({**curve_data, "name": "road"})
    return spec, geometry_for(spec)


def along(geometry, d_of_s, s_values, speed=10.0):
    """Poses following the road at lateral offset d(s) from the centreline, heading along it."""
    line = geometry.centreline
    pts = [(*line.point(s, d_of_s(s)), line.pose(s)[2], speed) for s in s_values]
    return np.array(pts)


def test_path_hugging_the_inside_of_a_right_curve(curve):
    spec, geometry = curve
    arc = geometry.centreline.pieces[1]
    lane1 = curve_geometry.lane_offsets(spec.road)[1]  # the right lane's centre, +2 m
    inside = 0.8
    # in the right lane; on the arc shifted 0.8 m to the right (the inside of a right turn)
    s = np.arange(0.0, geometry.centreline.length, 1.0)
    poses = along(geometry, lambda x: lane1 + (inside if arc.s0 <= x < arc.s0 + arc.length else 0.0), s)
    m = style_metrics(poses, curve_signals(poses, geometry), DT, geometry)
    assert m.apex_cut == pytest.approx(inside, abs=1e-6)
    assert m.peak_apex_cut == pytest.approx(inside, abs=1e-6)
    assert inside > CENTRE_BAND
    on_arc = (s[1:] >= arc.s0) & (s[1:] < arc.s0 + arc.length)
    assert m.outside_band_share == pytest.approx(on_arc.mean(), abs=0.02)
    # the body's right side reaches 2 + 0.8 + 1 = 3.8 m of the 4 m half-width
    assert m.min_clearance == pytest.approx(geometry.half_width - lane1 - inside - CAR_WIDTH / 2, abs=1e-6)
    assert m.reversing_share == 0.0 and math.isnan(m.through_bay_share)


def test_drifting_outwards_is_a_negative_apex_cut(curve):
    _, geometry = curve
    poses = along(geometry, lambda x: -2.0 - 0.5, np.arange(0.0, geometry.centreline.length, 1.0))
    m = style_metrics(poses, curve_signals(poses, geometry), DT, geometry)
    assert m.apex_cut == pytest.approx(-0.5, abs=1e-6)  # left of the left lane's centre: the outside


def test_lane_centre_path_is_inside_the_band(curve):
    _, geometry = curve
    s = np.arange(0.0, geometry.centreline.length, 1.0)
    poses = along(geometry, lambda x: -2.0, s)
    m = style_metrics(poses, curve_signals(poses, geometry), DT, geometry)
    assert m.apex_cut == pytest.approx(0.0, abs=1e-6) and m.outside_band_share == 0.0
    # 2 m outside the centreline, the 90 deg arc is 2 x pi / 2 longer (chords of 1 m: exact up to 1e-3)
    assert m.mean_speed == 10.0 and m.path_length == pytest.approx(s[-1] + 2.0 * math.pi / 2, rel=1e-3)


def test_a_car_that_never_reaches_the_arc_has_no_apex_cut(curve):
    _, geometry = curve
    poses = along(geometry, lambda x: 0.3, np.arange(0.0, 20.0, 1.0))
    m = style_metrics(poses, curve_signals(poses, geometry), DT, geometry)
    assert m.apex_cut == 0.0 and m.peak_apex_cut == 0.0


# ---------------------------------------------------------------------------------------------- demos
def demo_metrics(scenario, style):
    entry = registry.get(scenario)
    episodes = store.load(REPO_ROOT / "expert_data" / scenario / style).episodes[:5]
    geometry = geometry_for(entry.spec)
    return [style_metrics(e.poses, e.signals, 1 / entry.spec.policy_frequency, geometry) for e in episodes], episodes


def test_parking_demos_show_their_styles():
    tidy, _ = demo_metrics("parking-styles", "tidy")
    reverse, _ = demo_metrics("parking-styles", "reverse")
    shortcut, episodes = demo_metrics("parking-styles", "shortcut")
    assert all(m.reversing_share > 0.3 and m.direction_changes >= 1 for m in reverse)
    assert all(m.reversing_share < 0.05 for m in tidy + shortcut)
    assert all(m.through_bay_share > 0.15 for m in shortcut) and all(m.through_bay_share == 0 for m in tidy + reverse)
    assert min(m.mean_speed for m in shortcut) > max(m.mean_speed for m in tidy) > max(m.mean_speed for m in reverse)
    # the env's own signal (a body corner in another bay) agrees with the geometry, step for step
    for m, e in zip(shortcut, episodes):
        step = np.hypot(*np.diff(e.poses[:, :2].astype(float), axis=0).T)
        assert m.line_crossing_share == pytest.approx(step[e.signals["other_bay"][1:] > 0].sum() / step.sum(), abs=1e-6)


def test_curve_demos_show_their_styles():
    cautious, _ = demo_metrics("curve-s-bend", "cautious")
    sporty, _ = demo_metrics("curve-s-bend", "sporty")
    assert min(m.mean_speed for m in sporty) > max(m.mean_speed for m in cautious)
    assert min(m.apex_cut for m in sporty) > 0.2 > max(abs(m.apex_cut) for m in cautious)


def test_parked_cars_follow_the_seed():
    spec = registry.get("parking-crowded").spec
    a, b = parked_cars(spec, 3), parked_cars(spec, 3)
    assert a == b and len(a) == len(spec.occupancy.occupied) + spec.occupancy.count
    assert parked_cars(registry.get("parking-styles").spec, 3) == ()
