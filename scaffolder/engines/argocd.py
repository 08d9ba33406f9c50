"""Argo CD: the files that list clusters or tenants, derived from platform.yaml.

Every AppProject (its destinations and sync windows name clusters; the locked `default`),
argocd-rbac-cm (one role per tenant SSO group) and the index kustomization of the tenants.
Everything else lives in templates/argocd/.

Sync impersonation is on (values/argocd/common.yaml), and once on it applies to every
Application: each project maps each of its destinations to the account a sync runs as
(``destinationServiceAccounts``; util/settings/impersonation.go: the first entry whose server
and namespace globs match, ``namespace:name`` taken as written; enforced, so no match is a sync
error). Servers are matched after Argo CD resolves a destination name to its cluster, and the
spokes' URLs live only in their encrypted Secrets: the hub is matched by its in-cluster URL,
the spokes by ``*`` after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scaffolder.context import (
    ARGOCD_IDENTITY_NAMESPACE,
    TENANT_IDENTITY_PREFIX,
    addon_views,
    sample_app_tenant,
)
from scaffolder.engines.common import DERIVED_HEADER, index_kustomization
from scaffolder.model import Cluster, Platform, SyncWindow, Tenant
from scaffolder.quoting import dump_yaml
from scaffolder.versions import ARGO_HELM

NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
TENANT_PROJECT_WAVE = "-2"  # before the tenant's ApplicationSets, in platform-tenants

PLATFORM_PROJECT = "platform"
ADDONS_PROJECT = "addons"
GUARDRAILS_PROJECT = "tenant-guardrails"
DEFAULT_PROJECT = "default"

# Who a sync runs as (sync impersonation). The hub: the application controller's own
# ServiceAccount (the chart's, cluster-wide). A spoke: argocd-manager, the credential
# clusters/<spoke>/argocd-access.yaml creates there. A tenant: tenant-<t> of a namespace
# nothing creates on a spoke (context.ARGOCD_IDENTITY_NAMESPACE).
HUB_ACCOUNT = f"{NAMESPACE}:argocd-application-controller"
SPOKE_ACCOUNT = "kube-system:argocd-manager"


def hub_dir(platform: Platform) -> str:
    return f"clusters/{platform.hub.name}/argocd"


def project_file(name: str) -> str:
    """``appproject-<name>.yaml`` (a bare ``platform.yaml`` would read as the answers file)."""
    return f"appproject-{name}.yaml"


# --------------------------------------------------------------------------- YAML output


def _documents(header: str, *documents: dict[str, Any]) -> str:
    return header + dump_yaml(*documents)


# --------------------------------------------------------------------------- AppProjects


def _metadata(name: str, wave: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A project's metadata. ``wave`` only where it orders something: the platform's projects
    are alone in platform-projects, a tenant's precedes its ApplicationSets."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": NAMESPACE,
        "labels": {"app.kubernetes.io/managed-by": "gitops-scaffold", **(labels or {})},
    }
    if wave:
        metadata["annotations"] = {"argocd.argoproj.io/sync-wave": wave}
    # A project is deleted only once none of its Applications is left.
    metadata["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
    return metadata


def _accounts(namespace: str, spokes: bool = True) -> list[dict[str, str]]:
    """The platform's accounts for a project's destinations in ``namespace``: the hub first."""
    accounts = [
        {"server": IN_CLUSTER, "namespace": namespace, "defaultServiceAccount": HUB_ACCOUNT}
    ]
    if spokes:
        accounts.append(
            {"server": "*", "namespace": namespace, "defaultServiceAccount": SPOKE_ACCOUNT}
        )
    return accounts


def tenant_account(tenant: Tenant) -> str:
    return f"{ARGOCD_IDENTITY_NAMESPACE}:{TENANT_IDENTITY_PREFIX}{tenant.name}"


def _kind(group: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind}


def sync_windows(
    platform: Platform, clusters: Iterable[Cluster], extra_names: dict[str, list[str]] | None = None
) -> list[dict[str, Any]]:
    """The answers' sync windows, each narrowed to ``clusters`` in its envs (skipped if none).

    Windows select by cluster only: an `applications` pattern would be OR-ed with the
    clusters and widen the window to every cluster.
    """
    clusters = list(clusters)
    windows = []
    for index, window in enumerate(platform.sync.windows):
        names = [c.name for c in clusters if c.env in window.envs]
        for name in list(names):
            names += (extra_names or {}).get(name, [])
        if names:
            windows.append(_window(index, window, names))
    return windows


def _window(index: int, window: SyncWindow, clusters: list[str]) -> dict[str, Any]:
    return {
        "kind": window.kind,
        "schedule": window.schedule,
        "duration": window.duration,
        "timeZone": window.time_zone,
        "manualSync": window.manual_sync,
        "clusters": clusters,
        "description": f"platform.yaml sync.windows[{index}] (envs: {', '.join(window.envs)})",
    }


def _with_windows(spec: dict[str, Any], windows: list[dict[str, Any]]) -> dict[str, Any]:
    if windows:
        spec["syncWindows"] = windows
    return spec


def platform_project(platform: Platform) -> dict[str, Any]:
    """The hub itself: Argo CD, its settings, projects and ApplicationSets. Admin-level."""
    hub = platform.hub
    spec = {
        "description": "The hub itself: Argo CD, its settings, every AppProject and "
        "ApplicationSet. Admin-level (it deploys into the argocd namespace): platform team only.",
        "sourceRepos": [platform.git_url, ARGO_HELM],
        "destinations": [{"server": IN_CLUSTER, "namespace": NAMESPACE}],
        "destinationServiceAccounts": _accounts(NAMESPACE, spokes=False),
        "clusterResourceWhitelist": [_kind("*", "*")],
    }
    windows = sync_windows(platform, [hub], {hub.name: [IN_CLUSTER]})
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": _metadata(PLATFORM_PROJECT),
        "spec": _with_windows(spec, windows),
    }


def addons_project(platform: Platform) -> dict[str, Any]:
    """Infrastructure addons on any cluster, each only into its own namespace."""
    addons = [a for a in addon_views(platform) if a["enabled"]]
    spec = {
        "description": "Infrastructure addons (secrets.* in platform.yaml) on every cluster "
        "labelled enable_<addon>=true, each in its own namespace.",
        "sourceRepos": [a["repo"] for a in addons] + [platform.git_url],
        "destinations": [{"name": "*", "namespace": a["namespace"]} for a in addons],
        "destinationServiceAccounts": [e for a in addons for e in _accounts(a["namespace"])],
        # Addons bring CRDs, ClusterRoles and webhooks.
        "clusterResourceWhitelist": [_kind("*", "*")],
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": _metadata(ADDONS_PROJECT),
        "spec": _with_windows(spec, sync_windows(platform, platform.clusters)),
    }


GUARDRAIL_KINDS = [
    _kind("", "ResourceQuota"),
    _kind("", "LimitRange"),
    _kind("networking.k8s.io", "NetworkPolicy"),
    _kind("rbac.authorization.k8s.io", "RoleBinding"),
]


def guardrails_project(platform: Platform) -> dict[str, Any]:
    """The tenants' namespaces and guardrails: exactly each tenant's namespace on its spokes."""
    destinations = [
        {"name": cluster, "namespace": tenant.name}
        for tenant in platform.tenants
        for cluster in platform.placement(tenant)
    ]
    placed = {c for t in platform.tenants for c in platform.placement(t)}
    spec = {
        "description": "Tenant namespaces and their guardrails (tenants/<tenant>/platform), "
        "from the platform repo only, into each tenant's namespace on the spokes it is placed on.",
        "sourceRepos": [platform.git_url],
        "destinations": destinations,
        # Namespaces and RoleBindings to `admin`: the spoke's argocd-manager, never a tenant.
        "destinationServiceAccounts": [
            {"server": "*", "namespace": tenant.name, "defaultServiceAccount": SPOKE_ACCOUNT}
            for tenant in platform.tenants
            if platform.placement(tenant)
        ],
        "clusterResourceWhitelist": [_kind("", "Namespace")],
        "namespaceResourceWhitelist": GUARDRAIL_KINDS,
    }
    clusters = [c for c in platform.spokes if c.name in placed]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": _metadata(GUARDRAILS_PROJECT),
        "spec": _with_windows(spec, sync_windows(platform, clusters)),
    }


def default_project() -> dict[str, Any]:
    """Argo CD creates `default` allowing any source, any destination and every kind unless it
    is declared: declared here with nothing allowed (no Application of the platform uses it)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {
            "name": DEFAULT_PROJECT,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "gitops-scaffold"},
        },
        "spec": {
            "description": "Locked: no source, no destination, no kind. Every Application of "
            "this platform names its project.",
            "sourceRepos": [],
            "sourceNamespaces": [],
            "destinations": [],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": [_kind("*", "*")],
        },
    }


