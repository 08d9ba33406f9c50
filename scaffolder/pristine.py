"""The pristine record: what this tool generated for a repo, kept in the repo's own git.

`update` merges a newer version's output into a repo three ways: base (what was generated
before), ours (the work tree), theirs (what the running version generates). The base is kept
as a commit on the branch ``gitops-scaffold/pristine``, written with git plumbing (`git
fast-import`: the work tree, the index and the checked-out branch are never touched):

- every plain file exactly as generated (``platform.yaml`` aside: it is the answers);
- ``.gitops-scaffold-pristine.json``: the version that wrote the commit and, for each SOPS
  file, the sha256 of its plaintext as the templates render it (placeholders: a cluster's
  credentials are never part of it). Never the plaintext itself: a SOPS file's template
  changed when its fingerprint did.

`new` writes the first commit (in the pack of the repo's first commit), the day-2 commands
add one for the files they change (when the branch exists), `update` one for the whole new
render. It is a branch so that it travels with the repo: push it beside the main branch, and
a clone finds it as ``origin/gitops-scaffold/pristine``.

A repo generated before the record existed has none: the base is then the repo's first
commit, made by `new` (its message names gitops-scaffold): every file as generated, SOPS
files without fingerprints. Everything read here is untrusted data: paths are checked,
nothing is rendered or run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffolder import git, sops
from scaffolder.errors import ScaffoldError, ToolFailedError, UsageError
from scaffolder.model import PLATFORM_FILE, VERSION_FIELD, parse_answers_text
from scaffolder.render import Files
from scaffolder.transaction import Transaction

BRANCH = "gitops-scaffold/pristine"
REF = f"refs/heads/{BRANCH}"
META = ".gitops-scaffold-pristine.json"
# A generated repo of 50 clusters and 1000 tenants holds about 60 MB.
LIMIT = 1024 * 1024 * 1024
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")

Tree = dict[str, tuple[bytes, bool]]  # path -> (content, executable)


@dataclass(frozen=True)
class Pristine:
    """A base for `update`: what a version of this tool generated for the repo."""

    files: Tree  # plain files
    sops: dict[str, str]  # SOPS file -> fingerprint of its plaintext ("": not recorded)
    version: str  # the gitops-scaffold version that wrote it ("": not recorded)
    commit: str
    source: str  # how the user would name it: a branch, or "the initial commit <id>"
    on_branch: bool  # False: the fallback, the repo's first commit
    # the fallback only: the SOPS files as the first commit holds them (a file still holding
    # these bytes holds the placeholders `new` wrote, nothing of the user's)
    ciphertexts: dict[str, bytes] = field(default_factory=dict)


def plaintext_fingerprint(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def of_render(files: Files) -> tuple[Tree, dict[str, str]]:
    """A render's plain files and its SOPS files' fingerprints (platform.yaml aside)."""
    plain: Tree = {}
    fingerprints: dict[str, str] = {}
    for path, file in files.items():
        if path == PLATFORM_FILE:
            continue
        if sops.is_sops_file(path):
            fingerprints[path] = plaintext_fingerprint(file.content)
        else:
            plain[path] = (file.content.encode("utf-8"), file.executable)
    return plain, fingerprints


def _meta(version: str, fingerprints: Mapping[str, str]) -> bytes:
    data = {VERSION_FIELD: version, "sops": dict(sorted(fingerprints.items()))}
    return (json.dumps(data, indent=1) + "\n").encode("utf-8")


def new_commit(
    plain: Tree, fingerprints: Mapping[str, str], version: str, parent: str | None = None
) -> git.NewCommit:
    """The commit of a whole render (``new``, ``update``)."""
    files = {**plain, META: (_meta(version, fingerprints), False)}
    message = f"gitops-scaffold {version}: generated files"
    return git.NewCommit(REF, files, message, parent, by_tool=True)


def _guard(transaction: Transaction) -> None:
    """Everything writing a commit on the branch may change, journaled: a failure puts the
    ref and its log back and removes the objects it wrote."""
    for state in (f".git/{REF}", f".git/logs/{REF}", ".git/packed-refs"):
        transaction.protect(state, parents=True)
    transaction.protect_folder(".git/objects")


def record(transaction: Transaction, commit: git.NewCommit) -> None:
    """Write ``commit`` on the branch inside ``transaction``."""
    _guard(transaction)
    git.write_commits(transaction.repo_dir, [commit])


@dataclass(frozen=True)
class Change:
    """A command's files as this version generates them, for the branch: ``plain`` files,
    the ``fingerprints`` of SOPS files' template plaintext, and the files it no longer
    generates (``removed``)."""

    plain: Tree = field(default_factory=dict)
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    removed: Sequence[str] = ()


def change_of(files: Files, removed: Sequence[str] = ()) -> Change:
    """The ``Change`` of rendered ``files`` (platform.yaml aside)."""
    plain, fingerprints = of_render(files)
    return Change(plain, fingerprints, removed)


def record_change(transaction: Transaction, change: Change, version: str) -> bool:
    """A command's ``change`` on the branch, when the repo has one: its plain files, SOPS
    fingerprints and removed files change; every other file stays. Returns whether there was
    a branch to write on."""
    repo_dir = transaction.repo_dir
    if git.head_ref(repo_dir) == REF:
        return False  # checked out: its files are the work tree's then
    try:
        head, meta = git.read_objects(repo_dir, [f"{REF}^{{commit}}", f"{REF}:{META}"], LIMIT)
    except ToolFailedError as err:
        raise UsageError(f"branch {BRANCH}: cannot be read ({err}); nothing was changed") from None
    if head is None:
        return False  # no record (a repo made before it existed): update starts one
    parent = head[0]
    removed = set(change.removed)
    _, recorded = _parse_meta(meta[1] if meta else b"", f"branch {BRANCH}")
    sops_files = {p: f for p, f in recorded.items() if p not in removed}
    sops_files.update(change.fingerprints)
    files = {**change.plain, META: (_meta(version, sops_files), False)}
    deleted = sorted(p for p in removed if not sops.is_sops_file(p) and p not in change.plain)
    _guard(transaction)
    git.write_commits(
        repo_dir,
        [
            git.NewCommit(
                REF, files, f"gitops-scaffold {version}: day-2 change", parent, deleted, True
            )
        ],
    )
    return True


# --------------------------------------------------------------------------- reading


def read(repo_dir: Path, base_from: str | None = None) -> Pristine | None:
    """The base of the repo: the branch, else a remote's copy of it, else the repo's first
    commit when `new` made it; None when there is none of them. ``base_from``: a revision
    of the repo holding the files as gitops-scaffold generated them, used instead."""
    if base_from is not None:
        commit = git.commit_of(repo_dir, base_from)
        if commit is None:
            raise UsageError(f"--base-from: {base_from!r} names no commit of {repo_dir}")
        return _from_initial_commit(repo_dir, commit, f"commit {commit[:12]} (--base-from)")
    for ref, name in (
        (REF, BRANCH),
        *((r, r.removeprefix("refs/remotes/")) for r in _remote_refs(repo_dir)),
    ):
        commit = git.commit_of(repo_dir, ref)
        if commit is not None:
            return _from_branch(repo_dir, commit, name)
    for commit, subject in git.root_commits(repo_dir):
        if "generated by gitops-scaffold" in subject:
            return _from_initial_commit(repo_dir, commit)
    return None


def first_ciphertexts(repo_dir: Path) -> dict[str, bytes]:
    """The SOPS files of the repo's first commit when `new` made it (placeholders only: a
    file still holding those bytes holds nothing of the user's); {} without one."""
    for commit, subject in git.root_commits(repo_dir):
        if "generated by gitops-scaffold" in subject:
            return _from_initial_commit(repo_dir, commit).ciphertexts
    return {}


