"""Agents: every algorithm trains with the quick preset on a curve and a parking scenario, reports its budget,
saves a checkpoint the harness can evaluate; checkpoints round-trip and fail clearly when wrong."""
import json
import math
import shutil
import tempfile
import warnings
from copy import deepcopy
from dataclasses import asdict, replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from drivebench.agents import checkpoints, presets, reward_rl
from drivebench.agents.train import ALGORITHMS, train
from drivebench.data.record import LEARNER_EPISODES
from drivebench.errors import DrivebenchError
from drivebench.eval.harness import evaluate
from drivebench.eval.policies import load_policy
from drivebench.paths import REPO_ROOT
from drivebench.scenarios import registry
from drivebench.scenarios.envs import ScenarioEnv

SCENARIOS = ("curve-gentle", "parking-empty")


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    """Every algorithm trained on both scenarios (`results`), the messages of the warnings raised meanwhile, what
    the training left in the temp dir, and the env steps each run took (counted at ScenarioEnv.step)."""
    root = tmp_path_factory.mktemp("agents")
    scratch = tmp_path_factory.mktemp("tempdir")
    results, stepped = {}, {}
    real_step = ScenarioEnv.step

    def counted_step(env, action):
        stepped[run] += 1  # the run in progress
        return real_step(env, action)

    with warnings.catch_warnings(record=True) as caught, pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("always")
        mp.setattr(tempfile, "tempdir", str(scratch))
        mp.setattr(ScenarioEnv, "step", counted_step)
        for run in [(algo, sc) for algo in ALGORITHMS for sc in SCENARIOS]:
            stepped[run] = 0
            results[run] = train(*run, out=root.joinpath(*run), preset="quick", seed=0, progress=False)
    return SimpleNamespace(results=results, warnings=[str(w.message) for w in caught],
                           left_in_tempdir=sorted(p.name for p in scratch.iterdir()), env_steps=stepped)


@pytest.fixture(scope="module")
def trained(training):
    return training.results


def test_training_does_not_repeat_imitations_bc_warning(training):
    """imitation logs BC's loss tensor each batch and torch warns each time; common.quiet_bc silences that one."""
    assert not [m for m in training.warnings if "requires_grad" in m]


def test_training_leaves_nothing_in_the_temp_dir(training):
    """imitation's and SB3's loggers make a log folder per run unless told otherwise; a benchmark run trains 28.
    (torch keeps one cache folder per user there, torchinductor_<user>, made once and reused.)"""
    assert [name for name in training.left_in_tempdir if not name.startswith("torchinductor_")] == []


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_quick_training_gives_an_agent_the_harness_evaluates(training, algo, scenario):
    result = training.results[(algo, scenario)]
    hp = presets.load_preset(algo, "quick", registry.get(scenario).family)
    usage = result.usage
    assert usage.demo_episodes == hp["demos"] and usage.demo_transitions > 0 and usage.wall_time > 0
    assert usage.gradient_steps > 0
    assert usage.env_steps == training.env_steps[(algo, scenario)]  # every step taken is in the budget, no more
    if algo == "bc":
        assert usage.env_steps == 0 and usage.expert_queries == 0 and usage.gradient_steps == hp["gradient_steps"]
    if algo == "dagger":
        assert usage.expert_queries == usage.env_steps >= hp["env_steps"]
    if algo in ("gail", "airl"):
        assert usage.env_steps >= hp["env_steps"] and usage.expert_queries == 0
    assert (result.out / checkpoints.REWARD).exists() == (algo == "airl")
    records = evaluate(str(result.out), scenario, seeds=[1_000_000, 1_000_001], workers=1, progress=False)
    assert [r.seed for r in records] == [1_000_000, 1_000_001]
    assert all(r.metrics.termination != "invalid_action" for r in records)
    assert result.config["usage"]["gradient_steps"] == usage.gradient_steps


