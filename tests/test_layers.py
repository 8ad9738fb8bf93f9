"""The package's layers import only downward (ARCHITECTURE.md, "Layers").

Every module of drivebench belongs to a unit: a subpackage (`drivebench/eval/`) or a top-level module
(`drivebench/pipeline.py`). The test reads every import statement (lazy ones inside functions included) with the
scanner the content keys use (core/keys.imports_of), so a unit that imports one above it fails here even when
Python would not notice until a call.
"""
from __future__ import annotations

import re
from pathlib import Path


from drivebench.core.keys import imports_of
from drivebench.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "drivebench"

LAYERS = [
    {"errors", "paths", "seeds", "core"},
    {"executors", "scenarios"},
    {"experts", "results"},
    {"data"},
    {"agents"},
    {"eval"},
    {"styles", "leaderboard", "thirdperson"},
    {"report", "submit"},
    {"families"},
    {"pipeline"},
    {"cli"},
]
"""Bottom first. A unit may import units of its own layer's lower layers only (never its own layer's others)."""


def unit_of(module: str) -> str | None:
    """`drivebench.eval.harness` -> eval; `drivebench.pipeline` -> pipeline; `drivebench` itself -> None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "drivebench" and len(parts) > 1 else None


def unit_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{unit: units it imports}, over every .py file below `package`."""
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        unit = rel.parts[0].removesuffix(".py")
        if unit == "__init__":
            continue  # the package's own __init__ registers the scenarios; it is the root, above every unit
        graph.setdefault(unit, set()).update(u for m in imports_of(path, root=package.parent)
                                             if (u := unit_of(m)) and u != unit)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every unit that can reach itself, with one path back: [a, b, ..., a]."""
    found = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    found.append(path + [start])
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    return found


def test_no_unit_imports_one_that_imports_it_back():
    assert cycles(unit_graph()) == []


def test_every_unit_has_a_layer_and_imports_only_lower_layers():
    layer = {unit: i for i, units in enumerate(LAYERS) for unit in units}
    graph = unit_graph()
    assert sorted(set(graph) - set(layer)) == [], "a new unit: give it a layer here and in ARCHITECTURE.md"
    upward = sorted(f"{unit} (layer {layer[unit]}) imports {dep} (layer {layer[dep]})"
                    for unit, deps in graph.items() for dep in deps if layer[dep] >= layer[unit])
    assert upward == []


def test_the_checks_catch_an_upward_import(tmp_path):
    """The two checks above on a constructed package: a -> b -> c -> a is a cycle; c importing a is upward."""
    for name, body in {"a": "from drivebench.b import x\n", "b": "import drivebench.c.y\n",
                       "c/__init__.py": "", "c/y.py": "from .. import a\n"}.items():
        path = tmp_path / "drivebench" / (name if name.endswith(".py") else f"{name}.py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    graph = unit_graph(tmp_path / "drivebench")
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert ["a", "b", "c", "a"] in cycles(graph)


def architecture_layers() -> list[set[str]]:
    """The units of each row of ARCHITECTURE.md's "Layers" table (its second column's `names`), bottom first."""
    text = (REPO_ROOT / "ARCHITECTURE.md").read_text()
    section = text[text.index("## Layers"):].split("\n## ", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    return [set(re.findall(r"`(\w+)`", cells[2])) for cells in rows]


def test_architecture_md_draws_these_layers():
    assert architecture_layers() == LAYERS
