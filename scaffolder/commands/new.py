"""`gitops-scaffold new`: a complete platform repo, written atomically.

Everything is rendered into a staging folder beside the target and moved into place only
when it is complete, so a failure or Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from scaffolder.errors import UsageError
from scaffolder.generate import GeneratedRepo, build_repo, default_keys_dir
from scaffolder.keys import ADMIN_KEY, key_file_name
from scaffolder.model import Platform
from scaffolder.render import renderer_for


def _key_files(platform: Platform) -> list[str]:
    return [key_file_name(c.name) for c in platform.clusters] + [key_file_name(ADMIN_KEY)]


def _check_targets(platform: Platform, target: Path, keys_dir: Path, force: bool) -> None:
    if keys_dir == target or target in keys_dir.parents:
        raise UsageError(f"--keys-dir: {keys_dir} is inside the repo; private keys must stay out of it")
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; choose another --output-dir or pass --force")
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder")
    existing = [name for name in _key_files(platform) if (keys_dir / name).exists()]
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

    created_output = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{platform.repo_name}.staging-", dir=output_dir))
    keys_created = not keys_dir.exists()
    try:
        with renderer_for(platform) as renderer:
            staged_repo = renderer.root(staging)
            result = build_repo(platform, renderer, staged_repo, staging / "keys")
        _move_keys(result, keys_dir)
        _replace_dir(staged_repo, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if keys_created:
            shutil.rmtree(keys_dir, ignore_errors=True)
        if created_output:
            shutil.rmtree(output_dir, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    moved = {name: key.__class__(key.name, key.public, keys_dir / key.path.name) for name, key in result.keys.items()}
    return GeneratedRepo(target, keys_dir, moved, result.encrypted)


def _move_keys(result: GeneratedRepo, keys_dir: Path) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(keys_dir, 0o700)
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
