"""Scenario discovery and gymnasium registration: every `scenarios/*.toml` becomes `drivebench/<name>-v<version>`.

Registration happens on `import drivebench` and is idempotent. A file that fails validation is not registered;
its error is kept in `load_errors()` so `drivebench scenarios list` and `drivebench run` can report it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium

from drivebench.errors import ScenarioError, UnknownIdError
from drivebench.paths import scenario_dirs
from drivebench.scenarios import family as families
from drivebench.scenarios.spec import Spec, load_scenario, scenario_id, spec_hash


@dataclass(frozen=True)
class ScenarioEntry:
    id: str
    """gymnasium id, `drivebench/<name>-v<version>`"""
    spec: Spec
    file: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def hash(self) -> str:
        return spec_hash(self.spec)


_ENTRIES: dict[str, ScenarioEntry] = {}
_ERRORS: list[ScenarioError] = []


def scenario_files() -> list[Path]:
    seen: dict[str, Path] = {}
    for folder in scenario_dirs():
        for path in sorted(folder.glob("*.toml")):
            seen.setdefault(path.stem, path)  # earlier folders win
    return sorted(seen.values(), key=lambda p: p.stem)


def register_scenario(entry: ScenarioEntry) -> None:
    """Register (or re-register, if its file changed) the gymnasium id of a scenario."""
    kwargs = {"spec": entry.spec.model_dump(mode="json")}
    existing = gymnasium.registry.get(entry.id)
    if existing is not None and existing.kwargs == kwargs:
        return
    gymnasium.registry.pop(entry.id, None)
    cls = families.get(entry.family).env_class
    gymnasium.register(id=entry.id, entry_point=f"{cls.__module__}:{cls.__name__}", kwargs=kwargs)


def discover() -> None:
    """(Re)load every scenario file and register the valid ones."""
    _ENTRIES.clear()
    _ERRORS.clear()
    for path in scenario_files():
        try:
            spec = load_scenario(path)
        except ScenarioError as err:
            _ERRORS.append(err)
            continue
        entry = ScenarioEntry(scenario_id(spec), spec, path)
        _ENTRIES[entry.name] = entry
        register_scenario(entry)


def entries() -> list[ScenarioEntry]:
    if not _ENTRIES and not _ERRORS:
        discover()
    return list(_ENTRIES.values())


def load_errors() -> list[ScenarioError]:
    entries()
    return list(_ERRORS)


def get(name_or_id: str) -> ScenarioEntry:
    """Look a scenario up by name (`curve-gentle`) or id (`drivebench/curve-gentle-v0`)."""
    for entry in entries():
        if name_or_id in (entry.name, entry.id):
            return entry
    raise UnknownIdError("scenario", name_or_id, [e.name for e in entries()])


def make(name_or_id: str, **kwargs) -> gymnasium.Env:
    """`gymnasium.make` for a scenario name or id; kwargs go to the env (e.g. render_mode)."""
    return gymnasium.make(get(name_or_id).id, **kwargs)
