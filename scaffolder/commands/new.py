"""`gitops-scaffold new`: a complete platform repo, written atomically.

Everything is rendered into a staging folder beside the target and moved into place only
when it is complete, so a failure or Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from scaffolder.errors import ScaffoldError, UsageError
from scaffolder.generate import GeneratedRepo, build_repo, default_keys_dir, key_names
from scaffolder.keys import key_file_name, make_private_dir
from scaffolder.model import Platform
from scaffolder.render import Renderer


def _check_targets(platform: Platform, target: Path, keys_dir: Path, force: bool) -> None:
    if keys_dir == target or target in keys_dir.parents:
        raise UsageError(
            f"--keys-dir: {keys_dir} is inside the repo; private keys must stay out of it"
        )
    for folder, option in ((target.parent, "--output-dir"), (keys_dir, "--keys-dir")):
        blocking = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise UsageError(f"{option}: {blocking} exists and is not a folder")
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; choose another --output-dir or pass --force")
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder")
    key_files = [key_file_name(name) for name in key_names(platform)]
    existing = [name for name in key_files if (keys_dir / name).exists()]
    if existing and not force:
        raise UsageError(
            f"--keys-dir: {keys_dir / existing[0]} already exists; move it away or pass --force"
        )


def new(
    platform: Platform,
    output_dir: Path,
    keys_dir: Path | None = None,
    *,
    force: bool = False,
) -> GeneratedRepo:
    """Generate ``output_dir/<repo_name>`` and its keys; returns where everything went."""
    output_dir = output_dir.expanduser().resolve()
    target = output_dir / platform.repo_name
    keys_dir = (keys_dir or default_keys_dir(output_dir, platform.repo_name)).expanduser().resolve()
    _check_targets(platform, target, keys_dir, force)

    # Folders this run creates (topmost first), removed again if anything fails.
    created = [p for p in (_topmost_missing(output_dir), _topmost_missing(keys_dir)) if p]
    staging: Path | None = None
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{platform.repo_name}.staging-", dir=output_dir))
        staged_repo = staging / platform.repo_name
        staged_repo.mkdir()
        result = build_repo(platform, Renderer(platform), staged_repo, staging / "keys")
        _move_keys(result, keys_dir)
        _replace_dir(staged_repo, target)
    except BaseException as err:
        for folder in [staging, *created]:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        if isinstance(err, OSError):
            where = err.filename or output_dir
            raise ScaffoldError(
                f"cannot write {where}: {err.strerror}; nothing was written"
            ) from err
        raise
    shutil.rmtree(staging, ignore_errors=True)
    moved = {name: replace(key, path=keys_dir / key.path.name) for name, key in result.keys.items()}
    return GeneratedRepo(target, keys_dir, moved, result.encrypted)


def _topmost_missing(folder: Path) -> Path | None:
    """The highest ancestor of ``folder`` (or itself) that does not exist yet."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _move_keys(result: GeneratedRepo, keys_dir: Path) -> None:
    make_private_dir(keys_dir)
    for key in result.keys.values():
        shutil.move(str(key.path), str(keys_dir / key.path.name))
        os.chmod(keys_dir / key.path.name, 0o600)


def _replace_dir(source: Path, target: Path) -> None:
    if not target.exists():
        os.replace(source, target)
        return
    trash = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    os.replace(target, trash)
    try:
        os.replace(source, target)
    except BaseException:
        os.replace(trash, target)
        raise
    shutil.rmtree(trash, ignore_errors=True)
