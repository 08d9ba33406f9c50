"""One hierarchy of user-facing errors; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class ScaffoldError(Exception):
    """An error whose message is meant for the user, as one line."""

    exit_code = 1


class UsageError(ScaffoldError):
    """Bad input: answers, options or an output location that cannot be used."""

    exit_code = 2


class AnswersError(UsageError):
    """One rule of the answers model is broken; names the field and the value."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{field}: {value!r} {problem}")


class ToolMissingError(ScaffoldError):
    """An external tool (sops, git, kubectl) is not installed."""


class ToolFailedError(ScaffoldError):
    """An external tool ran and failed."""
