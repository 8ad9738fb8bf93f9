"""Where drivebench finds scenario files and demos.

The package is installed editable from its repository (`pip install -e .`), so the data folders are the
repository's own `scenarios/` and `expert_data/`. Both can be redirected with environment variables.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def scenario_dirs() -> list[Path]:
    """Folders searched for `*.toml` scenario files: `$DRIVEBENCH_SCENARIOS` (os.pathsep-separated) first."""
    extra = [Path(p) for p in os.environ.get("DRIVEBENCH_SCENARIOS", "").split(os.pathsep) if p]
    return extra + [REPO_ROOT / "scenarios"]


def expert_data_dir() -> Path:
    """Root of recorded demos: `$DRIVEBENCH_EXPERT_DATA` or the repository's `expert_data/`."""
    return Path(os.environ.get("DRIVEBENCH_EXPERT_DATA", REPO_ROOT / "expert_data"))


def runs_dir() -> Path:
    """Where runs keep what they make (trained agents, the results database): `$DRIVEBENCH_RUNS` or `runs/`."""
    return Path(os.environ.get("DRIVEBENCH_RUNS", REPO_ROOT / "runs"))
