"""`gitops-scaffold new`: a complete platform repo, written atomically.

The repo is built in a staging folder beside the target and moved into place only when it is
complete. New private keys exist only in memory until then, and are written (never over an
existing file) once the repo is in place; if they cannot be, the old repo comes back. So a
failure, Ctrl-C, SIGTERM or SIGHUP leaves nothing behind, and `--force` never loses a key:
the keys a keys folder already holds are reused, never replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scaffolder import keys
from scaffolder.errors import ScaffoldError, UsageError
from scaffolder.files import remove_if_empty
from scaffolder.generate import (
    GeneratedRepo,
    build_repo,
    default_keys_dir,
    key_names,
    placeholder_files,
    repo_files,
)
from scaffolder.git import work_tree_root
from scaffolder.locks import Lock, pid_alive
from scaffolder.model import Platform
from scaffolder.repo_state import is_platform_repo
from scaffolder.testhooks import NEW_DELAY, pause, pause_at


@dataclass(frozen=True)
class _Targets:
    output_dir: Path
    repo: Path
    keys_dir: Path

    @property
    def staging_prefix(self) -> str:
        return f".{self.repo.name}.staging-"


def new(
    platform: Platform,
    output_dir: Path,
    keys_dir: Path | None = None,
    *,
    force: bool = False,
) -> GeneratedRepo:
    """Generate ``output_dir/<repo_name>`` and its keys; returns where everything went."""
    output_dir = output_dir.expanduser().absolute()
    keys_dir = (keys_dir or default_keys_dir(output_dir, platform.repo_name)).expanduser()
    targets = _Targets(output_dir, output_dir / platform.repo_name, keys_dir.absolute())
    _check_targets(platform, targets, force)
    created_output_dir = not output_dir.exists()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ScaffoldError(f"cannot write {err.filename or output_dir}: {err.strerror}") from err
    try:
        with Lock(output_dir / f".{platform.repo_name}.lock", str(targets.repo)):
            _remove_stale_staging(targets)
            return _generate(platform, targets)
    except BaseException:
        if created_output_dir:
            remove_if_empty(output_dir)
        raise


@dataclass(frozen=True)
class NewPlan:
    """What ``new`` would do: the repo's files, the keys it would write and reuse."""

    repo_dir: Path
    keys_dir: Path
    files: list[str]  # repo-relative, .git aside
    new_keys: list[Path]
    reused_keys: list[Path]
    placeholders: list[str]
    replaces: bool  # --force over an existing repo


def plan_new(
    platform: Platform,
    output_dir: Path,
    keys_dir: Path | None = None,
    *,
    force: bool = False,
) -> NewPlan:
    """``new`` without writing anything: the same checks, the same render (with throwaway
    public keys for .sops.yaml), nothing encrypted, no folder made."""
    output_dir = output_dir.expanduser().absolute()
    keys_dir = (keys_dir or default_keys_dir(output_dir, platform.repo_name)).expanduser()
    targets = _Targets(output_dir, output_dir / platform.repo_name, keys_dir.absolute())
    _check_targets(platform, targets, force)
    names = key_names(platform)
    reused = keys.existing_keys(names, targets.keys_dir)
    throwaway = keys.new_keys(names)
    files = repo_files(platform, {n: k.public for n, k in throwaway.items()})
    return NewPlan(
        targets.repo,
        targets.keys_dir,
        sorted(files),
        [targets.keys_dir / keys.key_file_name(n) for n in names if n not in reused],
        [reused[n].path for n in names if n in reused],
        placeholder_files(files),
        targets.repo.exists(),
    )


