"""GAIL and AIRL (imitation's adversarial trainers): a discriminator learns to tell the expert's transitions
from the learner's and serves as the reward; an SB3 PPO generator maximizes it.

- The generator uses the same policy network as BC, so `warm_start_bc` starts it from a BC policy trained on
  the same demos (imitation's maintainers advise it; from scratch the adversarial game rarely finds the goal).
- Episodes end early (crash, arrival), so the trainers run with allow_variable_horizon=True.
- Rounds: each round PPO collects n_steps x n_envs transitions and updates ppo_epochs times; then the
  discriminator takes disc_updates_per_round steps. All of these count as gradient steps. `callback`
  (base.Callback) is called after each round (not during the BC warm start), with the generator's policy.
- AIRL's discriminator holds a shaped reward net (reward g(s, a) + shaping by a potential h(s)); its reward
  net is saved with the policy so the reward can train a fresh policy later (inverse RL proper).
"""
from __future__ import annotations

import math
import tempfile
import time

import numpy as np
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.gail import GAIL
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet
from imitation.util import networks as imitation_networks
from imitation.util.networks import RunningNorm
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from tqdm import tqdm

from drivebench.agents import bc, common, networks
from drivebench.agents.base import Callback, Fitted, TrainProgress
from drivebench.core.budget import BudgetUsage


def reward_net(kind: str, observation_space, action_space):
    if kind == "gail":
        return BasicRewardNet(observation_space, action_space, normalize_input_layer=RunningNorm)
    return BasicShapedRewardNet(observation_space, action_space, normalize_input_layer=RunningNorm)


def fit(*, kind: str, demos, make_env, expert, hp: dict, rng: np.random.Generator, seed: int,
        progress: bool = True, callback: Callback | None = None):
    start = time.perf_counter()
    venv = common.vec_env(make_env, hp["n_envs"], seed)
    mean, std = networks.observation_stats(np.concatenate([ep.observations for ep in demos]))
    generator = PPO(ActorCriticPolicy, venv, policy_kwargs=networks.policy_kwargs(hp["net_arch"], hp["activation"],
                                                                                 mean, std),
                    n_steps=hp["n_steps"], batch_size=hp["ppo_batch_size"], n_epochs=hp["ppo_epochs"],
                    learning_rate=hp["ppo_learning_rate"], ent_coef=hp["ent_coef"], gamma=hp["gamma"],
                    seed=seed, device="cpu", verbose=0)
    bc_steps = 0
    if hp["warm_start_bc"]:
        warm = bc.trainer(venv, demos, hp, rng, policy=generator.policy)
        bc.train(warm, hp["bc_gradient_steps"], "constant", progress)
        bc_steps = hp["bc_gradient_steps"]
    net = reward_net(kind, venv.observation_space, venv.action_space)
    algorithm = GAIL if kind == "gail" else AIRL
    demo_batch = min(hp["demo_batch_size"], sum(ep.steps for ep in demos))  # a demo or two may hold fewer
    per_round = hp["n_steps"] * hp["n_envs"]
    rounds = max(1, math.ceil(hp["env_steps"] / per_round))
    ppo_per_round = hp["ppo_epochs"] * math.ceil(per_round / hp["ppo_batch_size"])

    def usage(done_rounds: int) -> BudgetUsage:
        return BudgetUsage(env_steps=done_rounds * per_round, expert_queries=0,
                           gradient_steps=bc_steps + done_rounds * (ppo_per_round + hp["disc_updates_per_round"]),
                           demo_transitions=sum(ep.steps for ep in demos), demo_episodes=len(demos),
                           wall_time=time.perf_counter() - start)

    done = 0
    with tempfile.TemporaryDirectory(prefix="drivebench-log-") as logs:  # the logger's running means need one
        trainer = algorithm(demonstrations=common.ShuffledBatches(common.transitions(demos), demo_batch, rng),
                            demo_batch_size=demo_batch,
                            gen_replay_buffer_capacity=per_round,
                            n_disc_updates_per_round=hp["disc_updates_per_round"], venv=venv, gen_algo=generator,
                            reward_net=net, allow_variable_horizon=True, init_tensorboard=False,
                            custom_logger=common.silent_logger(logs))
        # trainer.train's loop, with the callback after each round
        for done in tqdm(range(1, rounds + 1), desc="round", disable=not progress, leave=False):
            trainer.train_gen(trainer.gen_train_timesteps)
            for _ in range(hp["disc_updates_per_round"]):
                with imitation_networks.training(trainer.reward_train):
                    trainer.train_disc()
            trainer.logger.dump(trainer._global_step)
            if callback is not None and callback(TrainProgress(done, rounds, generator.policy, usage(done))):
                break
    venv.close()
    return Fitted(generator.policy, usage(done), net if kind == "airl" else None)
