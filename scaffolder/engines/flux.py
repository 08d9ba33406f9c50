"""Flux: the names of the layout `validate` looks for.

Every file, the derived ones included (the hub's spokes/kustomization.yaml, each spoke's
source.yaml and tenant-sync/kustomization.yaml), is written by the templates under
templates/flux/.
"""

from __future__ import annotations

from scaffolder.model import Platform


def expected_paths(platform: Platform) -> list[str]:
    """Paths each cluster and tenant must have (used by `validate` to find missing parts).

    The second segment of each path names the cluster or tenant it belongs to.
    """
    hub = platform.hub.name
    return (
        [f"clusters/{hub}/flux-system", f"clusters/{hub}/kustomization.yaml"]
        + [f"clusters/{c.name}/infrastructure" for c in platform.clusters]
        + [f"clusters/{c.name}/secrets" for c in platform.clusters]
        + [f"clusters/{c.name}/flux-access" for c in platform.spokes]
        + [f"tenants/{t.name}/{part}" for t in platform.tenants for part in ("platform", "sync")]
    )