def test_checkpoint_round_trip_gives_the_same_actions(trained):
    result = trained[("bc", "curve-gentle")]
    policy, config = checkpoints.load_policy(result.out)
    again, _ = checkpoints.load_policy(result.out)
    obs = np.random.default_rng(0).normal(size=(16, len(config["observation_features"]))).astype(np.float32)
    np.testing.assert_array_equal(policy.predict(obs, deterministic=True)[0], again.predict(obs, deterministic=True)[0])
    # the demo statistics travel with the weights
    assert not torch.allclose(policy.features_extractor.std, torch.ones_like(policy.features_extractor.std))


@pytest.mark.parametrize("algo, scenario", [("bc", "curve-gentle"), ("gail", "parking-empty")])
def test_the_harness_actor_gives_sb3_predicts_actions_bit_for_bit(trained, algo, scenario):
    """networks.deterministic_actor, what the harness calls, against SB3's predict(deterministic=True): demo
    observations, wild ones, float64 input, and actions past the bounds that get clipped."""
    from drivebench.agents import networks
    from drivebench.data import store

    policy, config = checkpoints.load_policy(trained[(algo, scenario)].out)
    actor = networks.deterministic_actor(policy)
    demos = store.load(REPO_ROOT / "expert_data" / scenario / ("cautious" if scenario.startswith("curve") else "tidy"))
    real = np.concatenate([ep.observations for ep in demos.successful()[:3]])
    wild = np.random.default_rng(0).normal(scale=10.0, size=(200, real.shape[1])).astype(np.float32)
    clipped = 0
    for scale in (1.0, 100.0):  # x100: action_net's outputs go past the action bounds and get clipped
        with torch.no_grad():
            policy.action_net.weight.mul_(scale)
        for obs in [*real, *wild, *wild[:20].astype(np.float64)]:
            action = actor(obs)
            expected = policy.predict(obs, deterministic=True)[0]
            assert action.dtype == expected.dtype and action.shape == expected.shape == (2,)
            np.testing.assert_array_equal(action, expected)
            clipped += bool(np.any(np.abs(expected) == 1.0))
    assert clipped > 0  # the clip to the action space was exercised


def test_training_is_deterministic_for_a_seed(tmp_path):
    a = train("bc", "curve-gentle", out=tmp_path / "a", preset="quick", seed=3, progress=False)
    b = train("bc", "curve-gentle", out=tmp_path / "b", preset="quick", seed=3, progress=False)
    pa, _ = checkpoints.load_policy(a.out)
    pb, _ = checkpoints.load_policy(b.out)
    for (name, x), (_, y) in zip(pa.state_dict().items(), pb.state_dict().items()):
        assert torch.equal(x, y), name


def test_edited_or_truncated_weights_fail_clearly(trained, tmp_path):
    copy = shutil.copytree(trained[("bc", "curve-gentle")].out, tmp_path / "agent")
    weights = copy / checkpoints.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(DrivebenchError, match="checksum mismatch"):
        checkpoints.load_policy(copy)


def test_weights_of_another_network_fail_clearly(trained, tmp_path):
    copy = shutil.copytree(trained[("bc", "curve-gentle")].out, tmp_path / "agent")
    config = json.loads((copy / checkpoints.CONFIG).read_text())
    config["network"]["net_arch"] = [8]
    (copy / checkpoints.CONFIG).write_text(json.dumps(config))
    with pytest.raises(DrivebenchError, match=r"field `network.net_arch` is \[8\] .* holds layers of \[64, 64\]"):
        checkpoints.load_policy(copy)
    config["network"]["net_arch"] = [64, 64]
    config["network"]["activation"] = "relu"  # the same shapes, another network: loads (the hash tells them apart)
    (copy / checkpoints.CONFIG).write_text(json.dumps(config))
    assert checkpoints.load_policy(copy)[1]["network"]["activation"] == "relu"


def test_not_a_checkpoint_and_other_formats_fail_clearly(tmp_path, trained):
    with pytest.raises(DrivebenchError, match="not a drivebench agent"):
        checkpoints.load_policy(tmp_path)
    copy = shutil.copytree(trained[("bc", "curve-gentle")].out, tmp_path / "agent")
    config = json.loads((copy / checkpoints.CONFIG).read_text())
    (copy / checkpoints.CONFIG).write_text(json.dumps({**config, "version": 99}))
    with pytest.raises(DrivebenchError, match="train the agent again"):
        checkpoints.load_policy(copy)


