"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def write_atomic(target: Path, content: str, *, executable: bool = False) -> None:
    """Write ``content`` to a sibling temp file, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(content, encoding="utf-8")
    if executable:
        partial.chmod(partial.stat().st_mode | EXECUTABLE)
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
