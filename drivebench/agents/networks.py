"""The policy network every agent uses: an SB3 ActorCriticPolicy (imitation's BC and DAgger train it directly;
PPO uses the same class as the GAIL/AIRL generator, so a BC policy warm-starts it) whose first layer
standardizes observations with statistics from the demos, stored as buffers in its state_dict."""
from __future__ import annotations

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