def test_a_pickle_is_never_unpickled(trained, tmp_path):
    """A weights file holding an arbitrary object is refused by torch.load(weights_only=True)."""
    copy = shutil.copytree(trained[("bc", "curve-gentle")].out, tmp_path / "agent")
    torch.save({"evil": _Evil()}, copy / checkpoints.WEIGHTS)
    config = json.loads((copy / checkpoints.CONFIG).read_text())
    config["files"][checkpoints.WEIGHTS] = checkpoints.file_sha256(copy / checkpoints.WEIGHTS)
    (copy / checkpoints.CONFIG).write_text(json.dumps(config))
    with pytest.raises(DrivebenchError, match="does not unpickle"):
        checkpoints.load_policy(copy)


class _Evil:
    pass


def test_an_agent_from_another_scenario_family_is_refused(trained):
    agent = str(trained[("bc", "curve-gentle")].out)
    with pytest.raises(DrivebenchError, match="cannot drive parking-empty"):
        evaluate(agent, "parking-empty", seeds=[1_000_000], workers=1, progress=False)
    # same family, other geometry: allowed (generalization)
    assert len(evaluate(agent, "curve-s-bend", seeds=[1_000_000], workers=1, progress=False)) == 1


def test_checkpoint_agents_have_a_hash_that_changes_with_the_weights(trained):
    a = load_policy(str(trained[("bc", "curve-gentle")].out)).agent_hash
    b = load_policy(str(trained[("dagger", "curve-gentle")].out)).agent_hash
    assert a != b and len(a) == 64


@pytest.fixture
def preset_file(monkeypatch, tmp_path):
    """A function that makes `text` the presets file for the rest of the test (presets.toml is restored after)."""
    table = tmp_path / "presets.toml"

    def use(text: str) -> None:
        table.write_text(text)
        monkeypatch.setattr(presets, "PRESETS_FILE", table)
        presets._table.cache_clear()

    yield use
    presets._table.cache_clear()


def test_presets_are_data_with_family_overrides(preset_file):
    for algo in ALGORITHMS:
        for preset in ("quick", "standard"):
            hp = presets.load_preset(algo, preset, "curve")
            assert hp["demos"] >= 1 and hp["net_arch"]
    with pytest.raises(DrivebenchError, match="unknown algorithm"):
        presets.load_preset("sac", "quick", "curve")
    with pytest.raises(DrivebenchError, match="no preset 'fast'"):
        presets.load_preset("bc", "fast", "curve")
    preset_file('[bc.quick]\ndemos = 3\ngradient_steps = 10\n[bc.quick.parking]\ngradient_steps = 20\n')
    assert presets.load_preset("bc", "quick", "curve")["gradient_steps"] == 10
    assert presets.load_preset("bc", "quick", "parking") == {"demos": 3, "gradient_steps": 20}
    assert presets.budget(presets.load_preset("bc", "quick", "parking")).gradient_steps == 20


