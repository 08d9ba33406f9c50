"""Check 6: tenant isolation.

Tenants are platform.yaml's (else the values of the gitops-scaffold.io/tenant label). An
object belongs to a tenant when it lives in the tenant's namespace (the namespace named after
the tenant, or labelled with it), carries the tenant label, targets the tenant's namespace,
or is written under tenants/<tenant>/. AppProjects also belong to a tenant by name
(``<tenant>`` or ``<tenant>-...``), except ``guardrails.<tenant>``: the platform's project of
the tenant's namespace and guardrails, which must stay within that namespace.

A tenant must never be applied as one of the platform's identities: the GitOps engines'
own accounts (scaffolder.model.PLATFORM_IDENTITIES and the controllers') and every
ServiceAccount the repo binds cluster-wide to a role that may do everything.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

from scaffolder.context import GUARDRAILS_PROJECT_PREFIX, TENANT_IDENTITY_PREFIX
from scaffolder.model import PLATFORM_IDENTITIES
from scaffolder.validate.checks import CheckContext, finding_at
from scaffolder.validate.checks.rbac import SERVICE_ACCOUNT_USER, is_rbac
from scaffolder.validate.findings import Finding
from scaffolder.validate.gitops import (
    ARGOCD_NAMESPACE,
    FLUX_CONTROLLERS,
    is_argo,
    is_flux_kustomization,
    is_helm_release,
    repo_key,
    source_ref,
    this_repo_sources,
    this_repo_urls,
)
from scaffolder.validate.repo import TENANT_LABEL, KubeObject, Repo

_BINDINGS = ("RoleBinding", "ClusterRoleBinding")


class TenantMap:
    """Who is a tenant, and which tenant an object belongs to."""

    def __init__(self, repo: Repo, objects: list[KubeObject]) -> None:
        self.repo = repo
        self.tenants = repo.tenants
        self.namespaces = {t: t for t in self.tenants}
        for obj in objects:
            label = obj.labels.get(TENANT_LABEL)
            if obj.kind == "Namespace" and label in self.tenants:
                self.namespaces[obj.name] = str(label)
        self.groups = repo.tenant_sso_groups()
        self.repo_sources = this_repo_sources(repo, objects)

    def tenant_of(self, obj: KubeObject) -> str | None:
        label = obj.labels.get(TENANT_LABEL)
        if isinstance(label, str) and label in self.tenants:
            return label
        if obj.namespace in self.namespaces:
            return self.namespaces[obj.namespace]
        target = obj.spec.get("targetNamespace")
        if isinstance(target, str) and target in self.namespaces:
            return self.namespaces[target]
        parts = obj.location.file.split("/")
        if len(parts) > 2 and parts[0] == "tenants" and parts[1] in self.tenants:
            return parts[1]
        return None

    def guardrails_tenant(self, obj: KubeObject) -> str | None:
        """The tenant whose namespace and guardrails an AppProject ``guardrails.<tenant>``
        deploys (the platform's project, not the tenant's); None for any other project."""
        tenant = obj.name.removeprefix(GUARDRAILS_PROJECT_PREFIX)
        return tenant if tenant != obj.name and tenant in self.tenants else None

    def project_tenant(self, obj: KubeObject) -> str | None:
        """The tenant an AppProject is named after: its name, else the longest tenant name
        it starts with (``team-a-x`` is team-a's when both team and team-a are tenants).
        None for a tenant's guardrails project: the platform's (``guardrails_tenant``)."""
        if self.guardrails_tenant(obj) is not None:
            return None
        if obj.name in self.tenants:
            return obj.name
        prefixes = [t for t in self.tenants if obj.name.startswith(f"{t}-")]
        if prefixes:
            return max(prefixes, key=len)
        return self.tenant_of(obj)

    def subject_tenant(self, obj: KubeObject) -> str | None:
        for subject in obj.body.get("subjects") or []:
            if not isinstance(subject, dict):
                continue
            name = str(subject.get("name", ""))
            namespace = str(subject.get("namespace", ""))
            if subject.get("kind") == "ServiceAccount" and namespace in self.namespaces:
                return self.namespaces[namespace]
            if name in self.tenants:
                return name
            if subject.get("kind") == "Group" and name in self.groups:
                return name
        return None

    def workload_tenant(self, obj: KubeObject) -> str | None:
        """The tenant whose own manifests a Flux Kustomization or HelmRelease applies.

        A tenant's Kustomization reads the tenant's repository, or targets its namespace; one
        the platform writes for a tenant from its own repository (the namespace, quota and
        RBAC: guardrails) is the platform's. A tenant's HelmRelease is the tenant's.
        """
        tenant = self.tenant_of(obj)
        if tenant is None or is_helm_release(obj):
            return tenant
        ref = source_ref(obj, obj.spec.get("sourceRef"))
        if ref is not None and ref not in self.repo_sources:
            return tenant
        target = obj.spec.get("targetNamespace")
        return tenant if isinstance(target, str) and target in self.namespaces else None


class _Tenancy(TenantMap):
    def __init__(self, ctx: CheckContext) -> None:
        self.objects = list(ctx.objects())
        super().__init__(ctx.repo, self.objects)
        self.identities = PlatformIdentities(self.objects)

    def check(self) -> Iterator[Finding]:
        for obj in self.objects:
            if is_flux_kustomization(obj) or is_helm_release(obj):
                yield from self.impersonation(obj)
                yield from self.flux_identity(obj)
            elif is_argo(obj, "AppProject"):
                yield from self.project(obj)
                yield from self.project_identities(obj)
                yield from self.guardrails_project(obj)
            elif is_rbac(obj, *_BINDINGS):
                yield from self.binding(obj)
                yield from self.binding_identities(obj)

    def impersonation(self, obj: KubeObject) -> Iterator[Finding]:
        tenant = self.tenant_of(obj)
        if tenant and not obj.spec.get("serviceAccountName"):
            yield finding_at(
                self.repo,
                obj,
                "tenancy/impersonation",
                f"reconciles tenant {tenant} as the controller: set "
                "spec.serviceAccountName to the tenant's ServiceAccount",
                ("spec",),
            )

    def project(self, obj: KubeObject) -> Iterator[Finding]:
        tenant = self.project_tenant(obj)
        if tenant is None:
            return
        for index, destination in enumerate(obj.spec.get("destinations") or []):
            if not isinstance(destination, dict):
                continue
            yield from self.destination(obj, tenant, index, destination)
        if obj.spec.get("clusterResourceWhitelist"):
            yield finding_at(
                self.repo,
                obj,
                "tenancy/project-cluster-resources",
                f"tenant {tenant} may create cluster-scoped kinds "
                "(clusterResourceWhitelist is not empty)",
                ("spec", "clusterResourceWhitelist"),
            )

    def destination(
        self, obj: KubeObject, tenant: str, index: int, destination: dict[str, Any]
    ) -> Iterator[Finding]:
        namespace = str(destination.get("namespace") or "")
        where = f"destinations[{index}]"
        for key in ("server", "name"):
            if destination.get(key) == "*":
                yield finding_at(
                    self.repo,
                    obj,
                    "tenancy/project-wildcard",
                    f"{where}.{key} is '*': tenant {tenant} may deploy to any cluster",
                    ("spec", "destinations", index, key),
                )
        if namespace.startswith("!"):
            return
        if namespace == "*" or ("*" in namespace and not namespace.startswith(f"{tenant}-")):
            yield finding_at(
                self.repo,
                obj,
                "tenancy/project-wildcard",
                f"{where}.namespace is {namespace!r}: tenant {tenant} may deploy "
                "into any namespace",
                ("spec", "destinations", index, "namespace"),
            )
        elif fnmatch.fnmatchcase(ARGOCD_NAMESPACE, namespace):
            yield finding_at(
                self.repo,
                obj,
                "tenancy/project-admin-namespace",
                f"{where}.namespace {namespace!r} is Argo CD's own: a project "
                "that deploys there is admin",
                ("spec", "destinations", index, "namespace"),
            )

    # -- tenancy/guardrails-scope: guardrails.<tenant> applies the platform's manifests of the
    # tenant (tenants/<tenant>/platform) as a platform identity, so it must reach nothing but
    # the tenant's namespace, write no cluster-scoped kind but that Namespace, and read this
    # repository only (a tenant's repository there would be applied with the platform's rights).

    def guardrails_project(self, obj: KubeObject) -> Iterator[Finding]:
        tenant = self.guardrails_tenant(obj)
        if tenant is None:
            return
        spec = obj.spec
        for index, destination in enumerate(spec.get("destinations") or []):
            if not isinstance(destination, dict):
                continue
            namespace = destination.get("namespace")
            wide = [k for k in ("server", "name") if "*" in str(destination.get(k) or "")]
            if self.namespaces.get(str(namespace)) != tenant or wide:
                where = f"{wide[0]} {destination.get(wide[0])!r}" if wide else "namespace"
                yield self._guardrails_finding(
                    obj, tenant, f"destinations[{index}] ({where} {namespace!r}) reaches "
                    "beyond the tenant's namespace on its spokes", ("spec", "destinations", index)
                )  # fmt: skip
        for index, entry in enumerate(spec.get("clusterResourceWhitelist") or []):
            if not isinstance(entry, dict) or (entry.get("group"), entry.get("kind")) != (
                "",
                "Namespace",
            ):
                yield self._guardrails_finding(
                    obj, tenant, f"clusterResourceWhitelist[{index}] permits another "
                    "cluster-scoped kind than Namespace",
                    ("spec", "clusterResourceWhitelist", index),
                )  # fmt: skip
        urls = this_repo_urls(self.repo)
        for index, source in enumerate(spec.get("sourceRepos") or []):
            if not urls or repo_key(str(source)) not in urls:
                yield self._guardrails_finding(
                    obj, tenant, f"sourceRepos[{index}] {source!r} is not this repository",
                    ("spec", "sourceRepos", index),
                )  # fmt: skip

    def _guardrails_finding(
        self, obj: KubeObject, tenant: str, problem: str, field: tuple[str | int, ...]
    ) -> Finding:
        return finding_at(
            self.repo,
            obj,
            "tenancy/guardrails-scope",
            f"{problem}: the platform's project of tenant {tenant}'s guardrails applies as a "
            "platform identity, so it must stay within the tenant's namespace and this repository",
            field,
        )

    def binding(self, obj: KubeObject) -> Iterator[Finding]:
        role = obj.body.get("roleRef")
        if not isinstance(role, dict) or role.get("name") != "cluster-admin":
            return
        if role.get("kind") != "ClusterRole":
            return
        tenant = self.tenant_of(obj) or self.subject_tenant(obj)
        if tenant:
            yield finding_at(
                self.repo,
                obj,
                "tenancy/cluster-admin",
                f"binds tenant {tenant} to cluster-admin: bind the namespaced "
                "`admin` ClusterRole with a RoleBinding instead",
                ("roleRef", "name"),
            )

    # -- tenancy/platform-identity: a tenant applied as (or binding) the platform's identity.
    # kustomize-controller and helm-controller impersonate
    # system:serviceaccount:<namespace of the object>:<serviceAccountName> (fluxcd/pkg
    # runtime/client Impersonator.setImpersonationConfig; helm-controller
    # kube.SetImpersonationConfig); Argo CD impersonates a project's
    # destinationServiceAccounts[].defaultServiceAccount (util/settings/impersonation.go). A
    # tenant whose account is the platform's applies its repository with the platform's rights.

    def flux_identity(self, obj: KubeObject) -> Iterator[Finding]:
        account = obj.spec.get("serviceAccountName")
        tenant = self.workload_tenant(obj)
        if tenant is None or not isinstance(account, str):
            return
        if self.identities.is_platform(obj.namespace, account):
            yield finding_at(
                self.repo,
                obj,
                "tenancy/platform-identity",
                f"applies tenant {tenant}'s manifests as {account!r}, a platform identity: "
                f"they run with the platform's rights (use the tenant's own account, "
                f"{TENANT_IDENTITY_PREFIX}{tenant})",
                ("spec", "serviceAccountName"),
            )

    def project_identities(self, obj: KubeObject) -> Iterator[Finding]:
        tenant = self.project_tenant(obj)
        if tenant is None:
            return
        entries = obj.spec.get("destinationServiceAccounts")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            account = entry.get("defaultServiceAccount") if isinstance(entry, dict) else None
            if not isinstance(account, str) or not account.strip():
                continue
            namespace, _, name = account.strip().rpartition(":")
            namespace = namespace or str(entry.get("namespace") or "")
            if self.identities.is_platform(namespace, name):
                yield finding_at(
                    self.repo,
                    obj,
                    "tenancy/platform-identity",
                    f"tenant {tenant} syncs as {account.strip()!r}, a platform identity: its "
                    f"Applications apply with the platform's rights (impersonate the tenant's "
                    f"own account, {TENANT_IDENTITY_PREFIX}{tenant})",
                    ("spec", "destinationServiceAccounts", index, "defaultServiceAccount"),
                )

    def binding_identities(self, obj: KubeObject) -> Iterator[Finding]:
        namespace = obj.namespace
        if obj.kind != "RoleBinding" or namespace not in self.namespaces:
            return
        tenant = self.namespaces[namespace]
        for index, subject in enumerate(obj.body.get("subjects") or []):
            account = _subject_account(subject, namespace)
            if account is not None and self.identities.is_platform(*account):
                yield finding_at(
                    self.repo,
                    obj,
                    "tenancy/platform-identity",
                    f"binds {account[0]}:{account[1]}, a platform identity, in tenant "
                    f"{tenant}'s namespace: the tenant's applier must be its own account "
                    f"({TENANT_IDENTITY_PREFIX}{tenant}), never the platform's",
                    ("subjects", index, "name"),
                )


def _subject_account(subject: Any, namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of a binding subject that is a ServiceAccount (or its user name)."""
    if not isinstance(subject, dict):
        return None
    name = str(subject.get("name", ""))
    if subject.get("kind") == "ServiceAccount":
        return str(subject.get("namespace") or namespace), name
    if subject.get("kind") == "User" and name.startswith(SERVICE_ACCOUNT_USER):
        account_namespace, _, account = name[len(SERVICE_ACCOUNT_USER) :].partition(":")
        return account_namespace, account
    return None


class PlatformIdentities:
    """The accounts the platform applies as: the GitOps engines' own (scaffolder.model's
    PLATFORM_IDENTITIES, every Flux controller, Argo CD's), and every ServiceAccount this
    repo binds cluster-wide to cluster-admin or to a ClusterRole that may do everything."""

    def __init__(self, objects: list[KubeObject]) -> None:
        self.names = PLATFORM_IDENTITIES | _ENGINE_ACCOUNTS
        almighty = {"cluster-admin"} | {
            o.name for o in objects if o.kind == "ClusterRole" and _may_do_everything(o)
        }
        self.accounts: set[tuple[str, str]] = set()
        for obj in objects:
            role = obj.body.get("roleRef")
            if obj.kind != "ClusterRoleBinding" or not isinstance(role, dict):
                continue
            if role.get("kind") != "ClusterRole" or role.get("name") not in almighty:
                continue
            for subject in obj.body.get("subjects") or []:
                account = _subject_account(subject, "")
                if account is not None:
                    self.accounts.add(account)

    def is_platform(self, namespace: str, name: str) -> bool:
        return name in self.names or (namespace, name) in self.accounts


# Accounts of the engines' controllers (Flux's manifests/rbac, the argo-cd chart) and the
# ClusterRole every engine runs as.
_ENGINE_ACCOUNTS = frozenset(
    {
        *FLUX_CONTROLLERS,
        "argocd-applicationset-controller",
        "argocd-server",
        "argocd-repo-server",
        "cluster-admin",
    }
)


def _may_do_everything(role: KubeObject) -> bool:
    for rule in role.body.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        if all("*" in (rule.get(key) or []) for key in ("apiGroups", "resources", "verbs")):
            return True
    return False


def check_tenancy(ctx: CheckContext) -> list[Finding]:
    return list(_Tenancy(ctx).check())
