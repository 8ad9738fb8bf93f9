"""A kinematic planner for a car among static rectangles: Hybrid A* over arc primitives with an analytic
Reeds-Shepp expansion (Dolgov et al. 2008; the curves are rsplan's), returning the car centre's geared `Path`
(paths.py: what routes and `Path.nearest` read); `rear_axle_path` turns it into the rear axle's, which
`controllers.track_rear_axle_path` follows to a few centimetres.

The car is the simulator's kinematic bicycle about its centre (controllers.py): its rear axle, L/2 behind the
centre, moves along the body axis on a circle of curvature tan(steering) / L, which is the classic car of Reeds and
Shepp (curvature bounded by tan(max steering) / L, forwards and backwards). So the search runs on the rear axle's
pose (x, y, body heading), where Reeds-Shepp curves are exact, and the body rectangle it checks is the true footprint
(centre = rear axle + L/2 along the heading). The returned Path is the centre's, as the tracker wants it: travel
direction = body heading + slip angle (+ pi backwards).

Everything here is generic: obstacles are `roads.Rect`s, styles are costs per metre in regions (`Region`) and
penalties (`SearchCosts`); what a goal is and which regions cost what is the family's business. Deterministic: no
randomness, no clocks; the search stops after `max_expansions` nodes.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
from rsplan import planner as reeds_shepp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from drivebench.experts.paths import STEP, Path
from drivebench.scenarios.roads import Rect, rect_table, wrap_angle

Pose = tuple[float, float, float]
"""x [m], y [m], heading [rad] in roads.py's frame"""


# ---------------------------------------------------------------------------------------------- footprint
@dataclass(frozen=True)
class Car:
    length: float
    """body length [m]; the rear axle (the planned point) is length / 2 behind the centre"""
    width: float
    """body width [m]"""
    radius: float
    """the smallest turning radius the plan uses, of the rear axle [m]: L / tan(max steering) is the car's own"""
    margin: float = 0.0
    """the body is grown by this on every side when checked against obstacles [m]"""


def boxes_overlap(poses: np.ndarray, length: float, width: float, obstacles: np.ndarray) -> np.ndarray:
    """(n,) bool: does a `length` x `width` rectangle centred at each of the (n, 3) poses overlap any of the
    obstacles (a `roads.rect_table`, (m, 5))? Exact for rectangles (separating axes), vectorised over both."""
    if len(obstacles) == 0 or len(poses) == 0:
        return np.zeros(len(poses), bool)
    cx, cy, ch = (poses[:, k:k + 1] for k in range(3))  # (n, 1)
    ox, oy, ol, ow, oh = (obstacles[None, :, k] for k in range(5))  # (1, m)
    dx, dy = ox - cx, oy - cy
    ca, sa, cb, sb = np.cos(ch), np.sin(ch), np.cos(oh), np.sin(oh)
    separated = np.zeros(dx.shape, bool)
    for ux, uy in ((ca, sa), (-sa, ca), (cb, sb), (-sb, cb)):  # the four candidate axes
        car = length / 2 * np.abs(ux * ca + uy * sa) + width / 2 * np.abs(-ux * sa + uy * ca)
        obs = ol / 2 * np.abs(ux * cb + uy * sb) + ow / 2 * np.abs(-ux * sb + uy * cb)
        separated |= np.abs(dx * ux + dy * uy) > car + obs
    return (~separated).any(axis=1)


