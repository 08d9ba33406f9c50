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


def write_files(root: Path, files: Mapping[str, File]) -> None:
    """Write every file below ``root`` (repo-relative POSIX paths), creating folders."""
    for relative, file in files.items():
        write_atomic(root / relative, file.content, executable=file.executable)


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if nothing is in it (another process may have filled it meanwhile)."""
    with contextlib.suppress(OSError):
        folder.rmdir()
