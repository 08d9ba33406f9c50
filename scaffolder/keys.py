"""age keys: one per cluster plus one admin key, written outside the repo with mode 0600."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyrage

ADMIN_KEY = "admin"


@dataclass(frozen=True)
class AgeKey:
    name: str
    public: str
    path: Path


def key_file_name(name: str) -> str:
    return f"{name}.agekey"


def make_private_dir(keys_dir: Path) -> None:
    """Create ``keys_dir`` if needed and make it readable by its owner only."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(keys_dir, 0o700)  # mkdir's mode is masked by the umask and spares existing folders


def generate_keys(names: list[str], keys_dir: Path) -> dict[str, AgeKey]:
    """Create ``<name>.agekey`` in ``keys_dir`` for each name; never overwrites a file."""
    make_private_dir(keys_dir)
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    keys: dict[str, AgeKey] = {}
    for name in names:
        identity = pyrage.x25519.Identity.generate()
        public = str(identity.to_public())
        path = keys_dir / key_file_name(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"# created: {created}\n# public key: {public}\n{identity}\n")
        keys[name] = AgeKey(name, public, path)
    return keys


def read_public_key(path: Path) -> str:
    """The public key of an age key file, from its `# public key:` line or its identity."""
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("# public key:"):
            return line.split(":", 1)[1].strip()
    for line in text.splitlines():
        if line.startswith("AGE-SECRET-KEY-"):
            return str(pyrage.x25519.Identity.from_str(line.strip()).to_public())
    raise ValueError(f"{path} holds no age key")
