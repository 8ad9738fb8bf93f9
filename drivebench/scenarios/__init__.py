"""Scenarios: typed specs (spec.py), pure geometry (roads.py), envs (envs.py), discovery (registry.py)."""
