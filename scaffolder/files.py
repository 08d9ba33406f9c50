"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scaffolder.render import File

EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def write_atomic(target: Path, content: str, *, executable: bool = False) -> None:
    """Write ``content`` to a sibling temp file, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(content, encoding="utf-8")
    if executable:
        partial.chmod(partial.stat().st_mode | EXECUTABLE)
    os.replace(partial, target)


def write_new_tree(root: Path, files: Mapping[str, File]) -> None:
    """Write every file below the new, empty folder ``root`` (repo-relative POSIX paths).

    No temp files: nobody reads a staging folder before it is complete, and it is moved
    into place whole. Each folder is made once.
    """
    for folder in sorted({os.path.dirname(relative) for relative in files}):
        if folder:
            os.makedirs(root / folder, exist_ok=True)
    for relative, file in files.items():
        path = root / relative
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(file.content)
        if file.executable:
            path.chmod(path.stat().st_mode | EXECUTABLE)


def write_files(root: Path, files: Mapping[str, File]) -> None:
    """Write every file below ``root`` (repo-relative POSIX paths) atomically, one by one."""
    for relative, file in files.items():
        write_atomic(root / relative, file.content, executable=file.executable)


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if nothing is in it (another process may have filled it meanwhile)."""
    with contextlib.suppress(OSError):
        folder.rmdir()
