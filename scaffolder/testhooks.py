"""Pauses the test suite can ask for, to interrupt or race a command at a known point.

Each reads one environment variable (seconds); unset in normal use, they cost nothing.
"""

from __future__ import annotations

import os
import time

WRITE_DELAY = "GITOPS_SCAFFOLD_TEST_WRITE_DELAY"  # before each file a day-2 change writes
NEW_DELAY = "GITOPS_SCAFFOLD_TEST_NEW_DELAY"  # `new`, once the staging folder exists


def pause(variable: str) -> None:
    delay = os.environ.get(variable)
    if delay:
        time.sleep(float(delay))


PAUSE_AT = "GITOPS_SCAFFOLD_TEST_PAUSE_AT"  # a named point of a command: wait there
PAUSE_MARK = "GITOPS_SCAFFOLD_TEST_PAUSE_MARK"  # a file written once the point is reached


def pause_at(point: str) -> None:
    """At ``point``, when the test suite names it in PAUSE_AT: write the PAUSE_MARK file (so
    the test knows where the command is), then wait for a signal, or until the test removes
    the file (at most 60 s)."""
    mark = os.environ.get(PAUSE_MARK)
    if os.environ.get(PAUSE_AT) == point and mark:
        with open(mark, "w", encoding="utf-8") as stream:
            stream.write(point)
        deadline = time.monotonic() + 60
        while os.path.exists(mark) and time.monotonic() < deadline:
            time.sleep(0.02)


FAIL_AT = "GITOPS_SCAFFOLD_TEST_FAIL_AT"  # a named point of a command: fail there (OSError)


def fail_at(point: str) -> None:
    """Fail like a full disk at ``point`` when the test suite names it in FAIL_AT."""
    if os.environ.get(FAIL_AT) == point:
        raise OSError(28, "No space left on device (injected by the test suite)", point)
