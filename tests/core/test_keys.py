"""drivebench.core.keys: one content-key rule. Code keys follow the import closure (lazy imports included) and
ignore comments, docstrings and formatting; content keys are canonical JSON."""
from __future__ import annotations

import re
import textwrap

import pytest

from drivebench.core import keys

PACKAGE = {
    "__init__.py": "from drivebench import a  # registration: no unit's code\n",
    "a.py": '''
        """Module a."""
        from drivebench.b import helper


        def run(x):
            """Run it."""
            from drivebench.c import lazy  # imported only when called
            return helper(x) + lazy(x)
        ''',
    "b.py": '''
        """Module b."""
        SCALE = 2.0
        """How much."""


        def helper(x):
            return SCALE * x
        ''',
    "c/__init__.py": "",
    "c/lazy.py": "from ..b import SCALE\n\ndef lazy(x):\n    return x - SCALE\n",
    "unrelated.py": "VALUE = 1\n",
}


@pytest.fixture
def package(tmp_path):
    """A small drivebench package under tmp_path; returns write(name, text) (which forgets cached keys)."""
    def write(name: str, text: str) -> None:
        path = tmp_path / "drivebench" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        keys.clear_cache()

    for name, text in PACKAGE.items():
        write(name, text)
    return write


def test_the_closure_follows_every_import_lazy_and_relative_ones_included(package, tmp_path):
    assert keys.closure("drivebench.a", root=tmp_path) == ["drivebench.a", "drivebench.b", "drivebench.c",
                                                          "drivebench.c.lazy"]
    assert keys.closure("drivebench.b", root=tmp_path) == ["drivebench.b"]
    assert keys.imports_of(tmp_path / "drivebench" / "c" / "lazy.py", root=tmp_path) == {"drivebench.b"}
    assert re.fullmatch("[0-9a-f]{64}", keys.code_key("drivebench.a", root=tmp_path))
    with pytest.raises(ValueError, match="no module drivebench.nowhere"):
        keys.code_key("drivebench.nowhere", root=tmp_path)


def test_comments_docstrings_and_formatting_change_no_key(package, tmp_path, code_edits):
    _, cosmetic = code_edits
    before = keys.code_key("drivebench.a", root=tmp_path)
    for name in ("a.py", "b.py", "c/lazy.py"):
        package(name, cosmetic((tmp_path / "drivebench" / name).read_text()))
    package("b.py", (tmp_path / "drivebench" / "b.py").read_text().replace("SCALE * x", "SCALE  *  x  # spaced"))
    assert keys.code_key("drivebench.a", root=tmp_path) == before


def test_a_code_change_in_the_closure_changes_the_key_and_one_outside_does_not(package, tmp_path, code_edits):
    change, _ = code_edits
    before = {m: keys.code_key(m, root=tmp_path) for m in ("drivebench.a", "drivebench.b", "drivebench.c.lazy")}
    package("unrelated.py", "VALUE = 2\n")
    assert {m: keys.code_key(m, root=tmp_path) for m in before} == before
    package("c/lazy.py", PACKAGE["c/lazy.py"].replace("x - SCALE", "x + SCALE"))  # reached by a lazy import only
    after = {m: keys.code_key(m, root=tmp_path) for m in before}
    assert after["drivebench.a"] != before["drivebench.a"] and after["drivebench.b"] == before["drivebench.b"]
    package("b.py", change((tmp_path / "drivebench" / "b.py").read_text()))
    assert "SCALE = 3.0" in (tmp_path / "drivebench" / "b.py").read_text()
    assert all(keys.code_key(m, root=tmp_path) != after[m] for m in before)


def test_code_keys_are_cached_per_process(package, tmp_path):
    before = keys.code_key("drivebench.b", root=tmp_path)
    (tmp_path / "drivebench" / "b.py").write_text("SCALE = 5.0\n")
    assert keys.code_key("drivebench.b", root=tmp_path) == before  # the code this process started with
    keys.clear_cache()
    assert keys.code_key("drivebench.b", root=tmp_path) != before


def test_a_copy_of_the_package_has_the_same_keys(code_copy):
    """Keys hash module names and syntax trees, not paths: the copy the other tests edit starts out equal."""
    from drivebench.paths import REPO_ROOT

    assert keys.ROOT == code_copy.root != REPO_ROOT
    roots = ("drivebench.agents.train", "drivebench.eval.metrics")
    assert keys.closure(*roots) == keys.closure(*roots, root=REPO_ROOT)
    assert keys.code_key(*roots) == keys.code_key(*roots, root=REPO_ROOT)


def test_outside_code_is_keyed_by_its_file_and_what_it_imports_from_its_folder(tmp_path):
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "policy.py").write_text("import numpy as np\nfrom helper import GAIN\n\ndef act(obs):\n"
                                      "    return np.array([GAIN, 0.0])\n")
    (folder / "helper.py").write_text("GAIN = 0.5\n")
    (folder / "other.py").write_text("X = 1\n")
    before = keys.file_key(folder / "policy.py")
    (folder / "policy.py").write_text("# a comment\n" + (folder / "policy.py").read_text())
    (folder / "other.py").write_text("X = 2\n")
    assert keys.file_key(folder / "policy.py") == before
    (folder / "helper.py").write_text("GAIN = 0.25\n")
    assert keys.file_key(folder / "policy.py") != before


def test_content_keys_are_canonical():
    assert keys.content_key({"a": 1, "b": [1, 2]}) == keys.content_key({"b": (1, 2), "a": 1})
    assert keys.content_key({"a": 1}) != keys.content_key({"a": 1.5})
    with pytest.raises(TypeError):
        keys.content_key({"a": object()})
