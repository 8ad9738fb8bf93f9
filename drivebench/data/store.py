"""Demo sets on disk: `expert_data/<scenario>/<style>/{manifest.json, episodes.parquet}`.

Format (schema version 2). `episodes.parquet` has one row per observation: an episode of T actions has T + 1
rows, the last one holding the final observation with NaN action and reward (the Minari and `imitation`
convention of T + 1 observations). Columns: episode (int32), step (int32), obs (fixed-size float32 list),
action (fixed-size float32 list of 2), reward (float32), x, y, heading, speed (float32: the pose with the
observation), and one float32 column per env signal (`signal.<name>`, e.g. signal.off_road).
`manifest.json` holds what regenerates the set bit for bit: the
scenario spec (as data) and its hash, the expert and its style, the observation config, the key of what
recorded it (the env's, the expert's and the rollout's code and the simulator's third-party versions:
record.demo_key), the seeds, package versions, and the sha256 of the data file, which loading verifies. A set
recorded in another frame than the ego one (a third-person set: `observation` {"type": "world"}) lives in
`<style>@<frame>/`; one recorded without actions says `"actions": false` and its action column is NaN (a set whose
manifest has no `actions` field, as every set before them, has its actions).

Writes are atomic: a set is written into a temporary folder beside its destination and renamed into place.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from drivebench.errors import DemoDataError
from drivebench.core.records import Episode
from drivebench.scenarios import frames

SCHEMA_VERSION = 2
DATA_FILE, MANIFEST_FILE = "episodes.parquet", "manifest.json"
PACKAGES = ("drivebench", "highway-env", "gymnasium", "numpy", "rsplan", "scipy", "pyarrow")


@dataclass(frozen=True, eq=False)
class DemoSet:
    manifest: dict
    episodes: list[Episode]

    @property
    def scenario(self) -> str:
        return self.manifest["scenario"]["name"]

    @property
    def expert(self) -> str:
        return self.manifest["expert"]["id"]

    def successful(self) -> list[Episode]:
        return [e for e in self.episodes if e.success]

    @property
    def observation(self) -> dict:
        """The observation config the set was recorded with (its frame: `{"type": "ego"}`, "world", "follower");
        a set that records none was recorded in the default ego frame."""
        return dict(self.manifest.get("observation") or DEFAULT_OBSERVATION)

    @property
    def has_actions(self) -> bool:
        """False for a set recorded without actions (imitation from observation: its action column is NaN)."""
        return self.manifest.get("actions", True) is not False


DEFAULT_OBSERVATION = {"type": "ego"}
"""the observation of a set whose manifest records none (the envs' default)"""


def demo_dir(root: Path, scenario: str, expert_id: str, observation: dict | None = None) -> Path:
    """`root/<scenario>/<style>`, or `<style>@<frame>` for a set recorded in another frame than the default ego
    frame (a third-person set, `observation={"type": "world"}`)."""
    frame = (observation or DEFAULT_OBSERVATION).get("type", "ego")
    name = expert_id.removeprefix("expert:")
    return Path(root) / scenario / (name if frame == DEFAULT_OBSERVATION["type"] else f"{name}@{frame}")


def package_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in PACKAGES}


def sha256(path: Path) -> str:
    """sha256 hex of a file, read in chunks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def episodes_table(episodes: list[Episode]) -> pa.Table:
    obs_dim = episodes[0].observations.shape[1]
    cols: dict[str, list] = {k: [] for k in ("episode", "step", "obs", "action", "reward", "pose")}
    names = list(episodes[0].signals)
    for i, ep in enumerate(episodes):
        n = ep.steps + 1
        cols["episode"].append(np.full(n, i, np.int32))
        cols["step"].append(np.arange(n, dtype=np.int32))
        cols["obs"].append(ep.observations)
        cols["action"].append(np.vstack([ep.actions, np.full((1, 2), np.nan, np.float32)]))
        cols["reward"].append(np.append(ep.rewards, np.float32(np.nan)))
        cols["pose"].append(ep.poses)
    obs = np.concatenate(cols["obs"]).astype(np.float32)
    action = np.concatenate(cols["action"]).astype(np.float32)
    reward = np.concatenate(cols["reward"]).astype(np.float32)
    pose = np.concatenate(cols["pose"]).astype(np.float32)
    return pa.table({
        "episode": np.concatenate(cols["episode"]),
        "step": np.concatenate(cols["step"]),
        "obs": pa.FixedSizeListArray.from_arrays(pa.array(obs.ravel()), obs_dim),
        "action": pa.FixedSizeListArray.from_arrays(pa.array(action.ravel()), 2),
        "reward": reward,
        **{name: pose[:, j] for j, name in enumerate(("x", "y", "heading", "speed"))},
        **{f"signal.{name}": np.concatenate([ep.signals[name] for ep in episodes]) for name in names},
    })


def save(path: Path, manifest: dict, episodes: list[Episode]) -> Path:
    """Write a demo set atomically; `manifest` gets the schema version, file checksums and sizes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(0o755)
    try:
        pq.write_table(episodes_table(episodes), tmp / DATA_FILE, compression="zstd", compression_level=9)
        manifest = {**manifest, "schema_version": SCHEMA_VERSION,
                    "files": {DATA_FILE: {"sha256": sha256(tmp / DATA_FILE),
                                          "bytes": (tmp / DATA_FILE).stat().st_size}}}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old)
        else:
            os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _regular_file(file: Path, what: str, fix: str) -> None:
    """Raise DemoDataError unless `file` is a regular file (checked before opening it: a FIFO or a device would
    block the read or never end)."""
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        raise DemoDataError(f"{file}: {what} is missing; {fix}") from None
    except OSError as exc:
        raise DemoDataError(f"{file}: {what} cannot be read ({exc.strerror or exc}); {fix}") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
        raise DemoDataError(f"{file}: {what} is {kind}, not a regular file; {fix}")


