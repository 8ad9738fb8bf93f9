"""Pieces the algorithms share: demos as imitation trajectories, vectorized envs, a silent logger."""
from __future__ import annotations

import contextlib
import warnings
from typing import Callable

import gymnasium
import numpy as np
import torch
from imitation.data import rollout, types
from imitation.data.wrappers import RolloutInfoWrapper
from imitation.util import logger as imit_logger
from stable_baselines3.common import logger as sb_logger
from stable_baselines3.common.vec_env import DummyVecEnv

from drivebench.agents import networks
from drivebench.core.records import Episode


@contextlib.contextmanager
def quiet_bc():
    """imitation 1.0.1's BC logs its loss, a tensor that requires grad, as a float each batch, and torch warns each
    time; this silences that warning only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Converting a tensor with requires_grad=True to a scalar", UserWarning)
        yield


def trajectories(demos: list[Episode]) -> list[types.Trajectory]:
    """Demo episodes as imitation Trajectories (T + 1 observations, T actions); terminal unless truncated."""
    return [types.Trajectory(obs=ep.observations, acts=ep.actions, infos=None, terminal=ep.termination != "timeout")
            for ep in demos]


def transitions(demos: list[Episode]) -> types.Transitions:
    return rollout.flatten_trajectories(trajectories(demos))


class ShuffledBatches:
    """Minibatches of transitions, reshuffled with `rng` on every pass, the last partial batch dropped: what
    imitation's DataLoader(shuffle=True, drop_last=True) yields, but indexed as whole tensors. The DataLoader
    builds each batch one transition at a time (a dataclass per item, then collates them), which made it
    ~40% of BC's training time for 256-transition batches. Yields mappings with `fields` (BC reads only obs and
    acts; the discriminators also read next_obs and dones)."""

    def __init__(self, data: types.Transitions, batch_size: int, rng: np.random.Generator,
                 fields: tuple[str, ...] = ("obs", "acts", "next_obs", "dones")):
        if len(data) < batch_size:
            raise ValueError(f"{len(data)} transitions cannot fill a batch of {batch_size}")
        self.fields = {name: torch.tensor(getattr(data, name)) for name in fields}
        self.batch_size, self.rng, self.size = batch_size, rng, len(data)

    def __iter__(self):
        order = torch.as_tensor(self.rng.permutation(self.size))
        for start in range(0, self.size - self.batch_size + 1, self.batch_size):
            index = order[start:start + self.batch_size]
            yield {name: values[index] for name, values in self.fields.items()}

    def __len__(self) -> int:
        return self.size // self.batch_size


def vec_env(make_env: Callable[[], gymnasium.Env], n_envs: int, seed: int) -> DummyVecEnv:
    """n envs in this process (the scripted expert reads their state), seeded from `seed`."""
    venv = DummyVecEnv([lambda: RolloutInfoWrapper(make_env()) for _ in range(n_envs)])
    venv.seed(seed)
    return venv


def silent_logger(folder: str | None = None) -> imit_logger.HierarchicalLogger:
    """imitation's logger with no outputs: imitation logs tables to stdout by default, and drivebench reports its
    own summary. It writes no files. Only the adversarial trainers need a `folder`, in which imitation makes empty
    subfolders for its running means; pass a temporary one."""
    return imit_logger.HierarchicalLogger(sb_logger.Logger(folder, output_formats=[]), format_strs=[])


def new_policy(env: gymnasium.Env, demos: list[Episode], hp: dict):
    """A fresh policy whose input standardization comes from the demos' observations."""
    mean, std = networks.observation_stats(np.concatenate([ep.observations for ep in demos]))
    return networks.make_policy(env.observation_space, env.action_space, net_arch=hp["net_arch"],
                                activation=hp["activation"], mean=mean, std=std, learning_rate=hp["learning_rate"])
