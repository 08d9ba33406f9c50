"""RBAC hygiene of the identities GitOps engines use: subjects of the right kind, and
impersonation limited to named accounts. Objects are taken as applied (``ctx.objects()``)."""

from __future__ import annotations

from collections.abc import Iterator

from scaffolder.validate.checks import CheckContext, finding_at
from scaffolder.validate.findings import Finding
from scaffolder.validate.repo import KubeObject

RBAC_GROUP = "rbac.authorization.k8s.io"
SERVICE_ACCOUNT_USER = "system:serviceaccount:"  # a ServiceAccount's user name starts so
# What `impersonate` applies to (Kubernetes "User impersonation": users, groups and
# serviceaccounts in the core group; uids and userextras/<name> in authentication.k8s.io).
_IMPERSONABLE = {"users", "groups", "serviceaccounts", "uids", "userextras", "*"}
_IMPERSONATION_GROUPS = {"", "*", "authentication.k8s.io"}


def is_rbac(obj: KubeObject, *kinds: str) -> bool:
    return obj.group == RBAC_GROUP and obj.kind in kinds


# -- rbac/user-serviceaccount ---------------------------------------------------------------
# A ServiceAccount is a subject of kind ServiceAccount (Kubernetes RBAC docs, "Referring to
# subjects"). A User subject named system:serviceaccount:<ns>:<name> matches the account's
# user name only by string: it binds an account that need not exist, on a cluster where
# whoever may create that namespace and account gets its rights (review F5), and it hides
# the account from tools that list what a ServiceAccount may do.


def _user_subjects(obj: KubeObject) -> Iterator[tuple[int, str]]:
    for index, subject in enumerate(obj.body.get("subjects") or []):
        if not isinstance(subject, dict) or subject.get("kind") != "User":
            continue
        name = str(subject.get("name", ""))
        if name.startswith(SERVICE_ACCOUNT_USER):
            yield index, name


# -- rbac/impersonate-unrestricted ----------------------------------------------------------
# A rule granting `impersonate` on users, groups or serviceaccounts without resourceNames
# lets its holder act as any account of the cluster (or the namespace, for a Role): with a
# ServiceAccount bound to cluster-admin anywhere, that is cluster-admin (review F6). Name the
# accounts it may impersonate in resourceNames.


def _unrestricted_impersonation(role: KubeObject) -> Iterator[int]:
    for index, rule in enumerate(role.body.get("rules") or []):
        if not isinstance(rule, dict) or "impersonate" not in (rule.get("verbs") or []):
            continue
        if rule.get("resourceNames"):
            continue
        groups = {str(g) for g in rule.get("apiGroups") or []}
        resources = {str(r).split("/", 1)[0] for r in rule.get("resources") or []}
        if groups & _IMPERSONATION_GROUPS and resources & _IMPERSONABLE:
            yield index


def check_rbac(ctx: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    for obj in ctx.objects():
        if is_rbac(obj, "RoleBinding", "ClusterRoleBinding"):
            for index, name in _user_subjects(obj):
                findings.append(
                    finding_at(
                        ctx.repo,
                        obj,
                        "rbac/user-serviceaccount",
                        f"subject User {name} is a ServiceAccount's user name: bind it as "
                        "kind ServiceAccount (name and namespace), so the binding follows the "
                        "account and not whoever can create one by that name",
                        ("subjects", index, "kind"),
                    )
                )
        elif is_rbac(obj, "Role", "ClusterRole"):
            for index in _unrestricted_impersonation(obj):
                scope = "the namespace" if obj.kind == "Role" else "the cluster"
                findings.append(
                    finding_at(
                        ctx.repo,
                        obj,
                        "rbac/impersonate-unrestricted",
                        f"rules[{index}] may impersonate any account of {scope} (no "
                        "resourceNames): whoever holds it acts as the most powerful one; name "
                        "the accounts in resourceNames",
                        ("rules", index),
                    )
                )
    return findings