def test_a_preset_has_a_recipe_for_few_demos(preset_file):
    """`few_demos` applies to a run on at most `few_demos_max` demos (the preset's count or the run's), after the
    family's table and before the run's own overrides."""
    preset_file('[gail.quick]\ndemos = 50\nfew_demos_max = 4\nlr = 1.0\nbc = 1.0\n[gail.quick.parking]\n'
                'lr = 2.0\n[gail.quick.few_demos]\nlr = 3.0\nbc = 0.1\n')
    assert presets.resolve("gail", "quick", "parking") == {"demos": 50, "few_demos_max": 4, "lr": 2.0, "bc": 1.0}
    assert presets.resolve("gail", "quick", "parking", {"demos": 5})["lr"] == 2.0
    assert presets.resolve("gail", "quick", "parking", {"demos": 4}) == {
        "demos": 4, "few_demos_max": 4, "lr": 3.0, "bc": 0.1}
    assert presets.resolve("gail", "quick", "curve", {"demos": 1, "bc": 0.5}) == {
        "demos": 1, "few_demos_max": 4, "lr": 3.0, "bc": 0.5}
    assert presets.resolve("gail", "quick", "curve", {"demos": 4, "few_demos_max": 0})["lr"] == 1.0
    assert presets.resolve("gail", "quick", "curve", {"demos": 8, "few_demos_max": 10})["lr"] == 3.0
    with pytest.raises(DrivebenchError, match="no hyperparameter nope"):
        presets.resolve("gail", "quick", "curve", {"nope": 1})
    preset_file('[gail.quick]\ndemos = 4\nfew_demos_max = 4\n[gail.quick.few_demos]\nbc_los = 0.1\n')
    with pytest.raises(DrivebenchError, match="unknown: bc_los"):
        presets.resolve("gail", "quick", "curve")


def test_a_hyperparameter_out_of_range_is_named_with_where_it_came_from(preset_file):
    """A negative action std (or a discount above 1...) fails in resolve, naming the key, its source and its range,
    not deep in training (math.log's "math domain error")."""
    with pytest.raises(DrivebenchError, match=r"overrides: generator_action_std = -0.3, but it must be a number >= 0"):
        presets.resolve("gail", "quick", "parking", {"generator_action_std": -0.3})
    with pytest.raises(DrivebenchError, match=r"gamma = 1.5, but it must be a number >= 0 and <= 1"):
        presets.resolve("airl", "quick", "curve", {"gamma": 1.5})
    with pytest.raises(DrivebenchError, match=r"ppo_learning_rate = 'fast'"):
        presets.resolve("gail", "quick", "curve", {"ppo_learning_rate": "fast"})
    assert presets.resolve("gail", "quick", "curve", {"generator_action_std": 0})["generator_action_std"] == 0
    preset_file('[gail.quick]\ndemos = 4\nfew_demos_max = 4\ngenerator_action_std = 0.0\nbc_loss_weight = -1\n'
                '[gail.quick.parking]\ngenerator_action_std = -1.0\n[gail.quick.few_demos]\nbc_loss_weight = 0.1\n')
    with pytest.raises(DrivebenchError, match=r"presets.toml, \[gail.quick.parking\]: generator_action_std = -1.0"):
        presets.resolve("gail", "quick", "parking")
    with pytest.raises(DrivebenchError, match=r"presets.toml, \[gail.quick\]: bc_loss_weight = -1, .*in range there"):
        presets.resolve("gail", "quick", "curve", {"demos": 5})
    assert presets.resolve("gail", "quick", "curve")["bc_loss_weight"] == 0.1  # the few-demo table's, in range


@pytest.mark.parametrize("algo", ["gail", "airl"])
def test_the_few_demo_condition_gets_the_few_demo_recipe(algo):
    """The suite's few-demo count is within GAIL's and AIRL's few_demos_max and its standard count is not, on every
    family: `<algo>-4demos` trains with the recipe, `<algo>` without it, and the training key says which."""
    from drivebench.leaderboard import official_suite
    from drivebench.agents.train import train_key

    suite = official_suite()
    recipe = presets._table()[algo]["standard"][presets.FEW_DEMOS]
    for family in ("curve", "parking"):
        few = presets.resolve(algo, "standard", family, {"demos": suite.few_demos})
        standard = presets.resolve(algo, "standard", family, {"demos": suite.demos})
        assert all(few[k] == v for k, v in recipe.items())
        assert standard == {**presets.load_preset(algo, "standard", family), "demos": suite.demos}
    assert train_key(algo, "parking-empty", demos=None, overrides={"demos": 4}) != train_key(
        algo, "parking-empty", overrides={"demos": 4, "few_demos_max": 0})


