"""Errors a user can cause and fix. The CLI prints them without a traceback (exit code 2)."""
from __future__ import annotations

from pathlib import Path


class DrivebenchError(Exception):
    """A mistake in user input (a file, an id, an argument): the message says what to change."""


class ScenarioError(DrivebenchError):
    """A scenario file that cannot be loaded; names the file, the field and what is allowed."""

    def __init__(self, file: Path | str, problems: list[tuple[str, str]]):
        self.file = str(file)
        self.problems = problems  # (field path, what is wrong and what is allowed)
        lines = [f"{self.file}: invalid scenario"]
        lines += [f"  {field}: {message}" for field, message in problems]
        super().__init__("\n".join(lines))


class UnknownIdError(DrivebenchError):
    """An id (scenario, expert, agent) that no registry holds."""

    def __init__(self, kind: str, name: str, known: list[str]):
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(sorted(known)) or '(none)'}")


class DemoDataError(DrivebenchError):
    """Recorded demos that are missing, truncated, edited or of another schema."""
