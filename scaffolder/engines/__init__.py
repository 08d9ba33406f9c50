"""Per-engine Python: only the files derived from the whole model (index files).

Everything else an engine writes lives in its sub-templates under templates/<engine>/.
"""

from __future__ import annotations

from collections.abc import Callable

from scaffolder.engines import argocd, flux
from scaffolder.model import Platform

DerivedFiles = Callable[[Platform], dict[str, str]]

ExpectedPaths = Callable[[Platform], list[str]]

_DERIVED: dict[str, DerivedFiles] = {
    "flux": flux.derived_files,
    "argocd": argocd.derived_files,
}
_EXPECTED: dict[str, ExpectedPaths] = {
    "flux": flux.expected_paths,
    "argocd": argocd.expected_paths,
}


def derived_files(platform: Platform) -> dict[str, str]:
    """Files regenerated from platform.yaml on every change, path -> content."""
    return _DERIVED[platform.engine](platform)


def expected_paths(platform: Platform) -> list[str]:
    """Repo-relative paths that must exist for every cluster and tenant in platform.yaml."""
    return _EXPECTED[platform.engine](platform)