def _generate(platform: Platform, targets: _Targets) -> GeneratedRepo:
    reused = keys.existing_keys(key_names(platform), targets.keys_dir)
    made = keys.new_keys(name for name in key_names(platform) if name not in reused)
    public = {**{n: k.public for n, k in reused.items()}, **{n: k.public for n, k in made.items()}}
    staging = Path(
        tempfile.mkdtemp(prefix=f"{targets.staging_prefix}{os.getpid()}-", dir=targets.output_dir)
    )
    try:
        pause(NEW_DELAY)
        staged_repo = staging / platform.repo_name
        staged_repo.mkdir()
        built = build_repo(platform, staged_repo, public)
        pause_at("new:staged")
        written = _swap_in(staged_repo, targets, made)
    except OSError as err:
        raise ScaffoldError(
            f"cannot write {err.filename or targets.output_dir}: {err.strerror}; "
            "nothing was written"
        ) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _exclude_from_enclosing_work_tree(targets)
    return GeneratedRepo(
        targets.repo, targets.keys_dir, {**reused, **written}, built.encrypted,
        built.placeholders, built.files,
    )  # fmt: skip


def _swap_in(
    staged_repo: Path, targets: _Targets, made: dict[str, keys.NewKey]
) -> dict[str, keys.AgeKey]:
    """Move the staged repo into place, then write the new keys; undo the move if the keys
    cannot be written (the old repo, if any, comes back untouched)."""
    trash = None
    if targets.repo.exists():
        trash = targets.repo.with_name(f".{targets.repo.name}.replaced-{os.getpid()}")
        os.replace(targets.repo, trash)
    try:
        os.replace(staged_repo, targets.repo)
        try:
            pause_at("new:moved")
            written = keys.write_keys(targets.keys_dir, made)
        except BaseException:
            os.replace(targets.repo, staged_repo)  # the staging folder is removed by the caller
            raise
    except BaseException:
        if trash is not None:
            os.replace(trash, targets.repo)
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    return written


# --------------------------------------------------------------------------- checks


def _check_targets(platform: Platform, targets: _Targets, force: bool) -> None:
    repo, keys_dir = targets.repo, targets.keys_dir
    if keys_dir == repo or repo in keys_dir.parents:
        raise UsageError(
            f"--keys-dir: {keys_dir} is inside the repo; private keys must stay out of it"
        )
    for folder, option in ((targets.output_dir, "--output-dir"), (keys_dir, "--keys-dir")):
        blocking = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise UsageError(f"{option}: {blocking} exists and is not a folder")
    if repo.is_symlink():
        raise UsageError(f"{repo} is a symbolic link; not writing through it")
    if repo.exists():
        if not force:
            raise UsageError(f"{repo} already exists; choose another --output-dir or pass --force")
        if not repo.is_dir():
            raise UsageError(f"{repo} exists and is not a folder")
        if not is_platform_repo(repo):
            raise UsageError(
                f"{repo} is not a gitops-scaffold platform repo (no valid platform.yaml): "
                "--force only replaces a repo this tool generated"
            )
    clashing = sorted(keys.existing_keys(key_names(platform), keys_dir))
    if clashing and not force:
        raise UsageError(
            f"--keys-dir: {keys_dir / keys.key_file_name(clashing[0])} already exists: pass "
            "another --keys-dir, or --force to reuse the keys there (they are never replaced)"
        )


def _remove_stale_staging(targets: _Targets) -> None:
    """Staging folders of runs that were killed (their pid is gone) hold a half-built repo."""
    for stale in targets.output_dir.glob(f"{targets.staging_prefix}*"):
        pid = stale.name.removeprefix(targets.staging_prefix).split("-", 1)[0]
        if stale.is_dir() and not stale.is_symlink() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _exclude_from_enclosing_work_tree(targets: _Targets) -> None:
    """Keys written inside another git work tree are excluded there (.git/info/exclude, a
    local file that is never committed), so `git add -A` in that repo cannot pick them up."""
    start = next(p for p in (targets.keys_dir, *targets.keys_dir.parents) if p.exists())
    top = work_tree_root(start)
    if top is None or top == targets.repo:
        return
    exclude = top / ".git" / "info" / "exclude"
    if not (top / ".git").is_dir():
        return
    try:
        entry = "/" + targets.keys_dir.resolve().relative_to(top.resolve()).as_posix() + "/"
    except ValueError:  # reached through a symbolic link from outside
        return
    current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    if entry not in current.splitlines():
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as handle:
            prefix = "" if not current or current.endswith("\n") else "\n"
            handle.write(f"{prefix}# private age keys written by gitops-scaffold\n{entry}\n")
