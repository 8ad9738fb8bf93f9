"""drivebench.scenarios.registry: discovery, gymnasium registration, look-up."""
from __future__ import annotations

import os

import gymnasium
import pytest

from drivebench.errors import UnknownIdError
from drivebench.paths import REPO_ROOT, scenario_dirs
from drivebench.scenarios import registry
from drivebench.families.curve.env import CurveEnv
from drivebench.families.parking.env import ParkingEnv
from drivebench.scenarios.spec import load_scenario, spec_hash

SHIPPED = sorted((REPO_ROOT / "scenarios").glob("*.toml"))


@pytest.fixture
def extra_scenarios(tmp_path, monkeypatch):
    """A scenario folder searched before the repository's; the registry is rebuilt without it afterwards."""
    folder = tmp_path / "extra"
    folder.mkdir()
    monkeypatch.setenv("DRIVEBENCH_SCENARIOS", str(folder))
    yield folder
    monkeypatch.undo()
    registry.discover()
    assert {e.name for e in registry.entries()} == {p.stem for p in SHIPPED}


def test_one_entry_per_shipped_file():
    entries = registry.entries()
    assert sorted(e.name for e in entries) == [p.stem for p in SHIPPED]
    assert registry.load_errors() == []
    for e in entries:
        assert e.id == f"drivebench/{e.name}-v{e.spec.version}"
        assert e.id in gymnasium.registry
        assert e.file.parent == REPO_ROOT / "scenarios" and e.file.stem == e.name
        assert e.family == e.spec.family
        assert e.hash == spec_hash(load_scenario(e.file))


def test_discover_is_idempotent():
    before = [(e.id, e.hash) for e in registry.entries()]
    registry.discover()
    registry.discover()
    assert [(e.id, e.hash) for e in registry.entries()] == before


def test_get_by_name_or_id():
    entry = registry.get("curve-gentle")
    assert registry.get(entry.id) is entry
    assert entry.name == "curve-gentle" and entry.id == "drivebench/curve-gentle-v0"


@pytest.mark.parametrize("bad", ["curve-gentel", "drivebench/curve-gentle-v9", ""])
def test_unknown_scenario(bad):
    with pytest.raises(UnknownIdError) as info:
        registry.get(bad)
    assert repr(bad) in str(info.value)
    assert "curve-gentle" in str(info.value) and "parking-empty" in str(info.value)  # the known names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_make_builds_the_registered_spec(path):
    env = registry.make(path.stem)
    entry = registry.get(path.stem)
    assert env.spec.id == entry.id
    assert env.unwrapped.scenario == entry.spec
    assert isinstance(env.unwrapped, {"curve": CurveEnv, "parking": ParkingEnv}[entry.family])
    env.close()


def test_extra_folder_comes_first(extra_scenarios):
    assert scenario_dirs()[0] == extra_scenarios
    assert scenario_dirs()[-1] == REPO_ROOT / "scenarios"


def test_extra_scenario_is_registered(extra_scenarios):
    (extra_scenarios / "curve-extra.toml").write_text(
        'family = "curve"\nversion = 3\n[road]\nspeed_limit = 9.0\n'
        'segments = [{ kind = "straight", length = 80 }]\n'
    )
    registry.discover()
    entry = registry.get("curve-extra")
    assert entry.id == "drivebench/curve-extra-v3" and entry.file == extra_scenarios / "curve-extra.toml"
    env = gymnasium.make(entry.id)
    assert env.unwrapped.scenario.road.speed_limit == 9.0
    obs, _ = env.reset(seed=0)
    assert obs.shape == (len(CurveEnv.observation_class().FEATURES),)
    assert len(registry.entries()) == len(SHIPPED) + 1


def test_invalid_file_is_reported_not_registered(extra_scenarios):
    bad = extra_scenarios / "parking-broken.toml"
    bad.write_text('family = "parking"\n[lot]\nbays_per_row = 4\n[goal]\nbay = "N9"\n')
    registry.discover()
    errors = registry.load_errors()
    assert len(errors) == 1
    assert errors[0].file == str(bad) and "goal.bay" in str(errors[0])
    assert "parking-broken" not in {e.name for e in registry.entries()}
    assert "drivebench/parking-broken-v0" not in gymnasium.registry
    with pytest.raises(UnknownIdError):
        registry.get("parking-broken")
    assert len(registry.entries()) == len(SHIPPED)  # the others still load


