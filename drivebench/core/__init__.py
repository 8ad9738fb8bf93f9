"""The bottom layer: record types every stage shares (records.py, budget.py), the rollout loop (rollout.py) and the
content keys that decide whether a result is current (keys.py). It imports nothing else of drivebench."""
