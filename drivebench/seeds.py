"""Seed ranges. Demo seeds and evaluation seeds are disjoint, so no agent is scored on a start state it was
shown. Every seed is an episode seed passed to `env.reset(seed=...)`."""
from __future__ import annotations

DEMO_SEEDS = range(0, 100_000)
"""Seeds used to record expert demonstrations."""

EVAL_SEEDS = range(1_000_000, 1_100_000)
"""Seeds used by evaluation (the official leaderboard seeds start at the beginning of this range)."""


def demo_seeds(n: int, start: int = 0) -> list[int]:
    return list(DEMO_SEEDS[start : start + n])


def eval_seeds(n: int, start: int = 0) -> list[int]:
    return list(EVAL_SEEDS[start : start + n])