def read_manifest_raw(path: Path) -> dict:
    """The manifest as stored, of any schema version: a JSON object (the fields every version has, `scenario`,
    `expert` and `seeds`, are checked where present)."""
    path = Path(path)
    file = path / MANIFEST_FILE
    record = "record them with `drivebench record --scenario S --expert E`"
    if not file.exists() and not file.is_symlink():
        raise DemoDataError(f"{path}: no demos here ({MANIFEST_FILE} is missing); {record}")
    _regular_file(file, "the demo manifest", f"delete the folder and {record}")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DemoDataError(f"{file}: not valid JSON ({exc}); delete the folder and {record}") from None
    if not isinstance(manifest, dict):
        raise DemoDataError(f"{file}: not a demo manifest (a JSON {type(manifest).__name__}, not an object); delete "
                            f"the folder and {record}")
    for field, check, wanted in (("scenario", lambda v: isinstance(v, dict) and isinstance(v.get("name"), str),
                                  "an object with a `name`"),
                                 ("expert", lambda v: isinstance(v, dict) and isinstance(v.get("id"), str),
                                  "an object with an `id`"),
                                 ("seeds", lambda v: isinstance(v, list) and v and all(_is_int(x) for x in v),
                                  "a non-empty list of integers")):
        if field in manifest and not check(manifest[field]):
            raise DemoDataError(f"{file}: field `{field}` must be {wanted}; {_fix(manifest)}")
    return manifest


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fix(manifest: dict) -> str:
    """What to do about a damaged set: the command that records it again."""
    command = manifest.get("command")
    return f"record the demos again: {command}" if isinstance(command, str) and command else \
        "delete the folder and record the demos again with `drivebench record --scenario S --expert E`"


def _manifest_problem(manifest: dict) -> str | None:
    """What is wrong with the fields of a manifest of this schema version that loading reads, or None."""
    for field in ("files", "episodes", "seeds", "scenario", "expert"):
        if field not in manifest:
            return f"field `{field}` is missing"
    files = manifest["files"]
    if not isinstance(files, dict) or DATA_FILE not in files:
        return f"field `files` must be an object listing {DATA_FILE}"
    for name, entry in files.items():
        if (not name or name in (".", "..") or "/" in name or "\\" in name or Path(name).is_absolute()
                or Path(name).name != name):
            return f"field `files` lists {name!r}: a demo set's files are plain file names inside its folder"
        if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                and len(entry["sha256"]) == 64 and all(c in "0123456789abcdef" for c in entry["sha256"])
                and _is_int(entry.get("bytes")) and entry["bytes"] >= 0):
            return f"field `files.{name}` must be {{\"sha256\": 64 hex digits, \"bytes\": a size}}"
    episodes = manifest["episodes"]
    if not isinstance(episodes, list):
        return "field `episodes` must be a list"
    for i, meta in enumerate(episodes):
        if not (isinstance(meta, dict) and _is_int(meta.get("seed")) and _is_int(meta.get("steps"))
                and meta["steps"] >= 0 and isinstance(meta.get("termination"), str)):
            return f"field `episodes[{i}]` must hold an integer `seed`, `steps` >= 0 and a `termination`"
    if not isinstance(manifest["scenario"].get("spec_hash"), str):
        return "field `scenario.spec_hash` is missing"
    if "actions" in manifest and not isinstance(manifest["actions"], bool):
        return f"field `actions` must be true or false (a JSON boolean), got {manifest['actions']!r}"
    if "observation" in manifest:
        observation = manifest["observation"]
        if not (isinstance(observation, dict) and observation.get("type") in frames.TYPES):
            return (f"field `observation` must be an object whose `type` is one of {', '.join(frames.TYPES)}, got "
                    f"{observation!r}")
    return None


