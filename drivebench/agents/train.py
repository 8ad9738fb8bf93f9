"""Train an agent on a scenario's recorded demos: `train(algo, scenario, out=...)` -> TrainResult.

Algorithms (aliases): bc, dagger, gail, airl. Each `fit(demos, make_env, expert, hp, rng, seed, callback=None)`
returns a `Fitted`; hyperparameters come from presets.toml; the result is saved as a checkpoint (checkpoints.py).
`callback` is called after each round of training with a base.TrainProgress, and stops it by returning True
(base.Callback).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from drivebench.agents import adversarial, bc, checkpoints, dagger, presets, reward_rl
from drivebench.agents.base import Callback, Fitted
from drivebench.core import keys
from drivebench.core.budget import BudgetUsage
from drivebench.data import record, store
from drivebench.errors import DrivebenchError
from drivebench.experts.registry import experts_for, get_expert
from drivebench.paths import expert_data_dir
from drivebench.scenarios import registry
from drivebench.scenarios import family as families

FIT = {
    "bc": bc.fit,
    "dagger": dagger.fit,
    "gail": functools.partial(adversarial.fit, kind="gail"),
    "airl": functools.partial(adversarial.fit, kind="airl"),
    "ppo": reward_rl.fit,  # on an AIRL agent's learned reward: needs reward_from
}
ADVERSARIAL = ("gail", "airl")
ALGORITHMS = ("bc", "dagger", *ADVERSARIAL)
"""The algorithms that learn from demos (the leaderboard's); `ppo` learns from a learned reward instead."""
LEARNING_PACKAGES = ("torch", "stable-baselines3", "imitation", "numpy")
"""The third-party distributions whose code trains (the networks, PPO, BC/DAgger/GAIL/AIRL, the arithmetic): their
installed versions are in the train key."""


@dataclass(frozen=True)
class TrainResult:
    out: Path
    """the checkpoint folder"""
    config: dict
    """its agent.json"""
    usage: BudgetUsage


def default_demos(scenario: str) -> Path:
    """The scenario's default demo set: its first expert's (cautious on curves; tidy or reverse for parking)."""
    entry = registry.get(scenario)
    return store.demo_dir(expert_data_dir(), entry.name, experts_for(entry.spec)[0].id)


@contextlib.contextmanager
def global_random_states_kept():
    """Python's, numpy's and torch's global random states as they were before the block: a callback that draws
    from them (evaluating the policy, say) changes no weight of the run it watches."""
    python, numpy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng():
        yield
    random.setstate(python)
    np.random.set_state(numpy)


def train_key(algo: str, scenario: str, *, preset: str = "standard", seed: int = 0, demos: str | Path | None = None,
              overrides: dict | None = None, reward_from: str | Path | None = None) -> str:
    """The content key of a training run's result (core/keys.py): the algorithm, its resolved hyperparameters
    (presets.resolve: the preset's, its few-demo recipe where it applies, `overrides`), the scenario spec's hash,
    the demo data's sha256 (`demos`, default the scenario's default set), the seed, the learned reward's weights for ppo (`reward_from`), the code key of
    the training closure: this module's imports (the agents' code), the env class `train` builds and the demos'
    expert, and the installed versions of the learning libraries (LEARNING_PACKAGES). `train` records it in
    agent.json (`train_key`; None for a run its callback stopped early); the pipeline names checkpoint folders by
    it, and the style experiment and benchmarks reuse a checkpoint whose recorded key equals it."""
    entry = registry.get(scenario)
    manifest = store.read_manifest(Path(demos) if demos else default_demos(entry.name))
    expert = get_expert(manifest["expert"]["id"])
    hp = presets.resolve(algo, preset, entry.family, overrides)
    env_module = families.get(entry.family).env_class.__module__
    content = {"algo": algo, "hyperparameters": hp, "scenario_hash": entry.hash, "seed": seed,
               "demos": manifest["files"][store.DATA_FILE]["sha256"],
               "code": keys.code_key(__name__, env_module, type(expert).__module__),
               "versions": keys.versions(*LEARNING_PACKAGES)}
    if reward_from is not None:
        content["reward_from"] = checkpoints.read_config(reward_from)["files"].get(checkpoints.REWARD)
    if algo in ADVERSARIAL and hp["warm_start_bc"]:
        content["warm_start"] = train_key("bc", scenario, preset=preset, seed=seed, demos=demos,
                                          overrides=warm_start_overrides(hp))
    return keys.content_key(content)


def train(algo: str, scenario: str, *, out: str | Path, demos: str | Path | None = None, preset: str = "standard",
          seed: int = 0, overrides: dict | None = None, progress: bool = True,
          reward_from: str | Path | None = None, callback: Callback | None = None,
          warm_start: str | Path | None = None) -> TrainResult:
    """Train `algo` on `scenario`'s demos with a preset's hyperparameters (and `overrides` of some of them, as
    sweeps do); save the checkpoint to `out`. `ppo` trains on the reward of the AIRL agent in `reward_from`.
    GAIL and AIRL start from the BC agent of the same scenario, demos, seed and preset (`warm_start_bc`): the
    checkpoint in `warm_start` if it is that agent, else one trained here (and saved to `warm_start` if given, as
    the pipeline's `bc` job would: the same weights). `callback(progress)` is called after each round of training
    (base.Callback: BC's pass over the demos, DAgger's round, the GAIL/AIRL/PPO generator's round) with a
    base.TrainProgress; returning True stops training there, and the checkpoint saved is that round's policy, its
    config's "usage" what was spent (its hyperparameters stay those asked for). A callback that only observes
    changes no weight. The demos must be current (data/record.require_current: recorded by today's simulator,
    expert and spec); stale ones are refused with the command that re-records them."""
    fitted, config = _fit(algo, scenario, demos=demos, preset=preset, seed=seed, overrides=overrides,
                          progress=progress, reward_from=reward_from, callback=callback, warm_start=warm_start)
    path = checkpoints.save(out, policy=fitted.policy, config=config, reward_net=fitted.reward_net)
    return TrainResult(path, checkpoints.read_config(path), fitted.usage)


def _fit(algo: str, scenario: str, *, demos: str | Path | None, preset: str, seed: int, overrides: dict | None,
         progress: bool, reward_from: str | Path | None, callback: Callback | None,
         warm_start: str | Path | None) -> tuple[Fitted, dict]:
    """train() without the saving: the fitted agent and its agent.json."""
    if algo not in FIT:
        raise DrivebenchError(f"unknown algorithm {algo!r}; known: {', '.join(FIT)}")
    if (algo == "ppo") != (reward_from is not None):
        raise DrivebenchError("--reward-from AIRL_DIR goes with --algo ppo (a fresh policy on AIRL's learned reward)"
                              if algo == "ppo" else f"--reward-from is for --algo ppo, not {algo}")
    entry = registry.get(scenario)
    env_class = families.get(entry.family).env_class
    features = [name for name, _ in families.get(entry.family).observation_features]
    observation = dict(env_class.default_config()["observation"])  # the envs below are made with no config
    extra, reward_source = {}, None
    if reward_from is not None:
        net, source = reward_rl.load_reward_net(reward_from)
        checkpoints.check_compatible(source, reward_from, entry.name, features, observation)
        extra = {"reward_net": net}
        reward_source = {"path": str(reward_from), "agent_hash": checkpoints.agent_hash(reward_from),
                         "scenario": source["scenario"]}
    hp = presets.resolve(algo, preset, entry.family, overrides)
    demo_path = Path(demos) if demos else default_demos(entry.name)
    demo_set = store.load(demo_path)
    if not demo_set.has_actions:
        raise DrivebenchError(f"{demo_path}: demos recorded without actions; {algo} learns from actions (the "
                              "third-person experiment, `drivebench thirdperson`, learns from observations alone)")
    if demo_set.manifest["observation_features"] != features:
        raise DrivebenchError(f"{demo_path}: demos of {demo_set.scenario}, whose observations differ from "
                              f"{entry.name}'s; pass demos recorded on a {entry.family} scenario")
    recorded_on = demo_set.manifest.get("observation", checkpoints.DEFAULT_OBSERVATION)
    if recorded_on != observation:
        raise DrivebenchError(f"{demo_path}: demos observed as {recorded_on}, but {entry.name} trains on "
                              f"{observation}; record demos with that observation")
    record.require_current(demo_path)
    episodes = demo_set.successful()[: hp["demos"]]
    if not episodes:
        raise DrivebenchError(f"{demo_path}: no successful demo episodes to learn from")
    if len(episodes) < hp["demos"]:
        warnings.warn(f"{demo_path}: {len(episodes)} successful demos, fewer than the {hp['demos']} that {algo} "
                      f"{preset} asks for; training on {len(episodes)} (record more with `drivebench record "
                      f"--episodes {hp['demos']}`)", stacklevel=2)
    key = train_key(algo, entry.name, preset=preset, seed=seed, demos=demo_path, overrides=overrides,
                    reward_from=reward_from)
    stopped = []  # a callback that stops the run makes a checkpoint no other run's key describes

    def watched(progress) -> bool:
        with global_random_states_kept():  # SB3 samples the generator's actions from torch's global RNG
            stop = callback(progress)
        if stop:
            stopped.append(progress.round)
        return stop

    if algo in ADVERSARIAL and hp["warm_start_bc"]:
        extra["warm_start"] = _bc_warm_start(entry.name, demo_path, preset, seed, warm_start_overrides(hp),
                                             warm_start, progress)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # the same arithmetic on every machine, and parallel runs do not oversubscribe
    start = time.perf_counter()
    fitted = FIT[algo](demos=episodes, make_env=lambda: env_class(entry.spec), expert=get_expert(demo_set.expert),
                       hp=hp, rng=rng, seed=seed, progress=progress, callback=watched if callback else None,
                       **extra)
    config = {
        "algo": algo, "scenario": entry.name, "family": entry.family, "scenario_hash": entry.hash,
        "observation_features": features, "observation": observation,
        "network": {"net_arch": hp["net_arch"], "activation": hp["activation"]},
        "preset": preset, "hyperparameters": hp, "budget": dataclasses.asdict(presets.budget(hp)),
        "usage": dataclasses.asdict(fitted.usage), "seed": seed,
        "demos": {"path": str(demo_path), "expert": demo_set.expert, "episodes": len(episodes),
                  "data_sha256": demo_set.manifest["files"][store.DATA_FILE]["sha256"]},
        "versions": store.package_versions(), "train_seconds": round(time.perf_counter() - start, 3),
        "train_key": None if stopped else key,
        **({"reward_from": reward_source} if reward_source else {}),
    }
    return fitted, config


def warm_start_overrides(hp: dict) -> dict:
    """The `bc` preset's overrides that make the BC agent a GAIL/AIRL run (hyperparameters `hp`) starts from: its
    demos and network (the generator's; the same as BC's in the shipped presets, so the key is the `bc` job's)."""
    return {"demos": hp["demos"], "net_arch": hp["net_arch"], "activation": hp["activation"]}


def _bc_warm_start(scenario: str, demos: Path, preset: str, seed: int, overrides: dict, folder: str | Path | None,
                   progress: bool) -> Fitted:
    """The BC agent GAIL and AIRL start from: `bc` with the same preset, demos, network and seed. Read from `folder`
    if it holds that agent; else trained (bit for bit what `train("bc", ...)` trains) and saved there, replacing
    anything else."""
    key = train_key("bc", scenario, preset=preset, seed=seed, demos=demos, overrides=overrides)
    if folder is not None and _holds(folder, key):
        try:
            usage = BudgetUsage(**checkpoints.read_config(folder)["usage"])
            return Fitted(checkpoints.load_policy(folder)[0], usage)
        except (DrivebenchError, KeyError, TypeError):  # damaged: trained again below
            pass
    fitted, config = _fit("bc", scenario, demos=demos, preset=preset, seed=seed, overrides=overrides,
                          progress=progress, reward_from=None, callback=None, warm_start=None)
    if folder is not None:
        try:
            checkpoints.save(folder, policy=fitted.policy, config=config)
        except OSError:  # another run saved the same agent there at the same moment
            if not _holds(folder, key):
                raise
    return fitted


def _holds(folder: str | Path, key: str) -> bool:
    """Does `folder` hold the checkpoint of the training run whose key is `key`?"""
    try:
        return checkpoints.read_config(folder).get("train_key") == key
    except DrivebenchError:
        return False
