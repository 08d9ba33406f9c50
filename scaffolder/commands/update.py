"""`gitops-scaffold update` and `check`: bring a repo up to the running version's templates.

update merges three versions of every file the tool generates:

- base: what was generated before, from the pristine record (``scaffolder/pristine.py``);
- ours: the work tree, hand edits and all;
- theirs: what the running version renders from the repo's answers (platform.yaml, with the
  tenants and clusters the day-2 commands added).

A file the new version does not change is left alone; one the user did not change gets the
new content; one both changed goes through `git merge-file`. A file the new version adds is
written; one it no longer generates is deleted when the user did not change it, else
reported. A conflict is left as markers in the file (``inline``: the index holds the three
versions, so `git status` lists it as unmerged) or as ``<file>.rej`` beside the file, which
keeps ours there (``rej``). Encrypted ``*.sops.yaml`` files are never decrypted: their
plaintext templates are compared by fingerprint; an untouched placeholder is re-encrypted,
a filled-in one reported. Everything lands in one ``Transaction`` with the new record and
platform.yaml's ``gitops_scaffold_version``, or nothing does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import scaffolder
from scaffolder import day2, git, landing, pristine, written
from scaffolder.answers_file import AnswersText
from scaffolder.errors import UsageError
from scaffolder.generate import SOPS_CONFIG, render_units
from scaffolder.model import PLATFORM_FILE
from scaffolder.render import Files, Renderer
from scaffolder.repo_state import public_keys, read_answers
from scaffolder.transaction import Transaction

ConflictStyle = Literal["inline", "rej"]
CONFLICT_STYLES: tuple[ConflictStyle, ...] = ("inline", "rej")
_REJ_MARKER = 40  # conflict markers this long are parsed back (rej), never left in a file


@dataclass(frozen=True)
class Note:
    path: str
    reason: str


@dataclass
class UpdateResult:
    """What update did (or, with ``dry_run``, would do) to the repo."""

    repo_dir: Path
    old_version: str  # "" when the repo records none
    new_version: str
    base: str  # where the base came from: a branch, or the initial commit
    written: list[str] = field(default_factory=list)  # new, updated or merged cleanly
    deleted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)  # the .rej files written
    notes: list[Note] = field(default_factory=list)  # left alone: yours to check
    dry_run: bool = False
    recovered: bool = False

    @property
    def changed(self) -> list[str]:
        return sorted({*self.written, *self.deleted, *self.conflicts})


@dataclass(frozen=True)
class CheckResult:
    repo_dir: Path
    recorded: str  # the version platform.yaml records ("" when none)
    running: str
    differing: list[str]  # files whose generated content the running version changes
    base: str

    @property
    def newer_recorded(self) -> bool:
        return _newer(self.recorded, self.running)

    @property
    def up_to_date(self) -> bool:
        if self.newer_recorded:
            return True
        return not self.differing and not _newer(self.running, self.recorded)


# --------------------------------------------------------------------------- check


def check(repo_dir: Path, *, base_from: str | None = None) -> CheckResult:
    """Whether ``update`` would change the repo at ``repo_dir``: by the versions, and by
    comparing the pristine record with what the running version generates."""
    repo_dir = repo_dir.absolute()
    answers = read_answers(repo_dir)
    base = _base(repo_dir, base_from)
    theirs_plain, theirs_sops = _render(repo_dir, answers)
    differing = sorted(
        {
            p
            for p in base.files.keys() | theirs_plain.keys()
            if base.files.get(p) != theirs_plain.get(p)
        }
        | {
            p
            for p in base.sops.keys() | theirs_sops.keys()
            if base.sops.get(p) != theirs_sops.get(p) and base.sops.get(p) != ""
        }
    )
    return CheckResult(
        repo_dir, answers.platform.generator_version, scaffolder.__version__, differing,
        base.source,
    )  # fmt: skip


# --------------------------------------------------------------------------- update


def update(
    repo_dir: Path, *, dry_run: bool = False, conflict: ConflictStyle = "inline",
    base_from: str | None = None,
) -> UpdateResult:  # fmt: skip
    """Merge what the running version generates into the repo at ``repo_dir``. ``base_from``:
    a revision holding the repo as gitops-scaffold generated it, for a repo without the
    pristine record whose first commit is not the one `new` made."""
    if conflict not in CONFLICT_STYLES:
        raise UsageError(f"--conflict: {conflict!r} is not one of {', '.join(CONFLICT_STYLES)}")
    repo_dir = repo_dir.absolute()
    answers = read_answers(repo_dir)
    if not (repo_dir / ".git").is_dir():
        raise UsageError(f"{repo_dir} is not a git repository (no .git folder)")
    if dry_run:
        return _update(repo_dir, answers, True, conflict, base_from)
    with Transaction(repo_dir) as transaction:
        result = _update(repo_dir, answers, False, conflict, base_from, transaction)
        result.recovered = transaction.recovered
    return result


def _update(
    repo_dir: Path, answers: AnswersText, dry_run: bool, conflict: ConflictStyle,
    base_from: str | None, into: Transaction | None = None,
) -> UpdateResult:  # fmt: skip
    if git.head_ref(repo_dir) == pristine.REF:
        raise UsageError(
            f"the branch {pristine.BRANCH} is checked out: it is the record of what "
            "gitops-scaffold generated; check out your main branch first; nothing was changed"
        )
    dirty = git.status(repo_dir)
    if dirty:
        raise UsageError(
            f"{dirty[0]} has uncommitted changes (git status): commit or stash them first, "
            "so the update is one reviewable change; nothing was changed"
        )
    recorded = answers.platform.generator_version
    running = scaffolder.__version__
    if _newer(recorded, running):
        raise UsageError(
            f"{PLATFORM_FILE} was written by gitops-scaffold {recorded}, newer than this one "
            f"({running}): install {recorded} or newer; nothing was changed"
        )
    base = _base(repo_dir, base_from)
    theirs_plain, theirs_sops = _render(repo_dir, answers)
    labels = (
        "yours",
        f"gitops-scaffold {base.version or 'before'} (base)",
        f"gitops-scaffold {running}",
    )
    merge = _Merge(repo_dir, base, conflict, labels)
    for path in sorted(base.files.keys() | theirs_plain.keys()):
        merge.plain(path, theirs_plain.get(path))
    for path in sorted(base.sops.keys() | theirs_sops.keys()):
        merge.encrypted(path, theirs_sops.get(path))
    result = merge.result
    result.old_version, result.new_version = recorded, running
    new_answers, _ = answers.edited([])
    if new_answers != answers.text and PLATFORM_FILE not in result.written:
        result.written.append(PLATFORM_FILE)  # the version it records
    if dry_run or into is None:
        result.dry_run = True
        return result
    unchanged = not (merge.content or merge.deletes or merge.encrypt)
    same_record = (base.files, base.sops, base.version) == (theirs_plain, theirs_sops, running)
    if unchanged and new_answers == answers.text and base.on_branch and same_record:
        return result  # up to date: nothing to write, not even a record
    # SOPS files to (re)write: encrypted from memory with the new .sops.yaml
    content = dict(merge.content)
    if merge.encrypt:
        sops_config = theirs_plain[SOPS_CONFIG][0].decode("utf-8")
        files = merge.encrypt_files(repo_dir, answers)
        content.update(day2.encrypted_content(repo_dir, files, sops_config))
    if new_answers != answers.text:
        content[PLATFORM_FILE] = (new_answers.encode("utf-8"), False)
        merge.as_generated.add(PLATFORM_FILE)
    landing.require_writable(repo_dir, [*content, *merge.deletes])
    into.write_all(content)
    for path in merge.deletes:
        into.delete(path)
    if merge.unmerged:
        into.protect(".git/index")
        into.protect_folder(".git/objects")
        for path, stages in merge.unmerged.items():
            ids = git.hash_objects(repo_dir, [stages[s] for s in sorted(stages)])
            mode = "100755" if theirs_plain.get(path, (b"", False))[1] else "100644"
            git.mark_unmerged(repo_dir, path, dict(zip(sorted(stages), ids, strict=True)), mode)
    record = written.read(repo_dir)
    as_generated = {p: data for p, (data, _) in content.items() if p in merge.as_generated}
    edited = [p for p in content if p not in merge.as_generated]
    written.write(into, written.updated(record, as_generated, [*merge.deletes, *edited]))
    parent = base.commit if base.on_branch else None
    pristine.record(into, pristine.new_commit(theirs_plain, theirs_sops, running, parent))
    result.dry_run = False
    return result


class _Merge:
    """The plan of an update, file by file."""

    def __init__(
        self, repo_dir: Path, base: pristine.Pristine, style: ConflictStyle,
        labels: tuple[str, str, str],
    ) -> None:  # fmt: skip
        self.repo_dir = repo_dir
        self.base = base
        self.style = style
        self.labels = labels
        self.record = written.read(repo_dir)
        self.result = UpdateResult(repo_dir, "", "", base.source)
        self.content: dict[str, tuple[bytes, bool]] = {}
        self.as_generated: set[str] = set()  # written exactly as the new version generates
        self.deletes: list[str] = []
        self.encrypt: list[str] = []
        self.unmerged: dict[str, dict[int, bytes]] = {}
        self._first: dict[str, bytes] | None = None

    def _disk(self, path: str) -> bytes | None:
        target = self.repo_dir / path
        if target.is_symlink() or not target.is_file():
            return None
        return target.read_bytes()

    def _write(self, path: str, data: bytes, executable: bool, *, generated: bool) -> None:
        self.content[path] = (data, executable)
        self.result.written.append(path)
        if generated:
            self.as_generated.add(path)

    def _note(self, path: str, reason: str) -> None:
        self.result.notes.append(Note(path, reason))

    def plain(self, path: str, theirs: tuple[bytes, bool] | None) -> None:
        before = self.base.files.get(path)
        if before == theirs:
            return  # the new version generates it as the old one did: hand edits stand
        target = self.repo_dir / path
        if target.is_symlink() or (target.exists() and not target.is_file()):
            self._note(path, "not a regular file here: left alone")
            return
        ours = self._disk(path)
        if theirs is None:
            if ours is None:
                return
            if before is not None and ours == before[0]:
                self.deletes.append(path)
                self.result.deleted.append(path)
            else:
                self._note(path, "no longer generated by the new version; edited: not deleted")
            return
        data, executable = theirs
        if ours == data:
            if before is None or before[1] != executable:
                self._write(path, data, executable, generated=True)  # the mode, at least
            return
        if ours is None:
            if before is None:
                self._write(path, data, executable, generated=True)
            else:
                self._note(path, "deleted here, changed by the new version: not written again")
            return
        if before is not None and ours == before[0]:
            self._write(path, data, executable, generated=True)
            return
        self._merge(path, ours, before[0] if before else b"", data, executable)

    def _merge(self, path: str, ours: bytes, base: bytes, theirs: bytes, executable: bool) -> None:
        if self.style == "inline":
            merged, conflicts = git.merge_file(ours, base, theirs, self.labels)
            self._write(path, merged, executable, generated=False)
            if conflicts:
                self.result.conflicts.append(path)
                self.result.written.remove(path)
                stages = {2: ours, 3: theirs, **({1: base} if base else {})}
                self.unmerged[path] = stages
            return
        merged, conflicts = git.merge_file(
            ours, base, theirs, ("ours", "base", "theirs"), diff3=True, marker_size=_REJ_MARKER
        )
        if not conflicts:
            self._write(path, merged, executable, generated=False)
            return
        kept, hunks = _split_conflicts(merged)
        self.result.conflicts.append(path)
        if kept != ours:
            self.content[path] = (kept, executable)
        reject = f"{path}.rej"
        header = f"--- {path}\t({self.labels[0]})\n+++ {path}\t({self.labels[2]})\n"
        self.content[reject] = (header.encode("utf-8") + hunks, False)
        self.result.rejects.append(reject)

    def encrypted(self, path: str, theirs: str | None) -> None:
        known = path in self.base.sops
        before = self.base.sops.get(path)
        ours = (self.repo_dir / path).is_file()
        if theirs is None:
            if not ours or not known:
                return
            if self._untouched(path):
                self.deletes.append(path)
                self.result.deleted.append(path)
            else:
                self._note(
                    path,
                    "encrypted, no longer generated by the new version: your values are kept; "
                    "delete it once you no longer need them",
                )
            return
        if not ours:
            if not known:
                self.encrypt.append(path)
                self.result.written.append(path)
                self.as_generated.add(path)
            else:
                self._note(path, "encrypted, deleted here: not written again")
            return
        if before == theirs:
            return
        untouched = self._untouched(path)
        if not before and not untouched:
            self._note(
                path,
                f"encrypted, changed here; {self.base.source} records no fingerprint of its "
                "template (made before `update` existed): not compared, left as it is",
            )
            return
        if untouched:
            self.encrypt.append(path)  # an untouched placeholder: the new one replaces it
            self.result.written.append(path)
            self.as_generated.add(path)
            return
        self._note(
            path,
            "encrypted and changed since gitops-scaffold wrote it; the new version's template "
            f"for it changed too: your values are kept: compare `sops decrypt {path}` with "
            "the new placeholders (README, secrets) and edit it with `sops edit`",
        )

    def _untouched(self, path: str) -> bool:
        """Whether the SOPS file ``path`` holds what this tool wrote (its placeholders): the
        record of this clone says so, or it is as the repo's first commit holds it."""
        if written.unchanged(self.repo_dir, path, self.record):
            return True
        if self._first is None:  # a clone has no record: the first commit tells, once read
            self._first = self.base.ciphertexts or pristine.first_ciphertexts(self.repo_dir)
        first = self._first.get(path)
        return first is not None and first == self._disk(path)

    def encrypt_files(self, repo_dir: Path, answers: AnswersText) -> Files:
        """The plaintexts of the SOPS files to write, rendered once more (never kept)."""
        wanted = set(self.encrypt)
        platform = answers.platform
        renderer = Renderer(platform, public_keys(repo_dir, platform), lambda p: p in wanted)
        files = render_units(platform, renderer)
        return {path: files[path] for path in self.encrypt}


