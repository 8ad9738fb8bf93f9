"""Shared helpers for the drivebench test suite.

Helpers are exposed as fixtures (the test folders have no __init__.py, so test modules cannot
import this file).
"""
from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path

# highway-env imports pygame; keep it headless and quiet under pytest.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import drivebench  # noqa: E402,F401  (registers the shipped scenarios)
from drivebench.core.records import METRIC_FIELDS  # noqa: E402

@pytest.fixture(autouse=True, scope="session")
def _sb3_logs_in_pytest_tmp(tmp_path_factory):
    """Stable-Baselines3 makes a log folder in the temp dir for every model trained without a logger (the tests'
    stand-ins for outside PPO submissions): keep them under pytest's own temporary folders."""
    previous = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3-logs"))
    yield
    if previous is None:
        os.environ.pop("SB3_LOGDIR", None)
    else:
        os.environ["SB3_LOGDIR"] = previous


# ---------------------------------------------------------------------------------------------- TOML writing
def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for ASCII text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(data: dict) -> str:
    """A small TOML writer: top-level scalars, then one [table] per nested dict (values inline)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- base specs
CURVE_BASE = {
    "family": "curve",
    "horizon": 100,
    "road": {
        "lanes": 2,
        "lane_width": 4.0,
        "speed_limit": 12.0,
        "segments": [
            {"kind": "straight", "length": 40.0},
            {"kind": "arc", "radius": 50.0, "angle_deg": 90.0, "direction": "right"},
            {"kind": "straight", "length": 40.0},
        ],
    },
    "start": {"lane": 0},
}

PARKING_BASE = {
    "family": "parking",
    "horizon": 100,
    "lot": {"bays_per_row": 6},
    "goal": {"bay": "N2"},
}


@pytest.fixture
def curve_data() -> dict:
    """A valid curve scenario as data (no `name`): 40 m straight, 90 deg right arc of 50 m, 40 m straight."""
    return copy.deepcopy(CURVE_BASE)


@pytest.fixture
def parking_data() -> dict:
    """A valid parking scenario as data (no `name`): 6 bays per row, 2 rows, goal N2."""
    return copy.deepcopy(PARKING_BASE)


@pytest.fixture
def write_scenario(tmp_path):
    """write_scenario(data_or_text, name='test-case') -> path of `<tmp>/<name>.toml`."""

    def write(content, name: str = "test-case", suffix: str = ".toml") -> Path:
        path = tmp_path / f"{name}{suffix}"
        path.write_text(content if isinstance(content, str) else to_toml(content))
        return path

    return write


# ---------------------------------------------------------------------------------------------- episodes
@pytest.fixture
def error_without_blocking():
    """_error_without_blocking, for tests."""
    return _error_without_blocking


def _error_without_blocking(load, error: type[Exception], timeout: float = 20.0) -> str:
    """The message of the `error` that `load()` raises, asserting that it returns (or raises) within `timeout` [s]:
    for inputs such as a FIFO, which block whoever opens them for reading."""
    outcome = []

    def call():
        try:
            load()
        except error as err:
            outcome.append(str(err))

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout=timeout)
    assert not thread.is_alive(), "loading blocked"
    assert len(outcome) == 1, "no error raised"
    return outcome[0]


def run_episode(env, policy, max_steps: int = 10_000):
    """Step `env` with `policy(env) -> action` until it ends; returns (infos, rewards, terminated, truncated)."""
    infos, rewards = [], []
    terminated = truncated = False
    for _ in range(max_steps):
        _, reward, terminated, truncated, info = env.step(policy(env))
        infos.append(info)
        rewards.append(reward)
        if terminated or truncated:
            break
    return infos, rewards, terminated, truncated


@pytest.fixture
def episode():
    return run_episode


def constant(action):
    action = np.asarray(action, dtype=np.float32)
    return lambda env: action


@pytest.fixture
def constant_policy():
    return constant


# ---------------------------------------------------------------------------------------------- records
def _same_record(a, b) -> None:
    """Every identity field, every metric (NaN equal to NaN) and every trajectory array, exactly."""
    for name in ("agent", "agent_hash", "scenario", "scenario_hash", "shift", "level", "seed", "invalid_reason"):
        assert getattr(a, name) == getattr(b, name), name
    for name in METRIC_FIELDS:
        x, y = getattr(a.metrics, name), getattr(b.metrics, name)
        assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), (a.seed, name, x, y)
    np.testing.assert_array_equal(a.trajectory.poses, b.trajectory.poses)
    assert list(a.trajectory.signals) == list(b.trajectory.signals)
    for name in a.trajectory.signals:
        np.testing.assert_array_equal(a.trajectory.signals[name], b.trajectory.signals[name], err_msg=name)



@pytest.fixture
def assert_same_record():
    """assert_same_record(a, b): two EpisodeRecords are equal in identity, every metric and every trajectory array."""
    return _same_record


# ---------------------------------------------------------------------------------------------- content keys
def change_a_constant(text: str) -> str:
    """The module's source with its first number literal changed (a real code change), or with a new constant
    appended if it has none."""
    import ast

    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.lineno == node.end_lineno:
            lines = text.splitlines(keepends=True)
            line = lines[node.lineno - 1].encode()
            try:
                if ast.literal_eval(line[node.col_offset:node.end_col_offset].decode()) != node.value:
                    continue  # a position Python reports loosely (inside an f-string)
            except (ValueError, SyntaxError):
                continue
            lines[node.lineno - 1] = (line[:node.col_offset] + repr(node.value + 1).encode()
                                      + line[node.end_col_offset:]).decode()
            return "".join(lines)
    return text + "\nSTALENESS_TEST_CONSTANT = 1\n"


def cosmetic_edit(text: str) -> str:
    """The module's source reformatted (ast.unparse), its docstring reworded, a comment and a string statement
    added: the same program."""
    import ast

    tree = ast.parse(text)
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body[0].value.value = "Reworded. " + body[0].value.value
    return "# an edited comment\n" + ast.unparse(tree) + '\n\n\n"""A trailing note."""  # and a comment\n'


class CodeCopy:
    """A copy of the drivebench package's Python files that code keys read instead of the real ones."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, module: str) -> Path:
        from drivebench.core import keys

        path = keys.module_file(module, self.root)
        assert path is not None, module
        return path

    def edit(self, module: str, change) -> None:
        """Rewrite one module of the copy with change(text) -> text; keys computed afterwards see it."""
        from drivebench.core import keys

        path = self.path(module)
        path.write_text(change(path.read_text()))
        keys.clear_cache()


