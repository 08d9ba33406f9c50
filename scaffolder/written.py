"""What this tool last wrote into a repo: a fingerprint per file, so a later command knows
which files nobody edited since.

The record lives in `.git/gitops-scaffold-written.json` (local to this clone, never committed):
the sha256 of each plain file, the sops MAC of each encrypted one (an encrypted file cannot be
compared with a fresh render: its values are encrypted, and filling them in is the point; the
MAC changes when they do). A file whose fingerprint is still the recorded one was never
edited: a day-2 command may rewrite or delete it without rendering what it wrote before. A
clone without the record (or a file not in it) falls back to the slower comparison with the
old answers' render; an encrypted file not in it is deleted only when git holds it as it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from scaffolder import git, sops

RECORD = ".git/gitops-scaffold-written.json"


def read(repo_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((repo_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def fingerprint(relative: str, content: bytes) -> str | None:
    if sops.is_sops_file(relative):
        mac = sops.mac_of(content.decode("utf-8", "replace"))
        return f"mac:{mac}" if mac else None
    return "sha256:" + hashlib.sha256(content).hexdigest()


def updated(
    record: Mapping[str, str], written: Mapping[str, bytes], deleted: list[str] | tuple[()] = ()
) -> str:
    """The record after writing ``written`` (path -> bytes) and deleting ``deleted``."""
    result = {path: value for path, value in record.items() if path not in deleted}
    for path, content in written.items():
        value = fingerprint(path, content)
        if value:
            result[path] = value
        else:
            result.pop(path, None)
    return json.dumps(dict(sorted(result.items())), indent=0) + "\n"


def unchanged(repo_dir: Path, relative: str, record: Mapping[str, str]) -> bool:
    """Whether ``relative`` is still exactly as this tool last wrote it."""
    recorded = record.get(relative)
    if recorded is None:
        return False
    try:
        content = (repo_dir / relative).read_bytes()
    except OSError:
        return False
    return fingerprint(relative, content) == recorded


def deletable(repo_dir: Path, relative: str, record: Mapping[str, str]) -> bool:
    """Whether deleting the encrypted file ``relative`` loses nothing."""
    return unchanged(repo_dir, relative, record) or git.committed_unchanged(repo_dir, relative)