def test_train_rejects_bad_input(tmp_path):
    with pytest.raises(DrivebenchError, match="unknown algorithm"):
        train("sac", "curve-gentle", out=tmp_path / "x", preset="quick")
    with pytest.raises(DrivebenchError, match="demos of parking-empty"):
        train("bc", "curve-gentle", out=tmp_path / "x", preset="quick",
              demos=REPO_ROOT / "expert_data" / "parking-empty" / "tidy")


@pytest.mark.parametrize("algo", ["bc", "gail"])
def test_one_demo_trains_even_with_a_batch_larger_than_the_data(algo, tmp_path):
    """A data-efficiency sweep starts at one demo (~90 transitions), fewer than the standard batches."""
    over = {"demos": 1, "batch_size": 256, **({"demo_batch_size": 512} if algo == "gail" else {})}
    result = train(algo, "curve-gentle", out=tmp_path / algo, preset="quick", overrides=over, progress=False)
    assert result.usage.demo_episodes == 1 and result.usage.demo_transitions < 256
    assert result.config["hyperparameters"]["demos"] == 1


def test_unknown_overrides_are_refused(tmp_path):
    with pytest.raises(DrivebenchError, match="no hyperparameter"):
        train("bc", "curve-gentle", out=tmp_path / "x", preset="quick", overrides={"epochs": 3})


def test_ppo_on_airls_learned_reward(trained, tmp_path):
    """Inverse RL in its classic form: a fresh PPO policy trained on the reward an AIRL agent learned."""
    airl = trained[("airl", "curve-gentle")].out
    (tmp_path / "tmp").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
        result = train("ppo", "curve-gentle", out=tmp_path / "ppo", preset="quick", reward_from=airl,
                       progress=False)
    assert not list((tmp_path / "tmp").iterdir())  # SB3 makes a log folder there unless given a logger
    assert result.config["reward_from"]["agent_hash"] == checkpoints.agent_hash(airl)
    assert result.usage.env_steps >= 512 and result.usage.expert_queries == 0 and result.usage.demo_episodes == 0
    records = evaluate(str(result.out), "curve-gentle", seeds=[1_000_000], workers=1, progress=False)
    assert records[0].metrics.termination != "invalid_action"
    net, _ = reward_rl.load_reward_net(airl)
    obs = np.zeros((3, 28), np.float32)
    assert net.base.predict_processed(obs, np.zeros((3, 2), np.float32), obs, np.zeros(3, bool)).shape == (3,)


def test_reward_from_needs_an_airl_agent(trained, tmp_path):
    bc, airl = trained[("bc", "curve-gentle")].out, trained[("airl", "curve-gentle")].out
    with pytest.raises(DrivebenchError, match="has no learned reward to reuse"):
        train("ppo", "curve-gentle", out=tmp_path / "a", preset="quick", reward_from=bc)
    with pytest.raises(DrivebenchError, match="cannot drive parking-empty"):
        train("ppo", "parking-empty", out=tmp_path / "b", preset="quick", reward_from=airl)
    with pytest.raises(DrivebenchError, match="goes with --algo ppo"):
        train("ppo", "curve-gentle", out=tmp_path / "c", preset="quick")
    with pytest.raises(DrivebenchError, match="is for --algo ppo"):
        train("bc", "curve-gentle", out=tmp_path / "d", preset="quick", reward_from=airl)


CALLBACK_RUNS = {"bc": "parking-empty", "dagger": "curve-gentle", "gail": "parking-empty", "airl": "curve-gentle",
                 "ppo": "curve-gentle"}
"""One scenario per algorithm for the callback tests (ppo on the reward of the `training` fixture's AIRL agent)."""


def _weights(result) -> dict[str, torch.Tensor]:
    return checkpoints.load_policy(result.out)[0].state_dict()


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _train_for_callback(algo, out, trained, callback):
    reward_from = trained[("airl", "curve-gentle")].out if algo == "ppo" else None
    return train(algo, CALLBACK_RUNS[algo], out=out, preset="quick", seed=0, progress=False,
                 reward_from=reward_from, callback=callback)


