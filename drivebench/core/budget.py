"""The training budget every algorithm shares: what a run may spend and the account of what it spent.
A bottom-layer record type: agents spend it, the pipeline, benchmarks and reports read it."""
from __future__ import annotations

from dataclasses import dataclass



@dataclass(frozen=True)
class TrainBudget:
    """Limits of one training run. Each algorithm spends the kinds that apply to it (the rest stay 0)."""

    env_steps: int = 0
    """environment steps the learner takes itself (DAgger rollouts, the GAIL/AIRL generator)"""
    expert_queries: int = 0
    """states the expert labels on request, beyond the recorded demos (DAgger)"""
    gradient_steps: int = 0
    """optimizer steps on the policy (BC, DAgger); for GAIL/AIRL, the generator's and discriminator's together"""


@dataclass(frozen=True)
class BudgetUsage:
    """What a training run spent, in the same units for every algorithm (imitation's trainers each count
    differently; these are counted by drivebench)."""

    env_steps: int
    """environment steps taken by the learner or on its behalf"""
    expert_queries: int
    """expert labels requested online (demos excluded)"""
    gradient_steps: int
    """optimizer steps over all networks trained"""
    demo_transitions: int
    """(state, action) pairs in the demos it learned from"""
    demo_episodes: int
    wall_time: float
    """[s]"""
