"""Per-engine Python: only the files derived from the whole model (index files) and what
`validate` needs to know of each engine's layout.

Everything else an engine writes lives in its sub-templates under templates/<engine>/ (all of
Argo CD's files, the derived ones included).
"""

from __future__ import annotations

from collections.abc import Callable

from scaffolder.engines import argocd, flux
from scaffolder.model import Platform

ExpectedPaths = Callable[[Platform], list[str]]

_EXPECTED: dict[str, ExpectedPaths] = {
    "flux": flux.expected_paths,
    "argocd": argocd.expected_paths,
}


def derived_files(platform: Platform) -> dict[str, str]:
    """Files regenerated from platform.yaml on every change, path -> content."""
    return flux.derived_files(platform) if platform.engine == "flux" else {}


def expected_paths(platform: Platform) -> list[str]:
    """Repo-relative paths that must exist for every cluster and tenant in platform.yaml."""
    return _EXPECTED[platform.engine](platform)