@pytest.fixture(scope="module")
def observed(trained, tmp_path_factory):
    """Each algorithm of CALLBACK_RUNS trained as the `training` fixture trains it, with a callback that only
    observes: the run (`result`), what the callback was shown each round with a copy of the weights then (`seen`),
    and the weights of the same run without a callback (`baseline`: the `training` fixture's; ppo's trained here)."""
    root = tmp_path_factory.mktemp("observed")
    runs = {}
    for algo, scenario in CALLBACK_RUNS.items():
        seen = []

        def observe(progress, seen=seen):
            seen.append((progress, deepcopy(progress.policy.state_dict())))

        baseline = (_weights(_train_for_callback(algo, root / "ppo-baseline", trained, None)) if algo == "ppo"
                    else _weights(trained[(algo, scenario)]))
        runs[algo] = SimpleNamespace(result=_train_for_callback(algo, root / algo, trained, observe), seen=seen,
                                     baseline=baseline)
    return runs


@pytest.mark.parametrize("algo", CALLBACK_RUNS)
def test_an_observing_callback_trains_the_same_weights_bit_for_bit(observed, algo):
    """The callback is an extension point, not a change: a run whose callback copies the weights every round
    trains the weights of a run without one (same seed), and the last round shows the final policy."""
    run = observed[algo]
    assert _same_weights(_weights(run.result), run.baseline)
    assert _same_weights(run.seen[-1][1], run.baseline)


@pytest.mark.parametrize("algo", CALLBACK_RUNS)
def test_the_callback_is_called_once_per_round_with_the_usage_so_far(observed, algo):
    run = observed[algo]
    shown = [progress for progress, _ in run.seen]
    hp = presets.load_preset(algo, "quick", registry.get(CALLBACK_RUNS[algo]).family)
    assert [p.round for p in shown] == list(range(1, len(shown) + 1)) and len(shown) >= 2
    assert len({p.rounds for p in shown}) == 1
    if algo == "dagger":  # rounds is its most: a round finishes its episodes, past round_steps
        assert len(shown) <= shown[0].rounds == math.ceil(hp["env_steps"] / hp["round_steps"])
    else:
        assert len(shown) == shown[0].rounds
    if algo == "bc":  # a round is a pass over the demos' batches
        batches = run.result.usage.demo_transitions // hp["batch_size"]
        assert shown[0].usage.gradient_steps == batches and shown[0].rounds == math.ceil(hp["gradient_steps"] / batches)
    if algo in ("gail", "airl", "ppo"):
        per_round = hp["n_steps"] * hp["n_envs"]
        assert [p.usage.env_steps for p in shown] == [k * per_round for k in range(1, len(shown) + 1)]
    for before, after in zip(shown, shown[1:]):
        assert after.usage.gradient_steps > before.usage.gradient_steps
        assert after.usage.env_steps >= before.usage.env_steps and after.usage.wall_time >= before.usage.wall_time
        assert after.usage.expert_queries >= before.usage.expert_queries
        assert (after.usage.demo_transitions, after.usage.demo_episodes) == (before.usage.demo_transitions,
                                                                           before.usage.demo_episodes)
    assert shown[-1].usage == replace(run.result.usage, wall_time=shown[-1].usage.wall_time)  # the final account
    assert not _same_weights(run.seen[0][1], run.seen[-1][1])  # the policy shown is the one training moves


@pytest.mark.parametrize("algo", CALLBACK_RUNS)
def test_a_callback_returning_true_stops_training_after_that_round(observed, trained, algo, tmp_path):
    """Early stopping: the run ends after the round whose callback returned True; its checkpoint is the policy
    after that round (the full run's first-round weights) and its usage counts that round only."""
    calls = []
    result = _train_for_callback(algo, tmp_path / algo, trained, lambda p: calls.append(p.round) or True)
    assert calls == [1]
    first, first_weights = observed[algo].seen[0]
    assert result.usage == replace(first.usage, wall_time=result.usage.wall_time)
    assert result.usage.gradient_steps < observed[algo].result.usage.gradient_steps
    assert result.config["usage"] == asdict(result.usage)
    assert _same_weights(_weights(result), first_weights)


