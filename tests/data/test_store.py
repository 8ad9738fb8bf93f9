"""Demo recording and storage: round trip, bit-for-bit regeneration, corruption detection, staleness."""
import json
import os
import shutil
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from drivebench.data import record, store
from drivebench.errors import DemoDataError, DrivebenchError
from drivebench.paths import expert_data_dir
from drivebench.scenarios import registry


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    root = tmp_path_factory.mktemp("demos")
    return record.record("parking-empty", "tidy", episodes=3, seed=5, root=root, progress=False)


def test_round_trip_shapes_and_manifest(demos):
    data = store.load(demos)
    manifest = data.manifest
    assert manifest["schema_version"] == store.SCHEMA_VERSION
    assert manifest["seeds"] == [5, 6, 7]
    assert manifest["scenario"]["spec_hash"] == registry.get("parking-empty").hash
    assert manifest["expert"]["id"] == "expert:tidy" and manifest["expert"]["style"]["name"] == "tidy"
    assert set(manifest["versions"]) >= {"highway-env", "gymnasium", "numpy"}
    assert manifest["observation"] == {"type": "ego"}  # the env's declared observation config
    assert len(data.episodes) == 3
    for meta, ep in zip(manifest["episodes"], data.episodes):
        assert ep.seed == meta["seed"] and ep.termination == meta["termination"]
        assert ep.observations.shape == (meta["steps"] + 1, len(manifest["observation_features"]))
        assert ep.actions.shape == (meta["steps"], 2) and ep.rewards.shape == (meta["steps"],)
        assert ep.poses.shape == (meta["steps"] + 1, 4)
        assert np.isfinite(ep.actions).all() and np.abs(ep.actions).max() <= 1.0
        assert ep.rewards.sum() == pytest.approx(meta["return"], abs=1e-4)


def test_demos_replay_in_the_env(demos):
    """The recorded actions, replayed from the recorded seed, reproduce the recorded observations."""
    ep = store.load(demos).episodes[0]
    env = gymnasium.make(registry.get("parking-empty").id)
    obs, _ = env.reset(seed=ep.seed)
    replayed = [obs]
    for action in ep.actions:
        obs, *_ = env.step(action)
        replayed.append(obs)
    np.testing.assert_array_equal(np.asarray(replayed), ep.observations)


def test_recording_again_gives_the_same_bytes(demos, tmp_path):
    again = record.record("parking-empty", "tidy", episodes=3, seed=5, root=tmp_path, progress=False)
    for name in (store.DATA_FILE, store.MANIFEST_FILE):
        assert (again / name).read_bytes() == (demos / name).read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "delete"])
def test_damaged_data_file_is_detected(demos, tmp_path, damage):
    copy = shutil.copytree(demos, tmp_path / "copy")
    data = copy / store.DATA_FILE
    raw = data.read_bytes()
    if damage == "truncate":
        data.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip_byte":
        data.write_bytes(raw[:100] + bytes([raw[100] ^ 1]) + raw[101:])
    else:
        data.unlink()
    with pytest.raises(DemoDataError, match="checksum mismatch|missing") as err:
        store.load(copy)
    assert "drivebench record --scenario parking-empty" in str(err.value)


