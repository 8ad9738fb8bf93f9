"""One staleness rule: everything made from content carries the key of that content, and is current while the
key recomputes equal.

A key is a sha256 (64 hex digits) of two kinds of input:
- data, `content_key(obj)`: the sha256 of the object's canonical JSON (sorted keys, no spaces), e.g. a scenario
  spec's hash, resolved hyperparameters, seeds, a data file's checksum;
- code, `code_key(*root_modules)`: the sha256 over every drivebench module in the transitive import closure of
  the root modules, each module as its syntax tree without docstrings, sorted by module name. The closure
  follows the import statements found in the syntax tree (lazy ones inside functions and TYPE_CHECKING blocks
  included): the modules they name (`from a.b import c` names the package a.b, and a.b.c when that is a module),
  not the packages around a module that no statement names, and never `drivebench/__init__.py`, the root that
  registers everything. So code reached only through a registry (a family's plugin, found by name) is keyed by
  naming its module as a root, which is why consumers derive roots from the objects they run (an env's class, an
  expert's). Comments, formatting, docstrings and string statements (attribute docs) do not count; any other
  edit of a module in the closure does.

Which roots each artefact is keyed by is decided where it is made (data/record.py: demo sets; agents/train.py:
training runs; agents/checkpoints.py and eval/policies.py: agent identity; eval/keys.py: stored episodes);
ARCHITECTURE.md ("Staleness") lists them. Third-party code is no drivebench module: the artefacts it shapes
also carry the installed versions of the distributions that matter to them (`versions(...)`: the simulator's,
SIMULATOR_PACKAGES, for demo sets and stored episodes; the learning libraries' for training runs). Code keys and
versions are cached per process (`clear_cache()` forgets them): a running job keys by the code it started with.

`imports_of(path)` is the one import scanner (tests/test_layers.py checks the layers with it).
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

PACKAGE = "drivebench"
SIMULATOR_PACKAGES = ("highway-env", "gymnasium", "numpy", "rsplan", "scipy")
"""The third-party distributions that simulate every episode or decide its reference paths (highway-env: most of the
physics; gymnasium: the env API and wrappers; numpy: the arithmetic; rsplan and scipy: the parking experts' plans,
which are also parking's progress routes, and rsplan picks among equally short curves): their versions are in the
keys of demo sets and stored episodes."""
ROOT = Path(__file__).resolve().parents[2]
"""The folder holding the drivebench package: module names resolve to files below it (tests point it at a copy)."""


def content_key(obj) -> str:
    """sha256 hex of `obj`'s canonical JSON (sorted keys, no spaces; tuples as lists). Raises TypeError for what
    JSON cannot hold, rather than keying it by its repr."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def code_key(*root_modules: str, root: Path | str | None = None) -> str:
    """sha256 hex over the normalized syntax trees of every drivebench module in the import closure of
    `root_modules` (dotted names), sorted by name (module docstring); cached per process. `root`: the folder
    holding the package (default ROOT). Raises ValueError for a root module that is not a file below it."""
    return _cached_key(tuple(sorted(set(root_modules))), Path(root or ROOT).resolve())


def closure(*root_modules: str, root: Path | str | None = None) -> list[str]:
    """The dotted names of the modules `code_key` covers, sorted."""
    return sorted(_closure(tuple(sorted(set(root_modules))), Path(root or ROOT).resolve()))


def versions(*distributions: str) -> dict[str, str]:
    """{distribution: its installed version} (importlib.metadata), for keys: what third-party code made an
    artefact. Cached per process, like code keys (the code running is the code imported at the start)."""
    return {name: _version(name) for name in distributions}


@functools.cache
def _version(distribution: str) -> str:
    return metadata.version(distribution)


def clear_cache() -> None:
    """Forget the code keys, versions and parsed modules of this process."""
    _cached_key.cache_clear()
    _parsed.cache_clear()
    _version.cache_clear()


def module_file(name: str, root: Path | str | None = None) -> Path | None:
    """The file of a dotted module name below `root` (`a/b.py` or `a/b/__init__.py`), or None."""
    base = Path(root or ROOT).joinpath(*name.split("."))
    for path in (base.parent / f"{base.name}.py", base / "__init__.py"):
        if path.is_file():
            return path
    return None


def module_name(path: Path, root: Path | str | None = None) -> str:
    """`<root>/drivebench/eval/harness.py` -> drivebench.eval.harness; a package's `__init__.py` -> the package."""
    parts = Path(path).resolve().relative_to(Path(root or ROOT).resolve()).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path | str | None = None, package: str | None = PACKAGE) -> set[str]:
    """Dotted names of the modules a file imports (every import statement, lazy ones included; relative imports
    resolved), restricted to those below `package` (None: any name that is a file below `root`). `from a import
    b` names `a`, and `a.b` too when that is a module."""
    root = Path(root or ROOT).resolve()
    return set(_parsed(Path(path).resolve(), root, package, _stamp(path))[0])


