"""Findings, the checks that produce them, and the report of one run."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Every check id, grouped by category (the part before "/"), with what it means.
CHECKS: dict[str, str] = {
    "yaml/syntax": "a YAML file does not parse (duplicate keys, alias bombs included), is too "
    "large, or a link leads out of the repo",
    "build/kustomize": "a kustomization (or a Flux path, built as Flux builds it) fails to build",
    "build/substitute": "Flux's postBuild variable substitution fails on a built object",
    "build/remote-resource": "a kustomization names a remote entry: never fetched, not built",
    "build/outside-repo": "a kustomization reads a path outside the repository: not built",
    "schema/invalid": "a document breaks its strict schema (unknown fields are errors)",
    "schema/unknown-kind": "no schema is known for a kind",
    "schema/unknown-api-version": "the kind exists, but not in this apiVersion (removed?)",
    "schema/not-an-object": "a manifest has only one of apiVersion and kind",
    "refs/flux-path": "a Flux Kustomization path that does not exist in this repo",
    "refs/flux-source": "a Flux sourceRef that names no source in its namespace",
    "refs/flux-depends-on": "a Flux dependsOn that names no object",
    "refs/flux-decryption": "a Flux decryption secretRef that nothing provides",
    "refs/argocd-path": "an Argo CD Application or ApplicationSet path that does not exist",
    "refs/argocd-project": "an Argo CD Application that names no AppProject",
    "refs/platform-invalid": "platform.yaml is not a valid answers file",
    "refs/platform-missing": "a cluster or tenant of platform.yaml has no folder",
    "refs/platform-orphan": "a folder under clusters/ or tenants/ that platform.yaml does not name",
    "secrets/private-key": "a private key (age or PEM) is committed",
    "secrets/plaintext-secret": "a Secret whose values are readable (not SOPS-encrypted)",
    "secrets/sops-recipients": "a SOPS file encrypted for other keys than .sops.yaml names",
    "secrets/placeholder-comment": "a SOPS file whose comments say REPLACE-: bootstrap refuses it",
    "tenancy/impersonation": "a tenant's Flux Kustomization or HelmRelease runs as the controller",
    "tenancy/project-wildcard": "a tenant AppProject may deploy to any namespace or cluster",
    "tenancy/project-cluster-resources": "a tenant AppProject may create cluster-scoped kinds",
    "tenancy/project-admin-namespace": "a tenant AppProject may deploy into the argocd namespace",
    "tenancy/guardrails-scope": "a tenant's guardrails AppProject reaches beyond its namespace",
    "tenancy/cluster-admin": "a tenant is bound to cluster-admin",
    "tenancy/platform-identity": "a tenant is applied as, or binds, a platform identity",
    "flux/service-account-missing": "Flux impersonates an account not committed where it looks",
    "flux/decryption-missing": "a SOPS file under a Flux Kustomization path that has no decryption",
    "flux/image-policy-missing": "an $imagepolicy setter marker names no ImagePolicy of this repo",
    "flux/undefined-variable": "a substituted ${var} that no substitute or substituteFrom defines",
    "flux/git-auth-mismatch": "a GitRepository whose Secret's keys do not fit its URL scheme",
    "flux/orphan-missing": "a Kustomization whose deletion uninstalls or prunes a remote cluster",
    "flux/timeout-short": "a Kustomization gives up before the HelmReleases it waits for",
    "flux/slack-channel-ignored": "a Slack Provider channel that Slack ignores (not the Slack API)",
    "argocd/app-name-collision": "two Application producers can render the same Application name",
    "argocd/project-unimpersonated-rbac": "a tenant AppProject permits RBAC kinds, unimpersonated",
    "argocd/default-project-open": "the default AppProject is undeclared or not locked",
    "argocd/retry-finite": "an automated sync whose retries run out (retry.limit >= 0 or none)",
    "argocd/retry-without-refresh": "unlimited retries that keep retrying the failed revision",
    "argocd/optional-metadata-field": "a cluster template reads absent metadata by field access",
    "argocd/selector-outside-project": "an ApplicationSet selects clusters its AppProject refuses",
    "argocd/cm-two-owners": "a committed argocd-cm while the argo-cd chart also writes it",
    "rbac/user-serviceaccount": "a binding subject of kind User named system:serviceaccount:...",
    "rbac/impersonate-unrestricted": "a role may impersonate accounts without resourceNames",
    "scripts/client-side-secret": "a Secret piped into client-side `kubectl apply`",
    "scripts/password-flag": "a script passes the Git password to `flux bootstrap` as a flag",
}

CATEGORIES: tuple[str, ...] = (
    "yaml",
    "build",
    "schema",
    "refs",
    "secrets",
    "tenancy",
    "flux",
    "argocd",
    "rbac",
    "scripts",
)


def category(check: str) -> str:
    return check.split("/", 1)[0]


@dataclass(frozen=True)
class Finding:
    check: str
    file: str  # repo-relative, POSIX separators; "." for the repo as a whole
    line: int | None  # 1-based, None when no line applies (a folder, a built object)
    message: str

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ValueError(f"unknown check id {self.check!r}")

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.file, self.line or 0, self.check, self.message)


@dataclass(frozen=True)
class Summary:
    files: int  # files read (YAML and text scanned for keys)
    documents: int  # YAML documents parsed
    objects: int  # Kubernetes objects validated (source and built, after de-duplication)
    builds: int  # kustomize runs
    elapsed: float  # seconds


@dataclass
class Report:
    path: str  # as given on the command line
    categories: tuple[str, ...]
    findings: list[Finding]
    summary: Summary
    notes: list[str] = field(default_factory=list)  # what was skipped and why

    def __post_init__(self) -> None:
        self.findings = sorted(set(self.findings), key=lambda f: f.sort_key)

    @property
    def ok(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f.check for f in self.findings).items()))

    def files_with_findings(self) -> list[str]:
        return sorted({f.file for f in self.findings})


def relative(root: Path, path: Path) -> str:
    """``path`` relative to the repo root, with forward slashes ("." for the root).

    Lexical (no symlink resolution): paths here are built from the root, and this runs
    for every file and every built object.
    """
    text = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return Path(text).as_posix() if os.sep != "/" else text