def points_in(points: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """(n,) bool: which of the (n, 2) points lie inside any of the rectangles (a rect_table)."""
    if len(rects) == 0:
        return np.zeros(len(points), bool)
    dx = points[:, None, 0] - rects[None, :, 0]
    dy = points[:, None, 1] - rects[None, :, 1]
    c, s = np.cos(rects[None, :, 4]), np.sin(rects[None, :, 4])
    return ((np.abs(dx * c + dy * s) <= rects[None, :, 2] / 2)
            & (np.abs(-dx * s + dy * c) <= rects[None, :, 3] / 2)).any(axis=1)


# ---------------------------------------------------------------------------------------------- problem
@dataclass(frozen=True)
class Region:
    """Where the car centre pays per metre driven: a style's cost of driving through, say, other bays."""

    rects: tuple[Rect, ...]
    cost_per_metre: float
    """added to the path cost for each metre the car centre drives inside; math.inf forbids the region"""


@dataclass(frozen=True)
class SearchCosts:
    """The path cost: metres driven, weighted, plus penalties. Style is expressed here."""

    reverse: float = 1.5
    """each metre backwards costs this many [-]"""
    gear_change: float = 3.0
    """each cusp [m equivalent]"""
    steering: float = 0.2
    """per metre, times |curvature| / max curvature [-]"""
    steering_change: float = 0.3
    """per change of curvature between primitives, times the change / max curvature [m equivalent]"""


@dataclass(frozen=True)
class Settings:
    """The search's resolution and budget; the defaults suit a parking lot with a 5 m car."""

    step: float = 1.0
    """length of one primitive, along the rear axle's path [m]"""
    check_every: float = 0.25
    """collision checks along a primitive or an analytic tail, this far apart [m]"""
    xy_resolution: float = 0.5
    """cell size of the closed set [m]"""
    heading_bins: int = 72
    """heading cells of the closed set"""
    curvatures: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)
    """the primitives' curvatures, as shares of the largest (1 / Car.radius), each driven forwards and backwards"""
    max_expansions: int = 6000
    """the search's budget: nodes expanded before it gives up (no clock: the same problem gives the same answer)"""
    analytic_range: float = 8.0
    """a Reeds-Shepp tail to the goal is tried from every `analytic_every_near`-th node expanded whose heuristic is
    below this [m]..."""
    analytic_every_near: int = 1
    analytic_every: int = 5
    """... and from every `analytic_every`-th otherwise"""
    min_run: float = 1.0
    """a Reeds-Shepp tail with a run (between gear changes) shorter than this is not taken [m]: a tracker cannot
    drive a few centimetres back and forth"""
    region_tolerance: float = 0.25
    """a free Reeds-Shepp tail ends the search at once if what it pays in regions is at most this share of the rest
    of its cost; a dearer one waits in the queue for cheaper plans"""
    heuristic_weight: float = 1.5
    """f = g + weight * h: above 1 trades optimality for speed (deterministically)"""


@dataclass(frozen=True, eq=False)
class Problem:
    """What to plan: from a centre pose to a centre pose, among obstacles, with region costs."""

    obstacles: tuple[Rect, ...]
    bounds: Rect
    """an axis-aligned box the car centre stays in (the heuristic's grid covers it)"""
    regions: tuple[Region, ...] = ()
    costs: SearchCosts = field(default_factory=SearchCosts)


# ---------------------------------------------------------------------------------------------- kinematics
def rear_of(pose: Pose, length: float) -> Pose:
    """The rear axle's pose of a car whose centre is at `pose`."""
    x, y, h = pose
    return x - length / 2 * math.cos(h), y - length / 2 * math.sin(h), h


def _arc_poses(x: float, y: float, h: float, kappa: float, d: np.ndarray) -> np.ndarray:
    """Rear-axle poses after signed distances d along an arc of curvature kappa (heading += kappa * d)."""
    if abs(kappa) < 1e-12:
        return np.stack([x + d * math.cos(h), y + d * math.sin(h), np.full_like(d, h)], 1)
    th = h + kappa * d
    return np.stack([x + (np.sin(th) - math.sin(h)) / kappa, y - (np.cos(th) - math.cos(h)) / kappa, th], 1)


@dataclass(frozen=True)
class Move:
    """One piece of a plan: the rear axle drives `length` metres with `gear` at `curvature` (of the body heading
    per metre driven forwards, > 0 turning right)."""

    gear: int
    curvature: float
    length: float


