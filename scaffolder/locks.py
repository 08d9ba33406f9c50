"""One gitops-scaffold command at a time on a repo (or a target folder).

A lock is a file created with O_EXCL that holds the owner's pid. A second command refuses
with one line while the owner lives; a lock left by a process that no longer exists (killed)
is taken over.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from scaffolder.errors import UsageError


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _owner(path: Path) -> int:
    try:
        return int(path.read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        return 0


class Lock:
    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self.held = False

    def __enter__(self) -> Lock:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                owner = _owner(self.path)
                if pid_alive(owner) and owner != os.getpid():
                    raise UsageError(
                        f"{self.what} is being changed by another gitops-scaffold command "
                        f"(pid {owner}); run again when it has finished"
                    ) from None
                self.path.unlink(missing_ok=True)  # left by a process that is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()}\n")
            self.held = True
            return self
        raise UsageError(f"cannot lock {self.what} ({self.path})")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.held and _owner(self.path) == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False
