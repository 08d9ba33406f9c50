"""Per-engine Python: only what `validate` needs to know of each engine's layout.

Everything an engine writes lives in its sub-templates under templates/<engine>/.
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


def expected_paths(platform: Platform) -> list[str]:
    """Repo-relative paths that must exist for every cluster and tenant in platform.yaml."""
    return _EXPECTED[platform.engine](platform)
