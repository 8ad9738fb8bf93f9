"""Demo sets on disk: `expert_data/<scenario>/<style>/{manifest.json, episodes.parquet}`.

Format (schema version 2). `episodes.parquet` has one row per observation: an episode of T actions has T + 1
rows, the last one holding the final observation with NaN action and reward (the Minari and `imitation`
convention of T + 1 observations). Columns: episode (int32), step (int32), obs (fixed-size float32 list),
action (fixed-size float32 list of 2), reward (float32), x, y, heading, speed (float32: the pose with the
observation), and one float32 column per env signal (`signal.<name>`, e.g. signal.off_road).
`manifest.json` holds what regenerates the set bit for bit: the
scenario spec (as data) and its hash, the expert and its style, the observation config, the key of what
recorded it (the env's, the expert's and the rollout's code and the simulator's third-party versions:
record.demo_key), the seeds, package versions, and the sha256 of the data file, which loading verifies.

Writes are atomic: a set is written into a temporary folder beside its destination and renamed into place.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from drivebench.errors import DemoDataError
from drivebench.core.records import Episode

SCHEMA_VERSION = 2
DATA_FILE, MANIFEST_FILE = "episodes.parquet", "manifest.json"
PACKAGES = ("drivebench", "highway-env", "gymnasium", "numpy", "pyarrow")


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


def demo_dir(root: Path, scenario: str, expert_id: str) -> Path:
    return Path(root) / scenario / expert_id.removeprefix("expert:")


def package_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in PACKAGES}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


def read_manifest_raw(path: Path) -> dict:
    """The manifest as stored, of any schema version."""
    path = Path(path)
    file = path / MANIFEST_FILE
    if not file.exists():
        raise DemoDataError(f"{path}: no demos here ({MANIFEST_FILE} is missing); record them with "
                            "`drivebench record --scenario S --expert E`")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise DemoDataError(f"{file}: not valid JSON ({exc}); delete the folder and record it again") from None


def read_manifest(path: Path) -> dict:
    """The manifest, if it is of this schema version."""
    manifest = read_manifest_raw(path)
    file = Path(path) / MANIFEST_FILE
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise DemoDataError(f"{file}: schema version {manifest.get('schema_version')!r}, this drivebench reads "
                            f"{SCHEMA_VERSION}; record the demos again: {manifest.get('command', '')}")
    return manifest


def verify(path: Path) -> dict:
    """Check the manifest and every data file's checksum; returns the manifest or raises DemoDataError."""
    manifest = read_manifest(path)
    for name, expected in manifest["files"].items():
        file = Path(path) / name
        if not file.exists():
            raise DemoDataError(f"{file}: missing; record the demos again: {manifest.get('command', '')}")
        actual = sha256(file)
        if actual != expected["sha256"]:
            raise DemoDataError(
                f"{file}: checksum mismatch (the file was truncated or edited): expected {expected['sha256'][:12]}"
                f"..., found {actual[:12]}... ({file.stat().st_size} bytes, expected {expected['bytes']}); "
                f"record the demos again: {manifest.get('command', '')}")
    return manifest


def load(path: Path) -> DemoSet:
    """Load a demo set after verifying its checksums."""
    manifest = verify(path)
    table = pq.read_table(Path(path) / DATA_FILE)
    episode = table.column("episode").to_numpy()
    obs = _fixed_size_list(table, "obs")
    actions = _fixed_size_list(table, "action")
    reward = table.column("reward").to_numpy()
    pose = np.stack([table.column(c).to_numpy() for c in ("x", "y", "heading", "speed")], 1)
    signals = {c.removeprefix("signal."): table.column(c).to_numpy() for c in table.column_names
               if c.startswith("signal.")}
    episodes = []
    for i, meta in enumerate(manifest["episodes"]):
        rows = np.nonzero(episode == i)[0]
        if len(rows) != meta["steps"] + 1:
            raise DemoDataError(f"{path}: episode {i} has {len(rows)} rows, the manifest says {meta['steps'] + 1}")
        acts = rows[:-1]
        episodes.append(Episode(meta["seed"], obs[rows], actions[acts], reward[acts], pose[rows],
                                {name: values[rows] for name, values in signals.items()}, meta["termination"]))
    return DemoSet(manifest, episodes)


def _fixed_size_list(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name).combine_chunks()
    return column.values.to_numpy().reshape(len(column), column.type.list_size)
