"""Agent checkpoints: `agent.json` (what the agent is: algorithm, scenario, observation features and config,
network, hyperparameters, budget spent, versions, weight checksums) and `policy.pt` (the policy's state_dict; AIRL adds
`reward.pt`). Loading never unpickles objects: `torch.load(..., weights_only=True)`. Writes are atomic."""
from __future__ import annotations

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
from drivebench.data.store import sha256 as file_sha256  # the one chunked file hash
from drivebench.errors import DrivebenchError

FORMAT, VERSION = "drivebench-agent", 1
CONFIG, WEIGHTS, REWARD = "agent.json", "policy.pt", "reward.pt"
DEFAULT_OBSERVATION = {"type": "ego"}
"""The observation config of an agent.json that records none (written before it was recorded): the envs' default."""


def is_checkpoint(path: str | Path) -> bool:
    return (Path(path) / CONFIG).is_file()


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
    """The checkpoint's agent.json, checked: every field drivebench reads is there with its type, and the network
    it describes is no larger than MAX_PARAMETERS (nothing is allocated before that). DrivebenchError naming the
    file and the field otherwise."""
    path = Path(path)
    file = path / CONFIG
    if not file.is_file():  # also refuses a FIFO or a device, before anything opens it
        what = "not a regular file" if file.exists() else f"no {CONFIG}"
        raise DrivebenchError(f"{path}: not a drivebench agent ({what}); train one with `drivebench train`")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DrivebenchError(f"{file}: not valid JSON ({err}); train the agent again") from None
    if not isinstance(config, dict):
        raise DrivebenchError(f"{file}: not an agent description (a JSON {type(config).__name__}, not an object); "
                              "train the agent again")
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise DrivebenchError(f"{file}: a {config.get('format')!r} v{config.get('version')} file; this "
                              f"drivebench reads {FORMAT} v{VERSION}: train the agent again")
    problem = _config_problem(config)
    if problem:
        field, message = problem
        raise DrivebenchError(f"{file}: field `{field}` {message}; the file was edited or damaged: train the agent "
                              "again")
    return config


MAX_PARAMETERS = 10_000_000
"""The most weights (policy and value networks) an agent.json may describe: 40 MB of float32; the standard preset's
largest network ([256, 256]) has about 150,000."""

MAX_LAYERS = 16
"""The most hidden layers in `network.net_arch`."""


def parameter_count(inputs: int, net_arch: list[int]) -> int:
    """Weights and biases of the policy network `networks.make_policy` builds: the actor's and the critic's MLP
    (`net_arch` each), the action head (2 outputs), its log-std and the value head."""
    sizes = [inputs, *net_arch]
    mlp = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    return 2 * mlp + (sizes[-1] * 2 + 2) + 2 + (sizes[-1] + 1)


def _config_problem(config: dict) -> tuple[str, str] | None:
    """(field, what is wrong) for the first field of an agent.json that drivebench cannot use, or None."""
    def is_int(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    files = config.get("files")
    if not isinstance(files, dict):
        return "files", "is missing" if files is None else "must be an object"
    for name in (WEIGHTS, *([REWARD] if REWARD in files else [])):
        digest = files.get(name)
        if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            return f"files.{name}", "must be the file's sha256 (64 hex digits)"
    for field in ("algo", "scenario", "family"):
        if not isinstance(config.get(field), str):
            return field, "is missing" if field not in config else "must be a string"
    features = config.get("observation_features")
    if not (isinstance(features, list) and features and all(isinstance(f, str) for f in features)):
        return "observation_features", "must be a non-empty list of feature names"
    if config.get("observation") is not None and not isinstance(config["observation"], dict):
        return "observation", "must be an object (the env's observation config)"
    net = config.get("network")
    if not isinstance(net, dict):
        return "network", "is missing" if net is None else "must be an object with `net_arch` and `activation`"
    arch = net.get("net_arch")
    if not (isinstance(arch, list) and 1 <= len(arch) <= MAX_LAYERS and all(is_int(w) and w >= 1 for w in arch)):
        return "network.net_arch", f"must be a list of 1 to {MAX_LAYERS} layer widths (positive integers), got " \
                                   f"{json.dumps(arch)[:80]}"
    if net.get("activation") not in networks.ACTIVATIONS:
        return "network.activation", f"must be one of {', '.join(networks.ACTIVATIONS)}, got " \
                                     f"{json.dumps(net.get('activation'))[:40]}"
    count = parameter_count(len(features), arch)
    if count > MAX_PARAMETERS:
        return "network.net_arch", (f"{json.dumps(arch)[:80]} makes a network of {count:,} parameters "
                                    f"({count * 4 / 1e6:,.0f} MB) for {len(features)} observation features; drivebench "
                                    f"loads at most {MAX_PARAMETERS:,}")
    return None


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
    try:  # mapped, not read into memory: the file's tensors are only looked at until the network is built
        state = torch.load(weights, weights_only=True, map_location="cpu", mmap=True)
    except pickle.UnpicklingError:
        raise DrivebenchError(f"{weights}: holds Python objects, not plain weights; drivebench does not unpickle "
                              "objects (torch.load weights_only=True)") from None
    except (RuntimeError, ValueError, OSError, EOFError) as err:
        raise DrivebenchError(f"{weights}: not a torch state_dict ({err}); train the agent again") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DrivebenchError(f"{weights}: not a state_dict of tensors; train the agent again")
    found = _hidden_sizes(state)
    if found is not None and found != (n, list(net["net_arch"])):
        raise DrivebenchError(
            f"{path / CONFIG}: field `network.net_arch` is {json.dumps(net['net_arch'])} for {n} observation features, "
            f"but {WEIGHTS} holds layers of {json.dumps(found[1])} for {found[0]}: the file was edited; train the "
            "agent again")
    policy = networks.make_policy(spaces.Box(-np.inf, np.inf, (n,), np.float32), spaces.Box(-1, 1, (2,), np.float32),
                                  net_arch=net["net_arch"], activation=net["activation"], mean=[0.0] * n,
                                  std=[1.0] * n)
    try:
        policy.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as err:
        raise DrivebenchError(f"{weights}: does not fit the network described in {CONFIG}: {err}") from None
    policy.set_training_mode(False)
    return policy, config


def _hidden_sizes(state: dict) -> tuple[int, list[int]] | None:
    """(inputs, hidden layer widths) of the actor's MLP in a policy state_dict (SB3's `mlp_extractor.policy_net.<i>`
    linear layers), read from the tensors' shapes; None if the dict has no such layers."""
    prefix = "mlp_extractor.policy_net."
    layers = sorted((int(key[len(prefix):].split(".")[0]), tensor.shape) for key, tensor in state.items()
                    if key.startswith(prefix) and key.endswith(".weight") and key[len(prefix):].split(".")[0].isdigit())
    if not layers or any(len(shape) != 2 for _, shape in layers):
        return None
    return int(layers[0][1][1]), [int(shape[0]) for _, shape in layers]


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
