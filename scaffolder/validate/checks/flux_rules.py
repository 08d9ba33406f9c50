"""Flux rules: what the Flux controllers do with a repo that builds and passes its schemas.

One check per class of mistake the reviews of generated repos found; each comment names the
upstream behaviour it encodes. All of them read the objects as applied (``ctx.objects()``:
built, substituted as each Flux Kustomization substitutes them) and map every object to the
Flux Kustomization that applies it, and so to the cluster it lands on: the cluster Flux runs
on, or the remote cluster of the Kustomization's ``spec.kubeConfig``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scaffolder.validate.checks import CheckContext, ObjectChecks
from scaffolder.validate.checks.tenancy import TenantMap
from scaffolder.validate.findings import Finding
from scaffolder.validate.gitops import (
    FLUX_CONTROLLERS,
    FLUX_NAMESPACE,
    FLUX_SOURCE_GROUP,
    flux_repo_paths,
    is_flux_kustomization,
    is_helm_release,
    this_repo_sources,
)
from scaffolder.validate.repo import KubeObject, Repo
from scaffolder.validate.substitution import SourceIndex, postbuild_variables

SLACK_API = "https://slack.com/api/chat.postMessage"
NOTIFICATION_GROUP = "notification.toolkit.fluxcd.io"
IMAGE_GROUP = "image.toolkit.fluxcd.io"
DECRYPT_KEY = "kustomize.toolkit.fluxcd.io/decrypt"
# `# {"$imagepolicy": "<namespace>:<name>"}`, optionally `:tag`, `:name` or `:digest`.
_MARKER = re.compile(r'\{\s*"\$imagepolicy"\s*:\s*"([^"]*)"\s*\}')
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Cluster:
    """Where a Flux object's changes land: ``kubeconfig`` None is the cluster Flux runs on;
    else (namespace, "Secret/<name>" or "ConfigMap/<name>") of a spec.kubeConfig reference,
    which names one remote cluster for every object of that namespace using it."""

    kubeconfig: tuple[str, str] | None = None

    def describe(self) -> str:
        if self.kubeconfig is None:
            return "the cluster Flux runs on"
        namespace, ref = self.kubeconfig
        return f"the remote cluster of kubeConfig {ref} (namespace {namespace})"


LOCAL = Cluster()


def remote_cluster(obj: KubeObject) -> Cluster | None:
    """The remote cluster a Kustomization or HelmRelease applies to (None: not remote)."""
    config = obj.spec.get("kubeConfig")
    if not isinstance(config, dict):
        return None
    for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
        ref = config.get(key)
        if isinstance(ref, dict) and ref.get("name"):
            return Cluster((obj.namespace, f"{kind}/{ref['name']}"))
    return Cluster((obj.namespace, "kubeConfig"))


def is_secret(obj: KubeObject) -> bool:
    return obj.kind == "Secret" and obj.api_version == "v1"


def is_sops_encrypted(obj: KubeObject) -> bool:
    """kustomize-controller's IsEncryptedSecret: a v1 Secret with a `sops` field."""
    return is_secret(obj) and "sops" in obj.body


def secret_keys(obj: KubeObject) -> set[str]:
    """The keys of a Secret (readable even when SOPS encrypted its values)."""
    keys: set[str] = set()
    for field in ("data", "stringData"):
        values = obj.body.get(field)
        if isinstance(values, dict):
            keys.update(str(k) for k in values)
    return keys


def duration_seconds(value: Any) -> float | None:
    """A Go duration ("1h30m", "5m0s", "90s") in seconds; None when it is not one."""
    text = str(value).strip() if value is not None else ""
    if not text or not re.fullmatch(f"(?:{_DURATION.pattern})+", text):
        return None
    return sum(float(n) * _SECONDS[unit] for n, unit in _DURATION.findall(text))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}m"


