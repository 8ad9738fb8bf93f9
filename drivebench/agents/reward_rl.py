"""Inverse RL in its classic form: first the reward, then the actor. `ppo` trains a fresh PPO policy, from
random weights and without demos, on the reward an AIRL agent learned (`drivebench train --algo ppo
--reward-from AIRL_DIR`).

The reward is AIRL's unshaped reward g(s, a) (imitation's `AIRL.reward_test`: the shaping potential h(s) is
dropped, as it only helps the discriminator), computed by imitation's RewardVecEnvWrapper in place of the
env's. The demos serve only to standardize the policy's input (networks.Standardize), as for every agent.
"""
from __future__ import annotations

import math
import time

import numpy as np
from imitation.rewards.reward_wrapper import RewardVecEnvWrapper
from stable_baselines3 import PPO
from stable_baselines3.common import logger as sb_logger
from stable_baselines3.common.policies import ActorCriticPolicy

from drivebench.agents import common, networks
from drivebench.agents.base import BudgetUsage, Fitted


def fit(*, demos, make_env, expert, hp: dict, rng: np.random.Generator, seed: int, progress: bool = True,
        reward_net=None):
    if reward_net is None:
        raise ValueError("ppo trains on a learned reward: pass the AIRL agent's reward net")
    start = time.perf_counter()
    venv = common.vec_env(make_env, hp["n_envs"], seed)
    reward = reward_net.base if hasattr(reward_net, "base") else reward_net
    learned = RewardVecEnvWrapper(venv, reward_fn=reward.predict_processed)
    mean, std = networks.observation_stats(np.concatenate([ep.observations for ep in demos]))
    model = PPO(ActorCriticPolicy, learned,
                policy_kwargs=networks.policy_kwargs(hp["net_arch"], hp["activation"], mean, std),
                n_steps=hp["n_steps"], batch_size=hp["ppo_batch_size"], n_epochs=hp["ppo_epochs"],
                learning_rate=hp["ppo_learning_rate"], ent_coef=hp["ent_coef"], gamma=hp["gamma"], seed=seed,
                device="cpu", verbose=0)
    model.set_logger(sb_logger.Logger(None, output_formats=[]))  # else SB3 makes a log folder in the temp dir
    per_round = hp["n_steps"] * hp["n_envs"]
    rounds = max(1, math.ceil(hp["env_steps"] / per_round))
    model.learn(total_timesteps=rounds * per_round, progress_bar=False)
    learned.close()
    usage = BudgetUsage(env_steps=rounds * per_round, expert_queries=0,
                        gradient_steps=rounds * hp["ppo_epochs"] * math.ceil(per_round / hp["ppo_batch_size"]),
                        demo_transitions=0, demo_episodes=0, wall_time=time.perf_counter() - start)
    return Fitted(model.policy, usage)