def _split_conflicts(merged: bytes) -> tuple[bytes, bytes]:
    """A `merge-file --diff3` result (long markers) as ours-where-they-conflict and the
    conflicting hunks as a unified diff from ours to theirs (line numbers: the kept file's)."""
    marker = {c: (c * _REJ_MARKER).encode() for c in "<|=>"}
    kept: list[bytes] = []
    hunks: list[bytes] = []
    state = "out"
    ours: list[bytes] = []
    theirs: list[bytes] = []
    for line in merged.splitlines(keepends=True):
        if state == "out" and line.startswith(marker["<"]):
            state, ours, theirs = "ours", [], []
        elif state == "ours" and line.startswith(marker["|"]):
            state = "base"
        elif state in ("ours", "base") and line.startswith(marker["="]):
            state = "theirs"
        elif state == "theirs" and line.startswith(marker[">"]):
            start = len(kept) + 1
            hunks.append(
                f"@@ -{start},{len(ours)} +{start},{len(theirs)} @@\n".encode()
                + b"".join(b"-" + _ended(x) for x in ours)
                + b"".join(b"+" + _ended(x) for x in theirs)
            )
            kept.extend(ours)
            state = "out"
        elif state == "out":
            kept.append(line)
        elif state == "ours":
            ours.append(line)
        elif state == "theirs":
            theirs.append(line)
    return b"".join(kept), b"".join(hunks)


