"""Argo CD: files derived from the whole model."""

from __future__ import annotations

from scaffolder.model import Platform


def derived_files(platform: Platform) -> dict[str, str]:
    return {}


def expected_paths(platform: Platform) -> list[str]:
    """Paths each cluster and tenant must have (used by `validate` to find missing parts)."""
    return [f"clusters/{c.name}" for c in platform.clusters] + [
        f"tenants/{t.name}" for t in platform.tenants
    ]
