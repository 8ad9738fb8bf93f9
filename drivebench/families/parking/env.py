"""The parking family's env: a lot with an aisle and rows of bays (scenarios/roads.py's lot), parked cars and
walls; stop inside the goal bay. Shared episode logic is scenarios/envs.py's ScenarioEnv."""
from __future__ import annotations

import math

import numpy as np
from highway_env.road.lane import LineType, StraightLane
from highway_env.road.road import Road, RoadNetwork
from highway_env.vehicle.objects import Landmark

from drivebench.families.parking import geometry
from drivebench.families.parking.experts import PARKING_STYLES, ParkingExpert
from drivebench.scenarios import frames, roads
from drivebench.scenarios.envs import (CAR_LENGTH, CAR_WIDTH, COMMON_SIGNALS, OFFROAD_TOLERANCE, FeatureObservation,
                                       ScenarioEnv, Termination)
from drivebench.scenarios.fastsim import EgoVehicle, LaneNetwork, StaticObstacle


RAY_COUNT, RAY_RANGE = 16, 20.0  # range sensor: rays around the car, maximum distance [m]
ORIENTATION_CODE = {"nose-in": 1.0, "reverse-in": -1.0, "any": 0.0}
ROUTE_TOLERANCE = CAR_WIDTH
"""a route waypoint is reached when the car centre comes within this distance of it [m]: one car width"""


def reference_routes(spec, lot: geometry.LotGeometry) -> tuple[geometry.Route, ...]:
    """The routes a scenario's progress is measured along: the scenario-level reference path of each expert that
    parks in it (the ways its reference drivers park, first the one the agents learn from): its simple path where
    that fits the lot, else its plan among the always-occupied bays, never the cars drawn for an episode. A scenario
    no expert supports gets the straight line from the start region's centre to the goal bay's mouth, then into
    the bay."""
    start = (sum(spec.start.x) / 2, sum(spec.start.y) / 2)
    experts = [e for e in (ParkingExpert(s) for s in PARKING_STYLES.values()) if e.supports(spec) is None]
    if experts:
        return tuple(geometry.Route.along(e.scenario_path(spec).xy) for e in experts)
    bay = lot.bay(spec.goal.bay)
    return (geometry.Route.along(np.array([start, bay.entrance, (bay.rect.x, bay.rect.y)])),)


class ParkingEgoObservation(FeatureObservation):
    """The default parking observation: the pose in the goal bay's frame and in the lot, and a range sensor."""

    FEATURES = (
        ("goal_x", "car centre in the goal bay frame, along the bay axis (+ deeper into the bay) [m]"),
        ("goal_y", "car centre in the goal bay frame, across the bay axis [m]"),
        ("goal_cos", "cos of the car heading relative to the bay axis (1: facing into the bay)"),
        ("goal_sin", "sin of the car heading relative to the bay axis"),
        ("speed", "signed speed, negative when reversing [m/s]"),
        ("lot_x", "car centre from the lot's west end, along the aisle [m]"),
        ("lot_y", "car centre from the aisle centre line, + south [m]"),
        ("lot_cos", "cos of the car heading (1: facing east along the aisle)"),
        ("lot_sin", "sin of the car heading"),
        ("orientation", "required orientation: 1 nose-in, -1 reverse-in, 0 either"),
        *[(f"ray{i}", f"free distance at {360 * i / RAY_COUNT:.1f} deg from the car heading, to walls and parked "
           f"cars, capped at {RAY_RANGE:.0f} m [m]") for i in range(RAY_COUNT)],
    )

    def observe(self) -> np.ndarray:
        env = self.env
        v, g = env.vehicle, env.goal_bay.rect
        cg, sg = math.cos(g.heading), math.sin(g.heading)
        dx, dy = v.position[0] - g.x, v.position[1] - g.y
        rel = v.heading - g.heading
        aisle_west = env.lot.aisle.x - env.lot.aisle.length / 2
        angles = v.heading + np.arange(RAY_COUNT) * (2 * math.pi / RAY_COUNT)
        rays = roads.ray_distances(v.position, angles, *env.ray_edges, RAY_RANGE)
        return np.asarray([dx * cg + dy * sg, -dx * sg + dy * cg, math.cos(rel), math.sin(rel), v.speed,
                           v.position[0] - aisle_west, v.position[1], math.cos(v.heading), math.sin(v.heading),
                           ORIENTATION_CODE[env.scenario.goal.orientation], *rays], dtype=np.float32)


