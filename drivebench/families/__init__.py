"""Scenario families, one plugin each: a folder that owns its scenario file's model, its env and observation
types, its experts and styles, its rules for the metrics, the shifts that rewrite its spec and how it is drawn
(scenarios/family.py lists what a family provides). Importing this package registers them; `drivebench`'s own
`__init__` does, before it registers the scenario files. A new family is a new folder plus one name below.
"""
from drivebench.families import curve, parking  # noqa: F401  (registration: one name per family)
