"""The third-person imitation experiment (issue 19): can a learner that drives in its own ego frame learn from demos
seen from outside (a fixed overhead camera: the world frame; a vehicle behind it: the follower's frame)?

`run_experiment(config)`:
1. records the scenario's first expert on its default set's seeds twice under `out/demos/`: in the ego frame
   (`<style>`) and in the demonstrator's frame without actions (`<style>@<frame>`): the same drives, seen from
   outside (the expert acts from the env's true state, so the frame changes nothing it does);
2. for each training run (seed 0, 1, ...): drives a poor policy (uniform random actions) on the same seeds in the
   ego frame and in the demonstrator's frame, then trains the four methods of agents/thirdperson.py (METHODS) with
   the `thirdperson` preset, and measures each discriminator's domain probe on the demos seen in both frames;
3. evaluates every learned agent with the shared harness (eval/harness) on the evaluation seeds (no database: these
   agents are experiment artefacts, as the style experiment's are);
4. reports per method success, crash and off-road rates and the driving score (the mean over runs of each run's
   mean, with rliable's stratified bootstrap over runs: eval/stats), the share of the floor-to-ceiling gap each
   closes (driving score; bootstrap over each method's runs) and the probe's accuracy.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import numpy as np
import torch

from drivebench.agents import checkpoints, presets
from drivebench.agents import thirdperson as tp
from drivebench.core.records import EpisodeRecord
from drivebench.data import record, store
from drivebench.errors import DrivebenchError
from drivebench.eval import stats
from drivebench.eval.harness import Request, evaluate_many
from drivebench.experts.registry import experts_for
from drivebench.paths import expert_data_dir
from drivebench.scenarios import family as families
from drivebench.scenarios import registry
from drivebench.seeds import demo_seeds, eval_seeds
from drivebench.thirdperson import FRAMES, METHODS

ALGO = "thirdperson"
"""the presets.toml table"""
POOR_SEEDS_START = 90_000
"""the poor policy's episodes use demo seeds from here (run r: + 1000 r), above any default demo set's"""


@dataclass(frozen=True)
class ThirdPersonConfig:
    scenario: str
    frame: str = "world"
    preset: str = "standard"
    runs: int | None = None
    """training runs per method (seeds 0 .. runs - 1); None: the preset's"""
    episodes: int | None = None
    """evaluation episodes per agent; None: the preset's"""
    domain_weight: float | None = None
    """tpil's gradient-reversal weight lambda; None: the preset's"""
    poor_ego_negatives: bool | None = None
    """tpil: the poor policy's ego-frame drives as negatives too (agents/thirdperson.Sources); None: the preset's"""
    methods: tuple[str, ...] = METHODS
    """the methods to train (a lambda sweep may train tpil alone); the gap needs first_person and naive"""
    overrides: tuple[tuple[str, object], ...] = ()
    """(key, value) pairs over the preset's hyperparameters (`--hp KEY=VALUE`), after the fields above"""
    out: Path = Path("reports/thirdperson")
    workers: int | None = 1
    progress: bool = True


@dataclass(frozen=True, eq=False)
class Run:
    """One trained agent of one method and one training run."""

    method: str
    run: int
    agent: str
    """its checkpoint folder (the harness's agent id)"""
    records: list[EpisodeRecord]
    probe: float
    """the domain probe's held-out accuracy on its discriminator's features"""
    history: list[dict]
    seconds: float


