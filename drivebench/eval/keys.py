"""The scenario key of a stored episode (`EpisodeRecord.scenario_hash`): what, besides the agent, an evaluated
episode's record depends on. The harness keys the rows it writes and looks up by it; the leaderboard, the report,
the pipeline and submissions find their rows by it (leaderboard.scenario_hash).

It covers the (shifted) scenario spec's hash, the code key (core/keys.py) of what simulates the episode (the env
class `make_env` builds for the spec's family, the shift wrappers, the rollout), the installed versions of the
simulator's third-party distributions (keys.SIMULATOR_PACKAGES: highway-env, gymnasium, numpy) and the code key of
what scores it (eval/metrics.py and the family's own infraction rules). So a change to the simulator, an upgrade
of what it runs on or a change to a metric makes the stored rows stop matching, and the harness runs those
episodes again. The roots are named from the objects that run (the rollout function, the shift wrapper, the
metrics function), so a module moved or renamed stays covered.
"""
from __future__ import annotations

import functools

from drivebench.core import keys
from drivebench.core.rollout import run_episode
from drivebench.eval.metrics import episode_metrics
from drivebench.eval.shifts import make_env
from drivebench.scenarios import family as families
from drivebench.scenarios.spec import Spec, spec_hash

SIMULATOR = (make_env.__module__, run_episode.__module__)
"""Modules that shape every episode besides the family's env: the shift wrappers and the rollout loop."""
METRICS = (episode_metrics.__module__,)
"""Modules that score every episode besides the family's own rules."""


def scenario_key(spec: Spec) -> str:
    """The `scenario_hash` of an episode of `spec` (already shifted: eval.shifts.shifted_spec)."""
    family = families.of(spec)
    rules = [m for m in (_module_of(family.infractions),) if m and m.split(".")[0] == keys.PACKAGE]
    return keys.content_key({"spec": spec_hash(spec),
                             "simulator": keys.code_key(family.env_class.__module__, *SIMULATOR),
                             "versions": keys.versions(*keys.SIMULATOR_PACKAGES),
                             "metrics": keys.code_key(*METRICS, *rules)})


def _module_of(obj) -> str | None:
    """The module defining a function or class (a functools.partial's function's)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return getattr(obj, "__module__", None)