def test_a_user_file_named_like_an_official_scenario_is_an_error_and_the_official_one_stays(extra_scenarios):
    text = (REPO_ROOT / "scenarios" / "curve-gentle.toml").read_text()
    assert "speed_limit = 15.0" in text
    (extra_scenarios / "curve-gentle.toml").write_text(text.replace("speed_limit = 15.0", "speed_limit = 11.0"))
    registry.discover()
    entry = registry.get("curve-gentle")
    assert entry.file == REPO_ROOT / "scenarios" / "curve-gentle.toml" and entry.spec.road.speed_limit == 15.0
    [error] = registry.load_errors()
    assert error.file == str(extra_scenarios / "curve-gentle.toml")
    assert "already defines scenario 'curve-gentle'" in str(error) and "rename" in str(error)
    assert len(registry.entries()) == len(SHIPPED)


def test_make_follows_a_reloaded_spec(extra_scenarios):
    path = extra_scenarios / "curve-extra.toml"
    for limit in (9.0, 11.0):
        path.write_text(f'family = "curve"\n[road]\nspeed_limit = {limit}\n'
                        'segments = [{ kind = "straight", length = 80 }]\n')
        registry.discover()
        env = registry.make("curve-extra")
        assert env.unwrapped.scenario == registry.get("curve-extra").spec
        assert env.unwrapped.scenario.road.speed_limit == limit
        env.close()


@pytest.mark.parametrize("make_bad, message", [
    (lambda folder: (folder / "curve-binary.toml").write_bytes(b'family = "curve"\n\xff\xfe\n'), "not UTF-8"),
    (lambda folder: (folder / "curve-folder.toml").mkdir(), "a folder, not a file"),
])
def test_an_unreadable_scenario_file_is_one_error_and_the_rest_load(extra_scenarios, make_bad, message):
    make_bad(extra_scenarios)
    registry.discover()
    [error] = registry.load_errors()
    assert message in str(error)
    assert len(registry.entries()) == len(SHIPPED)


CURVE_TEXT = 'family = "curve"\n[road]\nspeed_limit = {limit}\nsegments = [{{ kind = "straight", length = 80 }}]\n'


def test_two_user_files_of_one_name_in_two_folders_are_an_error_naming_both(extra_scenarios, monkeypatch, tmp_path):
    second = tmp_path / "second"
    second.mkdir()
    (extra_scenarios / "curve-mine.toml").write_text(CURVE_TEXT.format(limit=9.0))
    (second / "curve-mine.toml").write_text(CURVE_TEXT.format(limit=11.0))
    monkeypatch.setenv("DRIVEBENCH_SCENARIOS", f"{extra_scenarios}{os.pathsep}{second}")
    registry.discover()
    entry = registry.get("curve-mine")  # the folder named first keeps the name
    assert entry.file == extra_scenarios / "curve-mine.toml" and entry.spec.road.speed_limit == 9.0
    [error] = registry.load_errors()
    assert error.file == str(second / "curve-mine.toml")
    assert str(extra_scenarios / "curve-mine.toml") in str(error) and str(second / "curve-mine.toml") in str(error)
    assert "already defines scenario 'curve-mine'" in str(error)


def test_a_folder_named_twice_or_through_a_link_is_no_clash(extra_scenarios, monkeypatch, tmp_path):
    """Listing a folder twice (or the project's own folder, or a link to a folder) searches it once: its files do
    not clash with themselves."""
    (extra_scenarios / "curve-mine.toml").write_text(CURVE_TEXT.format(limit=9.0))
    link = tmp_path / "link"
    link.symlink_to(extra_scenarios)
    folders = [extra_scenarios, link, extra_scenarios, REPO_ROOT / "scenarios"]
    monkeypatch.setenv("DRIVEBENCH_SCENARIOS", os.pathsep.join(map(str, folders)))
    registry.discover()
    assert registry.load_errors() == []
    assert registry.get("curve-mine").file == extra_scenarios / "curve-mine.toml"
    assert len(registry.entries()) == len(SHIPPED) + 1