def path_from_moves(start: Pose, moves: list[Move], length: float) -> Path:
    """The centre's geared Path for a rear-axle plan (start: the rear axle's pose), sampled so that the centre's
    points are at most STEP apart."""
    merged: list[Move] = []
    for m in moves:
        if m.length <= 1e-9:
            continue
        if merged and merged[-1].gear == m.gear and abs(merged[-1].curvature - m.curvature) < 1e-9:
            merged[-1] = Move(m.gear, m.curvature, merged[-1].length + m.length)
        else:
            merged.append(m)
    x, y, h = start
    xy, travel, gears, curv = [], [], [], []
    for m in merged:
        n = max(int(math.ceil(m.length / (0.85 * STEP))), 1)
        d = m.gear * np.linspace(0.0, m.length, n + 1)[:-1]
        rear = _arc_poses(x, y, h, m.curvature, d)
        beta = math.atan(m.curvature * length / 2)  # slip angle: tan(steering) = curvature * L
        xy.append(rear[:, :2] + length / 2 * np.stack([np.cos(rear[:, 2]), np.sin(rear[:, 2])], 1))
        travel.append(rear[:, 2] + beta + (math.pi if m.gear < 0 else 0.0))
        gears.append(np.full(n, m.gear))
        curv.append(np.full(n, m.gear * math.sin(beta) / (length / 2)))  # d(travel heading) / d(distance)
        x, y, h = _arc_poses(x, y, h, m.curvature, np.array([m.gear * m.length]))[0]
    last = merged[-1]
    beta = math.atan(last.curvature * length / 2)
    xy.append(np.array([[x + length / 2 * math.cos(h), y + length / 2 * math.sin(h)]]))
    travel.append(np.array([h + beta + (math.pi if last.gear < 0 else 0.0)]))
    gears.append(np.array([last.gear]))
    curv.append(curv[-1][-1:])
    xy = np.concatenate(xy)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    return Path(xy, wrap_angle(np.concatenate(travel)), np.concatenate(gears).astype(int), np.concatenate(curv), s)


def body_poses(path: Path, length: float) -> np.ndarray:
    """(n, 3) centre poses with the body heading of a car driving the path exactly (its heading lags the direction
    of travel by the slip angle)."""
    gear = path.gear
    beta = np.arcsin(np.clip(gear * path.curvature * length / 2, -0.999, 0.999))
    return np.column_stack([path.xy, path.car_heading - beta])


def rear_axle_path(path: Path, length: float) -> Path:
    """The path of the rear axle of a car driving a centre path exactly, for `controllers.track_rear_axle_path`:
    its travel direction is the body heading (+ pi backwards), its curvature tan(steering) / L."""
    body = body_poses(path, length)
    xy = body[:, :2] - length / 2 * np.column_stack([np.cos(body[:, 2]), np.sin(body[:, 2])])
    beta = np.arcsin(np.clip(path.gear * path.curvature * length / 2, -0.999, 0.999))
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    return Path(xy, wrap_angle(body[:, 2] + np.where(path.gear < 0, math.pi, 0.0)), path.gear.copy(),
                path.gear * 2 * np.tan(beta) / length, s)


