"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def write_atomic(target: Path, content: str) -> None:
    """Write ``content`` to a sibling temp file, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, target)


def write_new_tree(root: Path, files: Mapping[str, tuple[bytes, bool]]) -> None:
    """Write every file (repo-relative POSIX path -> (content, executable)) below ``root``, a
    new folder nobody reads before it is complete (it is moved into place whole).

    No temp files, each folder made once, and plain system calls: on a slow file system the
    cost is the kernel's, per file.
    """
    for folder in sorted({os.path.dirname(relative) for relative in files}):
        if folder:
            os.makedirs(root / folder, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    for relative, (content, executable) in files.items():
        descriptor = os.open(root / relative, flags, 0o777 if executable else 0o666)
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(descriptor, view) :]
        finally:
            os.close(descriptor)


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if nothing is in it (another process may have filled it meanwhile)."""
    with contextlib.suppress(OSError):
        folder.rmdir()


# Opening never waits for a pipe's writer and never makes a terminal the controlling one; the
# type is checked again on the opened file, so a swap after the first check changes nothing.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def read_regular_file(path: Path, source: str, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` (never a device or a pipe, which
    could be read forever). ``source`` names it in messages, ``what`` says what it should be."""
    from scaffolder.errors import UsageError

    def require_regular(mode: int) -> None:
        if stat.S_ISDIR(mode):
            raise UsageError(f"{source} is a directory, not {what}")
        if not stat.S_ISREG(mode):
            raise UsageError(f"{source} is not a regular file (a device, a pipe or a socket)")

    try:
        require_regular(path.stat().st_mode)
        descriptor = os.open(path, _OPEN_FLAGS)
        with open(descriptor, "rb") as stream:
            require_regular(os.fstat(descriptor).st_mode)
            return stream.read(limit)
    except FileNotFoundError:
        raise UsageError(f"{source} does not exist") from None
    except OSError as err:
        raise UsageError(f"{source}: cannot read it: {err.strerror}") from None
