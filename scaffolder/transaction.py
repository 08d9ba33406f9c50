"""Changing an existing repo atomically: all of a change lands, or the repo is as it was.

A ``Transaction`` holds the repo's lock (``.git/gitops-scaffold.lock``) and a journal
(``.git/gitops-scaffold-journal/``): before a file is written or deleted, its old bytes and
mode (or its absence) are saved there and the journal index is synced to disk. On any
failure, Ctrl-C, SIGTERM or SIGHUP, every touched path is put back and the journal removed.
If the process is killed outright (SIGKILL, power loss), the next command finds the journal
and rolls it back before doing anything else. Both live inside `.git`, so git never sees them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from scaffolder.errors import UsageError
from scaffolder.files import EXECUTABLE, remove_if_empty
from scaffolder.locks import Lock
from scaffolder.testhooks import WRITE_DELAY, pause

JOURNAL = "gitops-scaffold-journal"
LOCK = "gitops-scaffold.lock"
_INDEX = "index.json"


class Transaction:
    """``with Transaction(repo) as change: change.write(...); change.delete(...)``."""

    def __init__(self, repo_dir: Path) -> None:
        git_dir = repo_dir / ".git"
        if not git_dir.is_dir():
            raise UsageError(f"{repo_dir} is not a git repository (no .git folder)")
        self.repo_dir = repo_dir
        self.journal = git_dir / JOURNAL
        self._lock = Lock(git_dir / LOCK, str(repo_dir))
        self._entries: list[dict[str, object]] = []
        self._saved: set[str] = set()
        self._created_dirs: list[str] = []
        self._created: set[str] = set()
        self._watched: dict[str, list[str]] = {}  # folder -> the files it held before

    def __enter__(self) -> Transaction:
        self._lock.__enter__()
        try:
            self.recovered = rollback(self.repo_dir, self.journal)
            (self.journal / "files").mkdir(parents=True)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                shutil.rmtree(self.journal)
            else:
                rollback(self.repo_dir, self.journal)
        finally:
            self._lock.__exit__(kind, error, trace)

    # ------------------------------------------------------------------ changes

    def write(self, relative: str, content: bytes) -> None:
        self.write_all({relative: (content, False)})

    def write_all(self, files: Mapping[str, tuple[bytes, bool]]) -> None:
        """Write every file (path -> (content, executable)); the journal is synced once,
        before the first of them is touched."""
        targets = {relative: self._target(relative) for relative in files}
        for relative in files:
            self._save(relative, sync=False)
        folders = [folder for target in targets.values() for folder in self._new_parents(target)]
        self._sync_index()
        for folder in folders:
            folder.mkdir(exist_ok=True)
        for relative, (content, executable) in files.items():
            self._replace(targets[relative], content, executable)

    def _replace(self, target: Path, content: bytes, executable: bool) -> None:
        """One file's new bytes, swapped in whole (its mode kept; the journal has the old)."""
        pause(WRITE_DELAY)
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_umask()
        partial = target.with_name(target.name + ".gitops-scaffold-partial")
        try:
            partial.write_bytes(content)
            partial.chmod(mode | EXECUTABLE if executable else mode)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk must not leave half a file behind
            raise

    def delete(self, relative: str) -> None:
        target = self._target(relative)
        pause(WRITE_DELAY)
        self._save(relative)
        target.unlink(missing_ok=True)
        parent = target.parent
        while parent != self.repo_dir and not any(parent.iterdir()):
            parent.rmdir()  # an emptied folder goes too; the journal brings it back
            parent = parent.parent

    def protect(self, relative: str, *, parents: bool = False) -> None:
        """Save ``relative`` (e.g. ``.git/index``) so a failure restores it, without writing it.
        ``parents``: its missing folders are made now, and removed again by a rollback (for
        a file another program, such as git, may create)."""
        self._save(relative)
        if parents:
            for folder in self._new_parents(self.repo_dir / relative):
                self._sync_index()
                folder.mkdir(exist_ok=True)

    def protect_folder(self, relative: str) -> None:
        """A failure removes every file that appears below ``relative`` from now on (the loose
        objects a failed `git commit` leaves in .git/objects)."""
        if relative in self._watched:
            return  # watched since an earlier call: what was there before that stays
        folder = self.repo_dir / relative
        self._watched[relative] = sorted(_files_below(folder))
        self._sync_index()

    # ------------------------------------------------------------------ journal

    def _target(self, relative: str) -> Path:
        target = self.repo_dir / relative
        if target.is_symlink() or not target.resolve().is_relative_to(self.repo_dir.resolve()):
            raise UsageError(
                f"{relative} leads out of the repo (a symbolic link?); not touching it"
            )
        return target

    def _save(self, relative: str, *, sync: bool = True) -> None:
        if relative in self._saved:
            return
        target = self.repo_dir / relative
        entry: dict[str, object] = {"path": relative, "existed": target.is_file()}
        if target.is_file():
            backup = self.journal / "files" / str(len(self._entries))
            _durable_copy(target, backup)
            entry["backup"] = backup.name
        self._entries.append(entry)
        self._saved.add(relative)
        if sync:
            self._sync_index()

    def _new_parents(self, target: Path) -> list[Path]:
        """The folders above ``target`` that do not exist yet (and no earlier write makes),
        outermost first, recorded in the journal so a rollback removes them."""
        missing = []
        parent = target.parent
        while not parent.exists() and parent.relative_to(self.repo_dir).as_posix() not in (
            self._created
        ):
            missing.append(parent)
            parent = parent.parent
        missing.reverse()
        for folder in missing:
            relative = folder.relative_to(self.repo_dir).as_posix()
            self._created_dirs.append(relative)
            self._created.add(relative)
        return missing

    def _sync_index(self) -> None:
        index = self.journal / _INDEX
        partial = index.with_name(_INDEX + ".partial")
        data = {
            "files": self._entries,
            "created_dirs": self._created_dirs,
            "watched": self._watched,
        }
        with partial.open("w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, index)


def rollback(repo_dir: Path, journal: Path) -> bool:
    """Put back every path a journal saved, then remove it; returns whether there was one."""
    index = journal / _INDEX
    if not journal.exists():
        return False
    if index.exists():
        data = json.loads(index.read_text(encoding="utf-8"))
        for entry in reversed(data["files"]):
            target = repo_dir / str(entry["path"])
            if entry["existed"]:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(journal / "files" / str(entry["backup"]), target)
            else:
                target.unlink(missing_ok=True)
        for folder in reversed(data["created_dirs"]):
            remove_if_empty(repo_dir / folder)
        for folder, before in data.get("watched", {}).items():
            for new in sorted(set(_files_below(repo_dir / folder)) - set(before), reverse=True):
                (repo_dir / folder / new).unlink(missing_ok=True)
                remove_if_empty((repo_dir / folder / new).parent)
    shutil.rmtree(journal)
    return True


def _durable_copy(source: Path, backup: Path) -> None:
    """Copy a file's bytes and mode, on disk before the journal names it."""
    with source.open("rb") as reader, backup.open("wb") as writer:
        shutil.copyfileobj(reader, writer)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copymode(source, backup)


def _files_below(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