@pytest.mark.parametrize("schedule, final_lr", [("constant", 1e-3), ("linear", 0.0)])
def test_bc_learning_rate_follows_its_schedule(schedule, final_lr):
    """lr_schedule = "linear" takes BC's learning rate from its preset value to 0 over the gradient steps."""
    from drivebench.agents import bc
    from drivebench.data import store
    from drivebench.scenarios import family as families

    demos = store.load(REPO_ROOT / "expert_data" / "curve-gentle" / "cautious").successful()[:2]
    hp = {**presets.load_preset("bc", "quick", "curve"), "learning_rate": 1e-3}
    learner = bc.trainer(families.get("curve").env_class(registry.get("curve-gentle").spec), demos, hp, np.random.default_rng(0))
    bc.train(learner, 10, schedule, progress=False)
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(final_lr)


def test_fewer_demos_than_the_preset_asks_for_warns(tmp_path):
    with pytest.warns(UserWarning, match="fewer than the 500"):
        train("bc", "curve-gentle", out=tmp_path / "x", preset="quick", overrides={"demos": 500}, progress=False)


@pytest.mark.parametrize("l2_weight", [0.0, 1e-2])
def test_bc_without_the_critic_trains_the_same_weights_as_imitations_loss(l2_weight):
    """bc.ActorLoss skips the value network that imitation's loss calculator runs and never uses: the weights
    after training are bit-identical to imitation's, with and without an L2 term."""
    from imitation.algorithms import bc as imitation_bc

    from drivebench.agents import bc
    from drivebench.data import store
    from drivebench.scenarios import family as families

    demos = store.load(REPO_ROOT / "expert_data" / "parking-empty" / "tidy").successful()[:2]
    hp = {**presets.load_preset("bc", "quick", "parking"), "l2_weight": l2_weight}
    env = families.get("parking").env_class(registry.get("parking-empty").spec)
    initial, weights = None, []
    for loss in (bc.ActorLoss, imitation_bc.BehaviorCloningLossCalculator):
        torch.manual_seed(0)
        learner = bc.trainer(env, demos, hp, np.random.default_rng(0))
        initial = {k: v.clone() for k, v in learner.policy.state_dict().items()}
        learner.loss_calculator = loss(hp["ent_weight"], l2_weight)
        bc.train(learner, 20, "linear", progress=False)
        weights.append(learner.policy.state_dict())
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not torch.equal(weights[0]["action_net.weight"], initial["action_net.weight"])  # training moved them


@pytest.mark.parametrize("family", ["curve", "parking"])
def test_no_preset_asks_for_more_demos_than_the_default_sets_hold(family):
    """The data layer records LEARNER_EPISODES for the agents without asking them: every preset must fit."""
    for preset in ("quick", "standard"):
        assert presets.most_demos(preset, family) <= LEARNER_EPISODES


# ---------------------------------------------------------------------------------------------- staleness
SMALL = {"demos": 2, "gradient_steps": 4, "batch_size": 32}
"""A BC run of a few gradient steps: enough to write a checkpoint."""


@pytest.fixture(scope="module")
def fresh_demos(tmp_path_factory):
    """Two parking-empty demos recorded by today's code (the shipped sets are re-recorded only by `drivebench run`)."""
    from drivebench.data import record

    return record.record("parking-empty", "tidy", episodes=2, root=tmp_path_factory.mktemp("demos"), progress=False)


@pytest.fixture(scope="module")
def small_run(fresh_demos, tmp_path_factory):
    """A BC checkpoint trained on `fresh_demos` with a callback that only observes."""
    return train("bc", "parking-empty", out=tmp_path_factory.mktemp("small") / "bc", demos=fresh_demos,
                 preset="quick", overrides=SMALL, progress=False, callback=lambda progress: None)


