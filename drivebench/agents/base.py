"""What an algorithm's `fit` returns, and what its `callback` is shown after each round (the budget types they
report are drivebench.core.budget's)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from drivebench.core.budget import BudgetUsage


@dataclass(frozen=True, eq=False)
class TrainProgress:
    """What a training callback is shown after each round of a `fit` (see `Callback`)."""

    round: int
    """rounds done, from 1"""
    rounds: int
    """rounds the budget plans (DAgger: at most; a round finishes its episodes past round_steps, so the budget
    may run out sooner)"""
    policy: torch.nn.Module
    """the live policy being trained, not a copy: it changes as training goes on, so a snapshot must copy it
    (`copy.deepcopy(progress.policy.state_dict())`), and a callback must not modify it"""
    usage: BudgetUsage
    """the budget spent so far, counted as the final BudgetUsage is (wall_time: since fit started)"""


Callback = Callable[[TrainProgress], Optional[bool]]
"""`callback(progress)`, called after each round of training (BC: each pass over the demos, the last one possibly
partial; DAgger: each round of rollouts and BC; GAIL, AIRL, PPO: each generator round). Returning True stops
training after that round: `fit` returns that policy, its usage counting the rounds done. A callback that only
observes (reads or copies the policy, does not draw from torch's or numpy's global random generators) leaves the
trained weights bit-identical to a run without one."""


class StopTraining(Exception):
    """Raised inside a trainer's loop when the callback asks to stop; each fit catches its own."""


@dataclass(frozen=True, eq=False)
class Fitted:
    """What an algorithm's `fit` returns."""

    policy: torch.nn.Module
    """an SB3 ActorCriticPolicy (networks.py)"""
    usage: BudgetUsage
    reward_net: torch.nn.Module | None = None
    """AIRL's learned reward, kept for training a fresh policy on it"""
