"""age keys: one per cluster plus one admin key, kept outside the repo with mode 0600.

A private key is never overwritten and never deleted: new keys are made in memory, the files
are written with O_EXCL once everything else is in place, and a failure while writing them
removes only the files that very call wrote.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyrage

from scaffolder.errors import UsageError
from scaffolder.files import remove_if_empty

ADMIN_KEY = "admin"


@dataclass(frozen=True)
class AgeKey:
    name: str
    public: str
    path: Path


@dataclass(frozen=True)
class NewKey:
    """A key made in memory, not written yet. Its repr never shows the private part."""

    name: str
    public: str
    identity: str = field(repr=False)


def key_file_name(name: str) -> str:
    return f"{name}.agekey"


def make_private_dir(keys_dir: Path) -> bool:
    """Create ``keys_dir`` (and missing parents) readable by its owner only; returns whether
    it was created. An existing folder keeps its mode: it may be shared (1777) or the user's
    own, and the key files are 0600 whatever it is."""
    if keys_dir.is_dir():
        return False
    keys_dir.mkdir(parents=True, mode=0o700)
    os.chmod(keys_dir, 0o700)  # mkdir's mode is masked by the umask
    return True


def existing_keys(names: Iterable[str], keys_dir: Path) -> dict[str, AgeKey]:
    """The keys among ``names`` that ``keys_dir`` already holds, read for their public key."""
    found = {}
    for name in names:
        path = keys_dir / key_file_name(name)
        if path.is_file():
            found[name] = AgeKey(name, read_public_key(path), path)
    return found


def new_keys(names: Iterable[str]) -> dict[str, NewKey]:
    made = {}
    for name in names:
        identity = pyrage.x25519.Identity.generate()
        made[name] = NewKey(name, str(identity.to_public()), str(identity))
    return made


def write_keys(keys_dir: Path, keys: Mapping[str, NewKey]) -> dict[str, AgeKey]:
    """Write each new key to ``keys_dir/<name>.agekey`` (0600, never over an existing file).

    All or nothing: if one cannot be written (a file already there, a full disk, Ctrl-C), the
    files this call wrote are removed again, and so is the folder if this call made it.
    """
    created_dir = False
    written: list[Path] = []
    stamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    try:
        created_dir = make_private_dir(keys_dir)
        for key in keys.values():
            path = keys_dir / key_file_name(key.name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            written.append(path)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"# created: {stamp}\n# public key: {key.public}\n{key.identity}\n")
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if created_dir:
            remove_if_empty(keys_dir)
        raise
    return {
        k.name: AgeKey(k.name, k.public, keys_dir / key_file_name(k.name)) for k in keys.values()
    }


@contextlib.contextmanager
def written_until_failure(
    keys_dir: Path, keys: Mapping[str, NewKey]
) -> Iterator[dict[str, AgeKey]]:
    """``write_keys`` for the length of a block: a failure in it (or Ctrl-C) removes the files
    written again (made by this call, they protect nothing yet)."""
    made = write_keys(keys_dir, keys)
    try:
        yield made
    except BaseException:
        for key in made.values():
            key.path.unlink(missing_ok=True)
        raise


def read_public_key(path: Path) -> str:
    """The public key of an age key file, computed from its identity (a `# public key:`
    comment is only trusted when the file holds no identity line)."""
    unusable = UsageError(f"{path} holds no usable age key: repair or move it; nothing was changed")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise unusable from None
    for line in text.splitlines():
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                return str(pyrage.x25519.Identity.from_str(line.strip()).to_public())
            except Exception:  # pyrage's own error types; the value is a secret: never shown
                raise unusable from None
    for line in text.splitlines():
        if line.startswith("# public key:"):
            return line.split(":", 1)[1].strip()
    raise unusable
