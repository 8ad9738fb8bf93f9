"""Expert demonstrations: recording (record.py), storage with manifest and checksums (store.py)."""
