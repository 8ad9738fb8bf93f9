"""Agents as the harness sees them: `load_policy(agent_id) -> LoadedPolicy`.

An agent id is one of
- `expert:<style>`: a scripted expert (reads the env's true state),
- `random`: uniform random actions, drawn from the episode seed,
- `package.module:name`: a Python object that is either a callable obs -> action or has an SB3-style
  `predict(obs, deterministic=True) -> (action, state)` (imitation and SB3 policies do),
- a folder holding a trained agent (`drivebench train --out DIR`).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

from drivebench.agents import checkpoints
from drivebench.data.record import expert_record
from drivebench.errors import DrivebenchError, UnknownIdError
from drivebench.experts.registry import get_expert
from drivebench.scenarios.envs import FAMILIES


@dataclass(frozen=True)
class LoadedPolicy:
    agent: str
    """the id it was loaded from"""
    agent_hash: str
    """sha256 of what defines its behaviour (expert parameters, source code, weights)"""
    act: Callable
    """(env, obs) -> action"""
    reset: Callable[[int], None] = lambda seed: None
    """called with the episode seed before each episode"""
    check_scenario: Callable = lambda spec: None
    """raises DrivebenchError if the agent cannot drive this scenario spec (e.g. other observations)"""


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class RandomPolicy:
    """Uniform actions in [-1, 1]^2 from a generator seeded with the episode seed."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, env, obs) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, 2).astype(np.float32)


def from_object(agent: str, obj, agent_hash: str) -> LoadedPolicy:
    """Wrap an SB3-style policy (has predict) or a plain callable obs -> action."""
    if hasattr(obj, "predict"):
        return LoadedPolicy(agent, agent_hash, lambda env, obs: obj.predict(obs, deterministic=True)[0])
    if callable(obj):
        return LoadedPolicy(agent, agent_hash, lambda env, obs: obj(obs))
    raise DrivebenchError(f"{agent}: not a policy (needs predict(obs, deterministic=True) or to be callable)")


def load_policy(agent: str) -> LoadedPolicy:
    if checkpoints.is_checkpoint(agent):
        policy, config = checkpoints.load_policy(agent)

        def check(spec) -> None:
            features = [name for name, _ in FAMILIES[spec.family].OBSERVATION_FEATURES]
            checkpoints.check_compatible(config, agent, spec.name, features)

        return LoadedPolicy(agent, checkpoints.agent_hash(agent),
                            lambda env, obs: policy.predict(obs, deterministic=True)[0], check_scenario=check)
    if agent.startswith("expert:"):
        expert = get_expert(agent)
        return LoadedPolicy(agent, _hash(json.dumps(expert_record(expert), sort_keys=True)),
                            lambda env, obs: expert.act(env))
    if agent == "random":
        policy = RandomPolicy()
        return LoadedPolicy(agent, _hash("random", "v1"), policy.act, policy.reset)
    module_name, sep, attr = agent.partition(":")
    if sep and module_name and attr:
        try:
            module = importlib.import_module(module_name)
            obj = getattr(module, attr)
        except (ImportError, AttributeError) as err:
            raise DrivebenchError(f"cannot load policy {agent!r}: {err}") from None
        source = inspect.getsource(module)
        return from_object(agent, obj, _hash("python", agent, source))
    raise UnknownIdError("agent", agent, ["expert:<style>", "random", "package.module:callable",
                                          "a trained agent's folder"])
