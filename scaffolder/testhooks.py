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


FAIL_AT = "GITOPS_SCAFFOLD_TEST_FAIL_AT"  # a named point of a command: fail there (OSError)


def fail_at(point: str) -> None:
    """Fail like a full disk at ``point`` when the test suite names it in FAIL_AT."""
    if os.environ.get(FAIL_AT) == point:
        raise OSError(28, "No space left on device (injected by the test suite)", point)
