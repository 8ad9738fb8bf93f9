"""Behaviour cloning: supervised learning of the expert's action from the state (imitation's bc.BC)."""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

import numpy as np
import torch
from imitation.algorithms import bc
from imitation.data import types
from torch.utils import data as torch_data

from drivebench.agents import common
from drivebench.agents.base import Callback, Fitted, StopTraining, TrainProgress
from drivebench.core.budget import BudgetUsage


@dataclasses.dataclass(frozen=True)
class ActorLoss:
    """imitation's BehaviorCloningLossCalculator without the critic: the same loss and the same gradients.

    imitation's calculator calls `policy.evaluate_actions`, which also runs the value network, and adds
    `l2_weight` x the squared norm of every parameter, the critic's included. BC's loss never reads the value,
    so with l2_weight = 0 the critic's only gradient is 0 x its weights: Adam then spends as much time on the
    critic's zero gradients as on the actor's, for weights it leaves unchanged. Here the distribution comes
    from `policy.get_distribution` (the actor's path of evaluate_actions), and the parameters' norm is computed
    only when l2_weight != 0. Otherwise the metrics give it as NaN: it only fed imitation's log, which drivebench
    discards (common.silent_logger), and it took ~4% of a DAgger run on parking (py-spy). The trained weights are
    bit-identical (tests/agents/test_agents.py).
    """

    ent_weight: float
    l2_weight: float

    def __call__(self, policy, obs: torch.Tensor, acts: torch.Tensor) -> bc.BCTrainingMetrics:
        distribution = policy.get_distribution(obs)
        log_prob, entropy = distribution.log_prob(acts), distribution.entropy()
        prob_true_act = torch.exp(log_prob).mean()
        log_prob = log_prob.mean()
        entropy = entropy.mean() if entropy is not None else None
        ent_loss = -self.ent_weight * (entropy if entropy is not None else torch.zeros(1))
        neglogp = -log_prob
        loss = neglogp + ent_loss
        if self.l2_weight != 0:
            l2_norm = sum(torch.sum(torch.square(w)) for w in policy.parameters()) / 2
            l2_loss = self.l2_weight * l2_norm
            loss = loss + l2_loss
        else:
            l2_norm, l2_loss = torch.tensor(float("nan")), torch.zeros(())
        return bc.BCTrainingMetrics(neglogp=neglogp, entropy=entropy, ent_loss=ent_loss,
                                    prob_true_act=prob_true_act, l2_norm=l2_norm, l2_loss=l2_loss, loss=loss)


class BC(bc.BC):
    """imitation's BC with two changes that keep its results and cut its time:
    - fed by common.ShuffledBatches: given transitions, or the transition DataLoader DAgger builds each round,
      it batches them with its own rng instead of torch's DataLoader (same batches in distribution, several
      times faster);
    - its loss is `ActorLoss`, which skips the critic.
    `batches_per_pass` is the number of batches in one pass over its demonstrations."""

    def __init__(self, *, rng: np.random.Generator, ent_weight: float, l2_weight: float, **kwargs):
        self.batch_rng = rng  # set before imitation's __init__, which calls set_demonstrations
        super().__init__(rng=rng, ent_weight=ent_weight, l2_weight=l2_weight, **kwargs)
        self.loss_calculator = ActorLoss(ent_weight, l2_weight)

    def set_demonstrations(self, demonstrations) -> None:
        if isinstance(demonstrations, torch_data.DataLoader):
            demonstrations = demonstrations.dataset
        if isinstance(demonstrations, types.TransitionsMinimal):
            demonstrations = common.ShuffledBatches(demonstrations, self.minibatch_size, self.batch_rng,
                                                    fields=("obs", "acts"))
            self.batches_per_pass = len(demonstrations)
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


def train(learner: BC, n_batches: int, schedule: str = "constant", progress: bool = True,
          after_round: Callable[[int, int, int], bool | None] | None = None) -> int:
    """learner.train for n_batches, with the learning rate following LR_SCHEDULES[schedule]; returns the batches
    trained. A round is a pass over the demos (learner.batches_per_pass batches; the last round is what remains of
    n_batches): `after_round(round, rounds, batches so far)` is called after each, and True stops training there."""
    factor = LR_SCHEDULES[schedule]
    scheduler = torch.optim.lr_scheduler.LambdaLR(learner.optimizer, lambda k: factor(min(k / n_batches, 1.0)))
    per_pass = learner.batches_per_pass
    done = 0

    def on_batch_end() -> None:
        nonlocal done
        scheduler.step()
        done += 1
        if after_round is not None and (done % per_pass == 0 or done == n_batches):
            if after_round(math.ceil(done / per_pass), math.ceil(n_batches / per_pass), done):
                raise StopTraining

    with common.quiet_bc():
        try:
            learner.train(n_batches=n_batches, progress_bar=progress, on_batch_end=on_batch_end)
        except StopTraining:
            pass
    return done


def fit(*, demos, make_env, expert, hp: dict, rng: np.random.Generator, seed: int, progress: bool = True,
        callback: Callback | None = None):
    """Train on the demos for hp['gradient_steps'] batches; returns (policy, BudgetUsage). `callback` (base.Callback)
    is called after each pass over the demos."""
    start = time.perf_counter()
    env = make_env()
    learner = trainer(env, demos, hp, rng)

    def usage(steps: int) -> BudgetUsage:
        return BudgetUsage(env_steps=0, expert_queries=0, gradient_steps=steps,
                           demo_transitions=sum(ep.steps for ep in demos), demo_episodes=len(demos),
                           wall_time=time.perf_counter() - start)

    def after_round(k: int, rounds: int, steps: int) -> bool | None:
        return callback(TrainProgress(k, rounds, learner.policy, usage(steps)))

    steps = train(learner, hp["gradient_steps"], hp["lr_schedule"], progress, after_round if callback else None)
    return Fitted(learner.policy, usage(steps))