def _remote_refs(repo_dir: Path) -> list[str]:
    return git.refs_matching(repo_dir, f"refs/remotes/*/{BRANCH}")


def _files(repo_dir: Path, commit: str, source: str) -> Tree:
    try:
        files, _ = git.tree_files(repo_dir, commit, LIMIT)
    except ToolFailedError as err:
        raise UsageError(f"{source}: cannot be read ({err}); nothing was changed") from None
    for path in files:
        _check_path(path, source)
    return files


def _check_path(path: str, source: str) -> None:
    parts = path.split("/")
    if (
        path.startswith("/")
        or any(part in ("", ".", "..") or part.lower() == ".git" for part in parts)
        or any(ord(c) < 32 for c in path)
    ):
        raise UsageError(
            f"{source} holds the path {path!r}, which no generated repo has: it is not what "
            "gitops-scaffold wrote; nothing was changed"
        )


def _from_branch(repo_dir: Path, commit: str, name: str) -> Pristine:
    source = f"branch {name}"
    files = _files(repo_dir, commit, source)
    meta = files.pop(META, None)
    version, fingerprints = _parse_meta(meta[0] if meta else b"", source)
    for path in [p for p in files if p == PLATFORM_FILE or sops.is_sops_file(p)]:
        del files[path]  # never written there by this tool: not a base
    return Pristine(files, fingerprints, version, commit, source, on_branch=True)


def _parse_meta(text: bytes, source: str) -> tuple[str, dict[str, str]]:
    if not text:
        return "", {}
    problem = f"{source}: {META} is not what gitops-scaffold writes; nothing was changed"
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise UsageError(problem) from None
    if not isinstance(data, dict):
        raise UsageError(problem)
    version, fingerprints = data.get(VERSION_FIELD, ""), data.get("sops", {})
    if not isinstance(version, str) or len(version) > 40 or not isinstance(fingerprints, dict):
        raise UsageError(problem)
    for path, value in fingerprints.items():
        _check_path(str(path), source)
        if not sops.is_sops_file(str(path)) or not (
            isinstance(value, str) and _FINGERPRINT.fullmatch(value)
        ):
            raise UsageError(problem)
    return version, {str(p): str(v) for p, v in fingerprints.items()}


def _from_initial_commit(repo_dir: Path, commit: str, source: str = "") -> Pristine:
    """A commit of the repo as `new` made it (its SOPS files without fingerprints)."""
    source = source or f"the initial commit {commit[:12]}"
    files = _files(repo_dir, commit, source)
    answers = files.pop(PLATFORM_FILE, (b"", False))[0]
    fingerprints = {p: "" for p in files if sops.is_sops_file(p)}
    ciphertexts = {path: files.pop(path)[0] for path in fingerprints}
    return Pristine(files, fingerprints, _version_of(answers), commit, source, False, ciphertexts)


def _version_of(answers: bytes) -> str:
    """The version a platform.yaml records ("" when it records none it can be read as)."""
    try:
        data = parse_answers_text(answers.decode("utf-8"), PLATFORM_FILE)
    except (ScaffoldError, UnicodeDecodeError):
        return ""
    version = data.get(VERSION_FIELD) if isinstance(data, dict) else None
    return version if isinstance(version, str) and len(version) <= 40 else ""
