"""Thin highway-env `AbstractEnv` subclasses: build the scene from a spec, observe cheaply, end episodes.

Both families share one action space, highway-env's ContinuousAction: a Box(-1, 1, (2,)) of
[acceleration, steering], mapped to [-5, 5] m/s^2 and [-pi/4, pi/4] rad. Observations are flat float32
vectors of named features (`OBSERVATION_FEATURES` on each class, with units), so BC, DAgger, GAIL and AIRL
take the same Box input without wrappers.

Episode ends (`info["termination"]`, a `Termination` value):
- arrived: success (curves: the car centre passed the road's end on the road; parking: stopped inside the
  goal bay facing the required way). Terminates.
- crashed: the body overlapped another vehicle, a parked car or a wall. Terminates.
- off_road: the car centre is more than `road.offroad_grace` past the road edge (curves), or 5 m outside the
  lot (parking without walls). Terminates. Brief excursions are reported per step in `info["off_road"]`.
- timeout: `horizon` steps elapsed. Truncates.

Per-step signals (`SIGNALS` on each class, documented there) are in `info` under their names; the evaluation
harness reads them and turns them into events and metrics with pure functions.
"""
from __future__ import annotations

import math
from enum import Enum

import numpy as np
from gymnasium import spaces
from highway_env.envs.common.abstract import AbstractEnv
from highway_env.envs.common.action import ContinuousAction
from highway_env.envs.common.observation import ObservationType
from highway_env.road.lane import LineType, StraightLane
from highway_env.road.road import Road, RoadNetwork
from highway_env.vehicle.graphics import VehicleGraphics
from highway_env.vehicle.kinematics import Vehicle
from highway_env.vehicle.objects import Landmark

from drivebench.scenarios import roads
from drivebench.scenarios.fastsim import ArcLane, EgoVehicle, LaneNetwork, StaticObstacle, TrafficVehicle
from drivebench.scenarios.spec import CurveScenario, ParkingScenario, parse_spec

CAR_LENGTH, CAR_WIDTH = Vehicle.LENGTH, Vehicle.WIDTH  # [m]
OFFROAD_TOLERANCE = 0.3
"""A body corner may be this far past the road edge before the step counts as off-road [m] (nuPlan's)."""


class Termination(str, Enum):
    """Why an episode ended (MetaDrive-like names)."""

    ARRIVED = "arrived"
    CRASHED = "crashed"
    OFF_ROAD = "off_road"
    TIMEOUT = "timeout"


class Collision(int, Enum):
    """What the car hit, as the `collision` signal: 0 nothing, 1 a vehicle (moving or parked), 2 a static object."""

    NONE = 0
    VEHICLE = 1
    STATIC = 2


COMMON_SIGNALS = (
    ("off_road", "1 if a body corner is more than OFFROAD_TOLERANCE past the drivable area, else 0"),
    ("progress", "route completion in [0, 1]"),
    ("collision", "a Collision value: 0 none, 1 a vehicle, 2 a static object"),
)


class _FeatureObservation(ObservationType):
    """Adapter: highway-env asks its observation type; ours asks the env, which has the step's facts."""

    def space(self) -> spaces.Space:
        return self.env.observation_space_for_spec()

    def observe(self) -> np.ndarray:
        return self.env.observe()


