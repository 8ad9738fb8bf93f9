"""Agent checkpoints: `agent.json` (what the agent is: algorithm, scenario, observation features and config,
network, hyperparameters, budget spent, versions, weight checksums) and `policy.pt` (the policy's state_dict; AIRL adds
`reward.pt`). Loading never unpickles objects: `torch.load(..., weights_only=True)`. Writes are atomic."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

from drivebench.agents import networks
from drivebench.core import keys
from drivebench.errors import DrivebenchError

FORMAT, VERSION = "drivebench-agent", 1
CONFIG, WEIGHTS, REWARD = "agent.json", "policy.pt", "reward.pt"
DEFAULT_OBSERVATION = {"type": "ego"}
"""The observation config of an agent.json that records none (written before it was recorded): the envs' default."""


def is_checkpoint(path: str | Path) -> bool:
    return (Path(path) / CONFIG).is_file()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(out: str | Path, *, policy: torch.nn.Module, config: dict, reward_net: torch.nn.Module | None = None) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        torch.save(policy.state_dict(), tmp / WEIGHTS)
        files = {WEIGHTS: file_sha256(tmp / WEIGHTS)}
        if reward_net is not None:
            torch.save(reward_net.state_dict(), tmp / REWARD)
            files[REWARD] = file_sha256(tmp / REWARD)
        (tmp / CONFIG).write_text(json.dumps({**config, "format": FORMAT, "version": VERSION, "files": files},
                                             indent=2, sort_keys=True) + "\n")
        tmp.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def read_config(path: str | Path) -> dict:
    path = Path(path)
    if not (path / CONFIG).is_file():
        raise DrivebenchError(f"{path}: not a drivebench agent (no {CONFIG}); train one with `drivebench train`")
    try:
        config = json.loads((path / CONFIG).read_text())
    except json.JSONDecodeError as err:
        raise DrivebenchError(f"{path / CONFIG}: not valid JSON ({err})") from None
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise DrivebenchError(f"{path / CONFIG}: a {config.get('format')!r} v{config.get('version')} file; this "
                              f"drivebench reads {FORMAT} v{VERSION}: train the agent again")
    return config


def agent_hash(path: str | Path) -> str:
    """Identifies the agent's behaviour (a content key, core/keys.py): the policy weights' sha256, the network
    (architecture, activation), the observation it takes (its features and its config, `observation_of`) and the
    code key of this module, which rebuilds the policy (`load_policy`), with its closure (agents/networks.py, which
    builds and runs the network). Not how it was trained (the algorithm, demos, wall time, usage, the folder): two
    trainings that give the same weights are one agent."""
    config = read_config(path)
    return keys.content_key({"weights": config["files"][WEIGHTS], "network": config["network"],
                             "observation_features": config["observation_features"],
                             "observation": observation_of(config), "code": keys.code_key(__name__)})


def observation_of(config: dict) -> dict:
    """The observation config an agent was trained on (its env's `config["observation"]`; DEFAULT_OBSERVATION for
    an agent.json that records none)."""
    return config.get("observation") or dict(DEFAULT_OBSERVATION)


def load_policy(path: str | Path):
    """(policy in eval mode, config) from a checkpoint folder; clear errors for anything wrong with it."""
    path = Path(path)
    config = read_config(path)
    weights = path / WEIGHTS
    if not weights.is_file() or file_sha256(weights) != config["files"][WEIGHTS]:
        raise DrivebenchError(f"{weights}: missing, truncated or edited (checksum mismatch); train the agent again")
    net = config["network"]
    n = len(config["observation_features"])
    policy = networks.make_policy(spaces.Box(-np.inf, np.inf, (n,), np.float32), spaces.Box(-1, 1, (2,), np.float32),
                                  net_arch=net["net_arch"], activation=net["activation"], mean=[0.0] * n,
                                  std=[1.0] * n)
    try:
        state = torch.load(weights, weights_only=True, map_location="cpu")
        policy.load_state_dict(state)
    except pickle.UnpicklingError:
        raise DrivebenchError(f"{weights}: holds Python objects, not plain weights; drivebench does not unpickle "
                              "objects (torch.load weights_only=True)") from None
    except (RuntimeError, ValueError, KeyError) as err:
        raise DrivebenchError(f"{weights}: does not fit the network described in {CONFIG}: {err}") from None
    policy.set_training_mode(False)
    return policy, config


def check_compatible(config: dict, path: str | Path, scenario_name: str, features: list[str],
                     observation: dict | None = None) -> None:
    """A policy can drive any scenario with the same observation features and observation config (`observation`:
    the scenario env's default, `config["observation"]`; None: DEFAULT_OBSERVATION); others fail clearly."""
    if config["observation_features"] != features:
        raise DrivebenchError(
            f"{path}: this {config['algo']} agent was trained on {config['scenario']} ({config['family']}, "
            f"{len(config['observation_features'])} observation features) and cannot drive {scenario_name}, whose "
            f"observation has {len(features)} different features")
    trained, wanted = observation_of(config), observation or DEFAULT_OBSERVATION
    if trained != wanted:
        raise DrivebenchError(
            f"{path}: this {config['algo']} agent was trained on the observation {json.dumps(trained, sort_keys=True)}"
            f" and cannot drive {scenario_name}, whose observation is {json.dumps(wanted, sort_keys=True)}")
