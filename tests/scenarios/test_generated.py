"""Generated scenarios (Family.generate) and the checks that admit them: every generated scenario that passes the
checks (problems() empty, an expert supports it) is driven by its experts at >= 95% success without a crash. The
geometric checks (a lot or road the car cannot drive) and `drivebench scenarios validate --check`."""
from __future__ import annotations

import numpy as np
import pytest

from drivebench.cli import main
from drivebench.errors import ScenarioError
from drivebench.experts import feasibility
from drivebench.experts.registry import experts_for
from drivebench.scenarios import family as families
from drivebench.scenarios.spec import parse_spec

GENERATING = [f for f in families.all_families() if f.generate is not None]
SAMPLE = 6  # generated scenarios per family in the default run (the slow test drives 30, on more seeds)


def admitted(family, count: int, rng_seed: int) -> list:
    """The first `count` generated scenarios of a family that pass its checks and have an expert."""
    rng, found = np.random.default_rng(rng_seed), []
    for _ in range(50 * count):
        try:
            spec = parse_spec(family.generate(rng))
        except ScenarioError:
            continue
        if experts_for(spec):
            found.append(spec)
            if len(found) == count:
                break
    return found


def assert_driven(spec, seeds: int) -> None:
    for row in feasibility.check(spec, seeds):
        crashes = [f.describe() for f in row.failures if f.termination == "crashed"]
        assert not crashes, (row.expert, crashes, spec.model_dump(mode="json"))
        assert row.successes >= 0.95 * len(row.seeds), (row.expert, [f.describe() for f in row.failures],
                                                          spec.model_dump(mode="json"))


def test_every_family_has_a_generator():
    assert {f.name for f in GENERATING} == set(families.names())


@pytest.mark.parametrize("family", GENERATING, ids=lambda f: f.name)
def test_generators_draw_scenarios_the_checks_judge(family):
    """Each draw is scenario data the parser either accepts or rejects naming a field, never a crash; most pass,
    and the same rng seed draws the same scenarios."""
    rng, passed = np.random.default_rng(1), 0
    for _ in range(40):
        data = family.generate(rng)
        try:
            parse_spec(data)
            passed += 1
        except ScenarioError as err:
            assert err.problems and all(field and message for field, message in err.problems)
    assert passed >= 20
    assert family.generate(np.random.default_rng(5)) == family.generate(np.random.default_rng(5))


@pytest.mark.parametrize("family, index", [(f, i) for f in GENERATING for i in range(SAMPLE)],
                         ids=lambda x: x.name if hasattr(x, "name") else str(x))
def test_generated_scenarios_are_driven(family, index):
    spec = admitted(family, SAMPLE, rng_seed=0)[index]
    assert_driven(spec, seeds=2)


@pytest.mark.slow
@pytest.mark.parametrize("family", GENERATING, ids=lambda f: f.name)
def test_many_generated_scenarios_are_driven(family):
    for spec in admitted(family, 30, rng_seed=100):
        assert_driven(spec, seeds=5)


# ---------------------------------------------------------------------------------------------- geometric checks
def _lot(**lot) -> dict:
    return {"family": "parking", "name": "lot", "lot": {"bays_per_row": 10, **lot}, "goal": {"bay": "N6"}}


@pytest.mark.parametrize("lot, orientation", [({"bay_width": 3.2, "aisle_width": 9.0}, "reverse-in"),
                                              ({"bay_width": 3.0, "aisle_width": 8.0}, "nose-in"),
                                              ({"bay_width": 2.5, "aisle_width": 6.6}, "nose-in")])
def test_lots_a_car_can_park_in_pass(lot, orientation):
    data = _lot(**lot)
    data["goal"]["orientation"] = orientation
    parse_spec(data)


@pytest.mark.parametrize("lot, field, words", [
    ({"bay_width": 2.5, "aisle_width": 6.0}, "lot.aisle_width", ["too narrow", "6.6 m", "wider bays"]),
    ({"bay_width": 3.0, "aisle_width": 6.0}, "lot.aisle_width", ["6.1 m"]),
])
def test_a_lot_too_small_for_the_car_is_rejected_naming_the_field(lot, field, words):
    with pytest.raises(ScenarioError) as info:
        parse_spec(_lot(**lot))
    fields = dict(info.value.problems)
    assert field in fields
    for word in words:
        assert word in fields[field]