class ScenarioEnv(AbstractEnv):
    """Shared episode logic; subclasses build the scene and measure the step's facts."""

    metadata = {"render_modes": ["human", "rgb_array"]}
    OBSERVATION_FEATURES: tuple[tuple[str, str], ...] = ()
    SIGNALS: tuple[tuple[str, str], ...] = COMMON_SIGNALS

    def __init__(self, spec: dict | CurveScenario | ParkingScenario, render_mode: str | None = None,
                 config: dict | None = None):
        self.scenario = spec if not isinstance(spec, dict) else parse_spec(spec)
        self.step_count = 0
        self.facts: dict = {}
        self.build_geometry()
        base = {
            "simulation_frequency": self.scenario.simulation_frequency,
            "policy_frequency": self.scenario.policy_frequency,
            "offscreen_rendering": render_mode == "rgb_array",
        }
        super().__init__({**base, **self.render_config(), **(config or {})}, render_mode)

    # --- spaces ------------------------------------------------------------------------------------
    def define_spaces(self) -> None:
        self.action_type = ContinuousAction(self)
        self.action_space = self.action_type.space()
        self.observation_type = _FeatureObservation(self)
        self.observation_space = self.observation_space_for_spec()

    def observation_space_for_spec(self) -> spaces.Box:
        n = len(self.OBSERVATION_FEATURES)
        return spaces.Box(-np.inf, np.inf, shape=(n,), dtype=np.float32)

    # --- episode -----------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.step_count = 0
        self.build_scene()
        self.vehicle.color = VehicleGraphics.EGO_COLOR
        self.facts = self.measure()

    def displace_ego(self, lateral: float, heading: float) -> tuple[np.ndarray, dict]:
        """Move the car sideways by `lateral` [m] (+ to its right) and turn it by `heading` [rad] (+ right),
        then take progress from there: the start-offset shift's hook, called right after reset.
        Returns the new (observation, info)."""
        v = self.vehicle
        v.position = v.position + lateral * np.array([-math.sin(v.heading), math.cos(v.heading)])
        v.heading += heading
        v.on_state_update()
        self.set_progress_reference()
        self.facts = self.measure()
        obs = self.observe()
        return obs, self._info(obs)

    def step(self, action):
        action = np.asarray(action, dtype=np.float32).reshape(self.action_space.shape)
        previous = self.facts
        self.time += 1 / self.config["policy_frequency"]
        self._simulate(action)
        self.step_count += 1
        self.facts = self.measure()
        termination = self.facts["termination"]
        terminated = termination is not None
        truncated = not terminated and self.step_count >= self.scenario.horizon
        if truncated:
            termination = self.facts["termination"] = Termination.TIMEOUT
        reward = self.facts["progress"] - previous["progress"]
        reward += {Termination.ARRIVED: 1.0, Termination.CRASHED: -1.0, Termination.OFF_ROAD: -1.0}.get(
            termination, 0.0)
        obs = self.observe()
        if self.render_mode == "human":
            self.render()
        return obs, float(reward), terminated, truncated, self._info(obs, action)

    def _info(self, obs, action=None) -> dict:
        f, v = self.facts, self.vehicle
        termination = f["termination"]
        return {
            "is_success": termination is Termination.ARRIVED,
            "crashed": bool(v.crashed),
            "termination": termination.value if termination is not None else None,
            "x": float(v.position[0]), "y": float(v.position[1]),
            "heading": float(v.heading), "speed": float(v.speed),
            **{name: float(f[name]) for name, _ in self.SIGNALS},
        }

    def collision(self) -> Collision:
        """What the ego car is in collision with (highway-env marks both parties of a crash)."""
        if not self.vehicle.crashed:
            return Collision.NONE
        others = [o for o in (*self.road.vehicles, *self.road.objects) if o is not self.vehicle and o.crashed]
        if any(isinstance(o, Vehicle) or getattr(o, "is_parked_car", False) for o in others):
            return Collision.VEHICLE
        return Collision.STATIC

    # --- to implement --------------------------------------------------------------------------------
    def build_geometry(self) -> None:
        """Derive the scenario's fixed geometry from `self.scenario` (runs once, before the first reset)."""

    def render_config(self) -> dict:
        return {}

    def build_scene(self) -> None:
        """Create the road, the ego car and the other objects for a new episode (uses self.np_random)."""
        raise NotImplementedError

    def set_progress_reference(self) -> None:
        """Remember where the car starts, so that `progress` measures from there."""
        raise NotImplementedError

    def measure(self) -> dict:
        """Facts about the current state: at least termination (or None), progress [0, 1], off_road."""
        raise NotImplementedError

    def observe(self) -> np.ndarray:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------- curves
PREVIEW_DISTANCES = (5.0, 10.0, 20.0, 30.0, 45.0)  # [m] ahead of the car along the road
TRAFFIC_SLOTS, TRAFFIC_RANGE = 3, 60.0  # nearest vehicles observed; how far along the road [m]


