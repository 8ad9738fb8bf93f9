"""The style experiment: which agents learn a demonstrator's style, not just the task?

For a scenario with at least two expert styles, of a family with style hooks (hooks.py), `run_experiment`:
1. loads each style's demo set (expert_data/<scenario>/<style>/) and measures every demonstrator episode's style;
2. trains each algorithm on each style's first `demos_per_style` successful demos (few on purpose), once per
   training seed (`seeds`: a style learned by one training run and lost by the next is not learned);
3. evaluates the learned agents, and the experts themselves as a reference, on the same evaluation seeds;
4. compares styles: energy distances between each agent's episodes and each demonstrator style's episodes
   (compare.py), and a style classifier trained on the demonstrators (its cross-validated accuracy, then the
   share of each agent's episodes it labels with the agent's own style);
5. fits linear-feature IRL (linear_irl.py) to each style's demos with a library of candidate manoeuvres rolled
   out from the demos' start states.

Evaluations do not go to the results database: style agents are experiment artefacts, not leaderboard entries,
and evaluating 20 episodes of a few agents is cheap to repeat. Checkpoints go under `out/agents/` and are
reused when their recorded training key equals this run's (agents/train.train_key: algorithm, hyperparameters,
scenario spec, demo data, seed and the training code).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drivebench.agents import checkpoints, presets
from drivebench.agents.train import ADVERSARIAL, ALGORITHMS, train, train_key
from drivebench.data import record, store
from drivebench.errors import DrivebenchError
from drivebench.eval import stats
from drivebench.eval.harness import Request, evaluate_many
from drivebench.core.records import EpisodeRecord
from drivebench.experts.registry import experts_for
from drivebench.paths import expert_data_dir
from drivebench.scenarios import registry
from drivebench.seeds import eval_seeds
from drivebench.styles import compare, linear_irl
from drivebench.styles.hooks import StyleHooks, hooks_for
from drivebench.styles.metrics import METRIC_DOCS, episode_geometry, metric_vector, style_metrics

CV_FOLDS = 5


@dataclass(frozen=True)
class StylesConfig:
    scenario: str
    algos: tuple[str, ...] = ("bc", "gail", "airl")
    demos_per_style: int = 4
    preset: str = "standard"
    seeds: tuple[int, ...] = (0, 1, 2)
    """training seeds: one agent per (algorithm, style, seed); as suite.toml's train_seeds"""
    episodes: int = 20
    out: Path = Path("reports/styles")
    workers: int | None = None
    progress: bool = True


@dataclass(frozen=True, eq=False)
class Row:
    """One evaluated agent (a learned one, or an expert as the reference) and its style."""

    algo: str
    """an algorithm, or 'expert'"""
    style: str
    """the style of the demos it learned from (the expert's own style)"""
    agent: str
    """the agent id the harness evaluated"""
    records: list[EpisodeRecord]
    """its evaluation episodes"""
    metrics: np.ndarray
    """(episodes, k) style metrics, in the order of the family's metric_names"""
    distances: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """(styles,) energy distance to each demonstrator style"""
    predicted: list[str] = field(default_factory=list)
    """the classifier's style for each episode"""
    seed: int | None = None
    """the training seed of a learned agent (None for an expert)"""

    @property
    def label(self) -> str:
        return f"{self.algo}/{self.style}" + ("" if self.seed is None else f"#{self.seed}")


