"""Presets: hyperparameters as data (presets.toml), looked up by algorithm, preset and scenario family, and for a run
on few demos a preset's `few_demos` recipe (`resolve`)."""
from __future__ import annotations

import math
import tomllib
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from drivebench.core.budget import TrainBudget
from drivebench.errors import DrivebenchError

PRESETS_FILE = Path(__file__).with_name("presets.toml")


@lru_cache(maxsize=1)
def _table() -> dict:
    return tomllib.loads(PRESETS_FILE.read_text())


FEW_DEMOS = "few_demos"
"""The sub-table of a preset that applies to runs on few demos (see `resolve`), not a family's."""


class Bound(NamedTuple):
    """The range a hyperparameter must be in."""

    low: float
    high: float
    low_ok: bool
    """whether `low` itself is allowed"""
    meaning: str
    """what the key is, or what it does at its bound, for the error message"""


BOUNDS = {
    "generator_action_std": Bound(0.0, math.inf, True, "0 keeps the BC warm start's std"),
    "learning_rate": Bound(0.0, math.inf, False, "a step size"),
    "ppo_learning_rate": Bound(0.0, math.inf, False, "a step size"),
    "gamma": Bound(0.0, 1.0, True, "a discount"),
    "gae_lambda": Bound(0.0, 1.0, True, "GAE's lambda"),
    "clip_range": Bound(0.0, math.inf, False, "PPO's clip range"),
    "target_kl": Bound(0.0, math.inf, True, "0 never stops PPO's epochs"),
    "bc_loss_weight": Bound(0.0, math.inf, True, "0 drops the BC term"),
    "ent_coef": Bound(0.0, math.inf, True, "0 adds no entropy bonus"),
}
"""Ranges of the hyperparameters whose bad value would otherwise fail deep in training, or not at all, checked by
`resolve` (the third-person experiment checks its own table: thirdperson/experiment.py)."""


def load_preset(algo: str, preset: str, family: str) -> dict:
    """The hyperparameters of `algo` under `preset` for a scenario `family`: the preset's keys, then its sub-table
    named after the family (a family's section) overrides them."""
    table = _table()
    if algo not in table:
        raise DrivebenchError(f"unknown algorithm {algo!r}; known: {', '.join(table)}")
    if preset not in table[algo]:
        raise DrivebenchError(f"{algo} has no preset {preset!r}; known: {', '.join(table[algo])}")
    base = table[algo][preset]
    return {**{k: v for k, v in base.items() if not isinstance(v, dict)}, **base.get(family, {})}


def resolve(algo: str, preset: str, family: str, overrides: dict | None = None) -> dict:
    """The hyperparameters of one training run: `load_preset`'s; then, if the run learns from at most the preset's
    `few_demos_max` demos (both as `overrides` give them, or the preset's), its `few_demos` sub-table (a recipe
    tuned for a handful of demos; `few_demos_max = 0` in `overrides` keeps the preset's own); then `overrides`, which
    always win. DrivebenchError for an override the preset lacks, a `few_demos` table with a key it lacks, or a value
    out of its range (BOUNDS), naming the table or the overrides it came from."""
    hp = load_preset(algo, preset, family)
    overrides = overrides or {}
    unknown = set(overrides) - set(hp)
    if unknown:
        raise DrivebenchError(f"{algo} has no hyperparameter {', '.join(sorted(unknown))}; it has {', '.join(hp)}")
    few, applied = _table()[algo][preset].get(FEW_DEMOS), {}
    if few:
        unknown = set(few) - set(hp)
        if unknown or "few_demos_max" not in hp:
            raise DrivebenchError(f"{PRESETS_FILE}: [{algo}.{preset}.{FEW_DEMOS}] needs `few_demos_max` in "
                                  f"[{algo}.{preset}] and only its keys; unknown: {', '.join(sorted(unknown)) or '-'}")
        run = {**hp, **overrides}
        if run["demos"] <= run["few_demos_max"]:  # few_demos_max = 0 in overrides: the preset's own recipe
            hp.update(few)
            applied = few
    hp = {**hp, **overrides}
    family_table = _table()[algo][preset].get(family, {})
    for key, bound in BOUNDS.items():
        if key not in hp:
            continue
        if key in overrides:
            where = "the run's overrides"
        else:  # the last table that set it
            table = FEW_DEMOS if key in applied else family if key in family_table else None
            where = f"{PRESETS_FILE}, [{algo}.{preset}{'.' + table if table else ''}]"
        _check(key, hp[key], bound, where)
    return hp


def _check(key: str, value, bound: Bound, where: str) -> None:
    """DrivebenchError naming the key, where its value came from and the range it must be in."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and (bound.low <= value if bound.low_ok else bound.low < value) \
            and value <= bound.high:
        return
    limits = f"{'>=' if bound.low_ok else '>'} {bound.low:g}" + (
        f" and <= {bound.high:g}" if bound.high < math.inf else "")
    raise DrivebenchError(f"{where}: {key} = {value!r}, but it must be a number {limits} ({bound.meaning}); "
                          f"set it in range there")


def most_demos(preset: str, family: str) -> int:
    """The most demos any algorithm's `preset` asks for on a scenario `family`: what a default demo set holds."""
    return max(load_preset(algo, preset, family).get("demos", 0) for algo, presets in _table().items()
               if preset in presets)


def budget(hp: dict) -> TrainBudget:
    """The TrainBudget a preset allows (kinds it does not name are 0)."""
    return TrainBudget(**{f.name: int(hp.get(f.name, 0)) for f in fields(TrainBudget)})
