"""Geometry against analytic values: the kit (scenarios/roads.py), the curve family's centreline and the parking
family's lot layout (families/<family>/geometry.py)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from drivebench.families.curve.geometry import build_centreline, lane_offsets
from drivebench.families.parking.geometry import WALL_THICKNESS, build_lot
from drivebench.scenarios.roads import Rect, body_lateral_extent, ray_distances, rect_edges, wrap_angle
from drivebench.families.curve.spec import CurveRoad
from drivebench.families.parking.spec import LotLayout


def road(*segments, lanes=1, lane_width=4.0) -> CurveRoad:
    return CurveRoad(segments=list(segments), lanes=lanes, lane_width=lane_width, speed_limit=10.0)


def straight(length):
    return {"kind": "straight", "length": length}


def arc(radius, angle_deg, direction):
    return {"kind": "arc", "radius": radius, "angle_deg": angle_deg, "direction": direction}


# A road exercising every case: straight, right arc, straight, left arc, straight.
MIXED = road(straight(30), arc(20, 180, "right"), straight(25), arc(35, 70, "left"), straight(15))


# ---------------------------------------------------------------------------------------------- angles
@pytest.mark.parametrize("a, expected", [(0.0, 0.0), (math.pi / 2, math.pi / 2), (3 * math.pi / 2, -math.pi / 2),
                                         (-3 * math.pi / 2, math.pi / 2), (2 * math.pi + 0.1, 0.1),
                                         (math.pi, -math.pi)])
def test_wrap_angle(a, expected):
    assert wrap_angle(a) == pytest.approx(expected)


def test_wrap_angle_arrays():
    a = np.linspace(-20, 20, 101)
    w = wrap_angle(a)
    assert np.all((w >= -math.pi) & (w < math.pi))
    assert np.allclose(np.sin(w), np.sin(a)) and np.allclose(np.cos(w), np.cos(a))


# ---------------------------------------------------------------------------------------------- centreline
@pytest.mark.parametrize("radius, angle", [(20, 90), (100, 60), (40, 75), (7.5, 330)])
def test_arc_length_is_radius_times_angle(radius, angle):
    line = build_centreline(road(arc(radius, angle, "left")))
    assert line.length == pytest.approx(radius * math.radians(angle))
    assert line.pieces[0].length == pytest.approx(radius * math.radians(angle))


def test_length_is_sum_of_pieces_and_pieces_are_contiguous():
    line = build_centreline(MIXED)
    expected = 30 + 20 * math.pi + 25 + 35 * math.radians(70) + 15
    assert line.length == pytest.approx(expected)
    for a, b in zip(line.pieces, line.pieces[1:]):
        assert b.s0 == pytest.approx(a.s0 + a.length)
        x, y, th = a.pose(a.length)
        assert (b.x0, b.y0, b.heading0) == pytest.approx((x, y, th))


@pytest.mark.parametrize("direction, sign", [("right", 1.0), ("left", -1.0)])
@pytest.mark.parametrize("angle", [30, 90, 180])
def test_end_heading_after_arc(direction, sign, angle):
    """Right turns increase the heading (y points south), left turns decrease it."""
    line = build_centreline(road(arc(25, angle, direction)), start=(3.0, -2.0, 0.4))
    _, _, th = line.pose(line.length)
    assert th == pytest.approx(0.4 + sign * math.radians(angle))


@pytest.mark.parametrize("radius", [10.0, 50.0])
def test_quarter_right_turn_from_origin_ends_south_east(radius):
    line = build_centreline(road(arc(radius, 90, "right")))
    x, y, th = line.pose(line.length)
    assert (x, y) == pytest.approx((radius, radius))  # east by R, south by R
    assert th == pytest.approx(math.pi / 2)  # facing south
    x, y, _ = build_centreline(road(arc(radius, 90, "left"))).pose(radius * math.pi / 2)
    assert (x, y) == pytest.approx((radius, -radius))  # a left turn ends to the north


def test_half_turn_comes_back_two_radii_over():
    line = build_centreline(road(straight(40), arc(20, 180, "right"), straight(40)))
    x, y, th = line.pose(line.length)
    assert (x, y) == pytest.approx((0.0, 40.0), abs=1e-9)
    assert wrap_angle(th) == pytest.approx(-math.pi)


def test_points_on_an_arc_are_at_the_radius_from_its_centre():
    line = build_centreline(road(straight(10), arc(30, 120, "left")))
    centre = np.array([10.0, -30.0])  # left of a car heading east at (10, 0)
    for s in np.linspace(10, line.length, 17):
        for d in (-1.5, 0.0, 2.0):
            x, y = line.point(s, d)
            # + right is away from a left turn's centre
            assert math.hypot(x - centre[0], y - centre[1]) == pytest.approx(30 + d)


def test_point_lateral_offset_is_to_the_right():
    line = build_centreline(road(straight(50)))
    assert line.point(10, 3) == pytest.approx((10, 3))  # heading east: right is south (+y)
    assert line.point(10, -3) == pytest.approx((10, -3))
    north = build_centreline(road(straight(50)), start=(0, 0, -math.pi / 2))
    assert north.point(10, 2) == pytest.approx((2, -10))  # heading north: right is east


def test_pose_extrapolates_straight_past_both_ends():
    line = build_centreline(road(arc(20, 90, "right")))
    x, y, th = line.pose(-5)
    assert (x, y, th) == pytest.approx((-5, 0, 0))
    x, y, th = line.pose(line.length + 5)
    assert (x, y, th) == pytest.approx((20, 25, math.pi / 2))


def _samples(line, margin=0.0):
    pieces = [(p.s0, p.s0 + p.length) for p in line.pieces]
    for lo, hi in pieces:
        for s in np.linspace(lo + 0.05, hi - 0.05, 9):
            yield s
    if margin:
        yield -margin
        yield line.length + margin


@pytest.mark.parametrize("d", [-3.0, -1.0, 0.0, 0.7, 3.0])
def test_project_inverts_point(d):
    line = build_centreline(MIXED)
    for s in _samples(line):
        x, y = line.point(s, d)
        s2, d2, th = line.project(x, y)
        assert (s2, d2) == pytest.approx((s, d), abs=1e-6)
        assert wrap_angle(th - line.pose(s)[2]) == pytest.approx(0.0, abs=1e-9)


def test_project_inverts_point_past_straight_ends():
    line = build_centreline(MIXED)
    for s, d in itertools.product([-12.0, -1.0, line.length + 1.0, line.length + 12.0], [-2.0, 0.0, 2.5]):
        assert line.project(*line.point(s, d))[:2] == pytest.approx((s, d), abs=1e-6)


@pytest.mark.parametrize("s", [-15.0, 15.0], ids=["before-start", "past-end"])
def test_project_inverts_point_past_arc_ends(s):
    line = build_centreline(road(arc(20, 90, "right")))
    s = s if s < 0 else line.length + s
    assert line.project(*line.point(s, 0.0))[:2] == pytest.approx((s, 0.0), abs=1e-6)


def test_curvature_sign():
    line = build_centreline(MIXED)
    starts = [p.s0 for p in line.pieces]
    assert line.curvature(starts[0] + 1) == 0.0
    assert line.curvature(starts[1] + 1) == pytest.approx(1 / 20)  # right: > 0
    assert line.curvature(starts[2] + 1) == 0.0
    assert line.curvature(starts[3] + 1) == pytest.approx(-1 / 35)  # left: < 0
    assert line.curvature(-1.0) == 0.0 and line.curvature(line.length + 1.0) == 0.0


def test_curvature_matches_heading_rate():
    line = build_centreline(MIXED)
    for s in _samples(line):
        h = 0.01
        rate = wrap_angle(line.pose(s + h)[2] - line.pose(s - h)[2]) / (2 * h)
        assert rate == pytest.approx(line.curvature(s), abs=1e-9)


# ---------------------------------------------------------------------------------------------- lanes
@pytest.mark.parametrize("lanes, width, expected", [
    (1, 4.0, [0.0]),
    (2, 4.0, [-2.0, 2.0]),
    (3, 3.5, [-3.5, 0.0, 3.5]),
    (4, 3.0, [-4.5, -1.5, 1.5, 4.5]),
])
def test_lane_offsets(lanes, width, expected):
    offsets = lane_offsets(road(straight(10), lanes=lanes, lane_width=width))
    assert offsets == pytest.approx(expected)
    # lanes tile the road: the outer lane edges are the road edges
    assert offsets[0] - width / 2 == pytest.approx(-lanes * width / 2)
    assert offsets[-1] + width / 2 == pytest.approx(lanes * width / 2)


@pytest.mark.parametrize("d", [-1.3, 0.0, 2.0])
def test_body_lateral_extent(d):
    assert body_lateral_extent(d, 0.0, 5.0, 2.0) == pytest.approx(abs(d) + 1.0)
    assert body_lateral_extent(d, math.pi / 2, 5.0, 2.0) == pytest.approx(abs(d) + 2.5)
    assert body_lateral_extent(d, -0.3, 5.0, 2.0) == body_lateral_extent(d, 0.3, 5.0, 2.0)


def test_body_lateral_extent_is_the_farthest_corner():
    for d, err in itertools.product([-1.0, 0.5], [0.1, -0.4, 1.0]):
        body = Rect(0.0, d, 5.0, 2.0, err)  # heading east along y = 0: the lateral offset is y
        assert body_lateral_extent(d, err, 5.0, 2.0) == pytest.approx(np.abs(body.corners()[:, 1]).max())


# ---------------------------------------------------------------------------------------------- rectangles
def test_rect_corners_axis_aligned():
    corners = Rect(1.0, 2.0, 4.0, 2.0).corners()
    assert corners.shape == (4, 2)
    assert {tuple(c) for c in np.round(corners, 9)} == {(3.0, 3.0), (3.0, 1.0), (-1.0, 1.0), (-1.0, 3.0)}


def test_rect_corners_rotated():
    corners = Rect(0.0, 0.0, 4.0, 2.0, math.pi / 2).corners()  # length now along y
    assert {tuple(c) for c in np.round(corners, 9) + 0.0} == {(1.0, 2.0), (-1.0, 2.0), (-1.0, -2.0), (1.0, -2.0)}
    # corners are ordered around the rectangle: consecutive ones are one side apart
    sides = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)
    assert sorted(np.round(sides, 9)) == [2.0, 2.0, 4.0, 4.0]


def test_rect_contains():
    r = Rect(0.0, 0.0, 4.0, 2.0, math.pi / 2)
    pts = np.array([[0, 0], [0.9, 1.9], [1.1, 0], [0, 2.1], [1.9, 0]])
    assert r.contains(pts).tolist() == [True, True, False, False, False]
    assert r.contains(pts, tolerance=0.2).tolist() == [True, True, True, True, False]
    assert r.contains(np.array([0.0, 0.0])).shape == (1,)
    assert r.contains(r.corners()).all()


# ---------------------------------------------------------------------------------------------- lots
@pytest.mark.parametrize("bays, rows", [(1, 1), (6, 2), (10, 2), (7, 1)])
def test_build_lot_bays(bays, rows):
    layout = LotLayout(bays_per_row=bays, rows=rows, bay_width=3.0, bay_depth=6.0, aisle_width=10.0, margin=8.0)
    lot = build_lot(layout)
    assert len(lot.bays) == bays * rows
    ids = [b.id for b in lot.bays]
    assert len(set(ids)) == len(ids)
    assert {i for i in ids if i.startswith("N")} == {f"N{i}" for i in range(bays)}
    assert {i for i in ids if i.startswith("S")} == ({f"S{i}" for i in range(bays)} if rows == 2 else set())
    for row, sign in (("N", -1), ("S", 1))[:rows]:
        row_bays = [lot.bay(f"{row}{i}") for i in range(bays)]
        xs = np.array([b.rect.x for b in row_bays])
        assert xs[0] == pytest.approx(8.0 + 1.5)  # the margin, then half a bay
        assert np.diff(xs) == pytest.approx(np.full(bays - 1, 3.0))  # adjacent bays a bay width apart
        for b in row_bays:
            assert b.rect.y == pytest.approx(sign * (5.0 + 3.0))
            assert b.rect.heading == pytest.approx(sign * math.pi / 2)  # nose-in faces away from the aisle
            assert b.entrance[1] == pytest.approx(sign * 5.0)  # on the aisle edge
            assert lot.interior.contains(b.rect.corners(), 1e-9).all()
    # no two bays overlap: no corner of one lies strictly inside another
    for a, b in itertools.combinations(lot.bays, 2):
        shrunk = Rect(b.rect.x, b.rect.y, b.rect.length - 1e-6, b.rect.width - 1e-6, b.rect.heading)
        assert not shrunk.contains(a.rect.corners()).any()
        assert not Rect(a.rect.x, a.rect.y, a.rect.length - 1e-6, a.rect.width - 1e-6,
                        a.rect.heading).contains(np.array([b.rect.x, b.rect.y])).any()


def test_lot_dimensions():
    layout = LotLayout(bays_per_row=10)  # bay 3.5 x 6, aisle 12, margin 10
    lot = build_lot(layout)
    assert lot.interior.length == pytest.approx(2 * 10 + 10 * 3.5)
    assert lot.interior.width == pytest.approx(12 + 2 * 6)
    assert (lot.interior.x, lot.interior.y) == pytest.approx((27.5, 0.0))
    assert (lot.aisle.x, lot.aisle.y, lot.aisle.length, lot.aisle.width) == pytest.approx((27.5, 0.0, 55.0, 12.0))


@pytest.mark.parametrize("rows", [1, 2])
def test_walls_enclose_the_interior(rows):
    lot = build_lot(LotLayout(bays_per_row=4, rows=rows))
    assert len(lot.walls) == 4
    i = lot.interior
    west, east = i.x - i.length / 2, i.x + i.length / 2
    north, south = i.y - i.width / 2, i.y + i.width / 2
    for w in lot.walls:
        assert min(w.length, w.width) == pytest.approx(WALL_THICKNESS)
        # each wall touches the interior from outside: its inner face is on the boundary
        c = w.corners()
        assert not Rect(i.x, i.y, i.length - 1e-6, i.width - 1e-6).contains(c).any()
    edges = sorted([(w.y + w.width / 2) for w in lot.walls if w.length > w.width])
    assert edges[0] == pytest.approx(north)
    assert sorted([(w.y - w.width / 2) for w in lot.walls if w.length > w.width])[1] == pytest.approx(south)
    xs = sorted(w.x for w in lot.walls if w.length < w.width)
    assert xs == pytest.approx([west - WALL_THICKNESS / 2, east + WALL_THICKNESS / 2])


def test_no_walls_when_disabled():
    assert build_lot(LotLayout(bays_per_row=4, walls=False)).walls == ()
    assert len(build_lot(LotLayout(bays_per_row=4, walls=True)).walls) == 4


# ---------------------------------------------------------------------------------------------- range sensor
def test_rect_edges_shape():
    starts, vectors = rect_edges([Rect(0, 0, 2, 1), Rect(5, 5, 1, 1)])
    assert starts.shape == vectors.shape == (8, 2)
    assert np.allclose(vectors[:4].sum(axis=0), 0.0)  # a closed loop
    assert rect_edges([])[0].shape == (0, 2)


def test_ray_distances_single_wall():
    wall = Rect(10.0, 0.0, 1.0, 20.0)  # a wall 1 m thick from x = 9.5 to 10.5, y in [-10, 10]
    edges = rect_edges([wall])
    origin = np.array([0.0, 0.0])
    angles = np.array([0.0, math.pi / 6, -math.pi / 4, math.pi, math.pi / 2])
    d = ray_distances(origin, angles, *edges, max_range=50.0)
    assert d[0] == pytest.approx(9.5)
    assert d[1] == pytest.approx(9.5 / math.cos(math.pi / 6))
    assert d[2] == pytest.approx(9.5 / math.cos(math.pi / 4))
    assert d[3] == 50.0  # facing away: nothing is hit
    assert d[4] == 50.0  # parallel to the wall
    # a shorter range caps the hit
    assert ray_distances(origin, angles[:1], *edges, max_range=5.0)[0] == 5.0


def test_ray_distances_misses_past_the_wall_end():
    edges = rect_edges([Rect(10.0, 0.0, 1.0, 20.0)])
    # the wall spans y in [-10, 10]; a ray at 60 deg reaches x = 9.5 at y = 16.5
    assert ray_distances(np.zeros(2), np.array([math.pi / 3]), *edges, max_range=100.0)[0] == 100.0


def test_ray_distances_nearest_of_several_and_empty():
    edges = rect_edges([Rect(10.0, 0.0, 1.0, 20.0), Rect(4.0, 0.0, 1.0, 1.0)])
    assert ray_distances(np.zeros(2), np.array([0.0]), *edges, 50.0)[0] == pytest.approx(3.5)
    empty = rect_edges([])
    assert ray_distances(np.zeros(2), np.array([0.0, 1.0]), *empty, 7.0).tolist() == [7.0, 7.0]


def test_ray_distances_inside_a_box():
    box = Rect(0.0, 0.0, 10.0, 6.0)  # from inside, every ray hits the box's own edges
    angles = np.arange(4) * math.pi / 2
    d = ray_distances(np.array([1.0, 0.0]), angles, *rect_edges([box]), 100.0)
    assert d == pytest.approx([4.0, 3.0, 6.0, 3.0])


def test_rects_touched():
    from drivebench.scenarios import roads

    rects_touched = roads.rects_touched
    rects = [Rect(0.0, 0.0, 4.0, 2.0), Rect(10.0, 0.0, 4.0, 2.0, math.pi / 2)]
    points = np.array([[1.9, 0.9], [10.9, 1.9]])
    assert rects_touched(rects, points).tolist() == [True, True]
    assert rects_touched(rects, np.array([[2.1, 0.0], [11.1, 0.0]])).tolist() == [False, False]
    # agrees with Rect.contains for random points
    pts = np.random.default_rng(0).uniform(-3, 13, size=(200, 2))
    for r, touched in zip(rects, rects_touched(rects, pts)):
        assert touched == r.contains(pts).any()
    for p in pts[:50]:
        assert rects_touched(rects, p[None]).tolist() == [bool(r.contains(p)[0]) for r in rects]
    assert rects_touched([], points).shape == (0,)
    table = roads.rect_table(rects)
    assert rects_touched(table, pts).tolist() == rects_touched(rects, pts).tolist()
    assert rects_touched(roads.rect_table([]), points).shape == (0,)