@dataclass(frozen=True, eq=False)
class StylesResult:
    config: StylesConfig
    family: str
    styles: tuple[str, ...]
    metric_names: tuple[str, ...]
    features: tuple[str, ...]
    """the linear-IRL features (the family's)"""
    demos: dict[str, list]
    """style -> its demonstrator episodes (rollout.Episode), the training demos first"""
    demo_metrics: dict[str, np.ndarray]
    """style -> (episodes, k) style metrics"""
    rows: list[Row]
    cv_accuracy: float
    """the classifier's cross-validated accuracy on the demonstrators"""
    irl: dict[str, linear_irl.IRLResult]
    library: linear_irl.Library
    seconds: float
    checkpoints_reused: list[str]

    @property
    def learned(self) -> list[Row]:
        return [r for r in self.rows if r.algo != "expert"]

    def to_json(self) -> dict:
        """Every number of the experiment as plain JSON data."""
        c = self.config

        def row_json(r: Row) -> dict:
            success = stats.rate_ci([rec.metrics.success for rec in r.records])
            nearest = self.styles[int(np.argmin(r.distances))]
            return {
                "algo": r.algo, "style": r.style, "seed": r.seed, "label": r.label, "agent": r.agent,
                "success_rate": success.value, "success_ci": [success.low, success.high],
                "route_completion": float(np.mean([rec.metrics.route_completion for rec in r.records])),
                "terminations": _counts([rec.metrics.termination for rec in r.records]),
                "distances": dict(zip(self.styles, map(float, r.distances))),
                "nearest": nearest, "recovered": nearest == r.style,
                "classified": {s: r.predicted.count(s) / len(r.predicted) for s in self.styles},
                "classifier_accuracy": r.predicted.count(r.style) / len(r.predicted),
                "mean_metrics": dict(zip(self.metric_names, map(float, r.metrics.mean(axis=0)))),
                "episode_metrics": r.metrics.round(5).tolist(),
                "seeds": [rec.seed for rec in r.records],
            }

        learned = [row_json(r) for r in self.learned]
        noise = {r.style: float(r.distances[self.styles.index(r.style)]) for r in self.rows if r.algo == "expert"}
        for row in learned:
            if noise.get(row["style"]):
                row["own_distance_vs_expert"] = row["distances"][row["style"]] / noise[row["style"]]
        return {
            "scenario": c.scenario, "family": self.family, "styles": list(self.styles), "algos": list(c.algos),
            "demos_per_style": c.demos_per_style, "preset": c.preset, "seeds": list(c.seeds), "episodes": c.episodes,
            "eval_seeds": [r.seed for r in self.rows[0].records] if self.rows else [],
            "metrics": {n: METRIC_DOCS[n] for n in self.metric_names},
            "demonstrators": {s: {"episodes": len(m), "training_demo_seeds": [e.seed for e in
                                                                              self.demos[s][:c.demos_per_style]],
                                  "mean_metrics": dict(zip(self.metric_names, map(float, m.mean(axis=0)))),
                                  "episode_metrics": m.round(5).tolist()}
                              for s, m in self.demo_metrics.items()},
            "matrix": {"rows": [r.label for r in self.rows], "columns": list(self.styles),
                       "distance": "energy distance of standardized style metrics",
                       "values": [[float(v) for v in r.distances] for r in self.rows]},
            "recovered": sum(r["recovered"] for r in learned), "learned_agents": len(learned),
            "agents": learned, "over_runs": _over_runs(learned),
            "experts": [row_json(r) for r in self.rows if r.algo == "expert"],
            "classifier": {"model": "multinomial logistic regression on standardized style metrics",
                           "cv_folds": CV_FOLDS, "cv_accuracy": self.cv_accuracy,
                           "learned_agent_accuracy": float(np.mean([r["classifier_accuracy"] for r in learned]))
                           if learned else None},
            "linear_irl": {
                "method": "maximum-entropy IRL over a library of candidate manoeuvres",
                "features": list(self.features),
                "feature_docs": {f: linear_irl.FEATURE_DOCS[f] for f in self.features},
                "sign_convention": "reward = sum_k w_k phi_k; w_k > 0: the style seeks feature k; weights per "
                                   "library standard deviation, divided by their L1 norm",
                "library": {"candidates": len(self.library.names), "seeds": list(self.library.seeds),
                            "success_rate": float(self.library.success.mean()) if self.library.names else 0.0,
                            "dropped": list(self.library.dropped)},
                "styles": {s: {"weights": dict(zip(r.features, map(float, r.weights))),
                               "raw_weights": dict(zip(r.features, map(float, r.raw_weights))),
                               "identifiable": dict(zip(r.features, map(bool, r.identifiable))),
                               "gap_per_iteration": r.gaps, "best_candidate": r.best,
                               "expert_features": dict(zip(r.features, map(float, r.expert_mu))),
                               "matched_features": dict(zip(r.features, map(float, r.matched_mu)))}
                           for s, r in self.irl.items()},
            },
            "checkpoints_reused": self.checkpoints_reused,
            "seconds": round(self.seconds, 1),
        }


def _over_runs(agents: list[dict]) -> list[dict]:
    """Per (algorithm, style), its agents over training runs: task success averaged over the runs (each run's
    rate over its episodes) with each run's, and in how many runs the agent's own style is the nearest."""
    out = []
    for algo, style in dict.fromkeys((a["algo"], a["style"]) for a in agents):
        runs = [a for a in agents if (a["algo"], a["style"]) == (algo, style)]
        out.append({"algo": algo, "style": style, "runs": len(runs), "seeds": [a["seed"] for a in runs],
                    "success_rate": float(np.mean([a["success_rate"] for a in runs])),
                    "per_run_success": [a["success_rate"] for a in runs],
                    "nearest": [a["nearest"] for a in runs],
                    "recovered_runs": sum(a["recovered"] for a in runs)})
    return out


