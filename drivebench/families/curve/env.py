"""The curve family's env: a road of straight and arc segments (scenarios/roads.py's centreline), optional IDM
traffic ahead, drive to the end of the road. Shared episode logic is scenarios/envs.py's ScenarioEnv."""
from __future__ import annotations

import math

import numpy as np
from highway_env.road.lane import LineType, StraightLane
from highway_env.road.road import Road, RoadNetwork

from drivebench.families.curve import geometry
from drivebench.scenarios import frames, roads
from drivebench.scenarios.envs import (CAR_LENGTH, CAR_WIDTH, COMMON_SIGNALS, OFFROAD_TOLERANCE, FeatureObservation,
                                       ScenarioEnv, Termination)
from drivebench.scenarios.fastsim import ArcLane, EgoVehicle, LaneNetwork, TrafficVehicle


PREVIEW_DISTANCES = (5.0, 10.0, 20.0, 30.0, 45.0)  # [m] ahead of the car along the road
TRAFFIC_SLOTS, TRAFFIC_RANGE = 3, 60.0  # nearest vehicles observed; how far along the road [m]


class CurveEgoObservation(FeatureObservation):
    """The default curve observation, in the car's own frame: where the road is and goes, and the nearest cars."""

    FEATURES = (
        ("lateral_offset", "car centre from the road centreline, + right [m]"),
        ("heading_error", "car heading minus road heading [rad]"),
        ("speed", "signed speed [m/s]"),
        ("speed_limit", "[m/s]"),
        ("left_edge", "distance from the car centre to the left road edge [m]"),
        ("right_edge", "distance from the car centre to the right road edge [m]"),
        *[(f"preview_{int(p)}m_{axis}", f"road centreline {p:.0f} m ahead, in the car frame ({axis}: "
           f"{'forward' if axis == 'x' else 'right'}) [m]") for p in PREVIEW_DISTANCES for axis in "xy"],
        *[(f"vehicle{i}_{name}", doc) for i in range(TRAFFIC_SLOTS) for name, doc in (
            ("present", f"1 if a vehicle is within {TRAFFIC_RANGE:.0f} m along the road, else 0 (slots by distance)"),
            ("ds", "its distance along the road, + ahead [m]"),
            ("dd", "its lateral offset minus the car's [m]"),
            ("dv", "its speed along the road minus the car's [m/s]"),
        )],
    )

    def observe(self) -> np.ndarray:
        env = self.env
        f, v = env.facts, env.vehicle
        s, d = f["s"], f["d"]
        cos_h, sin_h = math.cos(v.heading), math.sin(v.heading)
        features = [d, f["heading_error"], v.speed, env.scenario.road.speed_limit,
                    env.half_width + d, env.half_width - d]
        for ahead in PREVIEW_DISTANCES:
            px, py, _ = env.centreline.pose(s + ahead)
            dx, dy = px - v.position[0], py - v.position[1]
            features += [dx * cos_h + dy * sin_h, -dx * sin_h + dy * cos_h]
        ego_along = v.speed * math.cos(f["heading_error"])
        others = []
        for other in env.road.vehicles:
            if other is v:
                continue
            so, do, tho = env.centreline.project(*other.position)
            if abs(so - s) <= TRAFFIC_RANGE:
                others.append((abs(so - s), so - s, do - d, other.speed * math.cos(other.heading - tho) - ego_along))
        others.sort()
        for i in range(TRAFFIC_SLOTS):
            features += [1.0, *others[i][1:]] if i < len(others) else [0.0, 0.0, 0.0, 0.0]
        return np.asarray(features, dtype=np.float32)


def _traffic(env, s: float) -> list:
    """The other vehicles within TRAFFIC_RANGE along the road of the car's position `s`, nearest first."""
    found = []
    for other in env.road.vehicles:
        if other is env.vehicle:
            continue
        so = env.centreline.project(*other.position)[0]
        if abs(so - s) <= TRAFFIC_RANGE:
            found.append((abs(so - s), id(other), other))
    return [o for _, _, o in sorted(found, key=lambda t: t[:1])]