def _ended(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n"


# --------------------------------------------------------------------------- shared


def _base(repo_dir: Path, base_from: str | None = None) -> pristine.Pristine:
    base = pristine.read(repo_dir, base_from)
    if base is None:
        raise UsageError(
            f"{repo_dir} has no record of what gitops-scaffold generated (no branch "
            f"{pristine.BRANCH}, no initial commit by gitops-scaffold): fetch the branch "
            f"from the repo's remote, or pass --base-from REV (the commit that holds the "
            "generated files as they were generated); nothing was changed"
        )
    return base


def _render(repo_dir: Path, answers: AnswersText) -> tuple[pristine.Tree, dict[str, str]]:
    """What the running version generates for the repo's answers (SOPS files: fingerprints)."""
    platform = answers.platform
    files = render_units(platform, Renderer(platform, public_keys(repo_dir, platform)))
    return pristine.of_render(files)


_NUMBERS = re.compile(r"[0-9]+(?:\.[0-9]+)*")


def _newer(a: str, b: str) -> bool:
    """Whether version ``a`` is newer than ``b`` ("" is older than any)."""
    if not a:
        return False
    if not b:
        return True
    first, second = _NUMBERS.match(a), _NUMBERS.match(b)
    if first is None or second is None:
        return a != b and a > b
    key_a = tuple(int(n) for n in first.group().split("."))
    key_b = tuple(int(n) for n in second.group().split("."))
    if key_a != key_b:
        return key_a > key_b
    # 1.2.0 is newer than 1.2.0rc1 / 1.2.0.dev1; otherwise the longer suffix wins
    suffix_a, suffix_b = a[first.end() :], b[second.end() :]
    if not suffix_a or not suffix_b:
        return bool(suffix_b) and not suffix_a
    return suffix_a > suffix_b