# What a tenant's repository may not deploy. The guardrails are the platform's (`admin`, the
# tenant's identity, may not write quota or limits either: Argo CD refuses them up front). Role
# and RoleBinding stay denied as long as the tenant's identity is matched by a `*` server
# (the spokes' URLs are not in the repository): if impersonation were ever turned off, a tenant
# RoleBinding would be applied as Argo CD's cluster-wide credential. NetworkPolicies are the
# tenant's, as with kubectl: the platform's default-deny is a default.
TENANT_DENIED_KINDS = [
    _kind("", "ResourceQuota"),
    _kind("", "LimitRange"),
    _kind("rbac.authorization.k8s.io", "Role"),
    _kind("rbac.authorization.k8s.io", "RoleBinding"),
]


def tenant_policies(tenant: Tenant) -> list[str]:
    """What the tenant's SSO group may do with the applications of its project."""
    role = f"proj:{tenant.name}:admin"
    return [
        f"p, {role}, applications, get, {tenant.name}/*, allow",
        f"p, {role}, applications, sync, {tenant.name}/*, allow",
        f"p, {role}, applications, action/*, {tenant.name}/*, allow",
        f"p, {role}, logs, get, {tenant.name}/*, allow",
    ]


def _spokes(count: int) -> str:
    return "spoke" if count == 1 else f"{count} spokes"


