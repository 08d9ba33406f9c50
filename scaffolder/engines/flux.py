"""Flux: the files that follow clusters and tenant placements.

These are the only files that list clusters or tenants; everything else comes from the
templates under templates/flux/:

- ``clusters/<hub>/spokes/kustomization.yaml``: the hub's Kustomization of each spoke
  (``spokes/<spoke>.yaml``), applied by flux-system;
- ``clusters/<spoke>/tenant-sync/kustomization.yaml``: the tenants placed on a spoke;
- ``clusters/<hub>/spokes/<spoke>/source.yaml``: the spoke's source of this repository, whose
  ignore rules keep the spoke's own folder and the shared ones (a multi-line value naming the
  spoke, which only ``dump_yaml`` writes).
"""

from __future__ import annotations

from scaffolder.context import git_url_form
from scaffolder.engines.common import DERIVED_HEADER, index_kustomization
from scaffolder.model import Cluster, Platform
from scaffolder.quoting import dump_yaml

# Names the templates use too (templates/flux/_lib/flux.yaml.j2).
PLATFORM_SOURCE = "platform"
GIT_AUTH_SECRET = "platform-git-auth"


def spoke_source_ignore(spoke: str) -> str:
    """The GitRepository ``spec.ignore`` of a spoke's platform source (gitignore syntax, as
    source-controller reads it): everything but ``infrastructure/``, ``tenants/`` and the
    spoke's own ``clusters/<spoke>/``, the only paths the spoke's Kustomizations read."""
    return "\n".join(
        [
            "# everything but the shared bases, the tenants and this spoke's folder",
            "/*",
            "!/infrastructure/",
            "!/tenants/",
            "!/clusters/",
            "/clusters/*",
            f"!/clusters/{spoke}/",
            "",
        ]
    )


def spoke_source(platform: Platform, spoke: Cluster) -> str:
    """``clusters/<hub>/spokes/<spoke>/source.yaml``: this repository as a source of the spoke's
    hub namespace (--no-cross-namespace-refs: flux-system's GitRepository is out of reach),
    with the credentials of Secret platform-git-auth beside it (git-auth.sops.yaml)."""
    about = (
        f"# This repository again, as a source of namespace {spoke.name}: with\n"
        "# --no-cross-namespace-refs the spoke's Kustomizations cannot use flux-system's\n"
        "# GitRepository. Same URL as flux-system's, so the same kind of credentials\n"
        f"# ({GIT_AUTH_SECRET}, git-auth.sops.yaml). The artifact holds only what this spoke's\n"
        "# Kustomizations read.\n"
    )
    header = DERIVED_HEADER + about
    body = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {
            "name": PLATFORM_SOURCE,
            "namespace": spoke.name,
            "labels": {"app.kubernetes.io/managed-by": "gitops-scaffold"},
        },
        "spec": {
            "interval": "5m",
            "url": git_url_form(platform.git_url),
            "ref": {"branch": platform.git_branch},
            "secretRef": {"name": GIT_AUTH_SECRET},
            "ignore": spoke_source_ignore(spoke.name),
        },
    }
    return header + dump_yaml(body)


def derived_files(platform: Platform) -> dict[str, str]:
    spokes = f"clusters/{platform.hub.name}/spokes"
    files = index_kustomization(spokes, [f"{spokes}/{c.name}.yaml" for c in platform.spokes])
    for spoke in platform.spokes:
        files[f"{spokes}/{spoke.name}/source.yaml"] = spoke_source(platform, spoke)
        tenants = [t.name for t in platform.tenants_on(spoke.name)]
        # The tenants' identities, sources and Kustomizations live on the hub, in the spoke's
        # namespace.
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
        + [f"clusters/{c.name}/flux-access" for c in platform.spokes]
        + [f"tenants/{t.name}/{part}" for t in platform.tenants for part in ("platform", "sync")]
    )
