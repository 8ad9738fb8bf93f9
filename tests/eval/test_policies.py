"""drivebench.eval.policies: agent ids -> policies; misbehaving policies end their episode as invalid_action and
the harness records them and goes on."""
from __future__ import annotations

import re
import sys
import textwrap
import uuid

import numpy as np
import pytest

from drivebench.errors import DrivebenchError, UnknownIdError
from drivebench.eval import harness
from drivebench.eval.harness import evaluate
from drivebench.eval.policies import LoadedPolicy, RandomPolicy, load_policy
from drivebench.core.rollout import run_episode
from drivebench.eval.shifts import make_env
from drivebench.experts.registry import get_expert
from drivebench.scenarios import registry

POLICY_MODULE = '''
import numpy as np

def straight(obs):
    return np.array([0.0, 0.0], dtype=np.float32)

class Predictor:
    def predict(self, obs, deterministic=False):
        """Steers right when asked for its deterministic action, left otherwise."""
        return np.array([0.2, -0.1 if deterministic else 0.1], dtype=np.float32), None

predictor = Predictor()

def fails_when_fast(obs):
    """Raise when the car goes faster than 10 m/s (obs[2] is the speed on curves); it never accelerates, so
    whether it raises is decided by the start speed, drawn from the seed."""
    if obs[2] > 10.0:
        raise RuntimeError("too fast for me")
    return np.array([0.0, 0.0], dtype=np.float32)

not_a_policy = 42
'''


@pytest.fixture
def policy_module(tmp_path, monkeypatch):
    """The name of a fresh importable module holding POLICY_MODULE (unique, so no import cache interferes)."""
    name = f"drivebench_test_policies_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(POLICY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    for agent in [a for a in harness._POLICIES if a.startswith(name)]:
        del harness._POLICIES[agent]


@pytest.fixture
def gentle_env():
    return make_env(registry.get("curve-gentle").spec)


def test_expert_ids():
    for agent in ("expert:cautious", "expert:tidy"):
        policy = load_policy(agent)
        assert policy.agent == agent and re.fullmatch("[0-9a-f]{64}", policy.agent_hash)
    assert load_policy("expert:cautious").agent_hash == load_policy("expert:cautious").agent_hash
    assert load_policy("expert:cautious").agent_hash != load_policy("expert:sporty").agent_hash


def test_expert_policy_acts_like_the_expert(gentle_env):
    gentle_env.reset(seed=3)
    policy = load_policy("expert:cautious")
    np.testing.assert_array_equal(policy.act(gentle_env, None), get_expert("expert:cautious").act(gentle_env))


def test_random_is_deterministic_per_episode_seed(gentle_env):
    policy = load_policy("random")
    assert policy.agent_hash == load_policy("random").agent_hash

    def actions(seed):
        policy.reset(seed)
        return np.array([policy.act(gentle_env, None) for _ in range(20)])

    a, b, c = actions(5), actions(6), actions(5)
    np.testing.assert_array_equal(a, c)
    assert not np.allclose(a, b)
    assert a.shape == (20, 2) and a.dtype == np.float32 and np.abs(a).max() <= 1.0
    assert np.abs(a).max() > 0.5  # spread over the box, not stuck near 0


def test_random_episodes_repeat_for_a_seed(gentle_env):
    policy = RandomPolicy()
    episodes = []
    for _ in range(2):
        policy.reset(9)
        episodes.append(run_episode(gentle_env, policy.act, 9))
    np.testing.assert_array_equal(episodes[0].actions, episodes[1].actions)
    np.testing.assert_array_equal(episodes[0].poses, episodes[1].poses)


def test_module_callable(policy_module, gentle_env):
    policy = load_policy(f"{policy_module}:straight")
    obs, _ = gentle_env.reset(seed=0)
    np.testing.assert_array_equal(policy.act(gentle_env, obs), [0.0, 0.0])
    assert policy.agent == f"{policy_module}:straight"
    assert policy.agent_hash != load_policy(f"{policy_module}:fails_when_fast").agent_hash


def test_module_object_with_predict_is_called_deterministically(policy_module, gentle_env):
    policy = load_policy(f"{policy_module}:predictor")
    obs, _ = gentle_env.reset(seed=0)
    np.testing.assert_array_equal(policy.act(gentle_env, obs), np.array([0.2, -0.1], np.float32))
    policy.close()


@pytest.mark.parametrize("agent", ["nobody", "expert:nobody", ":straight", "somemodule:", "expert"])
def test_unknown_ids(agent):
    with pytest.raises(UnknownIdError, match="unknown (agent|expert)"):
        load_policy(agent)