def tenant_project(platform: Platform, tenant: Tenant) -> dict[str, Any]:
    """A locked-down tenant: its repo, its namespace on its spokes, no cluster-scoped kinds."""
    placement = [platform.cluster(name) for name in platform.placement(tenant)]
    repos = [platform.tenant_repo_url(tenant)]
    if tenant.name == sample_app_tenant(platform):  # tenants/<tenant>/sample-app lives here
        repos.append(platform.git_url)
    spec = {
        # The CRD caps descriptions at 255 characters: the clusters are in `destinations`.
        "description": f"Tenant {tenant.name}: apps from its repository into namespace "
        f"{tenant.name} on its {_spokes(len(placement))} only.",
        "sourceRepos": repos,
        "destinations": [{"name": c.name, "namespace": tenant.name} for c in placement],
        # Every sync runs as the tenant's own identity, `admin` of its namespace and nothing
        # else (tenants/<tenant>/platform/rbac.yaml), on whichever spoke.
        "destinationServiceAccounts": [
            {
                "server": "*",
                "namespace": tenant.name,
                "defaultServiceAccount": tenant_account(tenant),
            }
        ],
        "clusterResourceWhitelist": [],
        "namespaceResourceBlacklist": TENANT_DENIED_KINDS,
        "orphanedResources": {"warn": True},
        "roles": [
            {
                "name": "admin",
                "description": f"{platform.tenant_sso_group(tenant)}: sync and operate "
                f"{tenant.name}'s applications",
                "policies": tenant_policies(tenant),
                "groups": [platform.tenant_sso_group(tenant)],
            }
        ],
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": _metadata(
            tenant.name, TENANT_PROJECT_WAVE, {"gitops-scaffold.io/tenant": tenant.name}
        ),
        "spec": _with_windows(spec, sync_windows(platform, placement)),
    }


# --------------------------------------------------------------------------- RBAC


def rbac_policy(platform: Platform) -> str:
    lines = [
        "# Platform team: everything. Viewers: read-only.",
        f"g, {platform.sso.admin_group}, role:admin",
        f"g, {platform.sso.readonly_group}, role:readonly",
    ]
    for tenant in platform.tenants:
        role = f"role:tenant-{tenant.name}"
        lines += [
            f"# {tenant.name}: sees its project, Applications and ApplicationSets; syncs "
            "through the AppProject role "
            f"(tenants/{tenant.name}/argocd/project.yaml).",
            f"p, {role}, projects, get, {tenant.name}, allow",
            f"p, {role}, applications, get, {tenant.name}/*, allow",
            f"p, {role}, applicationsets, get, {tenant.name}/*, allow",
            f"p, {role}, logs, get, {tenant.name}/*, allow",
            f"g, {platform.tenant_sso_group(tenant)}, {role}",
        ]
    return "\n".join(lines) + "\n"


def rbac_config_map(platform: Platform) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "argocd-rbac-cm",
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": "argocd-rbac-cm",
                "app.kubernetes.io/part-of": "argocd",
            },
        },
        "data": {
            # Nobody gets anything by default: SSO users outside these groups see nothing.
            "policy.default": "",
            "policy.matchMode": "glob",
            "scopes": "[groups, email]",
            "policy.csv": rbac_policy(platform),
        },
    }


# --------------------------------------------------------------------------- entry points


def derived_files(platform: Platform) -> dict[str, str]:
    hub = hub_dir(platform)
    platform_projects = {
        f"{hub}/projects/{project_file(PLATFORM_PROJECT)}": platform_project(platform),
        f"{hub}/projects/{project_file(ADDONS_PROJECT)}": addons_project(platform),
        f"{hub}/projects/{project_file(GUARDRAILS_PROJECT)}": guardrails_project(platform),
        f"{hub}/projects/{project_file(DEFAULT_PROJECT)}": default_project(),
    }
    files = {
        **index_kustomization(
            f"{hub}/tenants", [f"tenants/{t.name}/argocd" for t in platform.tenants]
        ),
        **index_kustomization(f"{hub}/projects", platform_projects),
        **{path: _documents(DERIVED_HEADER, doc) for path, doc in platform_projects.items()},
        f"{hub}/config/argocd-rbac-cm.yaml": _documents(DERIVED_HEADER, rbac_config_map(platform)),
    }
    for tenant in platform.tenants:
        files[f"tenants/{tenant.name}/argocd/project.yaml"] = _documents(
            DERIVED_HEADER, tenant_project(platform, tenant)
        )
    return files


def expected_paths(platform: Platform) -> list[str]:
    """Paths each cluster and tenant must have (used by `validate` to find missing parts)."""
    hub = hub_dir(platform)
    return (
        [f"{hub}/apps/root.yaml", f"{hub}/projects/kustomization.yaml"]
        + [f"clusters/{c.name}/secrets/cluster.sops.yaml" for c in platform.clusters]
        + [f"tenants/{t.name}/argocd/project.yaml" for t in platform.tenants]
        + [f"tenants/{t.name}/platform/kustomization.yaml" for t in platform.tenants]
    )
