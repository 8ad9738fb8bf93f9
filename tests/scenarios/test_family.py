"""Scenario families as plugins: the registry, what every family provides, declared observations, and no stage
that branches on a family's name."""
from __future__ import annotations

import ast

import gymnasium
import numpy as np
import pytest

from drivebench.errors import DrivebenchError, ScenarioError, UnknownIdError
from drivebench.paths import REPO_ROOT
from drivebench.scenarios import family as families
from drivebench.scenarios import registry
from drivebench.scenarios.envs import FeatureObservation, ScenarioEnv
from drivebench.scenarios.spec import ScenarioBase, parse_spec


def test_the_shipped_families_are_registered_in_order():
    assert families.names() == ["curve", "parking"]
    assert families.of(registry.get("curve-gentle").spec).name == "curve"
    with pytest.raises(UnknownIdError, match="unknown scenario family 'boat'; known: curve, parking"):
        families.get("boat")


@pytest.mark.parametrize("name", ["curve", "parking"])
def test_every_family_provides_what_the_stages_ask_for(name):
    fam = families.get(name)
    assert issubclass(fam.spec_model, ScenarioBase) and issubclass(fam.env_class, ScenarioEnv)
    assert fam.spec_model.model_fields["family"].annotation.__args__ == (name,)
    assert fam.experts and all(e.id.startswith("expert:") for e in fam.experts)
    assert all(doc for _, doc in fam.observation_features)
    scenario = next(e for e in registry.entries() if e.family == name)
    assert fam.describe(scenario.spec) and fam.costs(scenario.spec).train_seconds
    xmin, xmax, ymin, ymax = fam.bounds(scenario.spec)
    assert xmin < xmax and ymin < ymax
    assert 0 < fam.gif_crop <= 1


def test_a_family_cannot_be_registered_twice_under_one_name():
    curve = families.get("curve")
    assert families.register(curve) is curve  # the same record: idempotent
    other = families.Family(name="curve", spec_model=curve.spec_model, env_class=curve.env_class, experts=(),
                            infractions=curve.infractions, drawing=curve.drawing)
    with pytest.raises(ValueError, match="registered twice"):
        families.register(other)
    assert families.get("curve") is curve


def test_parse_spec_names_the_families_for_an_unknown_or_missing_family():
    with pytest.raises(ScenarioError) as err:
        parse_spec({"family": "boat", "name": "x"})
    assert err.value.problems == [("family", "value 'boat' does not match any of the expected tags: "
                                             "'curve', 'parking'")]
    with pytest.raises(ScenarioError) as err:
        parse_spec({"name": "x"})
    assert err.value.problems[0][0] == "family"


# ---------------------------------------------------------------------------------------------- observations
def test_the_default_observation_is_the_declared_ego_type():
    for name in ("curve-traffic", "parking-crowded"):
        default = gymnasium.make(registry.get(name).id)
        declared = gymnasium.make(registry.get(name).id, config={"observation": {"type": "ego"}})
        a, _ = default.reset(seed=7)
        b, _ = declared.reset(seed=7)
        assert a.tobytes() == b.tobytes()
        assert type(default.unwrapped.observation_type).__name__.endswith("EgoObservation")
        for _ in range(5):
            action = np.array([0.3, -0.1], np.float32)
            assert default.step(action)[0].tobytes() == declared.step(action)[0].tobytes()


def test_a_new_observation_type_needs_no_new_env_class(monkeypatch):
    class SpeedOnly(FeatureObservation):
        FEATURES = (("speed", "signed speed [m/s]"), ("scale", "a parameter from the config [-]"))

        def observe(self):
            return np.array([self.env.vehicle.speed, self.params["scale"]], np.float32)

    env_class = families.get("parking").env_class
    monkeypatch.setitem(env_class.OBSERVATIONS, "speed", SpeedOnly)
    env = gymnasium.make(registry.get("parking-empty").id, config={"observation": {"type": "speed", "scale": 2.0}})
    obs, _ = env.reset(seed=3)
    assert env.observation_space.shape == (2,) and obs.dtype == np.float32
    assert obs.tolist() == [pytest.approx(env.unwrapped.vehicle.speed), 2.0]


def test_an_undeclared_observation_type_is_an_error_naming_the_declared_ones():
    with pytest.raises(DrivebenchError, match="ParkingEnv has no observation type 'pixels'; declared: ego"):
        gymnasium.make(registry.get("parking-empty").id, config={"observation": {"type": "pixels"}})


# ---------------------------------------------------------------------------------------------- no branches
def _family_names_in(path, root=REPO_ROOT) -> list[str]:
    """Lines of a module outside drivebench/families/ that name a family in code (a string constant equal to a
    family's name: a comparison, a dict key, a table), docstrings aside."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = sorted((node.lineno, node.col_offset, node.value) for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and node.value in families.names() and id(node) not in docstrings)
    return [f"{path.relative_to(root)}:{line}: {value!r}" for line, _, value in found]


def test_no_stage_names_a_family():
    """Family-specific code lives in drivebench/families/; the stages ask the family record, so no module outside
    it compares with, looks up or tabulates a family's name."""
    offenders = [line for path in sorted((REPO_ROOT / "drivebench").rglob("*.py"))
                 if "families" not in path.relative_to(REPO_ROOT).parts for line in _family_names_in(path)]
    assert offenders == []


def test_the_family_name_check_finds_a_branch(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text('"""curve"""\nx = 1 if spec.family == "curve" else 2\nTABLE = {"parking": 3}\n')
    assert _family_names_in(path, tmp_path) == ["probe.py:2: 'curve'", "probe.py:3: 'parking'"]
