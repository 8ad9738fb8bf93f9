"""drivebench.experts.paths: sampled reference paths with gears."""
from __future__ import annotations

import math

import numpy as np
import pytest

from drivebench.experts.paths import STEP, PathBuilder
from drivebench.scenarios.roads import wrap_angle


@pytest.mark.parametrize("heading", [0.0, 0.7, -2.0, math.pi])
def test_straight_endpoint(heading):
    path = PathBuilder(1.0, -2.0, heading).straight(7.3).build()
    assert path.xy[0] == pytest.approx([1.0, -2.0])
    assert path.xy[-1] == pytest.approx([1.0 + 7.3 * math.cos(heading), -2.0 + 7.3 * math.sin(heading)])
    assert path.s[-1] == pytest.approx(7.3)
    assert np.allclose(path.travel_heading, heading)
    assert (path.gear == 1).all()
    assert np.diff(path.s).max() <= STEP + 1e-9 and (np.diff(path.s) > 0).all()


@pytest.mark.parametrize("radius, angle, end", [
    (5.0, math.pi / 2, (5.0, 5.0)),  # right quarter turn from east: ends south-east, facing south
    (5.0, -math.pi / 2, (5.0, -5.0)),  # left: north-east
    (8.0, math.pi, (0.0, 16.0)),  # right half turn: two radii south, facing west
])
def test_arc_endpoint(radius, angle, end):
    path = PathBuilder(0.0, 0.0, 0.0).arc(radius, angle).build()
    assert path.xy[-1] == pytest.approx(end, abs=1e-9)
    assert path.travel_heading[-1] == pytest.approx(angle)
    assert path.s[-1] == pytest.approx(radius * abs(angle), rel=1e-3)  # polyline of 0.1 m chords
    centre = np.array([0.0, math.copysign(radius, angle)])
    assert np.allclose(np.linalg.norm(path.xy - centre, axis=1), radius)


def test_chained_pieces_are_continuous():
    b = PathBuilder(2.0, 3.0, 0.0).straight(4.0).arc(6.0, -math.pi / 2).straight(2.0)
    # (2, 3) -> 4 m east (6, 3) -> left quarter turn of 6 m (12, -3) facing north -> 2 m north
    assert (b.x, b.y, b.heading) == pytest.approx((12.0, -5.0, -math.pi / 2))
    path = b.build()
    assert np.diff(path.s).max() <= STEP + 1e-9
    assert path.s[-1] == pytest.approx(4.0 + 6.0 * math.pi / 2 + 2.0, rel=1e-3)
    assert path.xy[-1] == pytest.approx([12.0, -5.0])


def test_zero_pieces_add_nothing():
    a = PathBuilder(0.0, 0.0, 0.0).straight(3.0).build()
    b = PathBuilder(0.0, 0.0, 0.0).straight(0.0).straight(3.0).arc(5.0, 0.0).straight(-1.0).build()
    assert np.array_equal(a.xy, b.xy) and np.array_equal(a.s, b.s)


def _cusp_path():
    """Forward 5 m east, stop, then back 3 m (travel west, car still facing east)."""
    b = PathBuilder(0.0, 0.0, 0.0).straight(5.0)
    b.heading += math.pi
    return b.straight(3.0, gear=-1).build()


def test_gear_and_car_heading():
    path = _cusp_path()
    forward, backward = path.gear == 1, path.gear == -1
    assert forward.sum() == 50 and backward.sum() == 31  # 0.1 m samples; the end point takes the last gear
    assert np.allclose(wrap_angle(path.car_heading), 0.0)  # the nose faces east all along
    assert np.allclose(path.travel_heading[backward], math.pi)
    assert path.xy[-1] == pytest.approx([2.0, 0.0])
    assert path.s[-1] == pytest.approx(8.0)


def test_run_end_with_a_gear_change():
    path = _cusp_path()
    last_forward = int(np.nonzero(path.gear == 1)[0][-1])
    assert path.run_end(0) == last_forward
    assert path.run_end(last_forward) == last_forward
    assert path.gear[last_forward + 1] == -1
    assert path.run_end(last_forward + 1) == len(path.s) - 1
    assert path.run_end(len(path.s) - 1) == len(path.s) - 1
    plain = PathBuilder(0, 0, 0).straight(2.0).build()
    assert plain.run_end(0) == len(plain.s) - 1


def test_nearest_on_the_path():
    path = PathBuilder(0.0, 0.0, 0.0).straight(4.0).arc(5.0, math.pi / 2).build()
    for i in (0, 13, 40, 60, len(path.s) - 1):
        x, y = path.xy[i]
        assert path.nearest(x, y, path.car_heading[i]) == i
    # off the path: the closest point wins when headings agree
    assert path.nearest(2.03, 1.0, 0.0) == 20


def test_nearest_heading_term():
    """Two parallel lanes 1 m apart, opposite headings: the heading decides."""
    b = PathBuilder(0.0, 0.0, 0.0).straight(10.0).arc(0.5, math.pi).straight(10.0)
    path = b.build()  # comes back westwards along y = 1
    east = path.nearest(5.0, 0.6, 0.0)
    west = path.nearest(5.0, 0.6, math.pi)
    assert path.xy[east][1] == pytest.approx(0.0) and path.xy[west][1] == pytest.approx(1.0)


def test_nearest_gear_penalty_separates_a_cusp():
    """Around a cusp the forward and reverse runs overlap; the direction of motion picks the side."""
    path = _cusp_path()
    i_forward = path.nearest(3.5, 0.0, 0.0, speed=1.0)
    i_backward = path.nearest(3.5, 0.0, 0.0, speed=-1.0)
    assert path.gear[i_forward] == 1 and path.gear[i_backward] == -1
    assert path.xy[i_forward] == pytest.approx([3.5, 0.0]) and path.xy[i_backward] == pytest.approx([3.5, 0.0])
    # standing still (|speed| <= 0.2) the gear is ignored: either point is at distance 0; the first is taken
    assert path.gear[path.nearest(3.5, 0.0, 0.0, speed=0.1)] == 1
