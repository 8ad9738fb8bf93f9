"""Experts by id: `expert:<style>`. An expert has `id`, `family`, `style`, `supports(spec) -> reason | None`
and `act(env) -> action`, reading the env's true state (never the observation)."""
from __future__ import annotations

from drivebench.errors import UnknownIdError
from drivebench.scenarios import family as families


def all_experts() -> dict:
    """Every registered family's experts by id, computed from the families registered now (so a family registered
    after this module was imported, e.g. by a plugin that imports it while registering, is included)."""
    return {e.id: e for f in families.all_families() for e in f.experts}


def get_expert(name: str):
    """`expert:tidy` or just `tidy`."""
    key = name if name.startswith("expert:") else f"expert:{name}"
    experts = all_experts()
    if key not in experts:
        raise UnknownIdError("expert", name, list(experts))
    return experts[key]


def experts_for(spec) -> list:
    """The experts meant for a scenario (their `supports` returns no reason)."""
    return [e for e in families.of(spec).experts if e.supports(spec) is None]