class FluxApply:
    """Which Flux Kustomization applies which objects, and the cluster each lands on."""

    def __init__(self, repo: Repo, objects: list[KubeObject], built: set[str]) -> None:
        self.repo = repo
        self.objects = objects
        sources = this_repo_sources(repo, objects)
        index = SourceIndex(objects)
        by_unit: dict[str, list[KubeObject]] = {}
        by_applier: dict[tuple[str, str], list[KubeObject]] = {}
        for obj in objects:
            if obj.unit is not None:
                by_unit.setdefault(obj.unit, []).append(obj)
                if obj.substituted_by is not None:
                    by_applier.setdefault((obj.unit, obj.substituted_by), []).append(obj)
        # (Kustomization, its path in this repo, the objects it applies)
        self.paths: list[tuple[KubeObject, str, list[KubeObject]]] = []
        self.applied: dict[int, list[KubeObject]] = {}
        appliers: dict[int, list[KubeObject]] = {}
        unbuilt: list[KubeObject] = []
        for kustomization, path in flux_repo_paths(objects, sources):
            if path not in built:
                unbuilt.append(kustomization)
            mine = by_applier.get((path, kustomization.describe()), [])
            if not mine:  # applied as built, or substituted like another Kustomization
                substitutes = postbuild_variables(kustomization, index) is not None
                mine = [
                    o
                    for o in by_unit.get(path, [])
                    if (o.substituted_by is not None) == substitutes
                ]
            self.paths.append((kustomization, path, mine))
            self.applied.setdefault(id(kustomization), []).extend(mine)
            for obj in mine:
                appliers.setdefault(id(obj), []).append(kustomization)
        self.appliers = appliers
        self._hosts: dict[int, Cluster] = {}
        self.landing: dict[Cluster, list[KubeObject]] = {}  # ServiceAccounts, by cluster
        for obj in objects:
            if obj.kind == "ServiceAccount" and obj.api_version == "v1":
                for cluster in self.clusters_of(obj):
                    self.landing.setdefault(cluster, []).append(obj)
        # Clusters some Kustomization applies a path of this repo to that did not build: what
        # lands there is not fully known, so no account is reported missing there.
        self.incomplete = {self.target(k) for k in unbuilt}
        self._accounts: dict[Cluster, set[tuple[str, str]]] = {}

    def host(self, obj: KubeObject) -> Cluster:
        """The cluster an object is applied to: the first Kustomization that applies it
        decides (objects no Kustomization of this repo applies, and Kustomizations that apply
        themselves, like flux-system: the cluster Flux runs on)."""
        key = id(obj)
        if key not in self._hosts:
            self._hosts[key] = LOCAL  # while resolving: a cycle ends on the local cluster
            for kustomization in self.appliers.get(key, []):
                self._hosts[key] = self.target(kustomization)
                break
        return self._hosts[key]

    def clusters_of(self, obj: KubeObject) -> set[Cluster]:
        appliers = self.appliers.get(id(obj))
        if not appliers:
            return {LOCAL}
        return {self.target(k) for k in appliers}

    def target(self, obj: KubeObject) -> Cluster:
        """Where a Kustomization or HelmRelease applies: its kubeConfig's cluster, else the
        cluster it is itself applied to."""
        return remote_cluster(obj) or self.host(obj)

    def accounts(self, cluster: Cluster) -> set[tuple[str, str]]:
        """(namespace, name) of the ServiceAccounts committed on ``cluster``."""
        if cluster not in self._accounts:
            found = {(o.namespace, o.name) for o in self.landing.get(cluster, [])}
            if cluster == LOCAL:  # Flux's own, made by `flux bootstrap` / gotk-components
                found |= {(FLUX_NAMESPACE, name) for name in FLUX_CONTROLLERS}
            self._accounts[cluster] = found
        return self._accounts[cluster]


