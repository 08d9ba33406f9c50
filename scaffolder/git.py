"""The generated repo's version control: init, commits, and what git already knows."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from scaffolder.errors import ToolFailedError
from scaffolder.tools import require, run, run_bytes

_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "gitops-scaffold",
    "GIT_AUTHOR_EMAIL": "gitops-scaffold@localhost",
    "GIT_COMMITTER_NAME": "gitops-scaffold",
    "GIT_COMMITTER_EMAIL": "gitops-scaffold@localhost",
}
# Settings of whatever repository the caller is in (a hook, CI) must not redirect ours.
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                         "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX")  # fmt: skip


def _env(repo_dir: Path, identity: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    # Queries (status, diff) must not refresh and rewrite .git/index as a side effect.
    env["GIT_OPTIONAL_LOCKS"] = "0"
    if identity:
        try:
            run([require("git"), "config", "user.email"], cwd=repo_dir, env=env)
        except ToolFailedError:  # no identity configured: commit as the tool
            for key, value in _FALLBACK_IDENTITY.items():
                env.setdefault(key, value)
    return env


def _git(repo_dir: Path, *args: str, what: str, identity: bool = False) -> str:
    return run([require("git"), *args], cwd=repo_dir, env=_env(repo_dir, identity), what=what)


def init(repo_dir: Path, branch: str) -> None:
    _git(repo_dir, "init", "--quiet", "--initial-branch", branch, what="git init")


def commit_new_tree(
    repo_dir: Path, branch: str, files: Mapping[str, tuple[bytes, bool]], message: str
) -> None:
    """The first commit of the new repo at ``repo_dir``: exactly ``files`` (path ->
    (content, executable)), as the work tree holds them.

    Through ``git fast-import``: one pack file instead of a loose object per file, which is
    most of the cost of `git add` on a large repo. Identity and options as `_commit`: the
    configured identity (else the tool's), no hooks, no signature.
    """
    git = require("git")
    env = _env(repo_dir, identity=True)
    author, committer = (
        run([git, "var", f"GIT_{who}_IDENT"], cwd=repo_dir, env=env, what="git var").strip()
        for who in ("AUTHOR", "COMMITTER")
    )
    stream = bytearray()
    text = message.encode("utf-8")
    stream += f"commit refs/heads/{branch}\n".encode()
    stream += b"author " + author.encode("utf-8") + b"\ncommitter " + committer.encode("utf-8")
    stream += b"\ndata %d\n%s\n" % (len(text), text)
    for path in sorted(files):
        content, executable = files[path]
        mode = b"100755" if executable else b"100644"
        stream += b"M %s inline %s\ndata %d\n" % (mode, _quoted_path(path), len(content))
        stream += content + b"\n"
    stream += b"done\n"
    run_bytes([git, "fast-import", "--quiet", "--done"], bytes(stream), cwd=repo_dir, env=env,
              what="git fast-import")  # fmt: skip
    _git(repo_dir, "read-tree", branch, what="git read-tree")
    # read-tree leaves the index without the files' stat data: fill it in (content unchanged).
    _git(repo_dir, "update-index", "-q", "--refresh", what="git update-index")


def _quoted_path(path: str) -> bytes:
    """A path as fast-import reads it: C-style quoted when it needs to be."""
    if path.startswith('"') or any(c in path for c in "\n\\"):
        escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'.encode()
    return path.encode("utf-8")


def commit_paths(repo_dir: Path, paths: Sequence[str], message: str) -> None:
    """One commit of exactly ``paths`` (added, changed or deleted), nothing else staged."""
    _git(repo_dir, "add", "--all", "--", *paths, what="git add")
    _commit(repo_dir, message, "--", *paths)


def _commit(repo_dir: Path, message: str, *paths: str) -> None:
    _git(
        repo_dir,
        "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message, *paths,
        what="git commit",
        identity=True,
    )  # fmt: skip


def work_tree_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path`` (None outside one)."""
    try:
        top = _git(path, "rev-parse", "--show-toplevel", what="git rev-parse")
    except ToolFailedError:
        return None
    return Path(top.strip())


def committed_unchanged(repo_dir: Path, relative: str) -> bool:
    """Whether ``relative`` is in the last commit as it is on disk (so git can bring it back)."""
    try:
        _git(repo_dir, "ls-files", "--error-unmatch", "--", relative, what="git ls-files")
        _git(repo_dir, "diff", "--quiet", "HEAD", "--", relative, what="git diff")
    except ToolFailedError:
        return False
    return True


def uncommitted(repo_dir: Path, paths: Sequence[str]) -> list[str]:
    """Which of ``paths`` differ from the last commit (changed, new or deleted)."""
    out = _git(repo_dir, "status", "--porcelain", "-z", "--", *paths, what="git status")
    return [entry[3:] for entry in out.split("\0") if len(entry) > 3]


def tracked_files(repo_dir: Path) -> list[str]:
    return _git(repo_dir, "ls-files", "-z", what="git ls-files").split("\0")[:-1]
