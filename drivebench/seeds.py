"""Seed ranges. Demo seeds and evaluation seeds are disjoint, so no agent is scored on a start state it was
shown. Every seed is an episode seed passed to `env.reset(seed=...)`."""
from __future__ import annotations

DEMO_SEEDS = range(0, 100_000)
"""Seeds used to record expert demonstrations."""

EVAL_SEEDS = range(1_000_000, 1_100_000)
"""Seeds used by evaluation (the official leaderboard seeds start at the beginning of this range)."""

VALIDATION_SEEDS = range(2_000_000, 2_100_000)
"""Seeds for choosing hyperparameters (benchmarks/adversarial_variants.py): disjoint from the demo seeds and from the
evaluation seeds, so that a preset is not fitted to the seeds the leaderboard scores it on."""


def demo_seeds(n: int, start: int = 0) -> list[int]:
    return list(DEMO_SEEDS[start : start + n])


def eval_seeds(n: int, start: int = 0) -> list[int]:
    return list(EVAL_SEEDS[start : start + n])


def validation_seeds(n: int, start: int = 0) -> list[int]:
    return list(VALIDATION_SEEDS[start : start + n])