# ---------------------------------------------------------------------------------------------- search
class _Heuristic:
    """Obstacle-aware distance to the goal for the rear axle, ignoring heading (Dijkstra on a grid of cells
    whose centre keeps the car's half width from every obstacle), never below the straight-line distance."""

    def __init__(self, goal_xy: tuple[float, float], obstacles: np.ndarray, bounds: Rect, clearance: float,
                 resolution: float = 0.5):
        self.res = resolution
        self.x0, self.y0 = bounds.x - bounds.length / 2 - 3.0, bounds.y - bounds.width / 2 - 3.0
        nx = int(math.ceil((bounds.length + 6.0) / resolution)) + 1
        ny = int(math.ceil((bounds.width + 6.0) / resolution)) + 1
        gx, gy = np.meshgrid(self.x0 + resolution * np.arange(nx), self.y0 + resolution * np.arange(ny), indexing="ij")
        grown = obstacles.copy()
        grown[:, 2:4] += 2 * clearance
        free = ~points_in(np.column_stack([gx.ravel(), gy.ravel()]), grown)
        # the goal's own cells are free even where it sits closer than `clearance` to a wall (a car reversed into a
        # bay has its rear axle 0.5 m from the back wall): else the goal is cut off and the table is empty
        free |= np.hypot(gx.ravel() - goal_xy[0], gy.ravel() - goal_xy[1]) <= 1.0
        idx = np.arange(nx * ny).reshape(nx, ny)
        rows, cols, weights = [], [], []
        for di, dj in ((1, 0), (0, 1), (1, 1), (1, -1)):  # 8-connected, each edge both ways
            a = idx[: nx - di, max(0, -dj): ny - max(0, dj)].ravel()
            b = idx[di:, max(0, dj): ny + min(0, dj)].ravel()
            ok = free[a] & free[b]
            rows += [a[ok], b[ok]]
            cols += [b[ok], a[ok]]
            weights += [np.full(int(ok.sum()), resolution * math.hypot(di, dj))] * 2
        graph = coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(nx * ny, nx * ny)).tocsr()
        self.nx, self.ny = nx, ny
        goal = self._cell(*goal_xy)
        self.table = dijkstra(graph, indices=goal).reshape(nx, ny) if goal is not None else np.full((nx, ny), np.inf)
        self.goal_xy = goal_xy

    def _cell(self, x: float, y: float) -> int | None:
        i, j = int(round((x - self.x0) / self.res)), int(round((y - self.y0) / self.res))
        return i * self.ny + j if 0 <= i < self.nx and 0 <= j < self.ny else None

    def __call__(self, x: float, y: float) -> float:
        i, j = int(round((x - self.x0) / self.res)), int(round((y - self.y0) / self.res))
        euclid = math.hypot(x - self.goal_xy[0], y - self.goal_xy[1])
        if not (0 <= i < self.nx and 0 <= j < self.ny):
            return euclid
        grid = float(self.table[i, j])
        return max(euclid, grid - self.res) if math.isfinite(grid) else euclid + 50.0