def test_bad_manifest_is_detected(demos, tmp_path):
    copy = shutil.copytree(demos, tmp_path / "copy")
    manifest = json.loads((copy / store.MANIFEST_FILE).read_text())
    (copy / store.MANIFEST_FILE).write_text(json.dumps({**manifest, "schema_version": 99}))
    with pytest.raises(DemoDataError, match="schema version 99"):
        store.load(copy)
    (copy / store.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(DemoDataError, match="not valid JSON"):
        store.load(copy)
    with pytest.raises(DemoDataError, match="no demos here"):
        store.load(tmp_path / "nowhere")


def test_no_half_written_set_is_left_behind(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.pq, "write_table", fail)
    with pytest.raises(RuntimeError):
        record.record("parking-empty", "tidy", episodes=1, root=tmp_path, progress=False)
    assert not any((tmp_path / "parking-empty").iterdir())


def test_record_rejects_bad_requests(tmp_path):
    with pytest.raises(DrivebenchError, match="does not drive"):
        record.record("parking-empty", "reverse", episodes=1, root=tmp_path)
    with pytest.raises(DrivebenchError, match="demo seeds"):
        record.record("parking-empty", "tidy", episodes=1, seed=1_000_000, root=tmp_path)
    with pytest.raises(DrivebenchError, match="unknown scenario"):
        record.record("nowhere", "tidy", episodes=1, root=tmp_path)


def test_ensure_default_demos_records_verifies_and_refreshes(tmp_path, monkeypatch, code_copy, code_edits):
    wanted = {"episodes": 1}
    monkeypatch.setattr(record, "default_demo_sets", lambda: [("parking-empty", "expert:tidy", wanted["episodes"])])
    assert record.ensure_default_demos(tmp_path, progress=False) == [("parking-empty", "expert:tidy", "recorded")]
    assert record.ensure_default_demos(tmp_path, progress=False)[0][2] == "verified"
    wanted["episodes"] = 2  # a preset now asks for more demos than the set holds
    assert record.ensure_default_demos(tmp_path, progress=False)[0][2] == "re-recorded (1 episodes, 2 wanted)"
    assert store.read_manifest(tmp_path / "parking-empty" / "tidy")["seeds"] == [0, 1]
    code_copy.edit(record.env_module("parking-empty"), code_edits[0])  # the simulator changed
    assert record.ensure_default_demos(tmp_path, progress=False)[0][2] == "re-recorded (code changed)"
    assert record.ensure_default_demos(tmp_path, progress=False)[0][2] == "verified"
    data = tmp_path / "parking-empty" / "tidy" / store.DATA_FILE
    data.write_bytes(data.read_bytes()[:-10])
    with pytest.raises(DemoDataError, match="checksum"):
        record.ensure_default_demos(tmp_path, progress=False)


def test_shipped_default_demos_are_complete_and_current():
    """expert_data/ in the repository holds every default set, intact and made by today's experts and specs."""
    for scenario, expert, episodes in record.default_demo_sets():
        folder = store.demo_dir(expert_data_dir(), scenario, expert)
        manifest = store.verify(folder)
        assert len(manifest["seeds"]) >= episodes, folder
        assert manifest["scenario"]["spec_hash"] == registry.get(scenario).hash, folder
        assert manifest["expert"] == record.expert_record(record.get_expert(expert)), folder
        assert record.stale_because(folder, scenario, expert) is None, folder  # recorded by today's code
        assert all(e["termination"] == "arrived" for e in manifest["episodes"]), folder


def test_a_demo_set_is_keyed_by_the_code_that_recorded_it(demos, code_copy, code_edits):
    """The manifest holds the code key of the env's, the expert's and the rollout's modules (their import closures):
    a comment changes nothing, a constant of the env module or of the expert's makes the set stale ("code")."""
    change, cosmetic = code_edits
    manifest = store.read_manifest(demos)
    assert manifest["code_key"] == record.demo_key("parking-empty", "expert:tidy")
    assert record.stale_because(demos, "parking-empty", "expert:tidy") is None
    env = record.env_module("parking-empty")
    expert = type(record.get_expert("expert:tidy")).__module__
    assert env == type(gymnasium.make(registry.get("parking-empty").id).unwrapped).__module__
    for module in (env, expert, "drivebench.core.rollout"):
        code_copy.edit(module, cosmetic)
    assert record.stale_because(demos, "parking-empty", "expert:tidy") is None
    code_copy.edit(env, change)
    assert record.stale_because(demos, "parking-empty", "expert:tidy") == "code"
    assert record.demo_key("parking-empty", "expert:tidy") != manifest["code_key"]


def test_an_experts_code_change_makes_its_sets_stale(demos, code_copy, code_edits):
    code_copy.edit(type(record.get_expert("expert:tidy")).__module__, code_edits[0])
    assert record.stale_because(demos, "parking-empty", "expert:tidy") == "code"


@pytest.mark.parametrize("package", ["highway-env", "gymnasium", "numpy"])
def test_upgrading_the_simulators_packages_makes_the_sets_stale(demos, upgrade, package):
    """highway-env holds most of the physics: demos recorded under another version of it (or of gymnasium or
    numpy) are not today's; a learning library's upgrade changes no demo."""
    key = record.demo_key("parking-empty", "expert:tidy")
    upgrade("torch")
    assert record.stale_because(demos, "parking-empty", "expert:tidy") is None
    upgrade(package)
    assert record.demo_key("parking-empty", "expert:tidy") != key
    assert record.stale_because(demos, "parking-empty", "expert:tidy") == "third-party versions"


def test_require_current_names_the_set_what_changed_and_the_command(demos, tmp_path, monkeypatch, code_copy,
                                                                     code_edits):
    assert record.require_current(demos) == store.read_manifest(demos)
    default = record.record("parking-empty", "tidy", episodes=1, root=tmp_path, progress=False)
    monkeypatch.setenv("DRIVEBENCH_EXPERT_DATA", str(tmp_path))  # so it is a default set
    code_copy.edit(record.env_module("parking-empty"), code_edits[0])
    with pytest.raises(DrivebenchError, match="stale demos of parking-empty by expert:tidy") as err:
        record.require_current(demos)
    assert str(demos) in str(err.value) and "code" in str(err.value) and "drivebench run" not in str(err.value)
    assert "drivebench record --scenario parking-empty --expert expert:tidy --episodes 3 --seed 5" in str(err.value)
    with pytest.raises(DrivebenchError, match="`drivebench run`"):
        record.require_current(default)


# ---------------------------------------------------------------------------------------------- hostile sets
def _copy(demos, tmp_path, name="copy"):
    return shutil.copytree(demos, tmp_path / name)


def _edit_manifest(folder, change) -> None:
    file = folder / store.MANIFEST_FILE
    manifest = json.loads(file.read_text())
    change(manifest)
    file.write_text(json.dumps(manifest))


def _list_file(folder, name: str, data) -> None:
    """List `name` in the manifest with the size and sha256 of `data` (a path), as an honest entry would be."""
    digest = store.sha256(data)
    _edit_manifest(folder, lambda m: m["files"].update({name: {"sha256": digest, "bytes": data.stat().st_size}}))


@pytest.mark.parametrize("change, fragment", [
    (lambda m: m.pop("files"), "field `files` is missing"),
    (lambda m: m.pop("episodes"), "field `episodes` is missing"),
    (lambda m: m.update(files=[store.DATA_FILE]), f"field `files` must be an object listing {store.DATA_FILE}"),
    (lambda m: m.update(files={}), f"listing {store.DATA_FILE}"),
    (lambda m: m["files"][store.DATA_FILE].update(sha256=None), f"field `files.{store.DATA_FILE}` must be"),
    (lambda m: m["files"][store.DATA_FILE].pop("bytes"), f"field `files.{store.DATA_FILE}` must be"),
    (lambda m: m["episodes"][1].pop("steps"), "field `episodes[1]`"),
    (lambda m: m["episodes"][0].update(steps="many"), "field `episodes[0]`"),
    (lambda m: m.update(scenario="parking-empty"), "field `scenario` must be an object"),
    (lambda m: m.update(seeds="5"), "field `seeds` must be a non-empty list of integers"),
    (lambda m: m.update(actions="false"), "field `actions` must be true or false"),  # not read as True
    (lambda m: m.update(actions=0), "field `actions` must be true or false"),
    (lambda m: m.update(observation="world"), "field `observation` must be an object whose `type` is one of"),
    (lambda m: m.update(observation={"type": "drone"}), "field `observation` must be an object whose `type`"),
], ids=["no-files", "no-episodes", "files-list", "files-empty", "sha-null", "no-bytes", "no-steps", "steps-text",
        "scenario-text", "seeds-text", "actions-text", "actions-int", "observation-text", "observation-unknown"])
def test_a_manifest_with_a_missing_or_malformed_field_names_it(demos, tmp_path, change, fragment):
    copy = _copy(demos, tmp_path)
    _edit_manifest(copy, change)
    with pytest.raises(DemoDataError) as err:
        store.load(copy)
    assert str(err.value).startswith(f"{copy / store.MANIFEST_FILE}: ")
    assert fragment in str(err.value)


@pytest.mark.parametrize("content", ["[1, 2]", '"a string"', "\udcff"], ids=["list", "string", "not-utf8"])
def test_a_manifest_that_is_no_json_object_is_one_message(demos, tmp_path, content):
    copy = _copy(demos, tmp_path)
    (copy / store.MANIFEST_FILE).write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(DemoDataError, match="not a demo manifest|not valid JSON") as err:
        store.load(copy)
    assert str(copy / store.MANIFEST_FILE) in str(err.value)


def test_a_data_file_that_matches_its_checksum_but_is_no_parquet_is_one_message(demos, tmp_path):
    copy = _copy(demos, tmp_path)
    data = copy / store.DATA_FILE
    data.write_bytes(b"PAR1" + b"garbage" * 100)
    _list_file(copy, store.DATA_FILE, data)
    store.verify(copy)  # the checksum matches: only reading it can tell
    with pytest.raises(DemoDataError, match="not a readable Parquet file") as err:
        store.load(copy)
    assert str(err.value).startswith(f"{data}: ") and "drivebench record --scenario parking-empty" in str(err.value)


@pytest.mark.parametrize("table, fragment", [
    (lambda t: t.drop(["obs"]), "column(s) obs missing"),
    (lambda t: t.set_column(t.column_names.index("action"), "action", t.column("reward")), "column action is float"),
    (lambda t: t.slice(0, 5), "episode 0 has 5 rows, the manifest's `episodes[0].steps`"),
], ids=["no-obs", "action-not-list", "short"])
def test_a_parquet_table_of_another_shape_is_one_message(demos, tmp_path, table, fragment):
    import pyarrow.parquet as pq

    copy = _copy(demos, tmp_path)
    data = copy / store.DATA_FILE
    pq.write_table(table(pq.read_table(data)), data)
    _list_file(copy, store.DATA_FILE, data)
    with pytest.raises(DemoDataError) as err:
        store.load(copy)
    assert str(err.value).startswith(f"{data}: ") and fragment in str(err.value)


@pytest.mark.parametrize("entry", ["../../outside.bin", "{outside}", "sub/../../outside.bin", "..", "."])
def test_reading_never_leaves_the_sets_folder(demos, tmp_path, entry):
    """A manifest entry naming a file outside the folder (relative, absolute, through a subfolder) is refused
    naming the entry, although the file's checksum matches: it is never read."""
    copy = _copy(demos, tmp_path / "a" / "b")
    outside = tmp_path / "a" / "outside.bin"
    outside.write_bytes(b"secret\n")
    name = entry.format(outside=outside)
    _list_file(copy, name, outside)
    reads = []
    real = store.sha256
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "sha256", lambda path: reads.append(path) or real(path))
        with pytest.raises(DemoDataError) as err:
            store.load(copy)
    assert str(err.value).startswith(f"{copy / store.MANIFEST_FILE}: field `files` lists {name!r}")
    assert all(Path(p).resolve().is_relative_to(copy.resolve()) for p in reads)


