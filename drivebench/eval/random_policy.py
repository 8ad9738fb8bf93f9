"""The `random` agent: uniform actions drawn from the episode seed. A module of its own so that the agent's hash
covers exactly its code (eval/policies.py keys it by this module's code key)."""
from __future__ import annotations

import numpy as np


class RandomPolicy:
    """Uniform actions in [-1, 1]^2 from a generator seeded with the episode seed."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, env, obs) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, 2).astype(np.float32)