class CurveWorldObservation(FeatureObservation):
    """The curve as a fixed overhead camera sees it (third-person imitation, issue 19): the car's absolute pose and
    velocity, the road ahead of it and the nearest cars, all in world coordinates (x east, y south)."""

    FEATURES = (
        ("x", "car centre, east [m]"),
        ("y", "car centre, south [m]"),
        ("cos_heading", "cos of the car heading (1: facing east)"),
        ("sin_heading", "sin of the car heading (1: facing south)"),
        ("vx", "car velocity, east [m/s]"),
        ("vy", "car velocity, south [m/s]"),
        ("speed_limit", "[m/s]"),
        ("half_width", "half the road's width [m]"),
        *[(f"road_{int(p)}m_{axis}", f"road centreline {p:.0f} m along the road ahead of the car, world {axis} [m]")
          for p in PREVIEW_DISTANCES for axis in "xy"],
        *[(f"vehicle{i}_{name}", doc) for i in range(TRAFFIC_SLOTS) for name, doc in (
            ("present", f"1 if a vehicle is within {TRAFFIC_RANGE:.0f} m along the road, else 0 (slots by distance)"),
            ("x", "its centre, east [m]"), ("y", "its centre, south [m]"), ("speed", "its speed [m/s]"))],
    )

    def observe(self) -> np.ndarray:
        env = self.env
        v, s = env.vehicle, env.facts["s"]
        features = [v.position[0], v.position[1], math.cos(v.heading), math.sin(v.heading),
                    *frames.velocity(v.speed, v.heading), env.scenario.road.speed_limit, env.half_width]
        for ahead in PREVIEW_DISTANCES:
            features += list(env.centreline.pose(s + ahead)[:2])
        others = _traffic(env, s)
        for i in range(TRAFFIC_SLOTS):
            features += [1.0, others[i].position[0], others[i].position[1], others[i].speed] if i < len(others) \
                else [0.0, 0.0, 0.0, 0.0]
        return np.asarray(features, dtype=np.float32)


class CurveFollowerObservation(FeatureObservation):
    """The curve as a vehicle behind the car sees it (third-person imitation, issue 19): the follower drives the
    car's own path a little behind it (scenarios/frames.Trail; config `lag` [decisions], `gap` [m]); every feature
    is in the follower's frame (x forward, y to its right)."""

    FEATURES = (
        *frames.FOLLOWER_CAR_FEATURES,
        ("speed_limit", "[m/s]"),
        ("half_width", "half the road's width [m]"),
        *[(f"road_{int(p)}m_{axis}", f"road centreline {p:.0f} m along the road ahead of the car, in the follower's "
           f"frame ({axis}: {'forward' if axis == 'x' else 'right'}) [m]") for p in PREVIEW_DISTANCES for axis in "xy"],
        *[(f"vehicle{i}_{name}", doc) for i in range(TRAFFIC_SLOTS) for name, doc in (
            ("present", f"1 if a vehicle is within {TRAFFIC_RANGE:.0f} m along the road, else 0 (slots by distance)"),
            ("x", "its centre ahead of the follower [m]"), ("y", "its centre to the follower's right [m]"),
            ("dv", "its speed minus the car's [m/s]"))],
    )

    def __init__(self, env, **params):
        super().__init__(env, **params)
        self.trail = frames.Trail(params.get("lag", frames.FOLLOW_LAG_STEPS), params.get("gap", frames.FOLLOW_GAP))

    def observe(self) -> np.ndarray:
        env = self.env
        v, s = env.vehicle, env.facts["s"]
        origin, fh, features = frames.follower_view(self.trail, env)
        features += [env.scenario.road.speed_limit, env.half_width]
        road = [env.centreline.pose(s + ahead)[:2] for ahead in PREVIEW_DISTANCES]
        features += frames.to_frame(road, origin, fh).ravel().tolist()
        others = _traffic(env, s)
        for i in range(TRAFFIC_SLOTS):
            if i < len(others):
                features += [1.0, *frames.to_frame(others[i].position, origin, fh)[0], others[i].speed - v.speed]
            else:
                features += [0.0, 0.0, 0.0, 0.0]
        return np.asarray(features, dtype=np.float32)


