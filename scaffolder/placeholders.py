"""Which encrypted files still hold what this tool wrote: the placeholders nobody filled in.

An encrypted file cannot be compared with a fresh render (its values are encrypted, and
filling them in is the point), so when this tool writes one it records the file's sops MAC
in `.git/gitops-scaffold-placeholders.json` (local to this clone, never committed). A file
whose MAC is still the recorded one was never edited: removing its cluster or tenant may
delete it. Any other encrypted file is deleted only when git holds it as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from scaffolder import git, sops

RECORD = ".git/gitops-scaffold-placeholders.json"


def read(repo_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((repo_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def updated(record: Mapping[str, str], written: Mapping[str, str], deleted: list[str]) -> str:
    """The record after writing ``written`` (path -> ciphertext) and deleting ``deleted``."""
    result = {path: mac for path, mac in record.items() if path not in deleted}
    for path, text in written.items():
        mac = sops.mac_of(text)
        if mac:
            result[path] = mac
    return json.dumps(dict(sorted(result.items())), indent=1) + "\n"


def deletable(repo_dir: Path, relative: str, record: Mapping[str, str]) -> bool:
    """Whether deleting the encrypted file ``relative`` loses nothing."""
    current = (repo_dir / relative).read_text(encoding="utf-8")
    mac = sops.mac_of(current)
    return (mac is not None and record.get(relative) == mac) or git.committed_unchanged(
        repo_dir, relative
    )
