"""One hierarchy of user-facing errors; the CLI turns each into one line and an exit code."""

from __future__ import annotations

import reprlib

# An error message quotes at most this much of a value: an answer may be megabytes long (or a
# structure far larger than the file it came from), and the message must stay one short line.
MAX_SHOWN = 80

_CONTAINERS = reprlib.Repr()
_CONTAINERS.maxlevel = 3
_CONTAINERS.maxlist = _CONTAINERS.maxtuple = _CONTAINERS.maxdict = 6
_CONTAINERS.maxset = _CONTAINERS.maxfrozenset = 6
_CONTAINERS.maxstring = _CONTAINERS.maxother = _CONTAINERS.maxlong = 40


def shown(value: object) -> str:
    """``repr(value)`` cut after MAX_SHOWN characters, never computing a huge repr.

    A cut string ends with ``…(N characters)``, N being the length of the whole value; a cut
    list or mapping ends with ``…``. Either way the text has no line break in it.
    """
    if isinstance(value, str):
        text = repr(value[: MAX_SHOWN + 1])  # as much as can be shown, and one more character
        if len(value) <= MAX_SHOWN and len(text) <= MAX_SHOWN:
            return text
        return f"{text[:MAX_SHOWN]}…({len(value)} characters)"
    text = _CONTAINERS.repr(value)  # bounded depth and width, so a cyclic or vast value is cheap
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}…"


class ScaffoldError(Exception):
    """An error whose message is meant for the user, as one line."""

    exit_code = 1


class UsageError(ScaffoldError):
    """Bad input: answers, options or an output location that cannot be used."""

    exit_code = 2


class AnswersError(UsageError):
    """One rule of the answers model is broken; names the field and the value (see ``shown``)."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{field}: {shown(value)} {problem}")


class ToolMissingError(ScaffoldError):
    """An external tool (sops, git, kubectl) is not installed."""


class ToolFailedError(ScaffoldError):
    """An external tool ran and failed."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C: every command cleans up, the exit code is
    128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
