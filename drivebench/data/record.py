"""Record an expert driving a scenario over a range of demo seeds into a demo set (see store.py)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium
import numpy as np
from tqdm import tqdm

from drivebench.core import keys
from drivebench.data import store
from drivebench.errors import DrivebenchError, UnknownIdError
from drivebench.core.rollout import expert_policy, run_episode
from drivebench.experts.registry import experts_for, get_expert
from drivebench.paths import expert_data_dir
from drivebench.scenarios import frames, registry
from drivebench.seeds import DEMO_SEEDS

DEFAULT_EPISODES = 20
"""Episodes per (scenario, expert) in a default demo set: small enough for git, regenerable bit for bit."""
LEARNER_EPISODES = 50
"""Episodes in the default set of each scenario's first expert, the one the agents learn from: the most demos a
preset may ask for (tests/agents checks every preset against it; the data layer does not ask the agents)."""
ROLLOUT = run_episode.__module__
"""The module of the rollout loop that drives the expert (core/rollout.py), named from the function recording calls."""


def record(scenario: str, expert: str, episodes: int | None = None, seed: int = 0,
           root: Path | None = None, progress: bool = True, observation: dict | None = None,
           actions: bool = True) -> Path:
    """Drive `episodes` (default DEFAULT_EPISODES) episodes with seeds seed, seed+1, ... and save them;
    returns the demo folder. `observation`: the env's observation config, i.e. the frame the demos are seen in
    (default: the ego frame; `{"type": "world"}` records third-person demos into `<style>@world`, store.demo_dir).
    Without `actions` the action column is NaN and the manifest says `"actions": false` (imitation from
    observation). The expert drives from the env's true state, so every frame of a seed is the same drive.
    Refused (DrivebenchError): a set without actions in the ego frame (it would take the place of the default set,
    `<style>/`, that the agents learn from), and an observation config with settings besides its `type` (the
    follower's `lag` and `gap`: the folder name and the staleness check know the type only)."""
    episodes = DEFAULT_EPISODES if episodes is None else episodes
    entry, ex = registry.get(scenario), get_expert(expert)
    kind = (observation or store.DEFAULT_OBSERVATION).get("type", store.DEFAULT_OBSERVATION["type"])
    if observation and set(observation) != {"type"}:
        raise DrivebenchError(f"demos are recorded with a frame's default settings only (`--observation TYPE`); got "
                              f"{dict(observation)!r}")
    if not actions and kind == store.DEFAULT_OBSERVATION["type"]:
        others = "|".join(t for t in frames.TYPES if t != kind)
        default = store.demo_dir(root or expert_data_dir(), entry.name, ex.id)
        raise DrivebenchError(f"--no-actions records third-person demos: give --observation {others} with it (in the "
                              f"ego frame the set would replace {default}, the default set the agents learn from)")
    reason = ex.supports(entry.spec)
    if reason:
        raise DrivebenchError(f"{ex.id} does not drive {entry.name}: {reason}")
    seeds = list(range(seed, seed + episodes))
    if episodes < 1 or seeds[0] not in DEMO_SEEDS or seeds[-1] not in DEMO_SEEDS:
        raise DrivebenchError(f"demo seeds must lie in [{DEMO_SEEDS.start}, {DEMO_SEEDS.stop}) (evaluation uses "
                              f"the seeds above); got {seed}..{seed + episodes - 1}")
    env = gymnasium.make(entry.id, **({"config": {"observation": dict(observation)}} if observation else {}))
    policy = expert_policy(ex)
    recorded = [run_episode(env, policy, s)
                for s in tqdm(seeds, desc=f"record {entry.name} {ex.id}", unit="ep", disable=not progress,
                              leave=False)]
    env.close()
    if not actions:
        recorded = [dataclasses.replace(e, actions=np.full_like(e.actions, np.nan)) for e in recorded]
    frame = dict(env.unwrapped.config["observation"])
    options = "".join([f" --observation {frame['type']}" if frame != store.DEFAULT_OBSERVATION else "",
                       "" if actions else " --no-actions"])
    manifest = {
        "format": "drivebench-demos",
        "scenario": {"id": entry.id, "name": entry.name, "spec": entry.spec.model_dump(mode="json"),
                     "spec_hash": entry.hash},
        "expert": expert_record(ex),
        "code_key": demo_key(entry.name, ex.id),
        "seeds": seeds,
        "episodes": [{"seed": e.seed, "steps": e.steps, "termination": e.termination,
                      "return": round(float(e.rewards.sum()), 6)} for e in recorded],
        "observation_features": [name for name, _ in env.unwrapped.observation_type.FEATURES],
        "observation": frame,
        **({} if actions else {"actions": False}),  # absent: recorded with actions (every set before issue 19)
        "signals": [name for name, _ in env.unwrapped.SIGNALS],
        "action": {"names": ["acceleration", "steering"], "low": -1.0, "high": 1.0},
        "versions": store.package_versions(),
        "command": f"drivebench record --scenario {entry.name} --expert {ex.id} --episodes {episodes} --seed {seed}"
                   f"{options}",
    }
    out = store.demo_dir(root or expert_data_dir(), entry.name, ex.id, frame)
    return store.save(out, manifest, recorded)


def expert_record(expert) -> dict:
    return {"id": expert.id, "family": expert.family, "style": dataclasses.asdict(expert.style)}


def env_module(scenario: str) -> str:
    """The module of the env class that `gymnasium.make` builds for a scenario (its registered entry point)."""
    entry_point = gymnasium.spec(registry.get(scenario).id).entry_point
    return entry_point.partition(":")[0] if isinstance(entry_point, str) else entry_point.__module__


def demo_key(scenario: str, expert: str) -> str:
    """The key of the code that records a demo set (core/keys.py): the code key of the closures of the scenario's
    env module, the expert's module and the rollout (ROLLOUT), and the installed versions of the simulator's
    third-party distributions (keys.SIMULATOR_PACKAGES). The scenario spec and the expert's style are keyed apart
    (spec_hash, style)."""
    return keys.content_key({"code": keys.code_key(env_module(scenario), type(get_expert(expert)).__module__, ROLLOUT),
                             "versions": keys.versions(*keys.SIMULATOR_PACKAGES)})


def default_demo_sets() -> list[tuple[str, str, int]]:
    """(scenario name, expert id, episodes) for every scenario and every expert meant for it. The set of a
    scenario's first expert, the one the agents learn from, holds LEARNER_EPISODES; every other DEFAULT_EPISODES."""
    return [(e.name, ex.id, LEARNER_EPISODES if i == 0 else DEFAULT_EPISODES)
            for e in registry.entries() for i, ex in enumerate(experts_for(e.spec))]


def stale_because(folder: Path, scenario: str, expert: str, observation: dict | None = None,
                  actions: bool = True) -> str | None:
    """What changed since a demo set was recorded (schema, scenario spec, expert style, code: the simulator's,
    the expert's or the rollout's, or the simulator's third-party versions, `demo_key`), or what differs from the
    set wanted (its `frame`, `observation`, default: the ego frame; whether it has `actions`), or None if it is
    current. Raises DemoDataError if the set is damaged: an edited set is never silently replaced."""
    if store.read_manifest_raw(folder).get("schema_version") != store.SCHEMA_VERSION:
        return "schema"
    manifest = store.verify(folder)
    recorded = manifest.get("versions", {})
    upgraded = any(recorded.get(name) != version for name, version in keys.versions(*keys.SIMULATOR_PACKAGES).items())
    changed = [what for what, differs in (
        ("scenario spec", manifest["scenario"]["spec_hash"] != registry.get(scenario).hash),
        ("expert", manifest["expert"] != expert_record(get_expert(expert))),
        ("third-party versions", upgraded),
        ("code", not upgraded and manifest.get("code_key") != demo_key(scenario, expert)),
        ("frame", dict(manifest.get("observation") or store.DEFAULT_OBSERVATION) !=
         dict(observation or store.DEFAULT_OBSERVATION)),
        ("actions", manifest.get("actions", True) != actions)) if differs]
    return " and ".join(changed) or None


def require_current(folder: Path) -> dict:
    """The manifest of a demo set that today's code would record (stale_because is None); else DrivebenchError
    naming the set, what changed and the command that re-records it (`drivebench run` for a default set, which
    refreshes them all; the manifest's own `drivebench record ...` command otherwise). DemoDataError for a damaged
    or missing set."""
    folder = Path(folder)
    manifest = store.read_manifest_raw(folder)
    scenario, expert = manifest.get("scenario", {}).get("name"), manifest.get("expert", {}).get("id")
    command = manifest.get("command") or f"drivebench record --scenario {scenario} --expert {expert}"
    try:
        default = any((scenario, expert) == (s, e) for s, e, _ in default_demo_sets()) and \
            folder.resolve() == store.demo_dir(expert_data_dir(), scenario, expert).resolve()
        # a default set must be the ego frame with actions; any other set is what its manifest says it is
        wanted = {} if default else {"observation": manifest.get("observation"),
                                     "actions": manifest.get("actions", True)}
        why = stale_because(folder, scenario, expert, **wanted)
    except UnknownIdError as err:
        raise DrivebenchError(f"{folder}: demos of {scenario} by {expert}, which this drivebench does not know "
                              f"({err}), so whether they are current cannot be told") from None
    if why:
        fix = f"`drivebench run` (it refreshes the default demo sets) or `{command}`" if default else f"`{command}`"
        raise DrivebenchError(f"{folder}: stale demos of {scenario} by {expert} (what changed since they "
                              f"were recorded, or is not as wanted: {why}); re-record them: {fix}")
    return store.read_manifest(folder)


def ensure_default_demos(root: Path | None = None, progress: bool = True) -> list[tuple[str, str, str]]:
    """Record the default demo sets that are missing, stale or short of episodes (from the same first seed as
    before); verify the others.

    Returns (scenario, expert, what happened) rows: 'recorded', 're-recorded (... changed)',
    're-recorded (N episodes, M wanted)' or 'verified'.
    """
    root = root or expert_data_dir()
    done = []
    for scenario, expert, episodes in default_demo_sets():
        folder = store.demo_dir(root, scenario, expert)
        if not (folder / store.MANIFEST_FILE).exists():
            record(scenario, expert, episodes=episodes, root=root, progress=progress)
            done.append((scenario, expert, "recorded"))
        elif why := stale_because(folder, scenario, expert):
            seeds = store.read_manifest_raw(folder)["seeds"]
            record(scenario, expert, episodes=max(episodes, len(seeds)), seed=seeds[0], root=root, progress=progress)
            done.append((scenario, expert, f"re-recorded ({why} changed)"))
        elif len(seeds := store.read_manifest(folder)["seeds"]) < episodes:
            record(scenario, expert, episodes=episodes, seed=seeds[0], root=root, progress=progress)
            done.append((scenario, expert, f"re-recorded ({len(seeds)} episodes, {episodes} wanted)"))
        else:
            done.append((scenario, expert, "verified"))
    return done