class _Flux(ObjectChecks):
    def __init__(self, repo: Repo, objects: list[KubeObject], built: set[str]) -> None:
        super().__init__(repo, objects)
        self.apply = FluxApply(repo, objects, built)
        self.tenants = TenantMap(repo, objects)
        self.by_kind: dict[tuple[str, str], list[KubeObject]] = {}
        for obj in self.objects:
            self.by_kind.setdefault((obj.api_version, obj.kind), []).append(obj)
        self.kustomizations = [o for o in self.objects if is_flux_kustomization(o)]
        self.releases = [o for o in self.objects if is_helm_release(o)]
        self.secrets: dict[tuple[str, str], KubeObject] = {}
        for obj in self.by_kind.get(("v1", "Secret"), []):
            self.secrets.setdefault((obj.namespace, obj.name), obj)

    def kind(self, group: str, kind: str) -> list[KubeObject]:
        """The objects of one kind, in every version of its group."""
        return [
            o
            for (api_version, k), objects in self.by_kind.items()
            if k == kind and api_version.rpartition("/")[0] == group
            for o in objects
        ]

    def check(self) -> Iterator[Finding]:
        yield from self.service_accounts()
        yield from self.decryption()
        yield from self.image_policies()
        yield from self.undefined_variables()
        yield from self.git_auth()
        yield from self.orphan()
        yield from self.timeouts()
        yield from self.slack()

    # -- flux/service-account-missing ------------------------------------------------------
    # fluxcd/pkg runtime/client Impersonator: a Kustomization (and helm-controller, a
    # HelmRelease) with serviceAccountName impersonates
    # system:serviceaccount:<its namespace>:<serviceAccountName>, on the cluster Flux runs on
    # or, with spec.kubeConfig, on the remote cluster, where "a ServiceAccount with name
    # .spec.serviceAccountName must exist ... inside a namespace with the same name as the
    # namespace of the Kustomization" (kustomizations.md and helmreleases.md, "KubeConfig
    # (Remote clusters)"). Before pruning a deleted Kustomization (prune: true with the
    # default deletionPolicy MirrorPrune, or Delete, WaitForTermination), kustomize-controller's
    # finalize() calls CanImpersonate, which gets that ServiceAccount with the client of the
    # cluster Flux runs on, kubeConfig or not; if it is missing it prunes nothing ("skiping
    # pruning, failed to find account to impersonate"). helm-controller runs the same lookup
    # before uninstalling, for HelmReleases without kubeConfig only.

    def service_accounts(self) -> Iterator[Finding]:
        for obj in (*self.kustomizations, *self.releases):
            kustomization = is_flux_kustomization(obj)
            account = obj.spec.get("serviceAccountName")
            if not isinstance(account, str) or not account or "${" in account:
                continue
            if account == "default" or not obj.namespace:
                continue  # Kubernetes makes `default` in every namespace
            remote = remote_cluster(obj)
            local = self.apply.host(obj)
            user = f"system:serviceaccount:{obj.namespace}:{account}"
            wanted: list[tuple[Cluster, str]] = []
            if remote is None:
                wanted.append((local, f"it applies as {user} on {local.describe()}"))
            else:
                wanted.append(
                    (
                        remote,
                        f"it applies as {user} on {remote.describe()}, where the account "
                        f"must exist in namespace {obj.namespace} (Flux docs, KubeConfig "
                        "(Remote clusters))",
                    )
                )
                if kustomization and _finalizer_prunes(obj) and local != remote:
                    policy = obj.spec.get("deletionPolicy") or "MirrorPrune"
                    wanted.append(
                        (
                            local,
                            f"on deletion (deletionPolicy {policy}) kustomize-controller "
                            f"looks the account up on {local.describe()} before pruning, and "
                            "prunes nothing when it is missing",
                        )
                    )
            for cluster, why in wanted:
                if cluster in self.apply.incomplete:
                    continue
                if (obj.namespace, account) not in self.apply.accounts(cluster):
                    yield self.at(
                        obj,
                        "flux/service-account-missing",
                        f"ServiceAccount {obj.namespace}/{account} is not committed where "
                        f"Flux looks for it: {why}",
                        ("spec", "serviceAccountName"),
                    )

    # -- flux/decryption-missing -----------------------------------------------------------
    # kustomize-controller apply(): a v1 Secret with a `sops` field (IsEncryptedSecret) in a
    # Kustomization without spec.decryption fails the whole Kustomization: "... is SOPS
    # encrypted, configuring decryption is required for this secret to be reconciled"
    # (unless annotated kustomize.toolkit.fluxcd.io/decrypt: disabled).

    def decryption(self) -> Iterator[Finding]:
        for kustomization, path, applied in self.apply.paths:
            decryption = kustomization.spec.get("decryption")
            if isinstance(decryption, dict) and decryption.get("provider") == "sops":
                continue
            files = sorted(
                {
                    o.location.file
                    for o in applied
                    if is_sops_encrypted(o)
                    and str((o.metadata.get("annotations") or {}).get(DECRYPT_KEY, "")).lower()
                    != "disabled"
                }
            )
            for file in files:
                yield self.at(
                    kustomization,
                    "flux/decryption-missing",
                    f"applies {file} (SOPS-encrypted) from {path} without spec.decryption: "
                    "kustomize-controller refuses the whole Kustomization (add decryption: "
                    "{provider: sops, secretRef: {name: <age key Secret>}}, or move the file)",
                    ("spec",),
                )

    # -- flux/image-policy-missing ---------------------------------------------------------
    # image-automation-controller (pkg/update/setters.go) defines one setter per ImagePolicy,
    # named "<namespace>:<name>" (plus ":tag" and ":name"), and rewrites the fields whose
    # `# {"$imagepolicy": ...}` marker names one; a marker naming no policy is never updated.

    def image_policies(self) -> Iterator[Finding]:
        policies = {
            (o.namespace, o.name)
            for o in (*self.kind(IMAGE_GROUP, "ImagePolicy"), *self.repo.source_objects())
            if o.group == IMAGE_GROUP and o.kind == "ImagePolicy"
        }
        for source in self.repo.files.values():
            if "$imagepolicy" not in source.text:
                continue
            for number, line in enumerate(source.text.splitlines(), 1):
                for match in _MARKER.finditer(line):
                    value = match.group(1)
                    parts = value.split(":")
                    if len(parts) in (2, 3) and all(parts[:2]):
                        if (parts[0], parts[1]) in policies:
                            continue
                        problem = f"no ImagePolicy {parts[0]}/{parts[1]} is in this repo"
                    else:
                        problem = "it is not <namespace>:<name>[:tag|:name]"
                    yield Finding(
                        "flux/image-policy-missing",
                        source.relative,
                        number,
                        f'setter marker {{"$imagepolicy": "{value}"}}: {problem}, so image '
                        "automation never updates this field",
                    )

    # -- flux/undefined-variable -----------------------------------------------------------
    # kustomize-controller postBuild (kustomizations.md, "Post build variable substitution"):
    # "All the undefined variables in the format ${var} will be substituted with an empty
    # string unless a default value is provided e.g. ${var:=default}"; $${var} escapes.
    # The builds emulate that substitution and record the names nothing defines.

    def undefined_variables(self) -> Iterator[Finding]:
        seen: set[tuple[str, int | None, str]] = set()
        for obj in self.objects:
            for name in sorted(obj.undefined):
                line = self.variable_line(obj, name)
                if (obj.location.file, line, name) in seen:
                    continue
                seen.add((obj.location.file, line, name))
                yield Finding(
                    "flux/undefined-variable",
                    obj.location.file,
                    line,
                    f"{obj.describe()}: ${{{name}}} is defined neither in postBuild.substitute "
                    "nor in a substituteFrom ConfigMap or Secret of the Kustomization that "
                    f'applies it, and has no default: Flux writes "" (define it, write '
                    f"${{{name}:=default}}, or $${{{name}}} to keep it as text)",
                )

    def variable_line(self, obj: KubeObject, name: str) -> int | None:
        source = self.repo.files.get(obj.location.file)
        start = obj.location.line
        if source is None or start is None:
            return start
        pattern = re.compile(r"(?<!\$)\$\{#?" + re.escape(name) + r"(?![A-Za-z0-9_])")
        lines = source.text.splitlines()
        for number in range(start, len(lines) + 1):
            if pattern.search(lines[number - 1]):
                return number
        return start

    # -- flux/git-auth-mismatch ------------------------------------------------------------
    # fluxcd/pkg git NewAuthOptions/Validate: an https URL reads only `username`, `password`
    # (and `bearerToken`): `identity` is ignored and the clone is anonymous; "'password'
    # requires 'username' to be set". An ssh URL needs `identity` ("'identity' is required")
    # and `known_hosts` ("'known_hosts' is required").

    def git_auth(self) -> Iterator[Finding]:
        for obj in self.kind(FLUX_SOURCE_GROUP, "GitRepository"):
            ref = obj.spec.get("secretRef")
            url = obj.spec.get("url")
            if not isinstance(ref, dict) or not isinstance(url, str) or obj.spec.get("provider"):
                continue
            secret = self.secrets.get((obj.namespace, str(ref.get("name", ""))))
            if secret is None:
                continue
            keys = secret_keys(secret)
            problem = _git_auth_problem(url, keys)
            if problem:
                yield self.at(
                    obj,
                    "flux/git-auth-mismatch",
                    f"Secret {secret.namespace}/{secret.name} ({secret.location.file}) has keys "
                    f"{', '.join(sorted(keys)) or 'none'}: {problem}",
                    ("spec", "url"),
                )

    # -- flux/orphan-missing ---------------------------------------------------------------
    # Where the generated repos set deletionPolicy: Orphan, and why (kustomize-controller
    # finalize(): MirrorPrune with prune: true deletes everything in the inventory):
    # - a Kustomization applying HelmReleases that install on a remote cluster: deleting it
    #   deletes them, and helm-controller reconcileDelete uninstalls the charts from that
    #   cluster (CRDs and the objects that depend on them), racing the deletion of the
    #   kubeconfig Secret (review F4);
    # - a Kustomization with kubeConfig that applies as the platform (not a tenant's own
    #   manifests, applied as the tenant's account, which offboarding prunes on purpose):
    #   detaching a spoke must leave what runs on it;
    # - a Kustomization applying a kubeconfig Secret that other Flux objects use: deleting it
    #   takes the credential the remote objects' finalizers need.

    def orphan(self) -> Iterator[Finding]:
        kubeconfigs = self.kubeconfig_secrets()
        for obj in self.kustomizations:
            if obj.spec.get("deletionPolicy") == "Orphan":
                continue
            applied = self.apply.applied.get(id(obj), [])
            remote_releases = [o for o in applied if is_helm_release(o) and remote_cluster(o)]
            credentials = [o for o in applied if (o.namespace, o.name) in kubeconfigs]
            if remote_releases:
                release = remote_releases[0]
                problem = (
                    f"it applies HelmRelease {release.namespace}/{release.name}, which installs "
                    "on a remote cluster (kubeConfig): deleting this Kustomization deletes the "
                    "HelmRelease, and helm-controller uninstalls the chart there"
                )
            elif remote_cluster(obj) and self.tenants.workload_tenant(obj) is None:
                problem = (
                    f"it applies to {self.apply.target(obj).describe()} as the platform: "
                    f"deleting it (detaching the cluster) prunes everything it applied there"
                )
            elif credentials and obj.spec.get("prune") is True:
                secret = credentials[0]
                problem = (
                    f"it applies Secret {secret.namespace}/{secret.name}, the kubeConfig of "
                    "Flux objects that apply to a remote cluster: deleting this Kustomization "
                    "deletes it while their finalizers still need it"
                )
            else:
                continue
            yield self.at(
                obj,
                "flux/orphan-missing",
                f"{problem}; set deletionPolicy: Orphan",
                ("spec", "deletionPolicy"),
            )

    def kubeconfig_secrets(self) -> set[tuple[str, str]]:
        found = set()
        for obj in (*self.kustomizations, *self.releases):
            config = obj.spec.get("kubeConfig")
            ref = config.get("secretRef") if isinstance(config, dict) else None
            if isinstance(ref, dict) and ref.get("name"):
                found.add((obj.namespace, str(ref["name"])))
        return found

    # -- flux/timeout-short ----------------------------------------------------------------
    # kustomize-controller waits (spec.wait, or spec.healthChecks) for at most spec.timeout
    # (default: spec.interval, at least 1m: Kustomization.GetTimeout). helm-controller gives
    # each Helm action spec.timeout (default 300s: HelmRelease.GetTimeout) and, on failure,
    # remediates and tries again install/upgrade.remediation.retries times (default 0): a
    # release may take timeout x (1 + retries) to become Ready or fail for good. Unlimited
    # retries (negative) have no bound and are not judged.

    def timeouts(self) -> Iterator[Finding]:
        for obj in self.kustomizations:
            releases = self.awaited_releases(obj)
            if not releases:
                continue
            interval = duration_seconds(obj.spec.get("interval"))
            raw = obj.spec.get("timeout")
            timeout = duration_seconds(raw) if raw is not None else interval
            if timeout is None:
                continue
            timeout = max(timeout, 60.0)
            worst: tuple[float, KubeObject, float, int] | None = None
            for release in releases:
                needed = _release_time(release)
                if needed is not None and (worst is None or needed[0] > worst[0]):
                    worst = (needed[0], release, needed[1], needed[2])
            if worst is None or timeout >= worst[0]:
                continue
            total, release, each, retries = worst
            yield self.at(
                obj,
                "flux/timeout-short",
                f"timeout {_minutes(timeout)} is shorter than HelmRelease "
                f"{release.namespace}/{release.name} may take: {_minutes(each)} per attempt "
                f"x (1 + {retries} retries) = {_minutes(total)}; the Kustomization fails "
                "while the release is still remediating",
                ("spec", "timeout"),
            )

    def awaited_releases(self, obj: KubeObject) -> list[KubeObject]:
        applied = [o for o in self.apply.applied.get(id(obj), []) if is_helm_release(o)]
        if obj.spec.get("wait") is True:
            return applied
        checks = obj.spec.get("healthChecks")
        named = {
            (str(c.get("namespace") or ""), str(c.get("name") or ""))
            for c in (checks if isinstance(checks, list) else [])
            if isinstance(c, dict) and c.get("kind") == "HelmRelease"
        }
        return [o for o in applied if (o.namespace, o.name) in named]

    # -- flux/slack-channel-ignored --------------------------------------------------------
    # notification-controller: a Provider's address is spec.address, overridden by the
    # `address` key of its secretRef. The Slack notifier (internal/notifier/slack.go) puts
    # spec.channel in the payload; only the Slack API (https://slack.com/api/chat.postMessage,
    # with a bot `token`) honours it; an incoming webhook posts to its own channel.

    def slack(self) -> Iterator[Finding]:
        for obj in self.kind(NOTIFICATION_GROUP, "Provider"):
            if obj.spec.get("type") != "slack" or not obj.spec.get("channel"):
                continue
            ref = obj.spec.get("secretRef")
            secret = (
                self.secrets.get((obj.namespace, str(ref.get("name", ""))))
                if isinstance(ref, dict)
                else None
            )
            keys = secret_keys(secret) if secret is not None else set()
            address = obj.spec.get("address")
            source = "spec.address"
            if "address" in keys and secret is not None:
                plain = secret.body.get("stringData")
                readable = isinstance(plain, dict) and "sops" not in secret.body
                address = plain.get("address") if readable and isinstance(plain, dict) else None
                source = f"the address key of Secret {secret.name}"
            if address == SLACK_API:
                if "token" in keys:
                    continue
                problem = "the Slack API takes a bot token (a `token` key in spec.secretRef)"
            elif address is None and source == "spec.address":
                problem = "there is no address at all"
            else:
                problem = (
                    f"{source} is not the Slack API ({SLACK_API}), and an incoming webhook "
                    "posts to its own channel"
                )
            yield self.at(
                obj,
                "flux/slack-channel-ignored",
                f"channel {obj.spec.get('channel')!r} reaches nobody: {problem}",
                ("spec", "channel"),
            )


