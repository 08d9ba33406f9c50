"""What this tool last wrote into a repo: a fingerprint per file, so a later command knows
which files nobody edited since.

The record lives in `.git/gitops-scaffold-written/` (local to this clone, never committed): the
sha256 of each plain file, the sops MAC of each encrypted one (an encrypted file cannot be
compared with a fresh render: its values are encrypted, and filling them in is the point; the
MAC changes when they do). A file whose fingerprint is still the recorded one was never
edited: a day-2 command may rewrite or delete it without rendering what it wrote before. A
clone without the record (or a file not in it) falls back to the slower comparison with the
old answers' render; an encrypted file not in it is deleted only when git holds it as it is.

One JSON file per part of the repo: each tenant's files (`tenants/<t>/...`), each cluster's
(`clusters/<c>/...`), and the rest. A command reads and writes the parts it changes, so adding
a tenant costs the same beside 2 tenants as beside 1000. Repos made before the parts existed
have one file for everything (`RECORD`): it is read for the parts not written since, and never
written again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from scaffolder import git, sops

if TYPE_CHECKING:
    from scaffolder.transaction import Transaction

RECORD = ".git/gitops-scaffold-written.json"  # one file for the whole repo: older repos
RECORD_DIR = ".git/gitops-scaffold-written"
_REST = "repo"  # the part of every file outside tenants/<t>/ and clusters/<c>/
_OWNED = ("tenants", "clusters")
_NAME = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")  # tenant and cluster names: no dot


def part_of(path: str) -> str:
    """The part of the record that holds ``path``: ``tenants.<t>``, ``clusters.<c>`` or
    ``repo`` (the names are DNS labels: the dot cannot be part of one)."""
    top, _, rest = path.partition("/")
    name, slash, _ = rest.partition("/")
    if top in _OWNED and slash and _NAME.fullmatch(name):
        return f"{top}.{name}"
    return _REST


def part_file(part: str) -> str:
    return f"{RECORD_DIR}/{part}.json"


class Record(Mapping[str, str]):
    """The record of a repo (path -> fingerprint), each part read when a path of it is
    looked up. Read-only: ``updated`` computes what to write."""

    def __init__(self, repo_dir: Path | None) -> None:
        self._repo_dir = repo_dir
        self._parts: dict[str, dict[str, str]] = {}
        self._legacy: dict[str, dict[str, str]] | None = None

    def part(self, name: str) -> dict[str, str]:
        if name not in self._parts:
            self._parts[name] = self._read_part(name)
        return self._parts[name]

    def _read_part(self, name: str) -> dict[str, str]:
        if self._repo_dir is None:
            return {}
        path = self._repo_dir / part_file(name)
        if path.is_file():
            return _read_json(path)
        return self._legacy_parts().get(name, {})

    def in_legacy(self, name: str) -> bool:
        """Whether the one file of an older repo holds entries of part ``name``."""
        return name in self._legacy_parts()

    def _legacy_parts(self) -> dict[str, dict[str, str]]:
        if self._legacy is None:
            self._legacy = {}
            if self._repo_dir is not None:
                for path, value in _read_json(self._repo_dir / RECORD).items():
                    self._legacy.setdefault(part_of(path), {})[path] = value
        return self._legacy

    def _every_part(self) -> list[str]:
        if self._repo_dir is None:
            return list(self._parts)
        folder = self._repo_dir / RECORD_DIR
        written = [p.stem for p in folder.glob("*.json")] if folder.is_dir() else []
        return sorted({*written, *self._legacy_parts(), *self._parts})

    def __getitem__(self, path: str) -> str:
        return self.part(part_of(path))[path]

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and path in self.part(part_of(path))

    def __iter__(self) -> Iterator[str]:
        for name in self._every_part():
            yield from self.part(name)

    def __len__(self) -> int:
        return sum(len(self.part(name)) for name in self._every_part())


def _read_json(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def read(repo_dir: Path) -> Record:
    return Record(repo_dir)


def empty() -> Record:
    """The record of a repo nothing has been written into yet."""
    return Record(None)


def fingerprint(relative: str, content: bytes) -> str | None:
    if sops.is_sops_file(relative):
        mac = sops.mac_of(content.decode("utf-8", "replace"))
        return f"mac:{mac}" if mac else None
    return "sha256:" + hashlib.sha256(content).hexdigest()


def updated(
    record: Record, written: Mapping[str, bytes], deleted: Iterable[str] = ()
) -> dict[str, bytes | None]:
    """The files of the record to write after writing ``written`` (path -> bytes) and
    deleting ``deleted``: repo-relative path -> content, or None for a part left empty (to
    delete). Only the parts those paths belong to."""
    changes: dict[str, dict[str, str | None]] = {}
    for path in deleted:
        changes.setdefault(part_of(path), {})[path] = None
    for path, content in written.items():
        changes.setdefault(part_of(path), {})[path] = fingerprint(path, content)
    files: dict[str, bytes | None] = {}
    for name, entries in changes.items():
        part = dict(record.part(name))
        for path, value in entries.items():
            if value is None:
                part.pop(path, None)
            else:
                part[path] = value
        text = json.dumps(dict(sorted(part.items())), indent=0) + "\n"
        # An emptied part goes, unless the file of an older repo would then speak for it.
        empty = not part and not record.in_legacy(name)
        files[part_file(name)] = None if empty else text.encode("utf-8")
    return files


def write(transaction: Transaction, files: Mapping[str, bytes | None]) -> None:
    """Write ``updated``'s files of the record in ``transaction`` (None: delete)."""
    transaction.write_all({path: (data, False) for path, data in files.items() if data})
    for path, data in files.items():
        if data is None and (transaction.repo_dir / path).exists():
            transaction.delete(path)


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
