"""Faster versions of the highway-env routines that dominated our scenarios' step time, same results.

Profiled over 2000 random-action steps (highway-env 1.9.1): in the parking lots, the ego car's collision test
against every wall and parked car took 60% of the step (each wall is long, so highway-env's circle pre-check
always passes and the full polygon test runs); on the curves, `RoadNetwork.get_closest_lane_index`, run for
every vehicle at every 15 Hz physics step, took 40-55% (numpy calls on 2-vectors, lane by lane). On
curve-traffic, whose four IDM cars cost 12x an empty road's step, np.clip and np.linalg.norm on single numbers
took ~25% of the step (a sampling profile, py-spy).

- `LaneNetwork.get_closest_lane_index` evaluates highway-env's own distance (`distance_with_heading`: lateral
  distance + distance past either end + heading error) for straight and circular lanes with float arithmetic
  on precomputed lane constants. It picks the same lane (tests/scenarios/test_fastsim.py compares the two on
  random poses, and the demos still regenerate bit for bit).
- `StaticObstacle` caches its polygon (it never moves) and knows its own axes; `EgoVehicle._is_colliding`
  skips highway-env's polygon test when the ego car's swept circle lies beyond the obstacle's rectangle along
  one of the obstacle's axes. That axis is one of the separating axes the polygon test tries, so the test
  would have returned (False, False) too; anything closer goes to highway-env's test unchanged. The ego car
  also looks its lane up only when something reads it (nothing does, in our envs), from the pose of its last
  state update: 3 closest-lane searches fewer per step.
- `TrafficVehicle` (the IDM cars) and `ArcLane` are highway-env's IDMVehicle and CircularLane with np.clip on
  a number replaced by `_clip` and np.linalg.norm of a 2-vector by `_norm`, which return the same floats;
  every other numpy call stays, since numpy's arcsin, arctan2 or a dot product can differ from Python's math
  by an ulp. The cars move exactly as highway-env's: the tests step both versions side by side and compare
  every car's state at every step. curve-traffic's step: 3.3 -> 2.5 ms.
"""
from __future__ import annotations

import math

import numpy as np
from highway_env import utils
from highway_env.road.lane import CircularLane, StraightLane
from highway_env.road.road import RoadNetwork
from highway_env.vehicle.behavior import IDMVehicle
from highway_env.vehicle.kinematics import Vehicle
from highway_env.vehicle.objects import Obstacle

SEPARATION_MARGIN = 1e-6
"""[m] the swept circle must clear the rectangle by this much before the polygon test is skipped (float slack)"""

_TWO_PI = 2 * math.pi


def _wrap(angle: float) -> float:
    """highway-env's utils.wrap_to_pi on a float."""
    return ((angle + math.pi) % _TWO_PI) - math.pi


def _along_arc(relative: float, direction: float, span: float) -> float:
    """The angle [rad] from an arc's start phase to a point, `relative` being it wrapped to [-pi, pi] as highway-env
    wraps it. On an arc turning more than half a circle (`span` > pi) that wrap puts its last part before its start,
    so a car there never reaches the lane's end and circles on, off the road (a 181 degree arc's traffic left it):
    the part of the circle nearer the arc's end than its start counts as after the start. Same as highway-env's
    on every arc of at most half a circle (a hairpin's 180 degrees, to float rounding, included)."""
    if span > math.pi + 1e-6 and direction * relative < -(2 * math.pi - span) / 2:
        return relative + direction * 2 * math.pi
    return relative


class LaneNetwork(RoadNetwork):
    """A RoadNetwork whose closest-lane query is computed from per-lane constants (see the module doc)."""

    def __init__(self):
        super().__init__()
        self._table = None

    def add_lane(self, _from, _to, lane) -> None:
        super().add_lane(_from, _to, lane)
        self._table = None

    def _lanes(self) -> list:
        if self._table is None:
            table = []
            for _from, to_dict in self.graph.items():
                for _to, lanes in to_dict.items():
                    for _id, lane in enumerate(lanes):
                        table.append(((_from, _to, _id), _constants(lane), lane))
            self._table = table
        return self._table

    def get_closest_lane_index(self, position: np.ndarray, heading: float | None = None):
        px, py = float(position[0]), float(position[1])
        best, best_index = math.inf, None
        for index, constants, lane in self._lanes():
            if constants is None:  # a lane type without a fast path: highway-env's own distance
                distance = lane.distance_with_heading(position, heading)
            elif constants[0] == "straight":
                _, sx, sy, dx, dy, lx, ly, length, lane_heading = constants
                ex, ey = px - sx, py - sy
                s, r = ex * dx + ey * dy, ex * lx + ey * ly
                distance = abs(r) + max(s - length, 0.0) + max(-s, 0.0)
                if heading is not None:
                    distance += abs(_wrap(heading - lane_heading))
            else:
                _, cx, cy, radius, start_phase, direction, length = constants
                ex, ey = px - cx, py - cy
                phi = start_phase + _along_arc(_wrap(math.atan2(ey, ex) - start_phase), direction, length / radius)
                s = direction * (phi - start_phase) * radius
                r = direction * (radius - math.sqrt(ex * ex + ey * ey))
                distance = abs(r) + max(s - length, 0.0) + max(-s, 0.0)
                if heading is not None:
                    lane_heading = direction * s / radius + start_phase + math.pi / 2 * direction
                    distance += abs(_wrap(heading - lane_heading))
            if distance < best:  # strict: ties keep the first lane, as numpy's argmin does
                best, best_index = distance, index
        return best_index