@dataclass(frozen=True, eq=False)
class ThirdPersonResult:
    config: ThirdPersonConfig
    hp: dict
    family: str
    runs: list[Run]
    demo_poses: list[np.ndarray]
    """the training demos' (T + 1, 4) poses, for the figure"""
    demo_sets: dict[str, str]
    seconds: float

    def of(self, method: str) -> list[Run]:
        return [r for r in self.runs if r.method == method]

    def to_json(self) -> dict:
        c = self.config
        trained = [m for m in METHODS if m in self.config.methods]
        per_run = {m: [_run_metrics(r) for r in self.of(m)] for m in trained}
        methods = {}
        for m in trained:
            rows = per_run[m]
            methods[m] = {
                **{name: _estimate([row[name] for row in rows]) for name in
                   ("success", "crash", "off_road", "driving_score", "route_completion", "probe")},
                "runs": rows,
                "history": [r.history for r in self.of(m)],
            }
        scores = {m: np.array([row["driving_score"] for row in per_run[m]]) for m in trained}
        gaps = {m: gap_closed(scores["first_person"], scores["naive"], scores[m]) if {"first_person", "naive"} <=
                set(trained) else {"value": None, "low": None, "high": None, "defined": 0.0} for m in trained}
        return {
            "scenario": c.scenario, "family": self.family, "frame": c.frame, "preset": c.preset,
            "methods_trained": trained, "runs": max((r.run + 1 for r in self.runs), default=0),
            "episodes": len(self.runs[0].records) if self.runs else 0,
            "eval_seeds": [r.seed for r in self.runs[0].records] if self.runs else [],
            "domain_weight": self.hp["domain_weight"], "hyperparameters": self.hp,
            "methods": methods, "gap_closed": gaps,
            "gap_metric": "driving score: (method - naive) / (first_person - naive), per-run means; interval: "
                          "percentile bootstrap resampling each method's runs independently",
            "intervals": "95% percentile bootstrap over training runs (rliable's stratified bootstrap, one task)",
            "probe": "held-out accuracy of a logistic regression telling the ego frame from the demonstrator's "
                     "frame in the discriminator's encoder features, on the expert's demos seen in both frames "
                     "(0.5: frame-invariant)",
            "demo_sets": self.demo_sets, "seconds": round(self.seconds, 1),
        }


def _run_metrics(r: Run) -> dict:
    m = [rec.metrics for rec in r.records]
    return {"run": r.run, "agent": r.agent, "success": float(np.mean([x.success for x in m])),
            "crash": float(np.mean([x.termination == "crashed" for x in m])),
            "off_road": float(np.mean([x.termination == "off_road" for x in m])),
            "driving_score": float(np.mean([x.driving_score for x in m])),
            "route_completion": float(np.mean([x.route_completion for x in m])),
            "probe": r.probe, "train_seconds": round(r.seconds, 1),
            "terminations": {t: sum(x.termination == t for x in m) for t in sorted({x.termination for x in m})}}


def _estimate(values: list[float]) -> dict:
    """Mean over runs with rliable's stratified bootstrap over runs (one task)."""
    e = stats.stratified_ci(np.asarray(values, float)[:, None], "mean", over="runs")
    return {"value": e.value, "low": e.low, "high": e.high}


def gap_closed(ceiling, floor, method, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """(mean(method) - mean(floor)) / (mean(ceiling) - mean(floor)) of per-run scores, with a percentile bootstrap
    that resamples each method's runs independently; value None where the ceiling does not beat the floor (no gap
    to close), resamples without a gap dropped (`defined`: the share kept)."""
    c, f, m = (np.asarray(x, float) for x in (ceiling, floor, method))
    span = c.mean() - f.mean()
    value = float((m.mean() - f.mean()) / span) if span > 1e-9 else None
    rng = np.random.default_rng(seed)
    draw = lambda x: x[rng.integers(0, len(x), (n_boot, len(x)))].mean(axis=1)  # noqa: E731
    cb, fb, mb = draw(c), draw(f), draw(m)
    ok = cb - fb > 1e-9
    if value is None or not ok.any():
        return {"value": value, "low": None, "high": None, "defined": float(ok.mean())}
    boot = (mb[ok] - fb[ok]) / (cb[ok] - fb[ok])
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"value": value, "low": float(low), "high": float(high), "defined": float(ok.mean())}


# ---------------------------------------------------------------------------------------------- inputs
def check_config(config: ThirdPersonConfig) -> dict:
    """The resolved hyperparameters; DrivebenchError for an unknown scenario, frame, preset, method or hyperparameter,
    or a value of the wrong type or range (`_checked`, naming the flag that gave it)."""
    entry = registry.get(config.scenario)
    declared = families.of(entry.spec).env_class.OBSERVATIONS
    if config.frame not in FRAMES or config.frame not in declared:
        raise DrivebenchError(f"--frame must be one of {', '.join(f for f in FRAMES if f in declared)}; got "
                              f"{config.frame!r}")
    preset = presets.load_preset(ALGO, config.preset, entry.family)
    hp = dict(preset)
    given = [(key, value, f"--{key.replace('_', '-')}") for key, value in (
        ("runs", config.runs), ("episodes", config.episodes), ("domain_weight", config.domain_weight),
        ("poor_ego_negatives", config.poor_ego_negatives)) if value is not None]
    unknown = [key for key, _ in config.overrides if key not in hp]
    if unknown:
        raise DrivebenchError(f"{ALGO} has no hyperparameter {', '.join(unknown)}; it has {', '.join(hp)}")
    given += [(key, value, f"--hp {key}={value!r}") for key, value in config.overrides]
    for key, value, flag in given:
        hp[key] = _checked(key, value, preset[key], flag)
    unknown = [m for m in config.methods if m not in METHODS]
    if unknown or not config.methods:
        raise DrivebenchError(f"unknown method {', '.join(map(repr, unknown)) or '(none given)'}; use a "
                              f"comma-separated list of {', '.join(METHODS)}")
    return hp


