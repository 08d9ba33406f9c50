"""Flux: the index kustomizations that follow clusters and tenant placements.

These are the only files that list clusters or tenants; everything else comes from the
templates under templates/flux/.
"""

from __future__ import annotations

from scaffolder.engines.common import index_kustomization
from scaffolder.model import Platform


def derived_files(platform: Platform) -> dict[str, str]:
    spokes = f"clusters/{platform.hub.name}/spokes"
    files = index_kustomization(spokes, [f"{spokes}/{c.name}" for c in platform.spokes])
    for spoke in platform.spokes:
        tenants = [t.name for t in platform.tenants_on(spoke.name)]
        files |= index_kustomization(
            f"clusters/{spoke.name}/tenants", [f"tenants/{t}/platform" for t in tenants]
        )
        # The tenants' sources and Kustomizations live on the hub, in the spoke's namespace.
        files |= index_kustomization(
            f"clusters/{spoke.name}/tenant-sync",
            [f"tenants/{t}/sync" for t in tenants],
            namespace=spoke.name,
        )
    return files


def expected_paths(platform: Platform) -> list[str]:
    """Paths each cluster and tenant must have (used by `validate` to find missing parts).

    The second segment of each path names the cluster or tenant it belongs to.
    """
    hub = platform.hub.name
    return (
        [f"clusters/{hub}/flux-system", f"clusters/{hub}/kustomization.yaml"]
        + [f"clusters/{c.name}/infrastructure" for c in platform.clusters]
        + [f"clusters/{c.name}/secrets" for c in platform.clusters]
        + [f"tenants/{t.name}/{part}" for t in platform.tenants for part in ("platform", "sync")]
    )
