"""Flux: the index kustomizations that follow clusters and tenant placements."""

from __future__ import annotations

from scaffolder.engines.common import kustomization
from scaffolder.model import Platform


def derived_files(platform: Platform) -> dict[str, str]:
    hub = platform.hub.name
    files = {
        f"clusters/{hub}/spokes/kustomization.yaml": kustomization(
            [c.name for c in platform.spokes]
        ),
    }
    for spoke in platform.spokes:
        tenants = [t.name for t in platform.tenants_on(spoke.name)]
        files[f"clusters/{spoke.name}/tenants/kustomization.yaml"] = kustomization(
            [f"../../../tenants/{t}/platform" for t in tenants]
        )
        files[f"clusters/{spoke.name}/tenant-sync/kustomization.yaml"] = kustomization(
            [f"../../../tenants/{t}/sync" for t in tenants]
        )
    return files


def expected_paths(platform: Platform) -> list[str]:
    """Paths each cluster and tenant must have (used by `validate` to find missing parts)."""
    return [f"clusters/{c.name}" for c in platform.clusters] + [
        f"tenants/{t.name}" for t in platform.tenants
    ]
