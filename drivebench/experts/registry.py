"""Experts by id: `expert:<style>`. An expert has `id`, `family`, `style`, `supports(spec) -> reason | None`
and `act(env) -> action`, reading the env's true state (never the observation)."""
from __future__ import annotations

from drivebench.errors import UnknownIdError
from drivebench.scenarios import family as families

EXPERTS = {e.id: e for f in families.all_families() for e in f.experts}
"""Every family's experts by id (the families register before anything reads this: drivebench/__init__.py)."""


def get_expert(name: str):
    """`expert:tidy` or just `tidy`."""
    key = name if name.startswith("expert:") else f"expert:{name}"
    if key not in EXPERTS:
        raise UnknownIdError("expert", name, list(EXPERTS))
    return EXPERTS[key]


def experts_for(spec) -> list:
    """The experts meant for a scenario (their `supports` returns no reason)."""
    return [e for e in families.of(spec).experts if e.supports(spec) is None]
