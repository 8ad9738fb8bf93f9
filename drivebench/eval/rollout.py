"""One episode of a policy in an env, recorded step by step. Shared by demo recording and evaluation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gymnasium
import numpy as np

Policy = Callable[[gymnasium.Env, np.ndarray], np.ndarray]
"""A policy as the rollout sees it: (env, observation) -> action. Experts read the env; learners the obs."""


@dataclass(frozen=True, eq=False)
class Episode:
    seed: int
    """the `env.reset(seed=...)` seed"""
    observations: np.ndarray
    """(T + 1, obs_dim) float32: the observation before each action, and the final one"""
    actions: np.ndarray
    """(T, 2) float32: [acceleration, steering] in [-1, 1]"""
    rewards: np.ndarray
    """(T,) float32"""
    poses: np.ndarray
    """(T + 1, 4) float32: x [m], y [m], heading [rad], speed [m/s] with each observation"""
    signals: dict[str, np.ndarray]
    """(T + 1,) float32 per signal the env documents in its SIGNALS, with each observation"""
    termination: str
    """a `Termination` value: arrived, crashed, off_road or timeout"""

    @property
    def steps(self) -> int:
        return len(self.actions)

    @property
    def success(self) -> bool:
        return self.termination == "arrived"

    @property
    def off_road(self) -> np.ndarray:
        return self.signals["off_road"] > 0


def run_episode(env: gymnasium.Env, policy: Policy, seed: int) -> Episode:
    obs, info = env.reset(seed=seed)
    names = [name for name, _ in env.unwrapped.SIGNALS]
    observations, actions, rewards, infos = [obs], [], [], [info]
    done = False
    while not done:
        action = np.asarray(policy(env, obs), dtype=np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        infos.append(info)
    poses = np.array([[i["x"], i["y"], i["heading"], i["speed"]] for i in infos], np.float32)
    signals = {name: np.array([i[name] for i in infos], np.float32) for name in names}
    return Episode(seed, np.asarray(observations, np.float32), np.asarray(actions, np.float32).reshape(-1, 2),
                   np.asarray(rewards, np.float32), poses, signals, info["termination"])


def expert_policy(expert) -> Policy:
    return lambda env, obs: expert.act(env)


def summarize(episodes: list[Episode]) -> dict:
    """Share of episodes [%] that succeeded, crashed, went off-road at any step, timed out; mean length."""
    n = len(episodes)
    return {
        "episodes": n,
        "success_%": 100.0 * sum(e.success for e in episodes) / n,
        "crash_%": 100.0 * sum(e.termination == "crashed" for e in episodes) / n,
        "off_road_%": 100.0 * sum(bool(e.off_road.any()) for e in episodes) / n,
        "timeout_%": 100.0 * sum(e.termination == "timeout" for e in episodes) / n,
        "mean_steps": float(np.mean([e.steps for e in episodes])),
    }
