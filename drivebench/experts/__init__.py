"""Scripted state-feedback experts with driving styles."""
