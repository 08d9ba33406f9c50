"""The generated repo's version control: init, commits, and what git already knows."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class NewCommit:
    """A commit for ``write_commits``: exactly ``files`` (path -> (content, executable))."""

    ref: str  # the full ref it goes on: refs/heads/<branch>
    files: Mapping[str, tuple[bytes, bool]]
    message: str
    parent: str | None = None  # the ref's current commit (None: a commit without parent)
    # None: ``files`` is the whole tree; else the parent's tree with ``files`` written and
    # these paths deleted
    deleted: Sequence[str] | None = None
    by_tool: bool = False  # authored by gitops-scaffold itself, not the configured identity


# Who writes the commits of the tool's own records (no person's identity needed, or looked up).
TOOL_IDENTITY = "gitops-scaffold <gitops-scaffold@localhost>"


def commit_new_tree(
    repo_dir: Path,
    branch: str,
    files: Mapping[str, tuple[bytes, bool]],
    message: str,
    also: Sequence[NewCommit] = (),
) -> None:
    """The first commit of the new repo at ``repo_dir``: exactly ``files`` (path ->
    (content, executable)), as the work tree holds them; ``also``: more commits on other
    refs, in the same pack (the pristine record of ``scaffolder/pristine.py``).
    """
    write_commits(repo_dir, [NewCommit(f"refs/heads/{branch}", files, message), *also])
    _git(repo_dir, "read-tree", branch, what="git read-tree")
    # read-tree leaves the index without the files' stat data: fill it in (content unchanged).
    _git(repo_dir, "update-index", "-q", "--refresh", what="git update-index")


def write_commits(repo_dir: Path, commits: Sequence[NewCommit]) -> None:
    """Commits written through ``git fast-import``, refs moved to them; the work tree and the
    index are not touched.

    One pack file instead of a loose object per file, which is most of the cost of `git add`
    on a large repo; content shared between the commits is written once. Identity and
    options as `_commit`: the configured identity (else the tool's), no hooks, no signature.
    """
    git = require("git")
    people = any(not commit.by_tool for commit in commits)
    env = _env(repo_dir, identity=people)
    author = committer = ""
    if people:
        author, committer = (
            run([git, "var", f"GIT_{who}_IDENT"], cwd=repo_dir, env=env, what="git var").strip()
            for who in ("AUTHOR", "COMMITTER")
        )
    tool = f"{TOOL_IDENTITY} {int(time.time())} +0000"
    stream = bytearray()
    marks: dict[bytes, int] = {}
    for commit in commits:
        for content, _ in commit.files.values():
            if content not in marks:
                marks[content] = len(marks) + 1
                stream += b"blob\nmark :%d\ndata %d\n" % (marks[content], len(content))
                stream += content + b"\n"
    for commit in commits:
        text = commit.message.encode("utf-8")
        stream += f"commit {commit.ref}\n".encode()
        who, by = (tool, tool) if commit.by_tool else (author, committer)
        stream += b"author " + who.encode("utf-8") + b"\ncommitter " + by.encode("utf-8")
        stream += b"\ndata %d\n%s\n" % (len(text), text)
        if commit.parent:
            stream += f"from {commit.parent}\n".encode()
        if commit.deleted is None:
            stream += b"deleteall\n"
        for path in sorted(commit.deleted or ()):
            stream += b"D %s\n" % _quoted_path(path)
        for path in sorted(commit.files):
            content, executable = commit.files[path]
            mode = b"100755" if executable else b"100644"
            stream += b"M %s :%d %s\n" % (mode, marks[content], _quoted_path(path))
    stream += b"done\n"
    run_bytes([git, "fast-import", "--quiet", "--done"], bytes(stream), cwd=repo_dir, env=env,
              what="git fast-import")  # fmt: skip


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


def head_ref(repo_dir: Path) -> str | None:
    """The branch checked out (refs/heads/...), None on a detached HEAD (read from .git/HEAD:
    no process)."""
    try:
        head = (repo_dir / ".git" / "HEAD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return head[5:].strip() if head.startswith("ref: ") else None


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


def status(repo_dir: Path) -> list[str]:
    """Every path `git status` lists (changed, staged, unmerged, untracked), ignored ones aside."""
    out = _git(repo_dir, "status", "--porcelain", "-z", "--untracked-files=all", what="git status")
    entries = out.split("\0")
    found, skip = [], False
    for entry in entries:
        if skip:  # the source of a rename or copy
            skip = False
            continue
        if len(entry) > 3:
            found.append(entry[3:])
            skip = entry[0] in "RC"
    return found


def commit_of(repo_dir: Path, revision: str) -> str | None:
    """The commit id ``revision`` names, None when it names none."""
    try:
        out = _git(repo_dir, "rev-parse", "--verify", "--quiet", "--end-of-options",
                   f"{revision}^{{commit}}", what="git rev-parse")  # fmt: skip
    except ToolFailedError:
        return None
    return out.strip() or None


def refs_matching(repo_dir: Path, pattern: str) -> list[str]:
    out = _git(repo_dir, "for-each-ref", "--format=%(refname)", pattern, what="git for-each-ref")
    return out.split()


def root_commits(repo_dir: Path) -> list[tuple[str, str]]:
    """(id, subject) of each commit without parent that HEAD descends from."""
    try:
        out = _git(repo_dir, "log", "--max-parents=0", "--format=%H%x00%s%x00", "HEAD",
                   what="git log")  # fmt: skip
    except ToolFailedError:  # no commit yet
        return []
    fields = out.replace("\n", "").split("\0")
    return list(zip(fields[0:-1:2], fields[1::2], strict=False))


def tree_files(
    repo_dir: Path, commit: str, limit: int
) -> tuple[dict[str, tuple[bytes, bool]], list[str]]:
    """The regular files of ``commit`` (path -> (content, executable)), read in one
    `git cat-file --batch`; and the paths of what is not a regular file (symbolic links,
    submodules). A commit holding more than ``limit`` bytes is refused."""
    git = require("git")
    env = _env(repo_dir)
    listing = run_bytes([git, "ls-tree", "-r", "-z", "--full-tree", "--long", commit], None,
                        cwd=repo_dir, env=env, what="git ls-tree")  # fmt: skip
    blobs: list[tuple[str, str, bool]] = []
    other: list[str] = []
    total = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, object_id, length = meta.split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if kind != b"blob" or mode not in (b"100644", b"100755"):
            other.append(path)
            continue
        total += int(length)
        if total > limit:
            raise ToolFailedError(f"{commit[:12]} holds more than {limit} bytes of files")
        blobs.append((path, object_id.decode(), mode == b"100755"))
    if not blobs:
        return {}, other
    request = "".join(f"{object_id}\n" for _, object_id, _ in blobs).encode()
    out = run_bytes([git, "cat-file", "--batch"], request, cwd=repo_dir, env=env,
                    what="git cat-file")  # fmt: skip
    files: dict[str, tuple[bytes, bool]] = {}
    at = 0
    for path, _, executable in blobs:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        files[path] = (out[header_end + 1 : header_end + 1 + size], executable)
        at = header_end + 1 + size + 1
    return files, other


def read_objects(
    repo_dir: Path, names: Sequence[str], limit: int
) -> list[tuple[str, bytes] | None]:
    """(id, content) of each object ``names`` names (``<rev>``, ``<rev>:<path>``), None for a
    missing one; one larger than ``limit`` is refused before it is read."""
    git = require("git")
    env = _env(repo_dir)
    request = "".join(f"{n}\n" for n in names)
    sizes = run([git, "cat-file", "--batch-check"], cwd=repo_dir, env=env, input_text=request,
                what="git cat-file")  # fmt: skip
    for line in sizes.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2].isdigit() and int(fields[2]) > limit:
            raise ToolFailedError(f"{fields[0]} is larger than {limit} bytes")
    out = run_bytes([git, "cat-file", "--batch"], request.encode(), cwd=repo_dir, env=env,
                    what="git cat-file")  # fmt: skip
    found: list[tuple[str, bytes] | None] = []
    at = 0
    for _ in names:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split()
        if len(header) != 3 or not header[2].isdigit():
            found.append(None)  # "<name> missing" (or ambiguous)
            at = header_end + 1
            continue
        size = int(header[2])
        found.append((header[0].decode(), out[header_end + 1 : header_end + 1 + size]))
        at = header_end + 1 + size + 1
    return found


def merge_file(
    ours: bytes, base: bytes, theirs: bytes, labels: tuple[str, str, str], *,
    diff3: bool = False, marker_size: int = 7,
) -> tuple[bytes, int]:  # fmt: skip
    """`git merge-file -p` of three versions of a file: the merged text (with conflict
    markers) and the number of conflicts. Runs on copies in a temporary folder."""
    git = require("git")
    with tempfile.TemporaryDirectory(prefix="gitops-scaffold-merge-") as tmp:
        names = []
        for name, content in (("ours", ours), ("base", base), ("theirs", theirs)):
            (Path(tmp) / name).write_bytes(content)
            names.append(name)
        argv = [git, "merge-file", "-p", f"--marker-size={marker_size}"]
        argv += ["--diff3"] if diff3 else []
        for label in labels:
            argv += ["-L", label]
        done = subprocess.run([*argv, *names], cwd=tmp, capture_output=True,
                              env=_env(Path(tmp)), check=False)  # fmt: skip
    if not 0 <= done.returncode < 128:
        detail = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise ToolFailedError(f"git merge-file failed: {detail.splitlines()[-1]}")
    return done.stdout, done.returncode


def hash_objects(repo_dir: Path, contents: Sequence[bytes]) -> list[str]:
    """Write blobs into the repo's object store, in one `git hash-object`; their ids."""
    if not contents:
        return []
    git = require("git")
    with tempfile.TemporaryDirectory(prefix="gitops-scaffold-blobs-") as tmp:
        paths = []
        for index, content in enumerate(contents):
            path = Path(tmp) / str(index)
            path.write_bytes(content)
            paths.append(str(path))
        out = run([git, "hash-object", "-w", "--no-filters", "--stdin-paths"], cwd=repo_dir,
                  input_text="".join(p + "\n" for p in paths), env=_env(repo_dir),
                  what="git hash-object")  # fmt: skip
    return out.split()


def mark_unmerged(repo_dir: Path, path: str, stages: Mapping[int, str], mode: str) -> None:
    """Put ``path`` in the index as unmerged (stage -> blob id: 1 base, 2 ours, 3 theirs), as
    a conflicted `git merge` leaves it: `git status` lists it as unmerged, `git add` resolves."""
    null = "0" * len(next(iter(stages.values())))
    lines = f"0 {null}\t{path}\n"
    lines += "".join(f"{mode} {blob} {stage}\t{path}\n" for stage, blob in sorted(stages.items()))
    _git_input(repo_dir, lines, "update-index", "--index-info")


def _git_input(repo_dir: Path, text: str, *args: str) -> str:
    return run([require("git"), *args], cwd=repo_dir, input_text=text, env=_env(repo_dir),
               what=f"git {args[0]}")  # fmt: skip
