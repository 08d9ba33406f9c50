"""Landing a change whose files are known: the last step of every command that changes a
repo's files and may commit them (the day-2 commands of ``day2.py``, `secrets rotate`,
`secrets add`).

In one ``Transaction``: every file written or deleted, the record of what this tool wrote
(``written.py``) and the pristine record (``pristine.py``) kept in step with them, then a
step outside the repo (the keys folder), then the optional commit of exactly the touched
paths. A failure anywhere (Ctrl-C, a signal, a full disk) puts the repo back byte for byte,
`.git` included, and the step outside undoes itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import scaffolder
from scaffolder import git, pristine, written
from scaffolder.errors import UsageError
from scaffolder.testhooks import fail_at, pause_at
from scaffolder.transaction import Transaction

T = TypeVar("T")


@dataclass(frozen=True)
class Landed(Generic[T]):
    written: list[str]
    committed: bool
    recovered: bool  # an earlier, interrupted command was rolled back first
    outside: T | None  # what the step outside the repo gave (None without one)


def land(
    repo_dir: Path,
    content: Mapping[str, tuple[bytes, bool]],
    *,
    deletes: Sequence[str] = (),
    fingerprinted: Mapping[str, bytes],
    generated: pristine.Change | None,
    message: str,
    commit: bool,
    point: str,
    outside: AbstractContextManager[T] | None = None,
    outside_point: str = "outside",
) -> Landed[T]:
    """Write ``content`` (path -> (bytes, executable)) into the repo and delete ``deletes``,
    all or nothing.

    ``fingerprinted``: the files the record of written files should now know as this tool's,
    as written (the others written keep their entry, or have none; the deleted lose theirs).
    ``generated``: the change's files as this version generates them, for the pristine
    record (None: nothing it writes is generated). Every command that rewrites a generated
    file says so here, or `check` and `update` compare the repo with a stale record.
    ``outside``: a context manager for changes outside the repo (keys), entered once the
    repo's files and records are written and exited with the outcome, so it undoes itself
    on any failure. ``point`` names the command for the test suite's pauses and injected
    failures (``<point>:files``, ``<point>:<outside_point>``, ``<point>:commit``).
    """
    touched = [*content, *deletes]
    require_writable(repo_dir, touched)
    if commit and (dirty := git.uncommitted(repo_dir, touched)):
        raise UsageError(
            f"--commit: {dirty[0]} has uncommitted changes that are not part of this one: "
            "commit or stash them first, or leave out --commit; nothing was changed"
        )
    record = written.read(repo_dir)
    with Transaction(repo_dir) as transaction:
        transaction.write_all(content)
        for path in deletes:
            transaction.delete(path)
        written.write(transaction, written.updated(record, fingerprinted, deletes))
        if generated is not None:
            pristine.record_change(transaction, generated, scaffolder.__version__)
        fail_at(f"{point}:files")
        pause_at(f"{point}:files")
        with outside if outside is not None else nullcontext() as entered:
            fail_at(f"{point}:{outside_point}")
            pause_at(f"{point}:{outside_point}")
            if commit:
                for state in (".git/index", ".git/COMMIT_EDITMSG"):
                    transaction.protect(state)
                transaction.protect_folder(".git/objects")
                pause_at(f"{point}:commit")
                git.commit_paths(repo_dir, touched, message)
    return Landed(sorted(content), commit, transaction.recovered, entered)


def require_writable(repo_dir: Path, paths: Iterable[str]) -> None:
    """A read-only file or folder the change must touch stops it before anything is written.

    Read-only means the mode has no write bit (the owner's intent, which root would bypass),
    or this user may not write it.
    """
    for relative in paths:
        target = repo_dir / relative
        if target.exists() and _read_only(target):
            raise UsageError(
                f"{relative} is read-only: make it writable first; nothing was changed"
            )
        folder = target.parent
        while not folder.exists():
            folder = folder.parent
        if _read_only(folder):
            shown = folder.relative_to(repo_dir).as_posix() if folder != repo_dir else "the repo"
            raise UsageError(
                f"{shown} is a read-only folder: make it writable first; nothing was changed"
            )


def _read_only(path: Path) -> bool:
    writable = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    return not path.stat().st_mode & writable or not os.access(path, os.W_OK)
