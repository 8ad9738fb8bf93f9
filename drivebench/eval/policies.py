"""Agents as the harness sees them: `load_policy(agent_id) -> LoadedPolicy`.

An agent id is one of
- `expert:<style>`: a scripted expert (reads the env's true state),
- `random`: uniform random actions, drawn from the episode seed,
- `package.module:name`: a Python object that is either a callable obs -> action or has an SB3-style
  `predict(obs, deterministic=True) -> (action, state)` (imitation and SB3 policies do),
- `path/to/file.py:name`: the same, from a Python file,
- `path/to/model.zip`: a stable-baselines3 model saved by `model.save(...)` (any algorithm); SB3 stores some
  fields pickled, so such a file is opened only where the policy runs (in the harness's worker processes),
  never to compute its hash or check its observation shape, which read the file's bytes and JSON,
- a folder holding a trained agent (`drivebench train --out DIR`): a torch state_dict and a JSON config.

`time_limited(policy, seconds)` bounds the time a policy may spend thinking per episode (submissions run so):
a call that would exceed it is interrupted and the episode ends as invalid with the reason.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import signal
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from drivebench.agents import checkpoints, networks
from drivebench.core import keys
from drivebench.data.record import expert_record
from drivebench.errors import DrivebenchError, UnknownIdError
from drivebench.eval.random_policy import RandomPolicy
from drivebench.experts.registry import get_expert
from drivebench.scenarios import family as families


@dataclass(frozen=True)
class LoadedPolicy:
    agent: str
    """the id it was loaded from"""
    agent_hash: str
    """sha256 of what defines its behaviour (expert style and code, policy code, weights and network)"""
    act: Callable
    """(env, obs) -> action"""
    reset: Callable[[int], None] = lambda seed: None
    """called with the episode seed before each episode"""
    check_scenario: Callable = lambda spec: None
    """raises DrivebenchError if the agent cannot drive this scenario spec (e.g. other observations)"""


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


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
            family = families.of(spec)
            features = [name for name, _ in family.observation_features]
            checkpoints.check_compatible(config, agent, spec.name, features,
                                         family.env_class.default_config()["observation"])

        actor = networks.deterministic_actor(policy)  # = policy.predict(obs, deterministic=True)[0], faster
        return LoadedPolicy(agent, checkpoints.agent_hash(agent), lambda env, obs: actor(obs), check_scenario=check)
    if agent.startswith("expert:"):
        expert = get_expert(agent)
        return LoadedPolicy(agent, keys.content_key({"expert": expert_record(expert),
                                                     "code": keys.code_key(type(expert).__module__)}),
                            lambda env, obs: expert.act(env))
    if agent == "random":
        policy = RandomPolicy()
        return LoadedPolicy(agent, keys.content_key({"random": keys.code_key(RandomPolicy.__module__)}), policy.act,
                            policy.reset)
    if agent.endswith(".zip"):
        return _sb3_model(agent)
    module_name, sep, attr = agent.rpartition(":")
    if sep and module_name and attr:
        try:
            module = _import(module_name)
            obj = getattr(module, attr)
            code = _module_code_key(module_name, module)
        except (ImportError, AttributeError, OSError, SyntaxError) as err:
            raise DrivebenchError(f"cannot load policy {agent!r}: {err}") from None
        return from_object(agent, obj, _hash("python", attr, code))
    raise UnknownIdError("agent", agent, ["expert:<style>", "random", "package.module:callable",
                                          "path/to/file.py:callable", "an SB3 model.zip", "a trained agent's folder"])


def _module_code_key(name: str, module) -> str:
    """What defines a module policy's code (core/keys.py): a file.py, or a top-level module (no dot) that is a
    file, with the modules it imports from its own folder; a drivebench module, with its closure; a module of a
    package, with its closure within its own top-level package; the source text where there is no file to read."""
    if name.endswith(".py"):
        return keys.file_key(name)
    if name.split(".")[0] == keys.PACKAGE and keys.module_file(name):
        return keys.code_key(name)
    file = getattr(module, "__file__", None)
    if file and file.endswith(".py") and "." not in name and Path(file).name != "__init__.py":
        return keys.file_key(file)  # its neighbours are what `from helpers import ...` finds beside it
    if file and file.endswith(".py"):
        try:
            return keys.module_key(name, file)
        except (ValueError, IndexError):  # a file whose path does not follow its dotted name
            pass
    return _hash(inspect.getsource(module))


def _import(name: str):
    """A module by dotted name, or by file path when `name` ends in .py (imported under a name from its hash,
    so two files of one name do not collide), with the file's folder first on sys.path while it executes: its own
    imports find the neighbours `keys.file_key` hashes, not same-named modules of the working directory."""
    if not name.endswith(".py"):
        return importlib.import_module(name)
    path = Path(name).resolve()
    if not path.is_file():
        raise ImportError(f"no file {name}")
    module_name = "drivebench_policy_" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = str(path.parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        if folder in sys.path:
            sys.path.remove(folder)  # the first occurrence: the one inserted above, unless the module moved it
    return module


# ---------------------------------------------------------------------------------------------- SB3 models
def _sb3_model(agent: str) -> LoadedPolicy:
    """An SB3 model file: hashed from its bytes and checked from its JSON; loaded before its first episode."""
    path = Path(agent)
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
        shape = tuple(data["observation_space"]["_shape"])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise DrivebenchError(f"{agent}: not a stable-baselines3 model file ({err}); save one with model.save(...)") \
            from None
    model: list = []

    def load(seed: int = 0) -> None:  # before the first episode, outside any time limit on acting
        if not model:
            model.append(_load_sb3_policy(path))

    def act(env, obs):
        load()
        return model[0].predict(obs, deterministic=True)[0]

    def check(spec) -> None:
        features = len(families.of(spec).observation_features)
        if shape != (features,):
            raise DrivebenchError(f"{agent}: the model takes observations of shape {shape}; {spec.name} gives "
                                  f"({features},) ({spec.family} observation features)")

    return LoadedPolicy(agent, _hash("sb3", digest), act, reset=load, check_scenario=check)


def _load_sb3_policy(path: Path):
    """The policy network of an SB3 model file, on the CPU, in evaluation mode."""
    from stable_baselines3.common.save_util import load_from_zip_file

    data, params, _ = load_from_zip_file(path, device="cpu", print_system_info=False)
    policy = data["policy_class"](data["observation_space"], data["action_space"], lambda _: 0.0,
                                  **data.get("policy_kwargs", {}))
    policy.load_state_dict(params["policy"])
    policy.set_training_mode(False)
    return policy


# ---------------------------------------------------------------------------------------------- time limits
class PolicyTimeout(Exception):
    """The policy spent its per-episode thinking time."""


def time_limited(policy: LoadedPolicy, seconds: float) -> LoadedPolicy:
    """`policy` allowed `seconds` of its own computing time per episode (reset starts a new allowance). A call
    that runs past what is left is interrupted by SIGALRM where it can be (the main thread of a process: the
    harness's workers); elsewhere it is let finish and the overrun is reported right after. Either way the call
    raises PolicyTimeout, which the rollout records as an invalid episode."""
    left = [seconds]

    def reset(seed: int) -> None:
        left[0] = seconds
        policy.reset(seed)

    def act(env, obs):
        if left[0] <= 0:
            raise PolicyTimeout(f"spent its {seconds:g} s per-episode time limit")
        start = time.perf_counter()
        try:
            with _alarm(left[0], seconds):
                return policy.act(env, obs)
        finally:
            left[0] -= time.perf_counter() - start
            if left[0] <= 0:
                raise PolicyTimeout(f"spent its {seconds:g} s per-episode time limit")

    return replace(policy, act=act, reset=reset)


@contextmanager
def _alarm(after: float, limit: float):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def interrupt(signum, frame):
        raise PolicyTimeout(f"spent its {limit:g} s per-episode time limit")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, after)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