def read_manifest(path: Path) -> dict:
    """The manifest, if it is of this schema version and holds the fields loading reads."""
    manifest = read_manifest_raw(path)
    file = Path(path) / MANIFEST_FILE
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise DemoDataError(f"{file}: schema version {manifest.get('schema_version')!r}, this drivebench reads "
                            f"{SCHEMA_VERSION}; record the demos again: {manifest.get('command', '')}")
    problem = _manifest_problem(manifest)
    if problem:
        raise DemoDataError(f"{file}: {problem}; {_fix(manifest)}")
    return manifest


def data_file(path: Path, name: str, manifest: dict) -> Path:
    """The file `name` listed in the manifest of the set in `path`: a regular file inside the set's folder (a
    name or link that leads outside it is refused: reading never leaves the folder)."""
    folder = Path(path)
    file = folder / name
    manifest_file = folder / MANIFEST_FILE
    try:
        inside = file.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise DemoDataError(f"{file}: cannot be resolved ({exc}); {_fix(manifest)}") from None
    if not inside:
        raise DemoDataError(f"{manifest_file}: field `files` lists {name!r}, which leads outside the demo set's "
                            f"folder ({file.resolve()}); {_fix(manifest)}")
    _regular_file(file, "a file of the demo set", _fix(manifest))
    return file


def verify(path: Path) -> dict:
    """Check the manifest and every data file's size and checksum; returns the manifest or raises DemoDataError."""
    manifest = read_manifest(path)
    for name, expected in manifest["files"].items():
        file = data_file(path, name, manifest)
        size = file.stat().st_size
        actual = sha256(file) if size == expected["bytes"] else None  # another size: no need to read it
        if actual != expected["sha256"]:
            found = f"found {actual[:12]}..." if actual else "found another size"
            raise DemoDataError(
                f"{file}: checksum mismatch (the file was truncated or edited): expected {expected['sha256'][:12]}"
                f"..., {found} ({size} bytes, expected {expected['bytes']}); {_fix(manifest)}")
    return manifest


def load(path: Path) -> DemoSet:
    """Load a demo set after verifying its checksums; a data file that matches its checksum but is not the
    Parquet table described at the top of this module raises DemoDataError naming the file and the column."""
    manifest = verify(path)
    file = Path(path) / DATA_FILE
    try:
        table = pq.read_table(file)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DemoDataError(f"{file}: not a readable Parquet file ({exc}); {_fix(manifest)}") from None
    try:
        columns = _columns(table)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, pa.ArrowException) as exc:
        raise DemoDataError(f"{file}: not a demo table of schema version {SCHEMA_VERSION}: {exc}; "
                            f"{_fix(manifest)}") from None
    episode, obs, actions, reward, pose, signals = columns
    episodes = []
    for i, meta in enumerate(manifest["episodes"]):
        rows = np.nonzero(episode == i)[0]
        if len(rows) != meta["steps"] + 1:
            raise DemoDataError(f"{file}: episode {i} has {len(rows)} rows, the manifest's `episodes[{i}].steps` "
                                f"says {meta['steps'] + 1}; {_fix(manifest)}")
        acts = rows[:-1]
        episodes.append(Episode(meta["seed"], obs[rows], actions[acts], reward[acts], pose[rows],
                                {name: values[rows] for name, values in signals.items()}, meta["termination"]))
    return DemoSet(manifest, episodes)


def _columns(table: pa.Table) -> tuple:
    """(episode, obs, action, reward, pose, signals) arrays of a demo table; KeyError naming a missing column,
    ValueError for one of the wrong type or length."""
    missing = [c for c in ("episode", "obs", "action", "reward", "x", "y", "heading", "speed")
               if c not in table.column_names]
    if missing:
        raise KeyError(f"column(s) {', '.join(missing)} missing")
    episode = table.column("episode").to_numpy()
    if not np.issubdtype(episode.dtype, np.integer):
        raise ValueError(f"column episode is {table.column('episode').type}, not integers")
    obs, actions = _fixed_size_list(table, "obs"), _fixed_size_list(table, "action")
    if actions.shape[1] != 2:
        raise ValueError(f"column action holds {actions.shape[1]} values per row, not 2")
    reward = table.column("reward").to_numpy().astype(np.float32)
    pose = np.stack([table.column(c).to_numpy() for c in ("x", "y", "heading", "speed")], 1).astype(np.float32)
    signals = {c.removeprefix("signal."): table.column(c).to_numpy().astype(np.float32) for c in table.column_names
               if c.startswith("signal.")}
    return episode, obs, actions, reward, pose, signals


def _fixed_size_list(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name).combine_chunks()
    if not pa.types.is_fixed_size_list(column.type):
        raise ValueError(f"column {name} is {column.type}, not a fixed-size list of floats")
    return column.values.to_numpy().astype(np.float32).reshape(len(column), column.type.list_size)