PARKED_SLOTS = 3
"""parked cars the third-person observations list, nearest to the car first"""


def _parked(env) -> list:
    """The parked cars' rectangles, nearest to the car first."""
    p = env.vehicle.position
    return sorted(env.parked, key=lambda r: (r.x - p[0]) ** 2 + (r.y - p[1]) ** 2)[:PARKED_SLOTS]


class ParkingWorldObservation(FeatureObservation):
    """The lot as a fixed overhead camera sees it (third-person imitation, issue 19): the car's absolute pose and
    velocity, the goal bay, the lot's extent and the nearest parked cars, all in world coordinates (x east,
    y south)."""

    FEATURES = (
        ("x", "car centre, east [m]"),
        ("y", "car centre, south [m]"),
        ("cos_heading", "cos of the car heading (1: facing east)"),
        ("sin_heading", "sin of the car heading (1: facing south)"),
        ("vx", "car velocity, east [m/s] (signed speed along the heading: reversing points it backwards)"),
        ("vy", "car velocity, south [m/s]"),
        ("goal_x", "goal bay centre, east [m]"),
        ("goal_y", "goal bay centre, south [m]"),
        ("goal_cos", "cos of the goal bay's axis heading (pointing into the bay)"),
        ("goal_sin", "sin of the goal bay's axis heading"),
        ("orientation", "required orientation: 1 nose-in, -1 reverse-in, 0 either"),
        ("lot_west", "the lot interior's west edge, east [m]"),
        ("lot_east", "the lot interior's east edge, east [m]"),
        ("lot_north", "the lot interior's north edge, south [m]"),
        ("lot_south", "the lot interior's south edge, south [m]"),
        *[(f"parked{i}_{name}", doc) for i in range(PARKED_SLOTS) for name, doc in (
            ("present", "1 if there is an i-th nearest parked car, else 0"),
            ("x", "its centre, east [m]"), ("y", "its centre, south [m]"))],
    )

    def observe(self) -> np.ndarray:
        env = self.env
        v, g, lot = env.vehicle, env.goal_bay.rect, env.lot.interior
        features = [v.position[0], v.position[1], math.cos(v.heading), math.sin(v.heading),
                    *frames.velocity(v.speed, v.heading), g.x, g.y, math.cos(g.heading), math.sin(g.heading),
                    ORIENTATION_CODE[env.scenario.goal.orientation], lot.x - lot.length / 2, lot.x + lot.length / 2,
                    lot.y - lot.width / 2, lot.y + lot.width / 2]
        parked = _parked(env)
        for i in range(PARKED_SLOTS):
            features += [1.0, parked[i].x, parked[i].y] if i < len(parked) else [0.0, 0.0, 0.0]
        return np.asarray(features, dtype=np.float32)


