"""Inverse RL in its classic form: first the reward, then the actor. `ppo` trains a fresh PPO policy, from
random weights and without demos, on the reward an AIRL agent learned (`drivebench train --algo ppo
--reward-from AIRL_DIR`).

The reward is AIRL's unshaped reward g(s, a) (imitation's `AIRL.reward_test`: the shaping potential h(s) is
dropped, as it only helps the discriminator), computed by imitation's RewardVecEnvWrapper in place of the
env's. The demos serve only to standardize the policy's input (networks.Standardize), as for every agent.
`callback` (base.Callback) is called after each round: one rollout of n_steps x n_envs, then ppo_epochs updates.
"""
from __future__ import annotations

import math
import pickle
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from imitation.rewards.reward_wrapper import RewardVecEnvWrapper
from stable_baselines3 import PPO
from stable_baselines3.common import logger as sb_logger
from stable_baselines3.common.policies import ActorCriticPolicy

from drivebench.agents import checkpoints, common, networks
from drivebench.agents.adversarial import reward_net
from drivebench.agents.checkpoints import REWARD
from drivebench.agents.base import Callback, Fitted, StopTraining, TrainProgress
from drivebench.core.budget import BudgetUsage
from drivebench.errors import DrivebenchError


class RoundPPO(PPO):
    """SB3's PPO calling `after_round()` after each update, the end of a round of `learn`'s loop (which does
    nothing after it but collect the next round); True stops `learn` there."""

    after_round = None

    def train(self) -> None:
        super().train()
        if self.after_round is not None and self.after_round():
            raise StopTraining


def fit(*, demos, make_env, expert, hp: dict, rng: np.random.Generator, seed: int, progress: bool = True,
        reward_net=None, callback: Callback | None = None):
    if reward_net is None:
        raise ValueError("ppo trains on a learned reward: pass the AIRL agent's reward net")
    start = time.perf_counter()
    venv = common.vec_env(make_env, hp["n_envs"], seed)
    reward = reward_net.base if hasattr(reward_net, "base") else reward_net
    learned = RewardVecEnvWrapper(venv, reward_fn=reward.predict_processed)
    mean, std = networks.observation_stats(np.concatenate([ep.observations for ep in demos]))
    model = RoundPPO(ActorCriticPolicy, learned,
                     policy_kwargs=networks.policy_kwargs(hp["net_arch"], hp["activation"], mean, std),
                     n_steps=hp["n_steps"], batch_size=hp["ppo_batch_size"], n_epochs=hp["ppo_epochs"],
                     learning_rate=hp["ppo_learning_rate"], ent_coef=hp["ent_coef"], gamma=hp["gamma"], seed=seed,
                     device="cpu", verbose=0)
    model.set_logger(sb_logger.Logger(None, output_formats=[]))  # else SB3 makes a log folder in the temp dir
    per_round = hp["n_steps"] * hp["n_envs"]
    rounds = max(1, math.ceil(hp["env_steps"] / per_round))

    ppo_per_round = hp["ppo_epochs"] * math.ceil(per_round / hp["ppo_batch_size"])

    def usage(done_rounds: int) -> BudgetUsage:
        return BudgetUsage(env_steps=done_rounds * per_round, expert_queries=0,
                           gradient_steps=done_rounds * ppo_per_round, demo_transitions=0, demo_episodes=0,
                           wall_time=time.perf_counter() - start)

    done = 0

    def after_round() -> bool | None:
        nonlocal done
        done += 1
        return callback(TrainProgress(done, rounds, model.policy, usage(done))) if callback else None

    model.after_round = after_round
    try:
        model.learn(total_timesteps=rounds * per_round, progress_bar=False)
    except StopTraining:
        pass
    learned.close()
    return Fitted(model.policy, usage(done))


def load_reward_net(path: str | Path):
    """(AIRL's reward net in eval mode, config) from an AIRL checkpoint folder, loaded as plain weights. (Here, not in
    checkpoints.py: a checkpoint's identity covers the code that rebuilds its policy, not GAIL's and AIRL's.)"""
    path = Path(path)
    config = checkpoints.read_config(path)
    weights = path / REWARD
    if REWARD not in config.get("files", {}):
        raise DrivebenchError(f"{path}: a {config.get('algo')} agent has no learned reward to reuse; give the folder "
                              "of an agent trained with --algo airl")
    if not weights.is_file() or checkpoints.file_sha256(weights) != config["files"][REWARD]:
        raise DrivebenchError(f"{weights}: missing, truncated or edited (checksum mismatch); train the agent again")
    n = len(config["observation_features"])
    use_action = config.get("hyperparameters", {}).get("disc_use_action", True)
    net = reward_net("airl", spaces.Box(-np.inf, np.inf, (n,), np.float32), spaces.Box(-1, 1, (2,), np.float32),
                     use_action)
    try:
        net.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
    except pickle.UnpicklingError:
        raise DrivebenchError(f"{weights}: holds Python objects, not plain weights") from None
    except (RuntimeError, ValueError, KeyError) as err:
        raise DrivebenchError(f"{weights}: does not fit AIRL's reward network: {err}") from None
    net.eval()
    return net, config
