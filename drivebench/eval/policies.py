"""Agents as the harness sees them: `load_policy(agent_id) -> LoadedPolicy`.

An agent id is one of
- `expert:<style>`: a scripted expert (reads the env's true state),
- `random`: uniform random actions, drawn from the episode seed,
- `package.module:name`: a Python object that is either a callable obs -> action or has an SB3-style
  `predict(obs, deterministic=True) -> (action, state)` (imitation and SB3 policies do),
- `path/to/file.py:name`: the same, from a Python file,
- `path/to/model.zip`: a stable-baselines3 model saved by `model.save(...)` (any algorithm; SB3 stores some
  fields pickled),
- a folder holding a trained agent (`drivebench train --out DIR`): a torch state_dict and a JSON config.

The last three before it are outside code (`is_outside_code`): they run only in the sandbox (eval/sandbox.py), a
process of their own that sees observations and returns actions, started when the policy first acts. Their hash and
their observation check read files (bytes, syntax trees, JSON) and never import or unpickle anything. Experts,
`random` and checkpoint folders (weights loaded with `weights_only=True`, a network built from validated JSON) run in
the calling process.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drivebench.agents import checkpoints, networks
from drivebench.core import keys
from drivebench.data import store
from drivebench.data.record import expert_record
from drivebench.errors import DrivebenchError, UnknownIdError
from drivebench.eval.random_policy import RandomPolicy
from drivebench.eval.sandbox import LIMITS, Limits, SandboxedPolicy
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
    close: Callable[[], None] = lambda: None
    """called when done with it (stops a sandboxed policy's process)"""


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def is_outside_code(agent: str) -> bool:
    """Whether `agent` names code from outside drivebench (a module, a .py file or an SB3 model file), which only
    ever runs in the sandbox."""
    if agent.endswith(".zip"):
        return True
    module_name, sep, attr = agent.rpartition(":")
    return bool(sep and module_name and attr) and not agent.startswith("expert:") and not checkpoints.is_checkpoint(agent)


def load_policy(agent: str, *, limits: Limits = LIMITS, episodes: int = 1, stop_file: Path | None = None
                ) -> LoadedPolicy:
    """The policy `agent` names. Outside code is a sandboxed policy (started on its first action, given the sandbox
    `limits`, sized for `episodes`, stopping its evaluation through `stop_file`): call `close()` when done."""
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
    if not is_outside_code(agent):
        raise UnknownIdError("agent", agent, ["expert:<style>", "random", "package.module:callable",
                                              "path/to/file.py:callable", "an SB3 model.zip",
                                              "a trained agent's folder"])
    if agent.endswith(".zip"):
        agent_hash, check = _sb3_model(agent)
    else:
        module_name, _, attr = agent.rpartition(":")
        try:
            agent_hash = _hash("python", attr, _module_code_key(module_name))
        except (ImportError, OSError, SyntaxError, ValueError, RecursionError) as err:
            raise DrivebenchError(f"cannot load policy {agent!r}: {err}") from None
        check = _loads_in_sandbox(agent, limits)
    sandboxed = SandboxedPolicy(agent, limits, episodes=episodes, stop_file=stop_file)
    return LoadedPolicy(agent, agent_hash, sandboxed.act, sandboxed.reset, check, sandboxed.close)


def _loads_in_sandbox(agent: str, limits: Limits) -> Callable:
    """A check_scenario that loads the policy once in the sandbox (whatever the scenario): DrivebenchError if it
    cannot be loaded."""
    loaded: list[bool] = []

    def check(spec) -> None:
        if not loaded:
            SandboxedPolicy(agent, limits).check_loads()
            loaded.append(True)

    return check


def _module_code_key(name: str) -> str:
    """What defines a module policy's code (core/keys.py), read from its files without importing it: a file.py, or
    a top-level module (no dot) that is a file, with the modules it imports from its own folder; a drivebench
    module, with its closure; a module of a package, with its closure within its own top-level package."""
    if name.endswith(".py"):
        if not Path(name).is_file():
            raise ImportError(f"no file {name}")
        return keys.file_key(name)
    if name.split(".")[0] == keys.PACKAGE and keys.module_file(name):
        return keys.code_key(name)
    file = _module_file(name)
    if "." not in name and Path(file).name != "__init__.py":
        return keys.file_key(file)  # its neighbours are what `from helpers import ...` finds beside it
    try:
        return keys.module_key(name, file)
    except (ValueError, IndexError):  # a file whose path does not follow its dotted name
        return keys.file_key(file)


def _module_file(name: str) -> str:
    """The source file of module `name` on this process's sys.path, found the way import finds it but without
    running any of it (no package __init__ is executed)."""
    parts, spec, locations = name.split("."), None, None
    for depth in range(len(parts)):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth + 1]), locations)
        if spec is None:
            raise ImportError(f"No module named {name!r}")
        locations = spec.submodule_search_locations
    if not (spec.origin or "").endswith(".py"):
        raise ImportError(f"{name!r} is not a Python source file ({spec.origin})")
    return spec.origin


# ---------------------------------------------------------------------------------------------- SB3 models
MAX_SB3_DATA = 16 << 20
"""the largest JSON 'data' entry of an SB3 model file read to check it [bytes] (SB3 writes a few kB)"""


def _sb3_model(agent: str) -> tuple[str, Callable]:
    """An SB3 model file's hash (its bytes) and observation check (its JSON); SB3's pickled fields are opened only
    in the sandbox."""
    path = Path(agent)
    try:
        if not path.is_file():
            raise OSError(f"no file {agent}")
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo("data").file_size > MAX_SB3_DATA:
                raise ValueError(f"its 'data' entry unpacks to over {MAX_SB3_DATA >> 20} MiB")
            data = json.loads(archive.read("data"))
        shape = tuple(data["observation_space"]["_shape"])
        digest = store.sha256(path)
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as err:
        raise DrivebenchError(f"{agent}: not a stable-baselines3 model file ({err}); save one with model.save(...)") \
            from None

    def check(spec) -> None:
        features = len(families.of(spec).observation_features)
        if shape != (features,):
            raise DrivebenchError(f"{agent}: the model takes observations of shape {shape}; {spec.name} gives "
                                  f"({features},) ({spec.family} observation features)")

    return _hash("sb3", digest), check
