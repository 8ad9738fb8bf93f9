"""The curve family's rules, from an episode's signals: lane departures, wrong-way driving, speeding."""
from __future__ import annotations

import numpy as np

from drivebench.eval import events
from drivebench.scenarios.envs import CAR_LENGTH, CAR_WIDTH
from drivebench.scenarios.family import Infractions


def infractions(sig: dict[str, np.ndarray], poses: np.ndarray, spec, dt: float) -> Infractions:
    departures = events.lane_departures(sig["lane"], sig["lane_offset"], sig["heading_error"], spec.road.lane_width,
                                        CAR_LENGTH, CAR_WIDTH)
    return Infractions(lane_departures=int(departures.sum()), wrong_way=events.wrong_way(sig["heading_error"], dt),
                       speeding=events.speeding(poses[:, 3], spec.road.speed_limit))