def test_a_listed_file_that_links_outside_the_folder_is_refused(demos, tmp_path):
    copy = _copy(demos, tmp_path / "set")
    outside = tmp_path / "elsewhere.parquet"
    shutil.move(copy / store.DATA_FILE, outside)
    (copy / store.DATA_FILE).symlink_to(outside)
    with pytest.raises(DemoDataError, match="leads outside the demo set's folder") as err:
        store.load(copy)
    assert f"lists {store.DATA_FILE!r}" in str(err.value)
    (copy / store.DATA_FILE).unlink()
    shutil.move(outside, copy / "real.parquet")
    (copy / store.DATA_FILE).symlink_to(copy / "real.parquet")  # a link that stays inside is fine
    assert len(store.load(copy).episodes) == 3


@pytest.mark.parametrize("which", [store.MANIFEST_FILE, store.DATA_FILE])
def test_a_fifo_in_a_set_is_refused_without_blocking(demos, tmp_path, which, error_without_blocking):
    copy = _copy(demos, tmp_path)
    (copy / which).unlink()
    os.mkfifo(copy / which)
    message = error_without_blocking(lambda: store.load(copy), DemoDataError)
    assert message.startswith(f"{copy / which}: ") and "a FIFO, not a regular file" in message


def test_third_person_demos_store_their_frame_and_may_omit_actions(demos, tmp_path):
    """Issue 19: a set recorded in another frame says so and lives beside the ego one; without actions its action
    column is NaN; a set whose manifest records neither (every set before) is an ego set with actions."""
    path = record.record("parking-empty", "tidy", episodes=2, seed=5, root=tmp_path, progress=False,
                         observation={"type": "world"}, actions=False)
    assert path == tmp_path / "parking-empty" / "tidy@world"
    data = store.load(path)
    assert data.observation == {"type": "world"} and not data.has_actions
    assert data.manifest["observation_features"][:2] == ["x", "y"]
    assert data.manifest["command"].endswith("--observation world --no-actions")
    ego = store.load(demos)
    assert ego.observation == {"type": "ego"} and ego.has_actions and "actions" not in ego.manifest
    for world, mine in zip(data.episodes, ego.episodes):  # the same drives (seeds 5, 6), seen from above
        assert np.isnan(world.actions).all() and world.actions.shape == mine.actions.shape
        np.testing.assert_array_equal(world.poses, mine.poses)
        assert world.observations[:, :2] == pytest.approx(mine.poses[:, :2], abs=1e-4)
    assert record.stale_because(path, "parking-empty", "expert:tidy", {"type": "world"}, actions=False) is None
    # wanted as the default set (ego, with actions), it is not current: `drivebench run` would re-record it
    assert record.stale_because(path, "parking-empty", "expert:tidy") == "frame and actions"
    assert record.stale_because(path, "parking-empty", "expert:tidy", {"type": "world"}) == "actions"
    assert record.stale_because(path, "parking-empty", "expert:tidy", {"type": "follower"}, False) == "frame"
    assert record.stale_because(demos, "parking-empty", "expert:tidy", actions=False) == "actions"
    assert record.require_current(path)["actions"] is False  # not a default set: it is what its manifest says
    from drivebench.agents.train import train  # the agents refuse to learn actions from a set without them
    with pytest.raises(DrivebenchError, match="recorded without actions"):
        train("bc", "parking-empty", out=tmp_path / "bc", demos=path, preset="quick", progress=False)


def test_no_actions_in_the_ego_frame_is_refused_and_replaces_nothing(tmp_path):
    """Without --observation, --no-actions would have written over `<style>/`, the set the agents learn from."""
    default = record.record("parking-empty", "tidy", episodes=1, seed=5, root=tmp_path, progress=False)
    before = (default / store.MANIFEST_FILE).read_bytes()
    for observation in (None, {"type": "ego"}):
        with pytest.raises(DrivebenchError, match=r"--no-actions .*give --observation world\|follower") as err:
            record.record("parking-empty", "tidy", episodes=1, seed=5, root=tmp_path, progress=False,
                          observation=observation, actions=False)
        assert str(default) in str(err.value)
    assert (default / store.MANIFEST_FILE).read_bytes() == before and store.load(default).has_actions


def test_a_frames_settings_other_than_its_type_are_refused(tmp_path):
    """The follower's lag and gap are not in the folder name nor in the staleness check: only the defaults."""
    with pytest.raises(DrivebenchError, match="default settings only"):
        record.record("parking-empty", "tidy", episodes=1, seed=5, root=tmp_path, progress=False,
                      observation={"type": "follower", "lag": 2})
    assert not (tmp_path / "parking-empty").exists()