def test_a_module_that_does_not_exist():
    with pytest.raises(DrivebenchError, match="cannot load policy 'drivebench_no_such_module:act'"):
        load_policy("drivebench_no_such_module:act")


def test_a_missing_attribute_or_a_non_policy_is_found_when_it_loads_in_the_sandbox(policy_module):
    """Outside code is imported only in the sandbox: the check loads it there, and says what is wrong."""
    spec = registry.get("curve-gentle").spec
    with pytest.raises(DrivebenchError, match="cannot load policy .* has no attribute 'no_such_name'"):
        load_policy(f"{policy_module}:no_such_name").check_scenario(spec)
    with pytest.raises(DrivebenchError, match="not_a_policy is not a policy"):
        load_policy(f"{policy_module}:not_a_policy").check_scenario(spec)
    assert policy_module not in sys.modules  # never imported here


# ---------------------------------------------------------------------------------------------- invalid actions
class After:
    """Acts [0, 0] for `n` decisions, then misbehaves as told."""

    def __init__(self, n, bad):
        self.n, self.bad, self.calls = n, bad, 0

    def __call__(self, env, obs):
        self.calls += 1
        if self.calls <= self.n:
            return np.zeros(2, np.float32)
        return self.bad()


def _raise():
    raise ValueError("boom")


@pytest.mark.parametrize("bad, reason", [
    (_raise, "the policy raised ValueError: boom"),
    (lambda: np.array([0.1, np.nan]), "not finite"),
    (lambda: np.array([np.inf, 0.0]), "not finite"),
    (lambda: np.zeros(3), "shape (3,)"),
    (lambda: np.zeros((1, 2)), "shape (1, 2)"),
    (lambda: None, "shape ()"),
    (lambda: "left", "the policy raised ValueError"),
])
@pytest.mark.parametrize("after", [0, 3])
def test_misbehaving_policy_ends_the_episode_as_invalid(gentle_env, bad, reason, after):
    episode = run_episode(gentle_env, After(after, bad), seed=1)
    assert episode.termination == "invalid_action" and not episode.success
    assert reason in episode.invalid_reason
    assert episode.steps == after  # the bad action was never applied
    assert len(episode.poses) == after + 1 and len(episode.signals["progress"]) == after + 1


def test_valid_policy_has_no_invalid_reason(gentle_env):
    episode = run_episode(gentle_env, After(1000, None), seed=1)
    assert episode.termination != "invalid_action" and episode.invalid_reason == ""


def test_harness_records_invalid_episodes_and_goes_on(policy_module):
    """The policy raises on the seeds whose car starts faster than 10 m/s (speed drawn from the seed in [8, 12])."""
    spec = registry.get("curve-gentle").spec
    seeds = list(range(1_000_000, 1_000_008))
    env = make_env(spec)
    starts_fast = {seed for seed in seeds if env.reset(seed=seed)[1]["speed"] > 10.0}
    assert 0 < len(starts_fast) < len(seeds)  # both kinds among these seeds
    agent = f"{policy_module}:fails_when_fast"
    records = evaluate(agent, "curve-gentle", seeds=seeds, workers=1, progress=False)
    assert [r.seed for r in records] == seeds
    for r in records:
        if r.seed in starts_fast:
            assert r.metrics.termination == "invalid_action" and r.metrics.driving_score == 0.0
            assert r.metrics.steps == 0
            assert r.invalid_reason == "the policy raised RuntimeError: too fast for me"
        else:
            assert r.metrics.termination != "invalid_action" and r.invalid_reason == ""
            assert r.metrics.steps > 0 and r.metrics.route_completion > 0


def test_loaded_policy_defaults():
    policy = LoadedPolicy("x", "h", lambda env, obs: np.zeros(2))
    assert policy.reset(123) is None


# ---------------------------------------------------------------------------------------------- agent identity
def test_the_same_weights_trained_twice_are_one_agent(tmp_path):
    """A checkpoint's hash is what drives (weights, network, observation, the network code), not how or when it was
    trained: two runs giving the same weights are one agent, whatever their wall time, folder or demo path."""
    import json
    import shutil

    from drivebench.agents import checkpoints
    from drivebench.agents.train import train

    small = {"demos": 2, "gradient_steps": 20}
    runs = [train("bc", "curve-gentle", out=tmp_path / name, preset="quick", overrides=small, progress=False).out
            for name in ("first", "second")]
    a, b = (checkpoints.read_config(run) for run in runs)
    assert a["files"] == b["files"]  # the same weights, byte for byte
    assert load_policy(str(runs[0])).agent_hash == load_policy(str(runs[1])).agent_hash
    moved = shutil.copytree(runs[0], tmp_path / "elsewhere")
    config = json.loads((moved / checkpoints.CONFIG).read_text())
    config.update(train_seconds=config["train_seconds"] + 99, usage={"gradient_steps": 1},
                  demos={**config["demos"], "path": "/somewhere/else"}, algo="dagger", train_key=None)
    (moved / checkpoints.CONFIG).write_text(json.dumps(config))
    assert checkpoints.agent_hash(moved) == checkpoints.agent_hash(runs[0])
    config["network"] = {**config["network"], "activation": "relu"}
    (moved / checkpoints.CONFIG).write_text(json.dumps(config))
    assert checkpoints.agent_hash(moved) != checkpoints.agent_hash(runs[0])
    other = train("bc", "curve-gentle", out=tmp_path / "seed1", preset="quick", seed=1, overrides=small, progress=False)
    assert checkpoints.agent_hash(other.out) != checkpoints.agent_hash(runs[0])


