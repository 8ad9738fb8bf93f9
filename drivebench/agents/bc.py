"""Behaviour cloning: supervised learning of the expert's action from the state (imitation's bc.BC)."""
from __future__ import annotations

import time

import numpy as np
import torch
from imitation.algorithms import bc
from imitation.data import types
from torch.utils import data as torch_data

from drivebench.agents import common
from drivebench.agents.base import BudgetUsage, Fitted


class BC(bc.BC):
    """imitation's BC, fed by common.ShuffledBatches: given transitions, or the transition DataLoader DAgger
    builds each round, it batches them with its own rng instead of torch's DataLoader (same batches in
    distribution, several times faster)."""

    def __init__(self, *, rng: np.random.Generator, **kwargs):
        self.batch_rng = rng  # set before imitation's __init__, which calls set_demonstrations
        super().__init__(rng=rng, **kwargs)

    def set_demonstrations(self, demonstrations) -> None:
        if isinstance(demonstrations, torch_data.DataLoader):
            demonstrations = demonstrations.dataset
        if isinstance(demonstrations, types.TransitionsMinimal):
            demonstrations = common.ShuffledBatches(demonstrations, self.minibatch_size, self.batch_rng)
        super().set_demonstrations(demonstrations)


def trainer(env, demos, hp: dict, rng: np.random.Generator, policy=None) -> BC:
    """BC on the demos. The batch is hp['batch_size'] or, with fewer demo transitions than that (a demo or
    two in a data-efficiency sweep), all of them."""
    data = common.transitions(demos)
    return BC(observation_space=env.observation_space, action_space=env.action_space, rng=rng,
                 policy=policy or common.new_policy(env, demos, hp), demonstrations=data,
                 batch_size=min(hp["batch_size"], len(data)), optimizer_kwargs={"lr": hp["learning_rate"]},
                 ent_weight=hp["ent_weight"], l2_weight=hp["l2_weight"], device="cpu",
                 custom_logger=common.silent_logger())


LR_SCHEDULES = {
    "constant": lambda fraction: 1.0,
    "linear": lambda fraction: 1.0 - fraction,  # to 0 at the last batch: the final iterate is the converged one
}
"""Learning-rate factor against the fraction of the gradient steps taken (hp['lr_schedule'])."""


def train(learner: BC, n_batches: int, schedule: str = "constant", progress: bool = True) -> None:
    """learner.train for n_batches, with the learning rate following LR_SCHEDULES[schedule]."""
    factor = LR_SCHEDULES[schedule]
    scheduler = torch.optim.lr_scheduler.LambdaLR(learner.optimizer, lambda k: factor(min(k / n_batches, 1.0)))
    with common.quiet_bc():
        learner.train(n_batches=n_batches, progress_bar=progress, on_batch_end=scheduler.step)


def fit(*, demos, make_env, expert, hp: dict, rng: np.random.Generator, seed: int, progress: bool = True):
    """Train on the demos for hp['gradient_steps'] batches; returns (policy, BudgetUsage)."""
    start = time.perf_counter()
    env = make_env()
    learner = trainer(env, demos, hp, rng)
    train(learner, hp["gradient_steps"], hp["lr_schedule"], progress)
    return Fitted(learner.policy, BudgetUsage(env_steps=0, expert_queries=0, gradient_steps=hp["gradient_steps"],
                                              demo_transitions=sum(ep.steps for ep in demos),
                                              demo_episodes=len(demos), wall_time=time.perf_counter() - start))