@pytest.fixture
def code_copy(tmp_path, monkeypatch):
    """A CodeCopy under tmp_path, made the root that code keys read (core/keys.ROOT) for this test: edit a module
    there to see what a change of it makes stale, without touching the real source."""
    from drivebench.core import keys

    root = tmp_path / "code"
    for path in (keys.ROOT / keys.PACKAGE).rglob("*.py"):
        target = root / path.relative_to(keys.ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    monkeypatch.setattr(keys, "ROOT", root)
    keys.clear_cache()
    yield CodeCopy(root)
    keys.clear_cache()


@pytest.fixture
def code_edits():
    """(change_a_constant, cosmetic_edit): text -> text edits of a module's source for CodeCopy.edit."""
    return change_a_constant, cosmetic_edit


@pytest.fixture
def upgrade(monkeypatch):
    """upgrade(distribution): from now on in the test, importlib.metadata reports a newer installed version of that
    third-party distribution (as after `pip install -U`); keys computed afterwards see it."""
    from importlib import metadata

    from drivebench.core import keys

    real, upgraded = metadata.version, set()
    monkeypatch.setattr(metadata, "version", lambda name: real(name) + ".post1" if name in upgraded else real(name))

    def upgrade_(distribution: str) -> None:
        upgraded.add(distribution)
        keys.clear_cache()

    yield upgrade_
    upgraded.clear()
    keys.clear_cache()