def test_an_experts_hash_covers_its_code(code_copy, code_edits):
    change, cosmetic = code_edits
    before = load_policy("expert:tidy").agent_hash
    module = type(get_expert("expert:tidy")).__module__
    code_copy.edit(module, cosmetic)
    assert load_policy("expert:tidy").agent_hash == before
    code_copy.edit(module, change)
    assert load_policy("expert:tidy").agent_hash != before


def test_a_policy_files_hash_covers_what_it_imports_from_its_folder(tmp_path, monkeypatch):
    """A file policy imports its neighbours from its own folder, from any working directory and before a
    same-named module there (the one its hash covers is the one it runs), and leaves sys.path as it was."""
    folder, elsewhere = tmp_path / "submission", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    helpers = f"helpers_{uuid.uuid4().hex[:10]}"
    (folder / f"{helpers}.py").write_text("GAIN = 0.0\n")
    (elsewhere / f"{helpers}.py").write_text("GAIN = 9.0\n")  # a decoy where the command runs
    (folder / "policy.py").write_text(f"import numpy as np\nfrom {helpers} import GAIN\n\n\ndef act(obs):\n"
                                      "    return np.array([GAIN, 0.0], np.float32)\n")
    monkeypatch.chdir(elsewhere)
    monkeypatch.syspath_prepend(str(elsewhere))  # the working directory is on the path (python -m, a REPL)
    path_before = list(sys.path)
    agent = f"{folder / 'policy.py'}:act"
    try:
        policy = load_policy(agent)
        assert policy.act(None, np.zeros(3))[0] == 0.0  # its folder's helpers, not the decoy
        assert sys.path == path_before
        before = policy.agent_hash
        (folder / "policy.py").write_text("# a comment\n" + (folder / "policy.py").read_text())
        assert load_policy(agent).agent_hash == before
        (folder / f"{helpers}.py").write_text("GAIN = 0.5\n")
        assert load_policy(agent).agent_hash != before
    finally:
        sys.modules.pop(helpers, None)


def test_a_top_level_modules_hash_covers_the_modules_beside_it_that_it_imports(tmp_path, monkeypatch):
    """`mypolicy:act` from a top-level module is hashed like a file policy: with what it imports from its folder
    (`from helpers import GAIN`), though helpers is no part of a package of its own name."""
    name, helpers = (f"{kind}_{uuid.uuid4().hex[:10]}" for kind in ("mypolicy", "helpers"))
    (tmp_path / f"{helpers}.py").write_text("GAIN = 0.0\n")
    (tmp_path / f"{name}.py").write_text(f"import numpy as np\nfrom {helpers} import GAIN\n\n\ndef act(obs):\n"
                                         "    return np.array([GAIN, 0.0], np.float32)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        before = load_policy(f"{name}:act").agent_hash
        (tmp_path / f"{helpers}.py").write_text("# a comment\nGAIN = 0.0\n")
        assert load_policy(f"{name}:act").agent_hash == before
        (tmp_path / f"{helpers}.py").write_text("GAIN = 0.5\n")
        assert load_policy(f"{name}:act").agent_hash != before
    finally:
        sys.modules.pop(name, None)
        sys.modules.pop(helpers, None)


def test_the_random_agents_hash_covers_its_code(code_copy, code_edits):
    change, cosmetic = code_edits
    before = load_policy("random").agent_hash
    code_copy.edit(RandomPolicy.__module__, cosmetic)
    assert load_policy("random").agent_hash == before
    code_copy.edit(RandomPolicy.__module__, change)
    assert load_policy("random").agent_hash != before


def test_an_sb3_file_whose_json_unpacks_huge_is_refused_before_it_is_read(tmp_path):
    import zipfile

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data", b" " * (64 << 20))  # 64 MiB of spaces, a few kB packed
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(DrivebenchError, match="not a stable-baselines3 model file .*unpacks to over 16 MiB"):
        load_policy(str(bomb))