NON_NEGATIVE_COUNTS = {"disc_pretrain_steps", "domain_head_steps"}
"""the hyperparameters that count something and may be 0; every other count must be at least 1"""
POSITIVE_FLOATS = {"ppo_learning_rate", "disc_learning_rate", "clip_range"}
UNIT_FLOATS = {"gamma", "gae_lambda"}
"""in [0, 1]"""
ANY_FLOATS = {"log_std_init"}
"""any finite value; every other float (the weights: domain_weight, ent_coef) must be finite and >= 0"""


def _checked(key: str, value, like, flag: str):
    """`value` for hyperparameter `key` if it has the type of the preset's value `like` (an int is a float too) and
    a sane range, else DrivebenchError naming `flag`: counts >= 1 (or >= 0: NON_NEGATIVE_COUNTS), learning rates and
    the clip range > 0, gamma and gae_lambda in [0, 1], other floats finite and >= 0."""
    def bad(wanted: str):
        return DrivebenchError(f"{flag}: {key} must be {wanted} (the preset's is {like!r}), got {value!r}")

    def whole(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if isinstance(like, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if whole(like):
        low = 0 if key in NON_NEGATIVE_COUNTS else 1
        if not whole(value) or value < low:
            raise bad(f"a whole number >= {low}")
        return value
    if isinstance(like, float):
        if not (whole(value) or isinstance(value, float)) or not math.isfinite(value):
            raise bad("a finite number")
        value = float(value)
        if key in POSITIVE_FLOATS and value <= 0:
            raise bad("a number > 0")
        if key in UNIT_FLOATS and not 0 <= value <= 1:
            raise bad("a number in [0, 1]")
        if key not in POSITIVE_FLOATS | UNIT_FLOATS | ANY_FLOATS and value < 0:
            raise bad("a number >= 0")
        return value
    if isinstance(like, list):
        if not (isinstance(value, list) and value and all(whole(v) and v >= 1 for v in value)):
            raise bad("a non-empty list of whole numbers >= 1, e.g. [64, 64]")
        return value
    if not isinstance(value, type(like)):
        raise bad(f"a {type(like).__name__}")
    return value


def demo_sets(config: ThirdPersonConfig, episodes: int) -> tuple[store.DemoSet, store.DemoSet, dict[str, str]]:
    """(the ego-frame set, the same drives in the demonstrator's frame without actions, their folders), both under
    out/demos/ and recorded there when missing or stale: the scenario's first expert on the seeds of its default set
    (from seed 0 when there is none), its first `episodes` of them. Recording its own keeps the experiment
    independent of the shared default sets' freshness (any change to the env's module makes those stale until
    `drivebench run`)."""
    entry = registry.get(config.scenario)
    expert = experts_for(entry.spec)[0].id
    default = store.demo_dir(expert_data_dir(), entry.name, expert)
    seeds = store.read_manifest_raw(default).get("seeds") if (default / store.MANIFEST_FILE).exists() else None
    seeds = (seeds or list(range(record.LEARNER_EPISODES)))[:episodes]
    root = Path(config.out) / "demos"
    sets, folders = [], {}
    for frame, actions in (({"type": "ego"}, True), ({"type": config.frame}, False)):
        path = store.demo_dir(root, entry.name, expert, frame)
        fresh = (path / store.MANIFEST_FILE).exists() and store.read_manifest(path)["seeds"] == seeds \
            and record.stale_because(path, entry.name, expert, frame, actions) is None
        if not fresh:
            record.record(entry.name, expert, episodes=len(seeds), seed=seeds[0], root=root, progress=False,
                          observation=frame, actions=actions)
        sets.append(store.load(path))
        folders[frame["type"]] = str(path)
    return sets[0], sets[1], folders


# ---------------------------------------------------------------------------------------------- the run
def run_experiment(config: ThirdPersonConfig, step: Callable[[str, int], None] = lambda what, n: None
                   ) -> ThirdPersonResult:
    """See the module docstring. `step(what, n)` reports progress: n units done (`planned_steps`)."""
    start = time.perf_counter()
    hp = check_config(config)
    torch.set_num_threads(1)  # as agents/train does: the same arithmetic anywhere, no oversubscribed cores
    entry = registry.get(config.scenario)
    ego_set, frame_set, folders = demo_sets(config, hp["demos"])
    ego_eps = ego_set.successful()[: hp["demos"]]
    chosen = {e.seed for e in ego_eps}
    frame_eps = [e for e in frame_set.episodes if e.seed in chosen]
    if [e.seed for e in frame_eps] != [e.seed for e in ego_eps]:
        raise DrivebenchError(f"{folders[config.frame]}: not the same drives as {folders['ego']}; delete it")

    def make(kind: str):
        return lambda: gymnasium.make(entry.id, config={"observation": {"type": kind}})

    features = [name for name, _ in families.get(entry.family).observation_features]
    oracle = tp.to_ego_frame(make("ego"), [e.seed for e in frame_eps], [e.poses for e in frame_eps])
    ego_obs, frame_obs = [e.observations for e in ego_eps], [e.observations for e in frame_eps]
    runs, agents = [], {}
    for run in range(hp["runs"]):
        seeds = demo_seeds(hp["poor_episodes"], start=POOR_SEEDS_START + 1000 * run)
        poor_ego = tp.rollouts(make("ego"), seeds, np.random.default_rng(run))
        poor_frame = tp.rollouts(make(config.frame), seeds, np.random.default_rng(run))
        width = max(ego_obs[0].shape[1], frame_obs[0].shape[1])
        sources = {
            "first_person": tp.Sources(ego_obs, poor_ego=poor_ego, width=width),
            "naive": tp.Sources(frame_obs, poor_ego=poor_ego, width=width),
            "tpil": tp.Sources(frame_obs, poor_demo_frame=poor_frame, poor_ego=poor_ego,
                               domain_weight=hp["domain_weight"], poor_ego_negatives=hp["poor_ego_negatives"],
                               frame_norm=hp["frame_norm"], width=width),
            "oracle": tp.Sources(oracle, poor_ego=poor_ego, width=width),
        }
        for method in (m for m in METHODS if m in config.methods):
            step(f"train {method} run {run}", 0)
            t0 = time.perf_counter()
            fitted = tp.fit(sources=sources[method], make_env=make("ego"), hp=hp, rng=np.random.default_rng(run),
                            seed=run)
            seconds = time.perf_counter() - t0
            out = Path(config.out) / "agents" / f"{method}-run{run}"
            checkpoints.save(out, policy=fitted.policy, config={
                "algo": f"{ALGO}-{method}", "scenario": entry.name, "family": entry.family,
                "scenario_hash": entry.hash, "observation_features": features, "observation": {"type": "ego"},
                "network": {"net_arch": hp["net_arch"], "activation": hp["activation"]}, "preset": config.preset,
                "hyperparameters": hp, "demo_frame": config.frame, "seed": run,
                "usage": dataclasses.asdict(fitted.usage), "train_seconds": round(seconds, 3),
                "budget": dataclasses.asdict(presets.budget(hp)),
                "demos": {"path": folders["ego" if method == "first_person" else config.frame],
                          "episodes": len(ego_eps)}})
            probe = tp.domain_probe(fitted.discriminator, ego_obs, frame_obs, seed=run, inputs=fitted.inputs)
            agents[(method, run)] = (str(out), probe, fitted.history, seconds)
            step(f"trained {method} run {run}", 1)
    step("evaluate", 0)
    requests = {key: Request(agent, entry.name) for key, (agent, *_) in agents.items()}
    records = evaluate_many(list(requests.values()), seeds=eval_seeds(hp["episodes"]), workers=config.workers,
                            db=None, progress=config.progress)
    step("evaluated", 1)
    for (method, run), (agent, probe, history, seconds) in agents.items():
        runs.append(Run(method, run, agent, records[requests[(method, run)]], probe, history, seconds))
    return ThirdPersonResult(config, hp, entry.family, runs, [e.poses for e in ego_eps], folders,
                             time.perf_counter() - start)


def planned_steps(config: ThirdPersonConfig) -> int:
    """Units of work `run_experiment` reports: one per training run of each method, one for the evaluation."""
    return check_config(config)["runs"] * len(config.methods) + 1