def _constants(lane) -> tuple | None:
    if type(lane) is StraightLane:
        return ("straight", float(lane.start[0]), float(lane.start[1]), float(lane.direction[0]),
                float(lane.direction[1]), float(lane.direction_lateral[0]), float(lane.direction_lateral[1]),
                float(lane.length), float(lane.heading))
    if type(lane) in (CircularLane, ArcLane):
        return ("circular", float(lane.center[0]), float(lane.center[1]), float(lane.radius),
                float(lane.start_phase), float(lane.direction), float(lane.length))
    return None


class StaticObstacle(Obstacle):
    """A wall or parked car: an Obstacle that never moves, so its polygon and axes are computed once.
    LENGTH and WIDTH are given here (highway-env's are class constants)."""

    def __init__(self, road, position, heading: float, length: float, width: float):
        super().__init__(road, position, heading=heading)
        self.LENGTH, self.WIDTH = length, width
        self.diagonal = math.hypot(length, width)
        self._polygon = None
        c, s = math.cos(heading), math.sin(heading)
        self._frame = (float(position[0]), float(position[1]), c, s, length / 2, width / 2)

    def polygon(self) -> np.ndarray:
        if self._polygon is None:
            self._polygon = super().polygon()
        return self._polygon

    def clear_of(self, x: float, y: float, radius: float) -> bool:
        """Is the circle (x, y, radius) beyond this rectangle along its length or width axis?"""
        ox, oy, c, s, half_length, half_width = self._frame
        ex, ey = x - ox, y - oy
        along, across = abs(ex * c + ey * s), abs(-ex * s + ey * c)
        return (along > half_length + radius + SEPARATION_MARGIN
                or across > half_width + radius + SEPARATION_MARGIN)


def _clip(x, low, high):
    """np.clip on one number, without numpy's dispatch (~10 us a call): max then min, where a tie (0.0 against
    -0.0) keeps x as numpy does, and NaN passes through."""
    if x != x:
        return x
    x = low if low > x else x
    return high if high < x else x


def _norm(vector: np.ndarray) -> float:
    """np.linalg.norm of a 1-D float vector: it is sqrt(x.dot(x)) (numpy 2), the same dot, and a square root
    is correctly rounded in numpy and math alike."""
    return math.sqrt(vector.dot(vector))


def _is_colliding(self, other, dt):
    """RoadObject._is_colliding with the circle pre-check's norm computed as `_norm`."""
    if _norm(other.position - self.position) > (self.diagonal + other.diagonal) / 2 + self.speed * dt:
        return False, False, np.zeros(2)
    return utils.are_polygons_intersecting(self.polygon(), other.polygon(), self.velocity * dt, other.velocity * dt)


class EgoVehicle(Vehicle):
    """highway-env's kinematic Vehicle, with a quick exit from the collision test against static obstacles and
    its lane looked up when read. highway-env finds every vehicle's closest lane after every physics step,
    but nothing reads the ego car's (the envs measure the car against their own geometry; the IDM cars read
    their own lanes): in the parking lots, with a lane per bay, that search was ~12% of the step. The lookup
    keeps the pose of the last state update, so a read gives what highway-env would have stored then."""

    def on_state_update(self) -> None:
        if self.road:
            self._lane_pose = (self.position.copy(), self.heading)
            if self.road.record_history:
                self.history.appendleft(self.create_from(self))

    def _lookup_lane(self) -> None:
        """Find the lane of the last state update's pose, if that is still to do."""
        pose = self.__dict__.pop("_lane_pose", None)
        if pose is not None:
            self._lane_index = self.road.network.get_closest_lane_index(*pose)
            self._lane = self.road.network.get_lane(self._lane_index)

    def _looked_up(attribute: str) -> property:
        """`lane_index` or `lane`: read or set after any pending lookup (setting one leaves the other as
        the last update's, as in highway-env)."""

        def get(self):
            self._lookup_lane()
            return self.__dict__[attribute]

        def put(self, value) -> None:
            self._lookup_lane()
            self.__dict__[attribute] = value

        return property(get, put)

    lane_index = _looked_up("_lane_index")
    lane = _looked_up("_lane")
    del _looked_up

    def _is_colliding(self, other, dt):
        if isinstance(other, StaticObstacle) and other.clear_of(
                float(self.position[0]), float(self.position[1]), self.diagonal / 2 + abs(self.speed) * dt):
            return False, False, np.zeros(2)
        return _is_colliding(self, other, dt)