def test_bay_checks_use_the_car_size(monkeypatch):
    """The schema's smallest bays (2.5 x 5.5 m) fit a 5 x 2 m car; the checks follow the car's size."""
    from drivebench.families.parking import spec as parking_spec

    monkeypatch.setattr(parking_spec, "CAR_WIDTH", 2.2)
    monkeypatch.setattr(parking_spec, "CAR_LENGTH", 5.4)
    with pytest.raises(ScenarioError) as info:
        parse_spec(_lot(bay_width=2.5, bay_depth=5.5, aisle_width=12.0))
    assert {"lot.bay_width", "lot.bay_depth"} <= dict(info.value.problems).keys()


def test_a_curve_start_off_the_road_is_rejected(curve_data):
    """Two 4 m lanes: the road's edge is 4 m from the centreline; a 2 m wide car's side is off the road (the off_road
    signal) once its centre is past 4 + 0.3 (OFFROAD_TOLERANCE) - 1 = 3.3 m. Lane 0's centre is 2 m left of the
    centreline, so an offset of -1.3 m is the furthest a start may reach."""
    spec = parse_spec({**curve_data, "name": "edge", "start": {"lane": 0, "lateral_offset": [-1.3, 0.0]}})
    from drivebench.eval.shifts import make_env
    env = make_env(spec)
    for seed in range(5):
        env.reset(seed=seed)
        assert not env.unwrapped.facts["off_road"]
    with pytest.raises(ScenarioError) as info:
        parse_spec({**curve_data, "name": "off", "start": {"lane": 0, "lateral_offset": [-1.4, 0.0]}})
    assert "off the road" in dict(info.value.problems)["start.lateral_offset"]


# ---------------------------------------------------------------------------------------------- validate --check
def test_validate_check_drives_the_experts(capsys, tmp_path):
    good = tmp_path / "gentle.toml"
    good.write_text('family = "curve"\n[road]\nspeed_limit = 10\nsegments = [{kind = "straight", length = 80}]\n')
    assert main(["scenarios", "validate", str(good), "--check", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "expert:cautious: 2/2 arrived" in out and "expert:sporty: 2/2 arrived" in out
    # at the speed limit it arrives in 75 of 80 steps; the cautious expert drives at 70% of it
    slow = tmp_path / "hurried.toml"
    slow.write_text('family = "curve"\nhorizon = 80\n[road]\nspeed_limit = 10\n'
                    'segments = [{kind = "straight", length = 160}]\n')
    assert main(["scenarios", "validate", str(slow)]) == 0  # without --check: the file is fine
    capsys.readouterr()
    assert main(["scenarios", "validate", str(slow), "--check", "--seeds", "1"]) == 1
    captured = capsys.readouterr()
    assert "ok:" not in captured.out  # the verdict and what failed go to stderr, with the file's name
    assert f"{slow}: not drivable" in captured.err
    assert "expert:cautious: 0/1 arrived" in captured.err and "seed 0: timeout at (" in captured.err
    assert main(["scenarios", "validate", str(good), "--seeds", "2"]) == 2  # --seeds without --check: an error
    assert "add --check" in capsys.readouterr().err


def test_a_crash_names_what_was_hit_and_where():
    """Full throttle straight ahead in the empty lot ends in the east wall."""
    from drivebench.scenarios import registry

    class Reckless:
        id = "reckless"

        def act(self, env):
            return np.array([1.0, 0.0], np.float32)

    spec = registry.get("parking-empty").spec
    env = families.of(spec).env_class(spec)
    failure = feasibility.drive(env, Reckless(), 0)
    assert failure is not None and failure.termination == "crashed" and failure.hit == "wall"
    assert "crashed into a wall" in failure.describe() and "at (" in failure.describe()


def test_validate_check_fails_a_scenario_no_expert_supports(capsys, tmp_path, monkeypatch):
    from drivebench.families.curve.experts import CurveExpert

    monkeypatch.setattr(CurveExpert, "supports", lambda self, spec: "not today")
    file = tmp_path / "unsupported.toml"
    file.write_text('family = "curve"\n[road]\nspeed_limit = 10\nsegments = [{kind = "straight", length = 80}]\n')
    assert main(["scenarios", "validate", str(file), "--check"]) == 1
    out = capsys.readouterr().err
    assert "no expert supports this scenario" in out and "expert:sporty: not today" in out
