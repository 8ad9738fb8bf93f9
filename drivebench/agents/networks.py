"""The policy network every agent uses: an SB3 ActorCriticPolicy (imitation's BC and DAgger train it directly;
PPO uses the same class as the GAIL/AIRL generator, so a BC policy warm-starts it) whose first layer
standardizes observations with statistics from the demos, stored as buffers in its state_dict."""
from __future__ import annotations

from typing import Callable

import gymnasium
import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}


class Standardize(BaseFeaturesExtractor):
    """(obs - mean) / std with fixed statistics; the buffers travel with the weights."""

    def __init__(self, observation_space: gymnasium.spaces.Box, mean: list[float] | None = None,
                 std: list[float] | None = None):
        n = observation_space.shape[0]
        super().__init__(observation_space, features_dim=n)
        self.register_buffer("mean", torch.as_tensor(mean if mean is not None else np.zeros(n), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std if std is not None else np.ones(n), dtype=torch.float32))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return (observations - self.mean) / self.std


def observation_stats(observations: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-feature mean and std of demo observations; constant features get std 1."""
    std = observations.std(axis=0)
    return observations.mean(axis=0).tolist(), np.where(std > 1e-6, std, 1.0).tolist()


def policy_kwargs(net_arch: list[int], activation: str, mean: list[float], std: list[float]) -> dict:
    """Keyword arguments for ActorCriticPolicy (and for PPO's `policy_kwargs`)."""
    return {"net_arch": list(net_arch), "activation_fn": ACTIVATIONS[activation],
            "features_extractor_class": Standardize, "features_extractor_kwargs": {"mean": mean, "std": std}}


def make_policy(observation_space, action_space, *, net_arch: list[int], activation: str, mean: list[float],
                std: list[float], learning_rate: float = 1e-3) -> ActorCriticPolicy:
    return ActorCriticPolicy(observation_space, action_space, lambda _: learning_rate,
                             **policy_kwargs(net_arch, activation, mean, std))


def deterministic_actor(policy: ActorCriticPolicy) -> Callable[[np.ndarray], np.ndarray]:
    """`policy.predict(obs, deterministic=True)[0]` for one observation, bit for bit, in a fraction of the time.

    SB3's predict switches the modules to eval mode on every call (a walk over all of them), builds a Normal
    distribution only to read its mean, and goes through several layers of checks: on the parking lots that
    was ~35% of an evaluation step. This runs the same operations on the same tensors: the observation as a
    float32 batch of one, the standardizing extractor, the actor's layers and action_net (the distribution's
    mean), then the clip to the action space. tests/agents/test_agents.py compares the two."""
    policy.set_training_mode(False)
    obs_shape, action_shape = policy.observation_space.shape, policy.action_space.shape
    low, high = policy.action_space.low, policy.action_space.high

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            batch = torch.as_tensor(np.asarray(obs).reshape((-1, *obs_shape))).float()
            mean = policy.action_net(policy.mlp_extractor.forward_actor(policy.pi_features_extractor(batch)))
        return np.clip(mean.numpy().reshape((-1, *action_shape)), low, high)[0]

    return act
