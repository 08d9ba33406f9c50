"""Running the real `gitops-scaffold` CLI in a subprocess, and inspecting what it left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from scaffolder.files import write_new_tree
from scaffolder.generate import GeneratedRepo
from scaffolder.render import File

CLI = [sys.executable, "-m", "scaffolder"]
# Subprocesses import the package from this checkout, whatever copy is installed in the venv.
CHECKOUT = Path(__file__).resolve().parent.parent


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The current environment with a private, empty $HOME and no user git/sops settings."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "SOPS_", "XDG_")) and key != "HOME"
    }
    env.update(HOME=str(home), PROMPT_TOOLKIT_NO_CPR="1", PYTHONPATH=str(CHECKOUT), **extra)
    return env


def run_cli(
    args: Sequence[str | Path],
    *,
    cwd: Path,
    home: Path,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`gitops-scaffold ARGS` with stdin closed (no terminal), output captured."""
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [*CLI, *map(str, args)],
        cwd=cwd,
        env=env or cli_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_error_line(stderr: str) -> str:
    """The single `error: ...` line a failing command must print, and nothing else."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and folder below ``root`` (the .git folder included): mode and bytes."""
    found: dict[str, tuple[int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        mode = path.lstat().st_mode
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        found[str(path.relative_to(root))] = (mode, content)
    return found


def copy_of(repo: GeneratedRepo, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the repo and its keys: (repo, keys)."""
    target = tmp_path / repo.repo_dir.name
    shutil.copytree(repo.repo_dir, target, symlinks=True)
    keys = tmp_path / "keys"
    shutil.copytree(repo.keys_dir, keys)
    return target, keys


def listing(root: Path) -> list[str]:
    """Every path below ``root``, relative and sorted (empty when root is missing)."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# Tests commit as a person would; CI machines need not have a git identity configured.
_TEST_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Person", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test Person", "GIT_COMMITTER_EMAIL": "test@example.invalid",
}  # fmt: skip


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **_TEST_IDENTITY}
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=env
    ).stdout


def write_files(root: Path, files: Mapping[str, File]) -> None:
    """Rendered files written below ``root`` (tests that render units without the pipeline)."""
    write_new_tree(
        root, {path: (f.content.encode("utf-8"), f.executable) for path, f in files.items()}
    )
