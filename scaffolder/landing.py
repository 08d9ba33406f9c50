"""Landing a change whose files are already known (the `secrets` commands): every file
written in one ``Transaction``, the record of what this tool wrote kept in step, an optional
commit of exactly those paths, and a last step (the keys folder) that runs inside the
transaction, so its failure rolls the repo back too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from scaffolder import git, written
from scaffolder.day2 import require_writable
from scaffolder.errors import UsageError
from scaffolder.testhooks import fail_at, pause_at
from scaffolder.transaction import Transaction


@dataclass(frozen=True)
class Landed:
    written: list[str]
    committed: bool
    recovered: bool  # an earlier, interrupted command was rolled back first


def land(
    repo_dir: Path,
    content: Mapping[str, bytes],
    *,
    fingerprinted: Mapping[str, bytes],
    message: str,
    commit: bool,
    point: str,
    outside: Callable[[], AbstractContextManager[object]] | None = None,
) -> Landed:
    """Write ``content`` (path -> bytes) into the repo, all or nothing.

    ``fingerprinted``: the files among them the record of written files should now know as
    this tool's (the others keep their entry, or have none). ``outside``: a context manager
    for changes outside the repo (keys); it is entered once the repo files are written and
    exited with the transaction's outcome, so it undoes itself on any failure. ``point``
    names the command for the test suite's injected failures (``<point>:files``,
    ``<point>:outside``).
    """
    touched = sorted(content)
    require_writable(repo_dir, touched)
    if commit and (dirty := git.uncommitted(repo_dir, touched)):
        raise UsageError(
            f"--commit: {dirty[0]} has uncommitted changes that are not part of this one: "
            "commit or stash them first, or leave out --commit; nothing was changed"
        )
    record = written.read(repo_dir)
    with Transaction(repo_dir) as transaction:
        transaction.write_all({path: (data, False) for path, data in content.items()})
        written.write(transaction, written.updated(record, dict(fingerprinted)))
        fail_at(f"{point}:files")
        pause_at(f"{point}:files")
        with (outside or nullcontext)():
            fail_at(f"{point}:outside")
            pause_at(f"{point}:outside")
            if commit:
                for state in (".git/index", ".git/COMMIT_EDITMSG"):
                    transaction.protect(state)
                transaction.protect_folder(".git/objects")
                pause_at(f"{point}:commit")
                git.commit_paths(repo_dir, touched, message)
    return Landed(touched, commit, transaction.recovered)