def _imports(tree: ast.AST, name: str, is_package: bool, root: Path) -> set[str]:
    package = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            if base:
                out.add(base)
            out.update(f"{base}.{a.name}" if base else a.name for a in node.names
                       if a.name != "*" and module_file(f"{base}.{a.name}" if base else a.name, root))
    return out


def normalized(tree: ast.AST) -> str:
    """The syntax tree as text, without docstrings and string statements, positions, or empty and None fields
    (so that a field a newer Python adds with an empty default changes no key). Like `ast.dump(tree,
    include_attributes=False)` otherwise."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list):
                setattr(node, field, [s for s in statements if not (
                    isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))])
    return _dump(tree)


def _dump(node) -> str:
    if isinstance(node, ast.AST):
        fields = [f"{name}={_dump(value)}" for name in node._fields
                  if (value := getattr(node, name, None)) is not None and not (isinstance(value, list) and not value)]
        return f"{type(node).__name__}({', '.join(fields)})"
    if isinstance(node, list):
        return "[" + ", ".join(_dump(item) for item in node) + "]"
    return repr(node)


def _stamp(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


@functools.cache
def _parsed(path: Path, root: Path, package: str | None, stamp: tuple[int, int]) -> tuple[frozenset[str], str]:
    """(drivebench modules it imports, normalized tree) of one file as it is now (`stamp`: its mtime and size)."""
    tree = ast.parse(path.read_bytes(), str(path))
    name = module_name(path, root)
    found = {m for m in _imports(tree, name, path.name == "__init__.py", root)
             if (package is None or m.split(".")[0] == package) and module_file(m, root)}
    return frozenset(found), normalized(tree)


def _closure(roots: tuple[str, ...], root: Path, package: str | None = PACKAGE) -> dict[str, Path]:
    missing = [name for name in roots if module_file(name, root) is None]
    if missing:
        raise ValueError(f"no module {', '.join(missing)} below {root}")
    found: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in found or (name == package and name not in roots) or (path := module_file(name, root)) is None:
            continue  # the package's own __init__ (registration, above every unit) is no unit's code
        found[name] = path
        todo.extend(_parsed(path, root, package, _stamp(path))[0])
    return found


@functools.cache
def _cached_key(roots: tuple[str, ...], root: Path) -> str:
    return _code_key(roots, root, PACKAGE)


def _code_key(roots: tuple[str, ...], root: Path, package: str | None) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(_closure(roots, root, package).items()):
        digest.update(name.encode() + b"\0" + _parsed(path, root, package, _stamp(path))[1].encode() + b"\0")
    return digest.hexdigest()


def file_key(path: Path | str) -> str:
    """The code key of code from outside drivebench given as a file: the file and, transitively, the modules it
    imports that are files in its own folder (or below it), by their normalized syntax trees. Not cached: it is
    the file as it is now."""
    path = Path(path).resolve()
    return _code_key((module_name(path, path.parent),), path.parent, None)


def module_key(name: str, file: Path | str) -> str:
    """The code key of an outside module imported as `name` from `file`: its closure within its own top-level
    package (`pkg.sub.mod` -> the modules below pkg/ it imports, transitively; a top-level module alone). Not
    cached."""
    parts, file = name.split("."), Path(file).resolve()
    root = file.parents[len(parts) - (0 if file.name == "__init__.py" else 1)]
    return _code_key((name,), root, parts[0])
