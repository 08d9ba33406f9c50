"""Running `kustomize build` (or `kubectl kustomize`) on a folder."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from scaffolder.errors import ToolMissingError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@lru_cache(maxsize=1)
def kustomize_command() -> tuple[str, ...]:
    """`kustomize build` if kustomize is installed, else `kubectl kustomize`."""
    kustomize = shutil.which("kustomize")
    if kustomize:
        return (kustomize, "build")
    kubectl = shutil.which("kubectl")
    if kubectl:
        return (kubectl, "kustomize")
    raise ToolMissingError(
        "neither kustomize nor kubectl is on PATH: install one to build kustomizations"
    )


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    ok: bool
    output: str  # the rendered YAML when ok, else the error text


def has_kustomization(folder: Path) -> bool:
    return any((folder / name).is_file() for name in KUSTOMIZATION_FILES)


def build(folder: Path) -> BuildResult:
    done = subprocess.run(
        [*kustomize_command(), str(folder)], capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        return BuildResult(folder, True, done.stdout)
    return BuildResult(folder, False, (done.stderr or done.stdout).strip())


def kustomization_folders(root: Path) -> list[Path]:
    return sorted(
        p.parent
        for name in KUSTOMIZATION_FILES
        for p in root.rglob(name)
        if ".git" not in p.relative_to(root).parts
    )
