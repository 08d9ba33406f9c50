"""Argo CD: the names of the layout `validate` looks for, and the platform's own AppProjects.

Every file, the derived ones included (every AppProject, argocd-rbac-cm, the index
kustomizations of the hub's tenants and projects), is written by the templates under
templates/argocd/ (AppProjects: the macros of templates/argocd/_lib/argocd.yaml.j2).
"""

from __future__ import annotations

from scaffolder.model import Platform

# The AppProjects the platform itself defines (clusters/<hub>/argocd/projects/
# appproject-<name>.yaml): no tenant may be called like one (model.RESERVED_PROJECTS). Each
# tenant's guardrails have a project of their own, guardrails.<tenant>
# (context.guardrails_project), which no tenant name can take (a DNS label has no dot).
PLATFORM_PROJECT = "platform"
ADDONS_PROJECT = "addons"
# The one project every tenant's guardrails shared before: platform-projects never prunes, so
# a hub updated from then may still hold it; it stays reserved.
SHARED_GUARDRAILS_PROJECT = "tenant-guardrails"


def hub_dir(platform: Platform) -> str:
    return f"clusters/{platform.hub.name}/argocd"


def expected_paths(platform: Platform) -> list[str]:
    """Paths each cluster and tenant must have (used by `validate` to find missing parts)."""
    hub = hub_dir(platform)
    return (
        [f"{hub}/apps/root.yaml", f"{hub}/projects/kustomization.yaml"]
        + [f"clusters/{c.name}/secrets/cluster.sops.yaml" for c in platform.clusters]
        + [f"tenants/{t.name}/argocd/project.yaml" for t in platform.tenants]
        + [f"tenants/{t.name}/platform/kustomization.yaml" for t in platform.tenants]
    )
