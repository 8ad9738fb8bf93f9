"""The rollout's online stuck detector (core/rollout.py)."""
from __future__ import annotations

import math

import numpy as np

from drivebench.core import rollout
from drivebench.core.rollout import StuckWatch

DT = 0.2  # 5 decisions per second, as every shipped scenario


# ---------------------------------------------------------------------------------------------- StuckWatch
def test_stuck_watch_never_fires_while_progress_increases():
    watch = StuckWatch(DT)
    assert not any(watch.update(p) for p in np.linspace(0.0, 1.0, 500))  # 0.002 per step: gains >= 0.01 every 5


def test_stuck_watch_fires_after_window_over_dt_flat_updates():
    watch = StuckWatch(DT, window=2.0)
    assert watch.limit == 10
    assert watch.update(0.3) is False  # sets the best so far
    fired = [watch.update(0.3) for _ in range(12)]
    assert fired[:9] == [False] * 9 and fired[9:] == [True] * 3  # stuck from the 10th flat update (2 s)
    default = StuckWatch(DT)
    assert default.limit == round(rollout.STUCK_TIME / DT) == 50


def test_stuck_watch_slow_creep_accumulates_and_resets():
    """0.004 per update is below min_gain (0.01), but after 3 updates the gain over the best is 0.012."""
    watch = StuckWatch(DT, window=1.0)  # limit 5
    progress = 0.2
    assert not watch.update(progress)
    counters = []
    for _ in range(30):
        progress += 0.004
        assert not watch.update(progress)
        counters.append(watch.since)
    assert counters[:6] == [1, 2, 0, 1, 2, 0]
    assert max(counters) < watch.limit


def test_stuck_watch_does_not_count_going_backwards_as_progress():
    watch = StuckWatch(DT, window=1.0)
    watch.update(0.5)
    fired = [watch.update(p) for p in (0.45, 0.4, 0.49, 0.505, 0.3)]
    assert fired == [False, False, False, False, True]  # 0.505 < 0.5 + 0.01: not new progress


def test_stuck_watch_window_scales_with_dt():
    assert StuckWatch(0.1, window=10.0).limit == 100
    assert StuckWatch(1 / 15, window=10.0).limit == 150
    assert math.isinf(StuckWatch(DT).best)