def _counts(values: list[str]) -> dict[str, int]:
    return {v: values.count(v) for v in sorted(set(values))}


# ---------------------------------------------------------------------------------------------- inputs
def style_demo_sets(scenario: str) -> dict[str, Path]:
    """style -> its demo folder, for every expert that drives the scenario. Raises DrivebenchError (naming the
    fix) for fewer than two styles or a missing or stale demo set (data/record.require_current)."""
    entry = registry.get(scenario)
    experts = experts_for(entry.spec)
    if len(experts) < 2:
        others = [e.name for e in registry.entries() if len(experts_for(e.spec)) >= 2]
        found = ", ".join(x.style.name for x in experts) or "none"
        raise DrivebenchError(
            f"{entry.name} has {len(experts)} driving style{'' if len(experts) == 1 else 's'} ({found}); the style "
            f"experiment compares at least two: use one of {', '.join(others)}")
    out = {}
    for expert in experts:
        folder = store.demo_dir(expert_data_dir(), entry.name, expert.id)
        if not (folder / store.MANIFEST_FILE).exists():
            raise DrivebenchError(f"no {expert.style.name} demos for {entry.name} in {folder.parent}; record them: "
                                  f"drivebench record --scenario {entry.name} --expert {expert.id}")
        record.require_current(folder)
        out[expert.style.name] = folder
    return out


def check_config(config: StylesConfig) -> None:
    hooks_for(registry.get(config.scenario).spec)  # a family without a style experiment fails here
    unknown = [a for a in config.algos if a not in ALGORITHMS]
    if unknown or not config.algos:
        raise DrivebenchError(f"unknown algorithm {', '.join(map(repr, unknown)) or '(none given)'}; "
                              f"use a comma-separated list of {', '.join(ALGORITHMS)}")
    if config.demos_per_style < 1 or config.episodes < 1:
        raise DrivebenchError("--demos-per-style and --episodes must be at least 1")
    if not config.seeds or len(set(config.seeds)) != len(config.seeds):
        raise DrivebenchError(f"--seeds must name distinct training seeds, e.g. 0,1,2; got {config.seeds}")
    for algo in config.algos:
        presets.load_preset(algo, config.preset, registry.get(config.scenario).family)  # a bad preset fails here