def _finalizer_prunes(obj: KubeObject) -> bool:
    """kustomize-controller finalizerShouldDeleteResources (suspend aside)."""
    if obj.spec.get("suspend") is True:
        return False
    policy = obj.spec.get("deletionPolicy") or "MirrorPrune"
    if policy == "MirrorPrune":
        return obj.spec.get("prune") is True
    return policy in ("Delete", "WaitForTermination")


def _git_auth_problem(url: str, keys: set[str]) -> str | None:
    text = url.strip()
    ssh = text.startswith("ssh://") or ("://" not in text and "@" in text and ":" in text)
    if ssh:
        missing = [k for k in ("identity", "known_hosts") if k not in keys]
        if missing:
            return (
                f"the URL is ssh, which needs {' and '.join(missing)} (Flux refuses the "
                "Secret); username/password are for an https URL"
            )
        return None
    if not text.startswith(("https://", "http://")):
        return None
    if "password" in keys and "username" not in keys:
        return "the URL is https: `password` requires `username`"
    if not ({"username", "password"} <= keys or "bearerToken" in keys) and (
        keys & {"identity", "known_hosts"}
    ):
        return (
            "the URL is https, which reads only username/password (or bearerToken): the SSH "
            "key is ignored and the clone is anonymous"
        )
    return None


def _release_time(release: KubeObject) -> tuple[float, float, int] | None:
    """(total, per attempt, retries) a HelmRelease may take; None when unbounded/unknown."""
    raw = release.spec.get("timeout")
    each = duration_seconds(raw) if raw is not None else 300.0
    if each is None:
        return None
    retries = 0
    for action in ("install", "upgrade"):
        section = release.spec.get(action)
        remediation = section.get("remediation") if isinstance(section, dict) else None
        value = remediation.get("retries") if isinstance(remediation, dict) else None
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        if value < 0:
            return None
        retries = max(retries, value)
    return each * (1 + retries), each, retries


def check_flux(ctx: CheckContext) -> list[Finding]:
    objects = list(ctx.objects())
    if not any(o.group.endswith("toolkit.fluxcd.io") for o in objects):
        return []
    return list(_Flux(ctx.repo, objects, ctx.built_units).check())