class ArcLane(CircularLane):
    """highway-env's CircularLane with local_coordinates' norm computed as `_norm`, and positions on an arc of more
    than half a circle measured along it (`_along_arc`)."""

    def local_coordinates(self, position: np.ndarray) -> tuple[float, float]:
        delta = position - self.center
        phi = np.arctan2(delta[1], delta[0])
        phi = self.start_phase + _along_arc(utils.wrap_to_pi(phi - self.start_phase), self.direction,
                                            abs(self.end_phase - self.start_phase))
        r = _norm(delta)
        longitudinal = self.direction * (phi - self.start_phase) * self.radius
        lateral = self.direction * (self.radius - r)
        return longitudinal, lateral


class TrafficVehicle(IDMVehicle):
    """highway-env's IDMVehicle (IDM speed, lane keeping), its act, steering_control and acceleration copied
    from highway-env 1.9.1 with np.clip on numbers replaced by `_clip`: those clips were ~18% of a step on
    curve-traffic. The numpy functions on numbers (arcsin, arctan, tan, power) stay numpy's: they can differ
    from Python's math by an ulp, and the vehicles must move exactly as highway-env's do."""

    def act(self, action=None):
        if self.crashed:
            return
        self.follow_road()
        if self.enable_lane_change:
            self.change_lane_policy()
        steering = _clip(self.steering_control(self.target_lane_index), -self.MAX_STEERING_ANGLE,
                         self.MAX_STEERING_ANGLE)
        front_vehicle, rear_vehicle = self.road.neighbour_vehicles(self, self.lane_index)
        acceleration = self.acceleration(ego_vehicle=self, front_vehicle=front_vehicle, rear_vehicle=rear_vehicle)
        if self.lane_index != self.target_lane_index:  # changing lane: mind both lanes
            front_vehicle, rear_vehicle = self.road.neighbour_vehicles(self, self.target_lane_index)
            acceleration = min(acceleration, self.acceleration(ego_vehicle=self, front_vehicle=front_vehicle,
                                                               rear_vehicle=rear_vehicle))
        acceleration = _clip(acceleration, -self.ACC_MAX, self.ACC_MAX)
        Vehicle.act(self, {"steering": steering, "acceleration": acceleration})

    def steering_control(self, target_lane_index) -> float:
        target_lane = self.road.network.get_lane(target_lane_index)
        lane_coords = target_lane.local_coordinates(self.position)
        lane_next_coords = lane_coords[0] + self.speed * self.TAU_PURSUIT
        lane_future_heading = target_lane.heading_at(lane_next_coords)
        lateral_speed_command = -self.KP_LATERAL * lane_coords[1]
        heading_command = np.arcsin(_clip(lateral_speed_command / utils.not_zero(self.speed), -1, 1))
        heading_ref = lane_future_heading + _clip(heading_command, -np.pi / 4, np.pi / 4)
        heading_rate_command = self.KP_HEADING * utils.wrap_to_pi(heading_ref - self.heading)
        slip_angle = np.arcsin(_clip(self.LENGTH / 2 / utils.not_zero(self.speed) * heading_rate_command, -1, 1))
        steering_angle = np.arctan(2 * np.tan(slip_angle))
        return float(_clip(steering_angle, -self.MAX_STEERING_ANGLE, self.MAX_STEERING_ANGLE))

    def acceleration(self, ego_vehicle, front_vehicle=None, rear_vehicle=None) -> float:
        if not ego_vehicle or not isinstance(ego_vehicle, Vehicle):
            return 0
        ego_target_speed = getattr(ego_vehicle, "target_speed", 0)
        if ego_vehicle.lane and ego_vehicle.lane.speed_limit is not None:
            ego_target_speed = _clip(ego_target_speed, 0, ego_vehicle.lane.speed_limit)
        acceleration = self.COMFORT_ACC_MAX * (
            1 - np.power(max(ego_vehicle.speed, 0) / abs(utils.not_zero(ego_target_speed)), self.DELTA))
        if front_vehicle:
            d = ego_vehicle.lane_distance_to(front_vehicle)
            acceleration -= self.COMFORT_ACC_MAX * np.power(
                self.desired_gap(ego_vehicle, front_vehicle) / utils.not_zero(d), 2)
        return acceleration

    _is_colliding = _is_colliding  # car against car: the module's exact-norm version of highway-env's test
