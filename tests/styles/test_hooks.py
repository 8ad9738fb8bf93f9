"""drivebench.styles.hooks: every family with style hooks gives what it declares (its metrics, its features, its
candidates), a family without them has no style experiment and says so, and drivebench/styles/ never names a
family (it asks the family's hooks)."""
from __future__ import annotations

import ast
import dataclasses
import math

import gymnasium
import numpy as np
import pytest

from drivebench.errors import DrivebenchError
from drivebench.paths import REPO_ROOT
from drivebench.scenarios import family as families
from drivebench.scenarios import registry
from drivebench.styles import linear_irl
from drivebench.styles.hooks import StyleHooks, hooks_for
from drivebench.styles.metrics import (
    COMMON_METRICS,
    METRIC_DOCS,
    METRIC_NAMES,
    episode_geometry,
    metric_vector,
    style_metrics,
)

STYLED = [f for f in families.all_families() if f.style is not None]
STYLES_DIR = REPO_ROOT / "drivebench" / "styles"


def test_the_families_have_style_hooks():
    assert {f.name for f in STYLED} >= {"curve", "parking"}
    assert all(isinstance(f.style, StyleHooks) for f in STYLED)


def first_scenario(fam) -> registry.ScenarioEntry:
    return next(e for e in registry.entries() if e.family == fam.name)


def short_episode(entry, seed: int = 3, steps: int = 10) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(poses, signals) of a few steps of gentle throttle, recorded as core/rollout.py records them."""
    env = gymnasium.make(entry.id)
    try:
        _, info = env.reset(seed=seed)
        names = [name for name, _ in env.unwrapped.SIGNALS]
        rows = [info]
        for _ in range(steps):
            _, _, terminated, truncated, info = env.step(np.array([0.3, 0.0], np.float32))
            rows.append(info)
            if terminated or truncated:
                break
    finally:
        env.close()
    poses = np.array([[r["x"], r["y"], r["heading"], r["speed"]] for r in rows], float)
    return poses, {n: np.array([r[n] for r in rows], float) for n in names}


@pytest.mark.parametrize("fam", STYLED, ids=lambda f: f.name)
def test_a_family_measures_exactly_the_metrics_and_features_it_declares(fam):
    hooks, entry = fam.style, first_scenario(fam)
    spec = entry.spec
    names = hooks.metric_names
    assert names[:len(COMMON_METRICS)] == COMMON_METRICS and len(set(names)) == len(names)
    assert set(names) <= set(METRIC_NAMES) <= set(METRIC_DOCS)
    poses, signals = short_episode(entry)
    geometry = episode_geometry(spec, 3)
    m = style_metrics(poses, signals, 1 / spec.policy_frequency, geometry)
    measured = {k for k, v in dataclasses.asdict(m).items() if not math.isnan(v)}
    assert measured == set(names)
    assert np.isfinite(metric_vector(m, names)).all() and len(metric_vector(m, names)) == len(names)

    features = hooks.features
    assert set(linear_irl.COMMON_FEATURES) <= set(features) <= set(linear_irl.FEATURE_DOCS)
    assert set(geometry.step_features(poses, signals)) == set(features) - set(linear_irl.COMMON_FEATURES)
    phi = linear_irl.step_features(poses, signals, 1 / spec.policy_frequency, geometry,
                                   linear_irl.speed_reference(spec), features)
    assert phi.shape == (len(poses), len(features)) and (phi >= 0).all() and (phi <= 1).all()
    assert linear_irl.episode_expectation(poses, signals, spec, geometry).shape == (len(features),)
    assert hooks.speed_reference(spec) > 0


@pytest.mark.parametrize("fam", STYLED, ids=lambda f: f.name)
def test_a_family_builds_its_candidates_and_their_experts(fam):
    hooks, spec = fam.style, first_scenario(fam).spec
    full, quick = linear_irl.candidate_styles(spec), linear_irl.candidate_styles(spec, hooks.quick_grid)
    assert len(full) == math.prod(len(v) for v in hooks.candidate_grid.values())
    assert len(quick) == math.prod(len(v) for v in hooks.quick_grid.values()) < len(full)
    assert len({s.name for s in full}) == len(full)
    expert = hooks.expert(full[0])
    assert expert.style is full[0] and callable(expert.act)
    assert expert.supports(spec) is None or isinstance(expert.supports(spec), str)
    assert all(name.endswith(".png") and callable(fig) for name, fig in hooks.figures.items())


@pytest.fixture
def curve_without_style(monkeypatch):
    """The registry as it would be if the curve family had no style experiment."""
    curve = families.get("curve")
    monkeypatch.setitem(families._FAMILIES, "curve", dataclasses.replace(curve, style=None))


def test_a_family_without_style_hooks_has_no_style_experiment(curve_without_style, capsys):
    from drivebench.styles.cli import main

    with pytest.raises(DrivebenchError, match="curve family has no style experiment") as info:
        hooks_for(registry.get("curve-s-bend").spec)
    assert "parking" in str(info.value)  # names the families that have one
    assert main(["--scenario", "curve-s-bend", "--preset", "quick", "--algos", "bc"]) == 2
    assert "no style experiment" in capsys.readouterr().err


def test_styles_never_names_a_family():
    """No family name as a string (no `if spec.family == "curve"`), no comparison of a `.family`, no isinstance
    on a family's types and no import of drivebench.families: drivebench/styles/ asks the family's hooks."""
    names = {f.name for f in families.all_families()} | {"curve", "parking"}
    found = []
    for path in sorted(STYLES_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{where} the string {node.value!r}")
            elif isinstance(node, ast.Compare) and any(
                    isinstance(n, ast.Attribute) and n.attr == "family" for n in [node.left, *node.comparators]):
                found.append(f"{where} compares a .family")
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                found.append(f"{where} isinstance")
            elif isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found += [f"{where} imports {m}" for m in modules if m.startswith("drivebench.families")]
    assert found == []
