"""DAgger: the learner drives, the scripted expert labels every state it visits, BC retrains on all labels.

imitation's SimpleDAggerTrainer runs rounds of `round_steps` environment steps. In round r the expert's action
is executed with probability beta_r and the learner's otherwise, beta falling linearly from 1 (round 0: the
expert drives) to 0 at round `rampdown_rounds` (LinearBetaSchedule); every visited state is labelled with the
expert's action either way. After each round BC trains `gradient_steps / rounds` batches on the demos plus
all labels so far. The oracle is a state-feedback controller, so it can label states far from its own path.

imitation's DAgger also hands its venv to BC's `train` as `log_rollouts_venv`, so that BC rolls out 5 episodes
for its log at the first batch of every round and every 500 batches after. drivebench discards that log, and
those steps are in no budget, so it turns them off: the env steps in BudgetUsage are all the steps taken.

`callback` (base.Callback) is called after each round, once BC has trained on its labels.
"""
from __future__ import annotations

import math
import tempfile
import time

import datasets
import numpy as np
import torch
from imitation.algorithms import dagger
from stable_baselines3.common.policies import BasePolicy

from drivebench.agents import bc, common
from drivebench.agents.base import Callback, Fitted, StopTraining, TrainProgress
from drivebench.core.budget import BudgetUsage


class ScriptedExpertPolicy(BasePolicy):
    """The scripted expert as an SB3 policy for imitation: it ignores the observations it is given and acts
    from the true state of each env of the DummyVecEnv, in order. Counts its queries."""

    def __init__(self, expert, venv):
        super().__init__(venv.observation_space, venv.action_space)
        self.expert, self.envs, self.queries = expert, venv.envs, 0

    def _predict(self, observation: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        self.queries += len(self.envs)
        return torch.as_tensor(np.stack([self.expert.act(env) for env in self.envs]))


class DAggerTrainer(dagger.SimpleDAggerTrainer):
    """imitation's SimpleDAggerTrainer calling `after_round()` at the end of each of train's rounds (the round
    counter advanced); True stops train there. Its loop does nothing after a round's BC update but count it."""

    def __init__(self, *, after_round=None, **kwargs):
        super().__init__(**kwargs)
        self.after_round = after_round

    def extend_and_update(self, bc_train_kwargs=None) -> int:
        round_num = super().extend_and_update(bc_train_kwargs)
        if self.after_round is not None and self.after_round():
            raise StopTraining
        return round_num


def fit(*, demos, make_env, expert, hp: dict, rng: np.random.Generator, seed: int, progress: bool = True,
        callback: Callback | None = None):
    start = time.perf_counter()
    datasets.disable_progress_bars()  # imitation saves each round's demos as a HuggingFace dataset
    venv = common.vec_env(make_env, hp["n_envs"], seed)
    oracle = ScriptedExpertPolicy(expert, venv)
    steps = min(hp["env_steps"], hp["expert_queries"])
    rounds = max(1, math.ceil(steps / hp["round_steps"]))
    per_round = max(1, hp["gradient_steps"] // rounds)
    learner = bc.trainer(venv, demos, hp, rng)

    def usage(done_rounds: int) -> BudgetUsage:
        return BudgetUsage(env_steps=oracle.queries, expert_queries=oracle.queries,
                           gradient_steps=per_round * done_rounds, demo_transitions=sum(ep.steps for ep in demos),
                           demo_episodes=len(demos), wall_time=time.perf_counter() - start)

    def after_round() -> bool | None:
        return callback(TrainProgress(trainer.round_num, rounds, learner.policy, usage(trainer.round_num)))

    with tempfile.TemporaryDirectory(prefix="drivebench-dagger-") as scratch:
        trainer = DAggerTrainer(
            venv=venv, scratch_dir=scratch, expert_policy=oracle, bc_trainer=learner,
            expert_trajs=common.trajectories(demos), rng=rng, custom_logger=common.silent_logger(),
            beta_schedule=dagger.LinearBetaSchedule(hp["rampdown_rounds"]),
            after_round=after_round if callback else None)
        with common.quiet_bc():
            try:
                trainer.train(total_timesteps=steps, rollout_round_min_episodes=1,
                              rollout_round_min_timesteps=hp["round_steps"],
                              bc_train_kwargs={"n_batches": per_round, "progress_bar": progress,
                                               "log_rollouts_venv": None})
            except StopTraining:
                pass
        done_rounds = trainer.round_num
    venv.close()
    return Fitted(learner.policy, usage(done_rounds))