class CurveEnv(ScenarioEnv):
    """A road of straight and arc segments, optional IDM traffic ahead; drive to the end of the road."""

    OBSERVATION_FEATURES = (
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
        self.centreline = roads.build_centreline(road)
        self.half_width = road.lanes * road.lane_width / 2
        self.lane_offsets = roads.lane_offsets(road)

    def render_config(self) -> dict:
        return {"screen_width": 600, "screen_height": 400, "scaling": 3.0, "centering_position": [0.5, 0.5]}

    def build_network(self) -> RoadNetwork:
        """One highway-env lane per (segment, lane), following the centreline (StraightLane / fastsim.ArcLane)."""
        road = self.scenario.road
        offsets = roads.lane_offsets(road)
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
        offsets = roads.lane_offsets(spec.road)
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

    def observe(self) -> np.ndarray:
        f, v = self.facts, self.vehicle
        s, d = f["s"], f["d"]
        cos_h, sin_h = math.cos(v.heading), math.sin(v.heading)
        features = [d, f["heading_error"], v.speed, self.scenario.road.speed_limit,
                    self.half_width + d, self.half_width - d]
        for ahead in PREVIEW_DISTANCES:
            px, py, _ = self.centreline.pose(s + ahead)
            dx, dy = px - v.position[0], py - v.position[1]
            features += [dx * cos_h + dy * sin_h, -dx * sin_h + dy * cos_h]
        ego_along = v.speed * math.cos(f["heading_error"])
        others = []
        for other in self.road.vehicles:
            if other is v:
                continue
            so, do, tho = self.centreline.project(*other.position)
            if abs(so - s) <= TRAFFIC_RANGE:
                others.append((abs(so - s), so - s, do - d, other.speed * math.cos(other.heading - tho) - ego_along))
        others.sort()
        for i in range(TRAFFIC_SLOTS):
            features += [1.0, *others[i][1:]] if i < len(others) else [0.0, 0.0, 0.0, 0.0]
        return np.asarray(features, dtype=np.float32)


# ---------------------------------------------------------------------------------------------- parking
RAY_COUNT, RAY_RANGE = 16, 20.0  # range sensor: rays around the car, maximum distance [m]
ORIENTATION_CODE = {"nose-in": 1.0, "reverse-in": -1.0, "any": 0.0}


class ParkingEnv(ScenarioEnv):
    """A lot with an aisle and rows of bays, parked cars and walls; stop inside the goal bay."""

    OBSERVATION_FEATURES = (
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
    SIGNALS = COMMON_SIGNALS + (
        ("goal_distance", "car centre to the goal bay's centre [m]"),
        ("in_goal_bay", "1 if every body corner is inside the goal bay (with the goal's tolerance)"),
        ("other_bay", "1 if the body reaches into a bay other than the goal (driving across bays and lines)"),
        ("occupied_bay", "1 if the car centre is in a bay with a parked car in it: driving through a forbidden "
                         "area (a corner brushing its mouth while turning into a neighbour is not)"),
    )

    def build_geometry(self) -> None:
        self.lot = roads.build_lot(self.scenario.lot)
        self.goal_bay = self.lot.bay(self.scenario.goal.bay)

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
        self.road.vehicles.append(ego)
        self.vehicle = ego
        self.set_progress_reference()

    def set_progress_reference(self) -> None:
        g = self.goal_bay.rect
        self.start_distance = float(np.hypot(*(self.vehicle.position - [g.x, g.y])))

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
        progress = 1.0 if parked else min(max(1.0 - distance / max(self.start_distance, 1e-6), 0.0), 1.0)
        body = np.vstack([corners, v.position])
        return {"in_goal_bay": in_bay, "off_road": off_road, "collision": self.collision(),
                "termination": termination, "progress": progress, "goal_distance": distance,
                "other_bay": bool(roads.rects_touched(self.other_bays, body).any()),
                "occupied_bay": bool(roads.rects_touched(self.occupied_rects, v.position[None]).any())}

    def observe(self) -> np.ndarray:
        v, g = self.vehicle, self.goal_bay.rect
        cg, sg = math.cos(g.heading), math.sin(g.heading)
        dx, dy = v.position[0] - g.x, v.position[1] - g.y
        rel = v.heading - g.heading
        aisle_west = self.lot.aisle.x - self.lot.aisle.length / 2
        angles = v.heading + np.arange(RAY_COUNT) * (2 * math.pi / RAY_COUNT)
        rays = roads.ray_distances(v.position, angles, *self.ray_edges, RAY_RANGE)
        return np.asarray([dx * cg + dy * sg, -dx * sg + dy * cg, math.cos(rel), math.sin(rel), v.speed,
                           v.position[0] - aisle_west, v.position[1], math.cos(v.heading), math.sin(v.heading),
                           ORIENTATION_CODE[self.scenario.goal.orientation], *rays], dtype=np.float32)


FAMILIES = {"curve": CurveEnv, "parking": ParkingEnv}
