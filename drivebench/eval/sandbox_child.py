"""The policy side of the sandbox (eval/sandbox.py): the one place where outside code is imported and run.

Started by `sandbox.Sandbox` as `python -I sandbox_child.py SETUP` in a process of its own (its own session, an
unprivileged user where the machine allows, resource limits set below before any outside code runs). It imports
nothing of drivebench: it loads the policy named by the agent id, then answers observations with actions over its
standard input and output until its input closes. What it can see is the observation; the env, the episode seed,
the scoring and the results database live in other processes.

Wire format (all integers little-endian; the parent never unpickles anything this process sends):
- child -> parent, once: b"R" (ready) or b"F" + text (could not load the policy);
- parent -> child: b"E" (a new episode starts) | b"O" + uint32 n + n float32 (an observation);
- child -> parent, per observation: b"A" + uint8 ndim + ndim uint32 + float32 data (the action as the policy
  returned it; the parent checks its shape and values) | b"X" + text (the policy raised).
A text is uint32 n + n bytes of UTF-8.

Anything the policy prints goes to standard error, never into the wire.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import resource
import struct
import sys
from pathlib import Path

MAX_ACTION_VALUES = 1024  # an action of more numbers is an error (the parent expects two)
MAX_TEXT = 2000  # characters of an error message sent back


def main(setup: dict) -> None:
    _limit(setup["limits"])
    wire_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # the policy's prints go to standard error
    wire_in = os.fdopen(0, "rb", buffering=0)
    sys.path[:] = setup["path"]
    try:
        act, reset = load(setup["agent"])
        reset()
    except BaseException as err:  # anything the outside code raises, SystemExit included
        _send(wire_out, b"F" + _text(f"cannot load policy {setup['agent']!r}: {_describe(err)}"))
        return
    _send(wire_out, b"R")
    import numpy as np

    failed_reset = None  # what the policy's reset raised: the answer to the episode's first observation
    while True:
        tag = wire_in.read(1)
        if not tag:
            return  # the parent closed the wire: done
        if tag == b"E":
            try:
                reset()
                failed_reset = None
            except BaseException as err:
                failed_reset = err
            continue
        (n,) = struct.unpack("<I", _read(wire_in, 4))
        obs = np.frombuffer(_read(wire_in, 4 * n), dtype="<f4").astype(np.float32)
        try:
            if failed_reset is not None:
                raise failed_reset
            action = np.asarray(act(obs), dtype=np.float32)
            if action.size > MAX_ACTION_VALUES:
                raise ValueError(f"the action has {action.size} numbers")
        except BaseException as err:
            _send(wire_out, b"X" + _text(_describe(err)))
            continue
        _send(wire_out, b"A" + struct.pack(f"<B{action.ndim}I", action.ndim, *action.shape)
              + action.astype("<f4").tobytes())


def load(agent: str):
    """(act(obs) -> action, reset()) of the policy named `agent`: an SB3 model file (`.zip`), or `module:name` /
    `path/file.py:name`, an object with `predict(obs, deterministic=True)` or a callable obs -> action."""
    if agent.endswith(".zip"):
        model = _load_sb3_policy(Path(agent))
        return (lambda obs: model.predict(obs, deterministic=True)[0]), lambda: None
    module_name, _, attr = agent.rpartition(":")
    obj = getattr(_import(module_name), attr)
    if hasattr(obj, "predict"):
        return (lambda obs: obj.predict(obs, deterministic=True)[0]), getattr(obj, "reset", lambda: None)
    if callable(obj):
        return obj, lambda: None
    raise TypeError(f"{attr} is not a policy (needs predict(obs, deterministic=True) or to be callable)")


def _import(name: str):
    """A module by dotted name, or by file path when `name` ends in .py (imported under a name from its hash), with
    the file's folder first on sys.path: its own imports find the neighbours its hash covers (eval/policies.py)."""
    if not name.endswith(".py"):
        return importlib.import_module(name)
    path = Path(name).resolve()
    if not path.is_file():
        raise ImportError(f"no file {name}")
    module_name = "drivebench_policy_" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(module)
    return module


def _load_sb3_policy(path: Path):
    """The policy network of an SB3 model file, on the CPU, in evaluation mode. SB3 unpickles parts of the file:
    that is why it is opened here and nowhere else."""
    from stable_baselines3.common.save_util import load_from_zip_file

    data, params, _ = load_from_zip_file(path, device="cpu", print_system_info=False)
    policy = data["policy_class"](data["observation_space"], data["action_space"], lambda _: 0.0,
                                  **data.get("policy_kwargs", {}))
    policy.load_state_dict(params["policy"])
    policy.set_training_mode(False)
    return policy


def _limit(limits: dict) -> None:
    """Hard resource limits, set before any outside code runs; an unprivileged process cannot raise them again."""
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:MAX_TEXT]


def _text(text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    return struct.pack("<I", len(data)) + data


def _read(stream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise SystemExit(0)  # the parent went away mid-message
        data += chunk
    return data


def _send(stream, data: bytes) -> None:
    stream.write(data)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
