"""Check 6: tenant isolation.

Tenants are platform.yaml's (else the values of the gitops-scaffold.io/tenant label). An
object belongs to a tenant when it lives in the tenant's namespace (the namespace named after
the tenant, or labelled with it), carries the tenant label, targets the tenant's namespace,
or is written under tenants/<tenant>/. AppProjects also belong to a tenant by name
(``<tenant>`` or ``<tenant>-...``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

from scaffolder.validate.checks import CheckContext, finding_at
from scaffolder.validate.findings import Finding
from scaffolder.validate.gitops import (
    ARGOCD_NAMESPACE,
    is_argo,
    is_flux_kustomization,
    is_helm_release,
)
from scaffolder.validate.repo import TENANT_LABEL, KubeObject

_BINDINGS = ("RoleBinding", "ClusterRoleBinding")


class _Tenancy:
    def __init__(self, ctx: CheckContext) -> None:
        self.repo = ctx.repo
        self.objects = list(ctx.objects())
        self.tenants = ctx.repo.tenants
        self.namespaces = {t: t for t in self.tenants}
        for obj in self.objects:
            label = obj.labels.get(TENANT_LABEL)
            if obj.kind == "Namespace" and label in self.tenants:
                self.namespaces[obj.name] = str(label)
        self.groups = ctx.repo.tenant_sso_groups()

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

    def check(self) -> Iterator[Finding]:
        for obj in self.objects:
            if is_flux_kustomization(obj) or is_helm_release(obj):
                yield from self.impersonation(obj)
            elif is_argo(obj, "AppProject"):
                yield from self.project(obj)
            elif obj.group == "rbac.authorization.k8s.io" and obj.kind in _BINDINGS:
                yield from self.binding(obj)

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

    def project_tenant(self, obj: KubeObject) -> str | None:
        for tenant in self.tenants:
            if obj.name == tenant or obj.name.startswith(f"{tenant}-"):
                return tenant
        return self.tenant_of(obj)

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


def check_tenancy(ctx: CheckContext) -> list[Finding]:
    return list(_Tenancy(ctx).check())
