"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(target: Path, content: str) -> None:
    """Write ``content`` to a sibling temp file, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, target)
