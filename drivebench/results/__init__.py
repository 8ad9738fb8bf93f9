"""The results database: every evaluated episode with its metrics, trajectory and provenance (db.py)."""