def test_training_refuses_stale_demos_naming_the_command_that_re_records_them(fresh_demos, tmp_path, monkeypatch,
                                                                              code_copy, code_edits):
    """After a simulator change, demos recorded by the old simulator are not trained on: the default set names
    `drivebench run`, any other its own `drivebench record` command."""
    from drivebench.data import record

    monkeypatch.setenv("DRIVEBENCH_EXPERT_DATA", str(tmp_path / "data"))
    record.record("parking-empty", "tidy", episodes=2, root=tmp_path / "data", progress=False)
    code_copy.edit(record.env_module("parking-empty"), code_edits[0])
    with pytest.raises(DrivebenchError, match=r"stale demos of parking-empty .*code.*`drivebench run`"):
        train("bc", "parking-empty", out=tmp_path / "a", preset="quick", overrides=SMALL, progress=False)
    with pytest.raises(DrivebenchError, match="drivebench record --scenario parking-empty --expert expert:tidy "
                                              "--episodes 2 --seed 0") as err:
        train("bc", "parking-empty", out=tmp_path / "b", demos=fresh_demos, preset="quick", overrides=SMALL,
              progress=False)
    assert str(fresh_demos) in str(err.value) and "drivebench run" not in str(err.value)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_run_whose_callback_never_stopped_it_records_its_train_key(small_run, fresh_demos, tmp_path):
    from drivebench.agents.train import train_key

    assert small_run.config["train_key"] == train_key("bc", "parking-empty", preset="quick", demos=fresh_demos,
                                                      overrides=SMALL)
    stopped = train("bc", "parking-empty", out=tmp_path / "stopped", demos=fresh_demos, preset="quick",
                    overrides=SMALL, progress=False, callback=lambda progress: True)
    assert stopped.config["train_key"] is None  # its weights are no full run's


@pytest.mark.parametrize("package", ["torch", "stable-baselines3", "imitation", "numpy"])
def test_the_train_key_covers_the_learning_libraries_versions(fresh_demos, upgrade, package):
    from drivebench.agents.train import train_key

    key = train_key("bc", "parking-empty", preset="quick", demos=fresh_demos)
    upgrade("highway-env")  # the demos' business (their key), not the training's
    assert train_key("bc", "parking-empty", preset="quick", demos=fresh_demos) == key
    upgrade(package)
    assert train_key("bc", "parking-empty", preset="quick", demos=fresh_demos) != key


def test_agent_json_records_the_observation_and_another_one_is_refused(small_run, tmp_path):
    """The checkpoint says which observation config it was trained on; a scenario whose default observation is
    another is refused naming both; an agent.json written before the field existed reads as the default."""
    assert small_run.config["observation"] == {"type": "ego"}
    spec = registry.get("parking-empty").spec
    load_policy(str(small_run.out)).check_scenario(spec)
    other = shutil.copytree(small_run.out, tmp_path / "other")
    config = json.loads((other / checkpoints.CONFIG).read_text())
    (other / checkpoints.CONFIG).write_text(json.dumps({**config, "observation": {"type": "lidar", "rays": 8}}))
    with pytest.raises(DrivebenchError, match=r'observation \{"rays": 8, "type": "lidar"\} and cannot drive '
                                              r'parking-empty, whose observation is \{"type": "ego"\}'):
        load_policy(str(other)).check_scenario(spec)
    assert checkpoints.agent_hash(other) != checkpoints.agent_hash(small_run.out)
    del config["observation"]
    (other / checkpoints.CONFIG).write_text(json.dumps(config))
    load_policy(str(other)).check_scenario(spec)
    assert checkpoints.agent_hash(other) == checkpoints.agent_hash(small_run.out)


def test_a_checkpoints_hash_covers_the_code_that_rebuilds_its_policy(small_run, code_copy, code_edits):
    change, cosmetic = code_edits
    before = checkpoints.agent_hash(small_run.out)
    code_copy.edit("drivebench.agents.checkpoints", cosmetic)
    assert checkpoints.agent_hash(small_run.out) == before
    code_copy.edit("drivebench.agents.checkpoints", change)
    changed = checkpoints.agent_hash(small_run.out)
    assert changed != before
    code_copy.edit("drivebench.agents.networks", change)  # in its closure
    assert checkpoints.agent_hash(small_run.out) != changed