# ---------------------------------------------------------------------------------------------- the run
def run_experiment(config: StylesConfig, step: Callable[[str, int], None] = lambda what, n: None) -> StylesResult:
    """See the module docstring. `step(what, n)` reports progress: n units of work done (`planned_steps`)."""
    start = time.perf_counter()
    check_config(config)
    entry = registry.get(config.scenario)
    spec, family = entry.spec, entry.family
    hooks = hooks_for(spec)
    names = hooks.metric_names
    dt = 1.0 / spec.policy_frequency
    folders = style_demo_sets(entry.name)
    styles = tuple(folders)

    demos, demo_metrics = {}, {}
    for style, folder in folders.items():
        episodes = store.load(folder).successful()
        if len(episodes) < config.demos_per_style:
            raise DrivebenchError(f"{folder} has {len(episodes)} successful demos, fewer than --demos-per-style "
                                  f"{config.demos_per_style}: lower it or record more (drivebench record --scenario "
                                  f"{entry.name} --expert {style} --episodes N)")
        demos[style] = episodes
        demo_metrics[style] = np.array([
            metric_vector(style_metrics(e.poses, e.signals, dt, episode_geometry(spec, e.seed)), names)
            for e in episodes])

    # Train (or reuse) each algorithm on each style's few demos, once per training seed.
    agents, reused = {}, []
    for seed in config.seeds:
        for algo in config.algos:  # GAIL and AIRL start from the BC agent of their style and seed
            for style in styles:
                out = agent_folder(config, algo, style, seed)
                step(f"train {algo} on {style} (seed {seed})", 0)
                if _reusable(out, algo, entry, config, folders[style], seed):
                    reused.append(str(out))
                else:
                    train(algo, entry.name, out=out, demos=folders[style], preset=config.preset, seed=seed,
                          overrides={"demos": config.demos_per_style}, progress=False,
                          warm_start=agent_folder(config, "bc", style, seed)
                          if algo in ADVERSARIAL and "bc" in config.algos else None)
                agents[(algo, style, seed)] = str(out)
                step(f"trained {algo} on {style} (seed {seed})", 1)

    # Evaluate the learned agents and the experts on the same seeds, in one pool of workers.
    step("evaluate", 0)
    seeds = eval_seeds(config.episodes)
    requests = {key: Request(agent, entry.name) for key, agent in agents.items()}
    requests.update({("expert", s, None): Request(f"expert:{s}", entry.name) for s in styles})
    records = evaluate_many(list(requests.values()), seeds=seeds, workers=config.workers, db=None,
                            progress=config.progress)
    step("evaluated", 1)

    # Compare styles.
    standardize = compare.Standardizer.fit(np.vstack(list(demo_metrics.values())), names)
    x = np.vstack(list(demo_metrics.values()))
    labels = [s for s in styles for _ in demo_metrics[s]]
    cv = compare.cross_validated_accuracy(x, labels, names, folds=CV_FOLDS, seed=0)  # the folds: not a training run's
    classifier = compare.fit_classifier(x, labels, names)
    reference = {s: standardize(m) for s, m in demo_metrics.items()}
    rows = []
    for (algo, style, seed), request in requests.items():
        recs = records[request]
        m = np.array([metric_vector(style_metrics(r.trajectory.poses, r.trajectory.signals, dt,
                                                  episode_geometry(spec, r.seed)), names) for r in recs])
        z = standardize(m)
        rows.append(Row(algo, style, request.agent, recs, m,
                        np.array([compare.energy_distance(z, reference[s]) for s in styles]),
                        classifier.predict(m), seed))
    rows.sort(key=lambda r: (r.algo != "expert", _order(r.algo, config.algos), styles.index(r.style),
                             r.seed or 0))

    # Linear IRL from each style's training demos, with one library rolled out from their start states.
    training = {s: demos[s][: config.demos_per_style] for s in styles}
    library_seeds = sorted({e.seed for eps in training.values() for e in eps})
    grid = _grid(hooks, config)
    step("linear IRL library", 0)
    library = linear_irl.build_library(entry.name, library_seeds, grid=grid, progress=lambda n: step("library", n))
    features = hooks.features
    irl = {}
    for style, eps in training.items():
        mu = np.mean([linear_irl.episode_expectation(e.poses, e.signals, spec, episode_geometry(spec, e.seed))
                      for e in eps], axis=0)
        irl[style] = linear_irl.maxent_irl(mu, library.expectations([e.seed for e in eps]), library.names, features)
    return StylesResult(config, family, styles, names, features, demos, demo_metrics, rows, cv, irl, library,
                        time.perf_counter() - start, reused)


def planned_steps(config: StylesConfig) -> int:
    """Units of work `run_experiment` reports: one per training, one for the evaluation, one per candidate."""
    entry = registry.get(config.scenario)
    styles = len(experts_for(entry.spec))
    grid = _grid(hooks_for(entry.spec), config)
    return len(config.algos) * styles * len(config.seeds) + 1 + len(linear_irl.candidate_styles(entry.spec, grid))


def _grid(hooks: StyleHooks, config: StylesConfig):
    """The linear-IRL candidate grid of the preset: the family's quick grid, or None for its full one."""
    return hooks.quick_grid if config.preset == "quick" else None


def _order(algo: str, algos: tuple[str, ...]) -> int:
    return algos.index(algo) if algo in algos else -1


def agent_folder(config: StylesConfig, algo: str, style: str, seed: int) -> Path:
    """Where the agent of (algorithm, style, training seed) is kept: out/agents/<algo>-<style>-<seed>."""
    return Path(config.out) / "agents" / f"{algo}-{style}-{seed}"


def _reusable(out: Path, algo: str, entry, config: StylesConfig, demos: Path, seed: int) -> bool:
    """Does `out` hold a checkpoint of exactly this training run (its recorded train_key: settings, scenario,
    demos, seed and the training code, agents/train.train_key)?"""
    if not checkpoints.is_checkpoint(out):
        return False
    try:
        saved = checkpoints.read_config(out)
    except DrivebenchError:
        return False
    return saved.get("train_key") == train_key(algo, entry.name, preset=config.preset, seed=seed, demos=demos,
                                               overrides={"demos": config.demos_per_style})