class ParkingFollowerObservation(FeatureObservation):
    """The lot as a vehicle behind the car sees it (third-person imitation, issue 19): the follower drives the
    car's own path a little behind it (scenarios/frames.Trail; config `lag` [decisions], `gap` [m]); every feature
    is in the follower's frame (x forward, y to its right)."""

    FEATURES = (
        *frames.FOLLOWER_CAR_FEATURES,
        ("goal_x", "goal bay centre ahead of the follower [m]"),
        ("goal_y", "goal bay centre to the follower's right [m]"),
        ("goal_cos", "cos of the goal bay's axis heading minus the follower's"),
        ("goal_sin", "sin of the goal bay's axis heading minus the follower's"),
        ("orientation", "required orientation: 1 nose-in, -1 reverse-in, 0 either"),
        ("lot_x", "the lot interior's centre ahead of the follower [m]"),
        ("lot_y", "the lot interior's centre to the follower's right [m]"),
        ("lot_length", "the lot interior's east-west extent [m]"),
        ("lot_width", "the lot interior's north-south extent [m]"),
        *[(f"parked{i}_{name}", doc) for i in range(PARKED_SLOTS) for name, doc in (
            ("present", "1 if there is an i-th nearest parked car, else 0"),
            ("x", "its centre ahead of the follower [m]"), ("y", "its centre to the follower's right [m]"))],
    )

    def __init__(self, env, **params):
        super().__init__(env, **params)
        self.trail = frames.Trail(params.get("lag", frames.FOLLOW_LAG_STEPS), params.get("gap", frames.FOLLOW_GAP))

    def observe(self) -> np.ndarray:
        env = self.env
        g, lot = env.goal_bay.rect, env.lot.interior
        origin, fh, features = frames.follower_view(self.trail, env)
        goal, centre = frames.to_frame([(g.x, g.y), (lot.x, lot.y)], origin, fh)
        features += [*goal, math.cos(g.heading - fh), math.sin(g.heading - fh),
                     ORIENTATION_CODE[env.scenario.goal.orientation], *centre, lot.length, lot.width]
        parked = _parked(env)
        for i in range(PARKED_SLOTS):
            features += [1.0, *frames.to_frame((parked[i].x, parked[i].y), origin, fh)[0]] if i < len(parked) \
                else [0.0, 0.0, 0.0]
        return np.asarray(features, dtype=np.float32)