class CurveEnv(ScenarioEnv):
    """A road of straight and arc segments, optional IDM traffic ahead; drive to the end of the road."""

    OBSERVATIONS = {"ego": CurveEgoObservation, "world": CurveWorldObservation,
                    "follower": CurveFollowerObservation}

    SIGNALS = COMMON_SIGNALS + (
        ("s", "distance along the road centreline [m]"),
        ("lateral_offset", "car centre from the road centreline, + right [m]"),
        ("heading_error", "car heading minus road heading [rad]"),
        ("lane", "index of the nearest lane, 0 the leftmost"),
        ("lane_offset", "car centre from the nearest lane's centre, + right [m]"),
        ("speed_limit", "[m/s]"),
    )

    def build_geometry(self) -> None:
        road = self.scenario.road
        self.centreline = geometry.build_centreline(road)
        self.half_width = road.lanes * road.lane_width / 2
        self.lane_offsets = geometry.lane_offsets(road)

    def render_config(self) -> dict:
        return {"screen_width": 600, "screen_height": 400, "scaling": 3.0, "centering_position": [0.5, 0.5]}

    def build_network(self) -> RoadNetwork:
        """One highway-env lane per (segment, lane), following the centreline (StraightLane / fastsim.ArcLane)."""
        road = self.scenario.road
        offsets = geometry.lane_offsets(road)
        net = LaneNetwork()
        c, s, n = LineType.CONTINUOUS, LineType.STRIPED, road.lanes
        for i, piece in enumerate(self.centreline.pieces):
            for k, off in enumerate(offsets):
                lines = [c if k == 0 else s, c if k == n - 1 else LineType.NONE]
                x0, y0, th = piece.pose(0.0)
                if piece.curvature == 0.0:
                    start = self.centreline.point(piece.s0, off)
                    end = self.centreline.point(piece.s0 + piece.length, off)
                    lane = StraightLane(start, end, width=road.lane_width, line_types=lines,
                                        speed_limit=road.speed_limit)
                else:
                    r0 = 1.0 / piece.curvature
                    centre = (x0 - r0 * math.sin(th), y0 + r0 * math.cos(th))
                    turn = piece.curvature * piece.length
                    if piece.curvature > 0:  # right turn: highway-env's clockwise lane, lateral + inwards
                        lane = ArcLane(centre, abs(r0) - off, th - math.pi / 2, th + turn - math.pi / 2,
                                       clockwise=True, width=road.lane_width, line_types=lines,
                                       speed_limit=road.speed_limit)
                    else:
                        lane = ArcLane(centre, abs(r0) + off, th + math.pi / 2, th + turn + math.pi / 2,
                                       clockwise=False, width=road.lane_width, line_types=lines,
                                       speed_limit=road.speed_limit)
                net.add_lane(f"s{i}", f"s{i + 1}", lane)
        return net

    def build_scene(self) -> None:
        spec, rng = self.scenario, self.np_random
        self.road = Road(network=self.build_network(), np_random=rng, record_history=False)
        offsets = geometry.lane_offsets(spec.road)
        start = spec.start
        lane = int(rng.integers(spec.road.lanes)) if start.lane == "any" else start.lane
        s = rng.uniform(*start.position)
        d = offsets[lane] + rng.uniform(*start.lateral_offset)
        _, _, th = self.centreline.pose(s)
        heading = th + math.radians(rng.uniform(*start.heading_deg))
        ego = EgoVehicle(self.road, self.centreline.point(s, d), heading, rng.uniform(*start.speed))
        self.road.vehicles.append(ego)
        self.vehicle = ego
        self.set_progress_reference()

        t = spec.traffic
        s_other = s + rng.uniform(*t.first_gap)
        for _ in range(t.count):
            if s_other > self.centreline.length - 10.0:
                break
            k = int(rng.integers(spec.road.lanes))
            piece_index = next(i for i, p in enumerate(self.centreline.pieces)
                               if s_other < p.s0 + p.length or i == len(self.centreline.pieces) - 1)
            _, _, th_o = self.centreline.pose(s_other)
            speed = rng.uniform(*t.speed)
            other = TrafficVehicle(self.road, self.centreline.point(s_other, offsets[k]), th_o, speed,
                                   target_lane_index=(f"s{piece_index}", f"s{piece_index + 1}", k), target_speed=speed,
                                   enable_lane_change=False)
            self.road.vehicles.append(other)
            s_other += rng.uniform(*t.spacing)

    def set_progress_reference(self) -> None:
        self.start_s = self.centreline.project(*self.vehicle.position)[0]

    def measure(self) -> dict:
        v = self.vehicle
        s, d, road_heading = self.centreline.project(*v.position)
        heading_error = roads.wrap_angle(v.heading - road_heading)
        extent = roads.body_lateral_extent(d, heading_error, CAR_LENGTH, CAR_WIDTH)
        off_road = extent > self.half_width + OFFROAD_TOLERANCE
        length = self.centreline.length
        termination = None
        if v.crashed:
            termination = Termination.CRASHED
        elif abs(d) > self.half_width + self.scenario.road.offroad_grace:
            termination = Termination.OFF_ROAD
        elif s >= length:
            termination = Termination.ARRIVED if abs(d) <= self.half_width else Termination.OFF_ROAD
        progress = min(max((s - self.start_s) / (length - self.start_s), 0.0), 1.0)
        lane = int(np.argmin(np.abs(self.lane_offsets - d)))
        return {"s": s, "d": d, "lateral_offset": d, "road_heading": road_heading, "heading_error": heading_error,
                "lane": lane, "lane_offset": d - self.lane_offsets[lane], "speed_limit": self.scenario.road.speed_limit,
                "off_road": off_road, "collision": self.collision(), "termination": termination, "progress": progress}