class Planner:
    """Hybrid A* for one car and one problem: `plan(start, goal)` -> Path or None."""

    def __init__(self, car: Car, problem: Problem, settings: Settings = Settings()):
        self.car, self.problem, self.settings = car, problem, settings
        self.obstacles = rect_table(problem.obstacles)
        self.costly = [(rect_table(r.rects), r.cost_per_metre) for r in problem.regions
                       if 0 < r.cost_per_metre < math.inf and r.rects]
        forbidden = [r for reg in problem.regions if math.isinf(reg.cost_per_metre) for r in reg.rects]
        self.forbidden = rect_table(forbidden)
        self.kappa = 1.0 / car.radius
        n = max(int(round(settings.step / settings.check_every)), 1)
        self.samples = np.arange(1, n + 1) * (settings.step / n)
        self.expansions = 0
        self._nodes: list = []
        self._heuristics: dict[Pose, _Heuristic] = {}

    # --- checks ----------------------------------------------------------------------------------------
    def centres(self, rear: np.ndarray) -> np.ndarray:
        half = self.car.length / 2
        return np.column_stack([rear[:, 0] + half * np.cos(rear[:, 2]), rear[:, 1] + half * np.sin(rear[:, 2]),
                                rear[:, 2]])

    def blocked(self, rear: np.ndarray) -> np.ndarray:
        """(n,) bool: rear-axle poses whose body, grown by the margin, touches an obstacle, or whose centre leaves
        the bounds or enters a forbidden region."""
        c = self.centres(rear)
        b, m = self.problem.bounds, self.car.margin
        hit = (np.abs(c[:, 0] - b.x) > b.length / 2) | (np.abs(c[:, 1] - b.y) > b.width / 2)
        hit |= boxes_overlap(c, self.car.length + 2 * m, self.car.width + 2 * m, self.obstacles)
        return hit | points_in(c[:, :2], self.forbidden)

    def region_costs(self, rear: np.ndarray) -> np.ndarray:
        """(n,) the cost per metre of the regions the centre is in at each rear-axle pose."""
        c = self.centres(rear)[:, :2]
        out = np.zeros(len(rear))
        for rects, cost in self.costly:
            out += cost * points_in(c, rects)
        return out

    def pose_free(self, centre: Pose) -> bool:
        return not self.blocked(np.array([rear_of(centre, self.car.length)]))[0]

    # --- costs -----------------------------------------------------------------------------------------
    def move_cost(self, m: Move, previous: Move | None) -> float:
        """A move's cost without regions: metres (backwards weighted), steering, and the change from `previous`."""
        c = self.problem.costs
        cost = m.length * ((c.reverse if m.gear < 0 else 1.0) + c.steering * abs(m.curvature) / self.kappa)
        if previous is not None:
            cost += (c.gear_change if m.gear != previous.gear else 0.0)
            cost += c.steering_change * abs(m.curvature - previous.curvature) / self.kappa
        return cost

    # --- analytic expansion ----------------------------------------------------------------------------
    def reeds_shepp(self, rear: Pose, goal_rear: Pose, previous: Move | None = None, runway: float = 0.0
                    ) -> tuple[list[Move], float, float] | None:
        """The shortest Reeds-Shepp tail (rsplan) from a rear-axle pose to the goal's, ending with a straight of
        |runway| metres (< 0: backwards), as moves with their cost and the part of it the regions make; None if it
        is blocked."""
        try:
            rs = reeds_shepp.path(rear, goal_rear, self.car.radius, runway, self.settings.check_every)
        except (IndexError, ValueError, ZeroDivisionError):
            return None
        moves = [Move(int(seg.direction), {"left": 1.0, "right": -1.0, "straight": 0.0}[seg.type] * self.kappa,
                      abs(float(seg.length))) for seg in rs.segments if abs(float(seg.length)) > 1e-9]
        if not moves or min(_run_lengths(moves)) < self.settings.min_run:
            return None
        poses = _poses_of(rear, moves, self.settings.check_every)
        if self.blocked(poses).any():
            return None
        region = float(self.region_costs(poses).sum()) * self.settings.check_every
        cost = region
        for m in moves:
            cost += self.move_cost(m, previous)
            previous = m
        return moves, cost, region

    # --- the search ------------------------------------------------------------------------------------
    def plan(self, start: Pose, goal: Pose, runway: float = 0.0) -> Path | None:
        """A path for the car's centre from `start` to `goal` (centre poses) whose last |runway| metres are
        straight (runway < 0: driven backwards), or None if there is none within the budget (see `_search`)."""
        try:
            return self._search(start, goal, runway)
        finally:
            self._nodes = []  # a kept planner keeps its heuristics, not its last search

    def _search(self, start: Pose, goal: Pose, runway: float) -> Path | None:
        """Hybrid A* from the rear axle's start pose, expanding arcs of `Settings.step` forwards and backwards. A
        free Reeds-Shepp tail that pays little in costly regions (`Settings.region_tolerance`) ends the search; a
        dearer one queues, with its cost, among the open nodes, and wins if it is popped first."""
        car, st = self.car, self.settings
        s_rear, g_rear = rear_of(start, car.length), rear_of(goal, car.length)
        if self.blocked(np.array([g_rear, s_rear])).any():
            return None
        h = self._heuristics.get(g_rear)
        if h is None:  # one per goal: re-plans to the same goal reuse it
            h = self._heuristics[g_rear] = _Heuristic(g_rear[:2], self.obstacles, self.problem.bounds,
                                                      car.width / 2 + car.margin)
        nodes: list[tuple[Pose, float, int, Move | None]] = [(s_rear, 0.0, -1, None)]  # pose, g, parent, move
        self._nodes = nodes
        heap = [(st.heuristic_weight * h(*s_rear[:2]), 0, 0, None)]
        closed: set[tuple[int, int, int]] = set()
        counter = 1
        primitives = [Move(gear, k * self.kappa, st.step) for gear in (1, -1) for k in st.curvatures]
        base = [self.move_cost(m, None) for m in primitives]
        bins = 2 * math.pi / st.heading_bins
        self.expansions = 0
        while heap and self.expansions < st.max_expansions:
            _, _, index, tail = heapq.heappop(heap)
            pose, g, _, move = nodes[index]
            if tail is not None:  # a complete plan, the cheapest in the queue
                return path_from_moves(s_rear, self._moves_to(index) + tail, car.length)
            key = (round(pose[0] / st.xy_resolution), round(pose[1] / st.xy_resolution),
                   round(pose[2] / bins) % st.heading_bins)
            if key in closed:
                continue
            closed.add(key)
            self.expansions += 1
            near = h(*pose[:2]) < st.analytic_range
            if self.expansions % (st.analytic_every_near if near else st.analytic_every) == 1 % (
                    st.analytic_every_near if near else st.analytic_every):
                found = self.reeds_shepp(pose, g_rear, move, runway)
                if found is not None and found[2] <= st.region_tolerance * (found[1] - found[2]):
                    # through costly regions for little of its cost: take it (Dolgov et al.)
                    return path_from_moves(s_rear, self._moves_to(index) + found[0], car.length)
                if found is not None:  # dearer there: queue it, a cheaper plan may come first
                    heapq.heappush(heap, (g + found[1], counter, index, found[0]))
                    counter += 1
            # every primitive's samples checked in one call
            stacked = np.concatenate([_arc_poses(*pose, m.curvature, m.gear * self.samples) for m in primitives])
            k = len(self.samples)
            blocked = self.blocked(stacked).reshape(len(primitives), k).any(axis=1)
            region = self.region_costs(stacked).reshape(len(primitives), k).sum(axis=1) * (st.step / k)
            for p, m in enumerate(primitives):
                if blocked[p]:
                    continue
                end = tuple(float(v) for v in stacked[(p + 1) * k - 1])
                cost = g + base[p] + region[p]
                if move is not None:
                    cost += self.move_cost(m, move) - base[p]
                nodes.append((end, cost, index, m))
                heapq.heappush(heap, (cost + st.heuristic_weight * h(*end[:2]), counter, len(nodes) - 1, None))
                counter += 1
        return None

    def _moves_to(self, index: int) -> list[Move]:
        moves = []
        while index > 0:
            _, _, index, move = self._nodes[index]
            moves.append(move)
        return moves[::-1]


def _poses_of(rear: Pose, moves: list[Move], spacing: float) -> np.ndarray:
    """Rear-axle poses every `spacing` metres along a sequence of moves (the start excluded)."""
    x, y, h = rear
    out = []
    for m in moves:
        if m.length <= 1e-9:
            continue
        n = max(int(math.ceil(m.length / spacing)), 1)
        d = m.gear * np.linspace(m.length / n, m.length, n)
        poses = _arc_poses(x, y, h, m.curvature, d)
        out.append(poses)
        x, y, h = poses[-1]
    return np.concatenate(out) if out else np.zeros((0, 3))


def _run_lengths(moves: list[Move]) -> list[float]:
    """The lengths of the runs (maximal sequences of one gear) of a sequence of moves [m]."""
    runs: list[float] = []
    gear = 0
    for m in moves:
        if m.gear == gear:
            runs[-1] += m.length
        else:
            runs.append(m.length)
            gear = m.gear
    return runs
