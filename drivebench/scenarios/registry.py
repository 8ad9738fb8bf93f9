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
    """One file per scenario name: the project's own (scenarios/) first, then the extra folders in order. A later file
    with a name already taken (so the same gymnasium id) is not loaded; discover() records it as an error that names
    both files, so a user's file never silently replaces an official scenario (or another user file). A folder
    named twice is searched once."""
    return sorted(_scenario_files()[0].values(), key=lambda p: p.stem)


def _scenario_files() -> tuple[dict[str, Path], list[ScenarioError]]:
    seen: dict[str, Path] = {}
    errors: list[ScenarioError] = []
    folders, searched = scenario_dirs(), set()
    for folder in [folders[-1], *folders[:-1]]:  # the project's folder (last in scenario_dirs) decides first
        if folder.resolve() in searched:  # a folder named twice (or through a link): its files are not clashes
            continue
        searched.add(folder.resolve())
        for path in sorted(folder.glob("*.toml")):
            if path.stem in seen:
                errors.append(ScenarioError(path, [("(file name)", f"{seen[path.stem]} already defines scenario "
                                                                   f"{path.stem!r}; rename this file")]))
            else:
                seen[path.stem] = path
    return seen, errors


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
    files, clashes = _scenario_files()
    _ERRORS.extend(clashes)
    for path in sorted(files.values(), key=lambda p: p.stem):
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
