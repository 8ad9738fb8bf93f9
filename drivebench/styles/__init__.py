"""Driving styles: measure them (metrics.py), compare them (compare.py), learn them (experiment.py trains agents
on each style's few demos; linear_irl.py fits interpretable reward weights) and draw them (figure.py)."""