class ParkingEnv(ScenarioEnv):
    """A lot with an aisle and rows of bays, parked cars and walls; stop inside the goal bay."""

    OBSERVATIONS = {"ego": ParkingEgoObservation, "world": ParkingWorldObservation,
                    "follower": ParkingFollowerObservation}

    SIGNALS = COMMON_SIGNALS + (
        ("goal_distance", "car centre to the goal bay's centre [m]"),
        ("in_goal_bay", "1 if every body corner is inside the goal bay (with the goal's tolerance)"),
        ("other_bay", "1 if the body reaches into a bay other than the goal (driving across bays and lines)"),
        ("occupied_bay", "1 if the car centre is in a bay with a parked car in it: driving through a forbidden "
                         "area (a corner brushing its mouth while turning into a neighbour is not)"),
    )

    def build_geometry(self) -> None:
        self.lot = geometry.build_lot(self.scenario.lot)
        self.goal_bay = self.lot.bay(self.scenario.goal.bay)
        self.routes = reference_routes(self.scenario, self.lot)

    def render_config(self) -> dict:
        size = max(self.lot.interior.length, 2 * self.lot.interior.width)
        return {"screen_width": 800, "screen_height": 400, "scaling": 760 / size, "centering_position": [0.5, 0.5]}

    def build_network(self) -> RoadNetwork:
        """Lanes only draw the bay lines (and give highway-env a lane to attach the car to)."""
        net = LaneNetwork()
        c, n = LineType.CONTINUOUS, LineType.NONE
        for bay in self.lot.bays:
            r = bay.rect
            ux, uy = math.cos(r.heading), math.sin(r.heading)
            start = np.array(bay.entrance)
            net.add_lane(f"{bay.id}:in", f"{bay.id}:back",
                         StraightLane(start, start + r.length * np.array([ux, uy]), width=r.width, line_types=(c, c)))
        a = self.lot.aisle
        net.add_lane("aisle:w", "aisle:e", StraightLane([a.x - a.length / 2, a.y], [a.x + a.length / 2, a.y],
                                                        width=a.width, line_types=(n, n)))
        return net

    def _draw_occupied_bays(self) -> list[str]:
        """Fixed occupied bays plus `occupancy.count` more drawn from the free ones with the episode's rng.
        Drawing consumes the episode's random numbers: call it once per reset (build_scene does)."""
        occ = self.scenario.occupancy
        fixed = list(dict.fromkeys(occ.occupied))
        free = [b.id for b in self.lot.bays if b.id not in fixed and b.id != self.goal_bay.id]
        drawn = self.np_random.choice(len(free), size=occ.count, replace=False) if occ.count else []
        return fixed + [free[i] for i in sorted(drawn)]

    def build_scene(self) -> None:
        spec, rng = self.scenario, self.np_random
        self.road = Road(network=self.build_network(), np_random=rng, record_history=False)
        self.parked = []
        self.occupied = occupied = self._draw_occupied_bays()
        for bay_id in occupied:
            r = self.lot.bay(bay_id).rect
            self.parked.append(roads.Rect(r.x, r.y, CAR_LENGTH, CAR_WIDTH, r.heading))
        for rect in [*self.parked, *self.lot.walls]:
            obstacle = StaticObstacle(self.road, [rect.x, rect.y], rect.heading, rect.length, rect.width)
            obstacle.is_parked_car = rect in self.parked
            self.road.objects.append(obstacle)
        self.other_bays = roads.rect_table([b.rect for b in self.lot.bays if b.id != self.goal_bay.id])
        self.occupied_rects = roads.rect_table([self.lot.bay(b).rect for b in occupied])
        self.ray_edges = roads.rect_edges([*self.parked, *self.lot.walls])
        g = self.goal_bay.rect
        self.road.objects.append(Landmark(self.road, [g.x, g.y], heading=g.heading))
        st = spec.start
        ego = EgoVehicle(self.road, [rng.uniform(*st.x), rng.uniform(*st.y)],
                                             math.radians(rng.uniform(*st.heading_deg)), rng.uniform(*st.speed))
        self.start_pose = (float(ego.position[0]), float(ego.position[1]), float(ego.heading))
        """the episode's start: the car centre [m] and heading [rad] it was drawn with (the parking expert plans from it)"""
        self.road.vehicles.append(ego)
        self.vehicle = ego
        self.set_progress_reference()

    def set_progress_reference(self) -> None:
        """Join each reference route where the car is: its nearest waypoint, and the ones within reach after it."""
        position = self.vehicle.position
        self.route_reached = [r.track(r.nearest(position), position, ROUTE_TOLERANCE) for r in self.routes]
        self.route_start = [r.remaining(k, position, ROUTE_TOLERANCE) for r, k in zip(self.routes, self.route_reached)]

    def route_completion(self) -> float:
        """Follow the car along every reference route; the largest share of any that it has done, in [0, 1]."""
        position = self.vehicle.position
        self.route_reached = [r.track(k, position, ROUTE_TOLERANCE) for r, k in zip(self.routes, self.route_reached)]
        return max(geometry.route_completion(r.remaining(k, position, ROUTE_TOLERANCE), start)
                   for r, k, start in zip(self.routes, self.route_reached, self.route_start))

    def heading_aligned(self, heading: float) -> bool:
        """Does a car with this heading face the way the goal requires (within the tolerance)?"""
        goal = self.scenario.goal
        error = abs(roads.wrap_angle(heading - self.goal_bay.rect.heading))
        tol = math.radians(goal.heading_tolerance_deg)
        nose_in, nose_out = error <= tol, error >= math.pi - tol
        return {"nose-in": nose_in, "reverse-in": nose_out, "any": nose_in or nose_out}[goal.orientation]

    def measure(self) -> dict:
        v, goal = self.vehicle, self.scenario.goal
        body = roads.Rect(v.position[0], v.position[1], CAR_LENGTH, CAR_WIDTH, v.heading)
        corners = body.corners()
        in_bay = bool(self.goal_bay.rect.contains(corners, goal.position_tolerance).all())
        parked = in_bay and self.heading_aligned(v.heading) and abs(v.speed) <= goal.stop_speed
        interior = self.lot.interior
        off_road = not bool(interior.contains(corners, OFFROAD_TOLERANCE).all())
        termination = None
        if v.crashed:
            termination = Termination.CRASHED
        elif parked:
            termination = Termination.ARRIVED
        elif not interior.contains(v.position, 5.0).all():
            termination = Termination.OFF_ROAD
        g = self.goal_bay.rect
        distance = float(np.hypot(v.position[0] - g.x, v.position[1] - g.y))
        completion = self.route_completion()  # follows the car along the routes: once per measured state
        progress = 1.0 if parked else completion  # route completion: along the reference routes, not toward the bay
        body = np.vstack([corners, v.position])
        return {"in_goal_bay": in_bay, "off_road": off_road, "collision": self.collision(),
                "termination": termination, "progress": progress, "goal_distance": distance,
                "other_bay": bool(roads.rects_touched(self.other_bays, body).any()),
                "occupied_bay": bool(roads.rects_touched(self.occupied_rects, v.position[None]).any())}
