"""The parking family's rules, from an episode's signals: time in occupied bays and in bays other than the goal."""
from __future__ import annotations

import numpy as np

from drivebench.eval.metrics import time_in
from drivebench.scenarios.family import Infractions


def infractions(sig: dict[str, np.ndarray], poses: np.ndarray, spec, dt: float) -> Infractions:
    return Infractions(occupied_bay_time=time_in(sig["occupied_bay"] > 0, dt),
                       other_bay_time=time_in(sig["other_bay"] > 0, dt))
