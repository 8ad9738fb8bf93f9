"""Aggregates over evaluated episodes: rates and means with 95% bootstrap intervals, and the IQM of driving
scores across scenarios (rliable's stratified bootstrap)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from drivebench.eval import events, stats
from drivebench.core.records import EpisodeMetrics, EpisodeRecord

RATES: dict[str, Callable[[EpisodeMetrics], bool]] = {
    "success_rate": lambda m: m.success,
    "crash_rate": lambda m: m.collision != "none",
    "offroad_rate": lambda m: (m.off_road_count > 0 or m.termination == "off_road"
                               or m.off_road_time > events.OFF_ROAD_RECOVERY),
    "lane_departure_rate": lambda m: m.lane_departures > 0,
    "timeout_rate": lambda m: m.termination in ("timeout", "stuck"),
    "invalid_rate": lambda m: m.termination == "invalid_action",
}
"""Share of episodes [0, 1] in which each happened. Off-road: the car left the road, ended off it, or, put off
it by a shift, stayed off longer than events.OFF_ROAD_RECOVERY."""

MEANS = ("driving_score", "route_completion", "mean_speed", "comfort_violations")
"""Per-episode metrics averaged over episodes."""


def summarize(records: list[EpisodeRecord]) -> dict:
    """{"episodes": n, "<rate or mean>": {"mean", "ci_low", "ci_high"}, ...} over the records' episodes."""
    metrics = [r.metrics for r in records]
    out: dict = {"episodes": len(metrics)}
    for name, happened in RATES.items():
        out[name] = _estimate(stats.rate_ci([happened(m) for m in metrics]))
    for name in MEANS:
        out[name] = _estimate(stats.bootstrap_ci([float(getattr(m, name)) for m in metrics]))
    return out


def iqm_driving_score(per_scenario: dict[str, list[EpisodeRecord]]) -> dict:
    """IQM of driving scores over an (episodes x scenarios) matrix, each scenario equally weighted (the same
    seeds in every scenario), with a stratified bootstrap interval."""
    n = min(len(records) for records in per_scenario.values())
    matrix = np.array([[r.metrics.driving_score for r in records[:n]] for records in per_scenario.values()]).T
    return _estimate(stats.iqm_ci(matrix))


def _estimate(e: stats.Estimate) -> dict:
    return {"mean": e.value, "ci_low": e.low, "ci_high": e.high}
