"""The Flux hub-spoke repo: what Flux would reconcile, followed from the bootstrap path down.

The tests walk the repo the way the hub's Flux does: build `clusters/<hub>` with kustomize,
then the path of every Flux Kustomization found (with its postBuild variables substituted),
and so on. Real tools only: kubectl kustomize, sops metadata, shellcheck, bash.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.commands.new import new
from scaffolder.context import git_url_form
from scaffolder.generate import GeneratedRepo
from scaffolder.model import DEFAULT_ANSWERS, Platform, load_answers
from scaffolder.sops import find_sops_files
from scaffolder.validate.checks.flux_rules import FLUX_CONTROLLERS
from scaffolder.validate.kustomize import build, kustomization_folders
from scaffolder.versions import VERSIONS

SOPS_SECRET = "sops-age"
KUBECONFIG_SECRET = "cluster-kubeconfig"
SPOKE_RECONCILER = "flux-platform"
CHART_PINS = {
    "sealed-secrets": VERSIONS["sealed_secrets_chart"],
    "external-secrets": VERSIONS["external_secrets_chart"],
}
_VARIABLE = re.compile(r"\$\{([_a-zA-Z][_a-zA-Z0-9]*)\}")


# --------------------------------------------------------------------------- the Flux walk


@dataclass
class Applied:
    """One object as a Flux Kustomization would apply it (variables substituted)."""

    body: dict[str, Any]
    applier: str  # "<namespace>/<name>" of the Flux Kustomization that applies it
    on_spoke: bool  # applied through a kubeconfig (to a spoke) rather than on the hub

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace", ""))

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.body.get("spec") or {}
        return spec


@dataclass
class FluxWalk:
    repo: Path
    platform: Platform
    # "<namespace>/<name>" -> the Flux Kustomization object (as applied on the hub)
    kustomizations: dict[str, Applied] = field(default_factory=dict)
    objects: list[Applied] = field(default_factory=list)
    build_errors: list[str] = field(default_factory=list)

    def hub_objects(self, kind: str) -> list[Applied]:
        return [o for o in self.objects if o.kind == kind and not o.on_spoke]

    def applied_by(self, key: str) -> list[Applied]:
        return [o for o in self.objects if o.applier == key]

    def find(self, kind: str, namespace: str, name: str) -> Applied | None:
        for candidate in self.hub_objects(kind):
            if candidate.namespace == namespace and candidate.name == name:
                return candidate
        return None


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """Flux's postBuild substitution on one document (undefined variables become empty)."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: variables.get(m.group(1), ""), value)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


def _substitution_disabled(doc: dict[str, Any]) -> bool:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    return annotations.get("kustomize.toolkit.fluxcd.io/substitute") == "disabled"


def _documents(folder: Path, walk: FluxWalk) -> list[dict[str, Any]]:
    result = build(folder)
    if not result.ok:
        walk.build_errors.append(f"{folder}: {result.output}")
        return []
    return [d for d in yaml.safe_load_all(result.output) if d]


def _source_in_repo(walk: FluxWalk, kustomization: Applied) -> bool:
    """Does this Kustomization read this repository (rather than a tenant's)?"""
    ref = kustomization.spec["sourceRef"]
    source = walk.find(ref["kind"], kustomization.namespace, ref["name"])
    if source is None:  # flux-system's own GitRepository is in flux-system/gotk-sync.yaml
        return ref["name"] == "flux-system"
    return bool(source.spec.get("url") == git_url_form(walk.platform.git_url))


def postbuild_variables(walk: FluxWalk, kustomization: Applied) -> dict[str, str]:
    """What Flux substitutes for ``kustomization``: its substituteFrom ConfigMaps (found among
    the objects walked so far, in its namespace), then its substitute values over them."""
    post_build = kustomization.spec.get("postBuild") or {}
    variables: dict[str, str] = {}
    for ref in post_build.get("substituteFrom") or []:
        assert ref["kind"] == "ConfigMap", ref
        source = walk.find("ConfigMap", kustomization.namespace, ref["name"])
        assert source is not None, f"{kustomization.namespace}/{ref['name']} is not applied"
        variables.update(source.body["data"])
    variables.update(post_build.get("substitute") or {})
    return variables


def walk_flux(repo: Path) -> FluxWalk:
    platform = load_answers(yaml.safe_load((repo / "platform.yaml").read_text()))
    walk = FluxWalk(repo, platform)
    # flux bootstrap: the flux-system Kustomization (patched in flux-system/kustomization.yaml)
    bootstrap = [
        Applied(d, "bootstrap", False)
        for d in _documents(repo / "clusters" / platform.hub.name / "flux-system", walk)
    ]
    root = next(o for o in bootstrap if o.kind == "Kustomization")
    pending = [root]
    walk.kustomizations["flux-system/flux-system"] = root
    while pending:
        current = pending.pop(0)
        key = f"{current.namespace}/{current.name}"
        if not _source_in_repo(walk, current):
            continue  # a tenant's own repository: not in this repo
        variables = postbuild_variables(walk, current)
        on_spoke = "kubeConfig" in current.spec
        folder = repo / current.spec["path"]
        for doc in _documents(folder, walk):
            if not _substitution_disabled(doc):
                doc = substitute(doc, variables)
            applied = Applied(doc, key, on_spoke)
            walk.objects.append(applied)
            if applied.kind == "Kustomization" and not on_spoke:
                child = f"{applied.namespace}/{applied.name}"
                if child not in walk.kustomizations:
                    walk.kustomizations[child] = applied
                    pending.append(applied)
    return walk


@pytest.fixture(params=["default", "big"])
def flux_repo(
    request: pytest.FixtureRequest, repo_factory: Callable[[str, str], GeneratedRepo]
) -> GeneratedRepo:
    return repo_factory("flux", str(request.param))


@cache
def _walk(repo: Path) -> FluxWalk:
    return walk_flux(repo)


@pytest.fixture
def walk(flux_repo: GeneratedRepo) -> FluxWalk:
    return _walk(flux_repo.repo_dir)


def placement(platform: Platform) -> dict[str, set[str]]:
    return {t.name: set(platform.placement(t)) for t in platform.tenants}


def tenant_apps(walk: FluxWalk) -> Iterator[Applied]:
    for kustomization in walk.kustomizations.values():
        if kustomization.name.endswith("-apps"):
            yield kustomization


# --------------------------------------------------------------------------- structure


def test_every_flux_path_exists_builds_and_is_reached(walk: FluxWalk) -> None:
    assert walk.build_errors == []
    platform = walk.platform
    expected = {
        "flux-system/flux-system",
        "flux-system/infra-controllers",
        "flux-system/infra-configs",
        "flux-system/notifications",
        "flux-system/image-automation",
    }
    for spoke in platform.spokes:
        expected.add(f"flux-system/spoke-{spoke.name}")
        expected |= {
            f"{spoke.name}/{layer}"
            for layer in ("flux-access", "infra-controllers", "infra-configs", "tenant-sync")
        }
        for t in platform.tenants_on(spoke.name):
            expected |= {f"{spoke.name}/{t.name}-apps", f"{spoke.name}/{t.name}-guardrails"}
    sample = platform.tenants[0]  # image automation is on in both sizes
    expected |= {f"{spoke}/{sample.name}-sample-app" for spoke in platform.placement(sample)}
    assert set(walk.kustomizations) == expected
    for key, kustomization in walk.kustomizations.items():
        if kustomization.name.endswith("-apps"):
            continue  # a path in the tenant's repository
        path = kustomization.spec["path"]
        assert path.startswith("./"), key
        assert (walk.repo / path / "kustomization.yaml").is_file(), f"{key}: {path}"
        assert walk.applied_by(key), f"{key}: {path} applies nothing"


def test_source_references_stay_in_their_namespace(walk: FluxWalk) -> None:
    """--no-cross-namespace-refs: every reference resolves in the referrer's namespace."""
    checked = 0
    for obj in walk.objects:
        if obj.on_spoke:
            continue
        references: list[tuple[str, dict[str, Any]]] = []
        if obj.kind in ("Kustomization", "ImageUpdateAutomation"):
            references.append(("GitRepository", obj.spec["sourceRef"]))
        if obj.kind == "HelmRelease" and "chartRef" in obj.spec:
            references.append(("OCIRepository", obj.spec["chartRef"]))
        elif obj.kind == "HelmRelease":
            references.append(("HelmRepository", obj.spec["chart"]["spec"]["sourceRef"]))
        if obj.kind == "ImagePolicy":
            references.append(("ImageRepository", obj.spec["imageRepositoryRef"]))
        if obj.kind == "Alert":
            references.append(("Provider", obj.spec["providerRef"]))
        for kind, ref in references:
            assert ref.get("namespace", obj.namespace) == obj.namespace, (obj.kind, obj.name)
            assert ref.get("kind", kind) == kind
            found = walk.find(kind, obj.namespace, ref["name"])
            is_bootstrap_source = ref["name"] == "flux-system" and obj.namespace == "flux-system"
            assert found is not None or is_bootstrap_source, (
                f"{obj.kind} {obj.namespace}/{obj.name} refers to missing {kind} {ref['name']}"
            )
            checked += 1
    assert checked >= 4 + 6 * len(walk.platform.spokes)


def _dependencies(walk: FluxWalk, key: str) -> set[str]:
    """Every Kustomization ``key`` waits for, directly or not."""
    namespace = key.split("/")[0]
    found: set[str] = set()
    stack = [key]
    while stack:
        spec = walk.kustomizations[stack.pop()].spec
        for dependency in spec.get("dependsOn") or []:
            assert dependency.get("namespace", namespace) == namespace
            target = f"{namespace}/{dependency['name']}"
            assert target in walk.kustomizations, f"{key} depends on missing {target}"
            if target not in found:
                found.add(target)
                stack.append(target)
    return found


def test_depends_on_orders_controllers_configs_tenants(walk: FluxWalk) -> None:
    assert _dependencies(walk, "flux-system/infra-configs") == {"flux-system/infra-controllers"}
    for spoke in walk.platform.spokes:
        ns = spoke.name
        controllers = f"{ns}/infra-controllers"
        assert _dependencies(walk, f"{ns}/flux-access") == set()
        assert _dependencies(walk, controllers) == set()
        assert _dependencies(walk, f"{ns}/infra-configs") == {controllers}
        assert _dependencies(walk, f"{ns}/tenant-sync") == set()
        for tenant in walk.platform.tenants_on(ns):
            guardrails = f"{ns}/{tenant.name}-guardrails"
            assert _dependencies(walk, guardrails) == {controllers}
            assert _dependencies(walk, f"{ns}/{tenant.name}-apps") == {guardrails, controllers}
            sample = f"{ns}/{tenant.name}-sample-app"
            if sample in walk.kustomizations:
                assert _dependencies(walk, sample) == {guardrails, controllers}


def test_platform_kustomizations_wait_with_timeouts_and_prune(walk: FluxWalk) -> None:
    for key, kustomization in walk.kustomizations.items():
        if key == "flux-system/flux-system":
            continue  # written by flux bootstrap
        spec = kustomization.spec
        assert spec["prune"] is True, key
        assert re.fullmatch(r"\d+m", spec["timeout"]), key
        assert re.fullmatch(r"\d+m", spec["retryInterval"]), key
        # tenant-sync and spoke-<spoke> only create Flux objects, which report themselves: a
        # broken tenant app must not fail the platform
        only_flux_objects = key.endswith("/tenant-sync") or key.startswith("flux-system/spoke-")
        assert spec["wait"] is (not only_flux_objects), key


def test_spoke_layers_reach_the_spoke_as_the_platform_reconciler(walk: FluxWalk) -> None:
    hub_rbac = {(o.namespace, o.name): o for o in walk.hub_objects("RoleBinding")}
    for spoke in walk.platform.spokes:
        ns = spoke.name
        for layer, remote in (
            ("flux-access", True),
            ("infra-controllers", False),
            ("infra-configs", True),
            ("tenant-sync", False),
        ):
            spec = walk.kustomizations[f"{ns}/{layer}"].spec
            assert spec["serviceAccountName"] == SPOKE_RECONCILER
            assert spec["sourceRef"] == {"kind": "GitRepository", "name": "platform"}
            assert spec["postBuild"]["substitute"] == {
                "cluster_name": spoke.name,
                "cluster_env": spoke.env,
                "cluster_region": spoke.region,
            }
            if remote:
                assert spec["kubeConfig"] == {"secretRef": {"name": KUBECONFIG_SECRET}}
            else:
                assert "kubeConfig" not in spec
        # on the hub: admin of its own namespace only
        binding = hub_rbac[(ns, SPOKE_RECONCILER)].body
        assert binding["roleRef"]["name"] == "admin"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": SPOKE_RECONCILER, "namespace": ns}
        ]
        assert walk.find("Secret", ns, KUBECONFIG_SECRET) is not None
        # on the spoke: the platform's ServiceAccount of the same namespace and name is
        # cluster-admin (applied by bootstrap.sh, then reconciled by flux-access)
        admins = [
            o
            for o in walk.applied_by(f"{ns}/flux-access")
            if o.kind == "ClusterRoleBinding" and o.body["roleRef"]["name"] == "cluster-admin"
        ]
        assert all(o.on_spoke for o in admins)
        assert [s for o in admins for s in o.body["subjects"]] == [
            {"kind": "ServiceAccount", "name": SPOKE_RECONCILER, "namespace": ns}
        ]


def test_hub_layers_run_as_the_controllers(walk: FluxWalk) -> None:
    """With --default-service-account=default, the hub's own objects must name their account."""
    hub = [key for key in walk.kustomizations if key.startswith("flux-system/")]
    assert len(hub) == 5 + len(walk.platform.spokes)
    for key in hub:
        assert walk.kustomizations[key].spec["serviceAccountName"] == "kustomize-controller"
    for release in walk.hub_objects("HelmRelease"):
        expected = "helm-controller" if release.namespace == "flux-system" else SPOKE_RECONCILER
        assert release.spec["serviceAccountName"] == expected


# --------------------------------------------------------------------------- secrets


def _sops_recipients(doc: dict[str, Any]) -> set[str]:
    return {entry["recipient"] for entry in doc["sops"]["age"]}


def test_every_sops_file_is_applied_by_a_kustomization_that_decrypts_it(
    walk: FluxWalk, flux_repo: GeneratedRepo
) -> None:
    encrypted = [o for o in walk.objects if "sops" in o.body]
    applied = {(o.namespace, o.name) for o in encrypted}
    on_disk = set()
    for relative in find_sops_files(walk.repo):
        doc = yaml.safe_load((walk.repo / relative).read_text())
        on_disk.add((doc["metadata"]["namespace"], doc["metadata"]["name"]))
    assert on_disk <= applied, "SOPS files that no Flux Kustomization applies"
    assert encrypted
    for obj in encrypted:
        applier = walk.kustomizations[obj.applier]
        assert applier.spec.get("decryption") == {
            "provider": "sops",
            "secretRef": {"name": SOPS_SECRET},
        }, obj.applier
        # the applier's namespace holds the key that can open the file: hub key in flux-system,
        # the spoke's key in the spoke's namespace
        namespace = applier.namespace
        owner = walk.platform.hub.name if namespace == "flux-system" else namespace
        assert flux_repo.keys[owner].public in _sops_recipients(obj.body), (obj.name, owner)
    clusters_with_secrets = {
        walk.platform.hub.name
        if walk.kustomizations[o.applier].namespace == "flux-system"
        else walk.kustomizations[o.applier].namespace
        for o in encrypted
    }
    assert clusters_with_secrets == {c.name for c in walk.platform.clusters}


def test_kubeconfigs_are_hub_encrypted_placeholders(flux_repo: GeneratedRepo) -> None:
    repo = flux_repo.repo_dir
    platform = load_answers(yaml.safe_load((repo / "platform.yaml").read_text()))
    hub_key = flux_repo.keys[platform.hub.name].public
    for spoke in platform.spokes:
        path = repo / f"clusters/{platform.hub.name}/spokes/{spoke.name}/kubeconfig.sops.yaml"
        doc = yaml.safe_load(path.read_text())
        assert doc["metadata"] == {"name": KUBECONFIG_SECRET, "namespace": spoke.name}
        assert hub_key in _sops_recipients(doc)
        assert flux_repo.keys[spoke.name].public not in _sops_recipients(doc)
        assert "sops edit" in path.read_text()
        assert doc["stringData"]["value"].startswith("ENC[")


# --------------------------------------------------------------------------- tenants


def test_tenants_impersonate_their_account_on_exactly_their_spokes(walk: FluxWalk) -> None:
    platform = walk.platform
    landed: dict[str, set[str]] = {t.name: set() for t in platform.tenants}
    for kustomization in tenant_apps(walk):
        tenant_name = kustomization.name.removesuffix("-apps")
        tenant = next(t for t in platform.tenants if t.name == tenant_name)
        spoke = kustomization.namespace
        landed[tenant_name].add(spoke)
        spec = kustomization.spec
        # F2: tenant identities live in their own name space (tenant-<name>): no tenant name
        # can equal a platform identity such as flux-platform
        assert spec["serviceAccountName"] == f"tenant-{tenant_name}"
        assert spec["targetNamespace"] == tenant_name
        assert spec["kubeConfig"] == {"secretRef": {"name": KUBECONFIG_SECRET}}
        assert spec["path"] == tenant.path
        # F13: the spoke's variables come as strings from a ConfigMap of the spoke's namespace
        assert spec["postBuild"] == {
            "substituteFrom": [{"kind": "ConfigMap", "name": "cluster-vars"}]
        }
        variables = walk.find("ConfigMap", spoke, "cluster-vars")
        assert variables is not None
        region = platform.cluster(spoke).region
        assert variables.body["data"] == {
            "cluster_name": spoke,
            "cluster_env": platform.cluster(spoke).env,
            "cluster_region": region,
        }
        source = walk.find("GitRepository", spoke, spec["sourceRef"]["name"])
        assert source is not None
        assert source.spec["url"] == git_url_form(platform.tenant_repo_url(tenant))
    assert landed == placement(platform)


def test_tenant_guardrails_land_on_exactly_their_spokes(walk: FluxWalk) -> None:
    platform = walk.platform
    namespaces: dict[str, set[str]] = {t.name: set() for t in platform.tenants}
    for spoke in platform.spokes:
        objects = [
            o
            for t in platform.tenants_on(spoke.name)
            for o in walk.applied_by(f"{spoke.name}/{t.name}-guardrails")
        ]
        assert objects and all(o.on_spoke for o in objects)
        assert not [o for o in objects if o.kind in ("ClusterRoleBinding", "ClusterRole")]
        for namespace in (o for o in objects if o.kind == "Namespace"):
            namespaces[namespace.name].add(spoke.name)
            labels = namespace.body["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
            annotations = namespace.body["metadata"]["annotations"]
            assert annotations["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
        for tenant in platform.tenants_on(spoke.name):
            mine = [o for o in objects if o.namespace == tenant.name]
            kinds = sorted(o.kind for o in mine)
            assert kinds.count("NetworkPolicy") == 3
            assert {"ResourceQuota", "LimitRange"} <= set(kinds)
            # F12: no ServiceAccount in the tenant's namespace holds admin (a tenant pod could
            # run as it); the identity Flux applies the tenant as lives in namespace <spoke>
            assert "ServiceAccount" not in kinds
            deny = next(o for o in mine if o.name == "default-deny-all")
            assert deny.spec == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
            # the identity Flux impersonates for the tenant's apps is admin here, nothing more
            bindings = [o for o in mine if o.kind == "RoleBinding"]
            granted = {
                b.body["roleRef"]["name"]
                for b in bindings
                for s in b.body["subjects"]
                if s
                == {
                    "kind": "ServiceAccount",
                    "name": f"tenant-{tenant.name}",
                    "namespace": spoke.name,
                }
            }
            assert granted == {"admin"}
            assert all(b.body["roleRef"]["name"] == "admin" for b in bindings)
    assert namespaces == placement(platform)


def test_sealed_secret_stub_is_valid_but_never_applied(walk: FluxWalk) -> None:
    assert not [o for o in walk.objects if o.kind == "SealedSecret"]
    for tenant in walk.platform.tenants:
        stub = walk.repo / f"tenants/{tenant.name}/examples/sealed-secret.yaml"
        text = stub.read_text()
        assert "kubeseal" in text and "never applies" in text
        doc = yaml.safe_load(text)
        assert (doc["apiVersion"], doc["kind"]) == ("bitnami.com/v1alpha1", "SealedSecret")
        assert doc["metadata"]["namespace"] == tenant.name
        assert "examples" not in "".join(
            p.read_text() for p in walk.repo.rglob("kustomization.yaml")
        )


# --------------------------------------------------------------------------- Helm, lockdown


def test_helm_releases_pin_charts_detect_drift_and_remediate(walk: FluxWalk) -> None:
    releases = walk.hub_objects("HelmRelease")
    assert len(releases) == 2 * len(walk.platform.clusters)
    for release in releases:
        spec = release.spec
        if "chartRef" in spec:  # a chart its project publishes as an OCI artifact
            source = walk.find("OCIRepository", release.namespace, spec["chartRef"]["name"])
            assert source is not None
            assert source.spec["url"] == f"oci://ghcr.io/external-secrets/charts/{release.name}"
            assert source.spec["ref"] == {"tag": CHART_PINS[release.name]}
        else:
            chart = spec["chart"]["spec"]
            assert chart["version"] == CHART_PINS[chart["chart"]]
        assert spec["driftDetection"]["mode"] == "enabled"
        assert spec["install"]["remediation"]["retries"] >= 1
        assert spec["upgrade"]["remediation"]["retries"] >= 1
        on_hub = release.namespace == "flux-system"
        if on_hub:
            assert "kubeConfig" not in spec
        else:
            assert spec["kubeConfig"] == {"secretRef": {"name": KUBECONFIG_SECRET}}
            assert walk.find("Secret", release.namespace, KUBECONFIG_SECRET) is not None


def test_bootstrap_kustomization_locks_flux_down(flux_repo: GeneratedRepo, tmp_path: Path) -> None:
    repo = flux_repo.repo_dir
    platform = load_answers(yaml.safe_load((repo / "platform.yaml").read_text()))
    source = repo / f"clusters/{platform.hub.name}/flux-system"
    assert yaml.safe_load((source / "gotk-components.yaml").read_text()) is None  # placeholder
    # what flux bootstrap writes instead: the controllers' Deployments
    folder = tmp_path / "flux-system"
    shutil.copytree(source, folder)
    components = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "manager", "args": ["--log-level=info"]}]}
                }
            },
        }
        for name in FLUX_CONTROLLERS
    ]
    (folder / "gotk-components.yaml").write_text(yaml.safe_dump_all(components))
    result = build(folder)
    assert result.ok, result.output
    built = [d for d in yaml.safe_load_all(result.output) if d]
    args = {
        d["metadata"]["name"]: set(d["spec"]["template"]["spec"]["containers"][0]["args"])
        for d in built
        if d["kind"] == "Deployment"
    }
    no_cross = "--no-cross-namespace-refs=true"
    default_sa = "--default-service-account=default"
    assert args["source-controller"] == {"--log-level=info"}
    assert {no_cross, "--no-remote-bases=true", default_sa} <= args["kustomize-controller"]
    assert {no_cross, default_sa} <= args["helm-controller"]
    for name in (
        "notification-controller",
        "image-reflector-controller",
        "image-automation-controller",
    ):
        assert no_cross in args[name]
    sync = next(d for d in built if d["kind"] == "Kustomization")
    assert sync["spec"]["path"] == f"./clusters/{platform.hub.name}"
    assert sync["spec"]["serviceAccountName"] == "kustomize-controller"
    # F7: flux-system applies Flux itself and Kustomizations only: nothing to decrypt
    assert "decryption" not in sync["spec"]
    git = next(d for d in built if d["kind"] == "GitRepository")
    assert git["spec"]["url"] == git_url_form(platform.git_url)
    assert git["spec"]["ref"] == {"branch": platform.git_branch}


# --------------------------------------------------------------------------- notifications, images


def test_each_flux_namespace_has_its_alerts(walk: FluxWalk) -> None:
    notifications = walk.platform.notifications
    namespaces = {"flux-system"} | {s.name for s in walk.platform.spokes}
    alerts = walk.hub_objects("Alert")
    assert {a.namespace for a in alerts} == namespaces
    for provider in walk.hub_objects("Provider"):
        assert provider.spec["type"] == notifications.provider
        assert ("channel" in provider.spec) == (notifications.provider == "slack")
        secret = walk.find("Secret", provider.namespace, provider.spec["secretRef"]["name"])
        assert secret is not None and "sops" in secret.body
    for alert in alerts:
        kinds = {s["kind"] for s in alert.spec["eventSources"]}
        assert {"Kustomization", "HelmRelease", "GitRepository"} <= kinds


def test_image_automation_markers_name_existing_policies(walk: FluxWalk) -> None:
    automations = walk.hub_objects("ImageUpdateAutomation")
    assert len(automations) == 1
    automation = automations[0].spec
    assert automation["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}
    assert automation["git"]["checkout"]["ref"]["branch"] == walk.platform.git_branch
    assert automation["git"]["push"]["branch"] == "flux-image-updates"  # F19
    update_root = walk.repo / automation["update"]["path"]
    assert update_root.is_dir()
    policies = {f"{p.namespace}:{p.name}" for p in walk.hub_objects("ImagePolicy")}
    markers = []
    for path in update_root.rglob("*.yaml"):
        markers += re.findall(r'# \{"\$imagepolicy": "([^"]+)"\}', path.read_text())
    assert markers and set(markers) <= policies
    # the sample app is deployed as its tenant, outside the platform layers
    sample = walk.platform.tenants[0].name
    deployments = [o for o in walk.objects if o.kind == "Deployment"]
    spokes = walk.platform.placement(walk.platform.tenants[0])
    assert {(d.namespace, d.applier, d.on_spoke) for d in deployments} == {
        (sample, f"{s}/{sample}-sample-app", True) for s in spokes
    }
    for spoke in spokes:
        spec = walk.kustomizations[f"{spoke}/{sample}-sample-app"].spec
        assert (spec["serviceAccountName"], spec["targetNamespace"]) == (f"tenant-{sample}", sample)
        assert spec["kubeConfig"] == {"secretRef": {"name": KUBECONFIG_SECRET}}


# --------------------------------------------------------------------------- switches


@pytest.fixture(scope="module")
def switched_off(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRepo:
    answers = {
        **DEFAULT_ANSWERS,
        "repo_name": "bare-platform",
        "git_url": "git@gitlab.example.com:acme/bare-platform.git",
        "notifications": {"enabled": False},
        "image_automation": {"enabled": False},
        "secrets": {"sealed_secrets": False, "external_secrets": False},
    }
    root = tmp_path_factory.mktemp("flux-off")
    return new(load_answers(answers), root / "out", root / "keys")


def test_switched_off_features_disappear(switched_off: GeneratedRepo) -> None:
    repo = switched_off.repo_dir
    kinds = set()
    for path in repo.rglob("*.yaml"):
        text = path.read_text()
        assert "$imagepolicy" not in text, path
        kinds |= {d.get("kind") for d in yaml.safe_load_all(text) if isinstance(d, dict)}
        api_versions = {d.get("apiVersion", "") for d in yaml.safe_load_all(text) if d}
        assert not {v for v in api_versions if v.startswith(("notification.", "image."))}, path
    assert not kinds & {
        "HelmRelease",
        "HelmRepository",
        "ClusterSecretStore",
        "SealedSecret",
        "Provider",
        "Alert",
        "ImageUpdateAutomation",
        "ImagePolicy",
    }
    assert not list(repo.rglob("webhook-address.sops.yaml"))
    assert not list(repo.rglob("sample-app"))
    assert not list(repo.rglob("examples"))
    hub = yaml.safe_load((repo / "clusters/hub/kustomization.yaml").read_text())
    assert hub["resources"] == ["flux-system", "infrastructure.yaml", "spokes"]
    for folder in kustomization_folders(repo):
        result = build(folder)
        assert result.ok, f"{folder}: {result.output}"
    walk = walk_flux(repo)
    assert walk.build_errors == []
    assert not walk.hub_objects("HelmRelease")
    # every cluster still has its own SOPS secret, decrypted by Flux
    assert {o.applier for o in walk.objects if "sops" in o.body} >= {
        f"{s.name}/infra-configs" for s in walk.platform.spokes
    }


# --------------------------------------------------------------------------- bootstrap.sh


def test_bootstrap_script_passes_shellcheck(flux_repo: GeneratedRepo) -> None:
    script = flux_repo.repo_dir / "scripts/bootstrap.sh"
    assert os.access(script, os.X_OK)
    done = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _run_bootstrap(repo: Path, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run bootstrap.sh with a PATH that has none of flux, kubectl and sops."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir(exist_ok=True)
    bash = shutil.which("bash")
    assert bash
    return subprocess.run(
        [bash, str(repo / "scripts/bootstrap.sh"), *args],
        capture_output=True,
        text=True,
        env={"PATH": str(empty_bin), "HOME": str(tmp_path)},
    )


def _key_material(generated: GeneratedRepo) -> list[str]:
    return [
        line
        for key in generated.keys.values()
        for line in key.path.read_text().splitlines()
        if line.startswith("AGE-SECRET-KEY-")
    ]


def test_bootstrap_dry_run_prints_every_command_without_tools(
    flux_repo: GeneratedRepo, tmp_path: Path
) -> None:
    repo = flux_repo.repo_dir
    platform = load_answers(yaml.safe_load((repo / "platform.yaml").read_text()))
    hub = platform.hub.name
    first = platform.spokes[0].name
    # F1: the auth flags follow git_url (https: the script adds --token-auth; ssh: a key)
    https = git_url_form(platform.git_url).startswith("https://")
    auth = "--token-auth" if https else f"--private-key-file={tmp_path}/id"
    done = _run_bootstrap(
        repo,
        "--dry-run",
        "--keys-dir",
        str(flux_repo.keys_dir),
        "--context",
        "mgmt-ctx",
        f"--spoke-context={first}=first-ctx",
        *([] if https else ["--", auth]),
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    keys = flux_repo.keys_dir
    commands = [line[2:] for line in out.splitlines() if line.startswith("+ ")]
    bootstrap = [c for c in commands if c.startswith("flux bootstrap git")]
    assert bootstrap == [
        f"flux bootstrap git --context=mgmt-ctx --url={git_url_form(platform.git_url)} "
        f"--branch={platform.git_branch} --path=clusters/{hub} --version={VERSIONS['flux']} "
        "--components-extra=image-reflector-controller\\,image-automation-controller "
        f"{auth}"
    ]
    for cluster, namespace in [(hub, "flux-system")] + [(s.name, s.name) for s in platform.spokes]:
        assert (
            f"kubectl --context mgmt-ctx create secret generic {SOPS_SECRET} "
            f"--namespace={namespace} --from-file=age.agekey={keys}/{cluster}.agekey "
            "--dry-run=client -o yaml | kubectl --context mgmt-ctx apply --server-side "
            "--force-conflicts --field-manager=gitops-scaffold-bootstrap -f -"
        ) in commands
    for spoke in platform.spokes:
        context = "first-ctx" if spoke.name == first else spoke.name
        assert (
            f"kubectl --context {context} apply --server-side --force-conflicts "
            f"--field-manager=gitops-scaffold-bootstrap -k clusters/{spoke.name}/flux-access"
        ) in commands
        # the placeholder check opens each spoke's kubeconfig and Git credentials with the hub
        # key alone
        for name in ("kubeconfig", "git-auth"):
            assert (
                f"env -u SOPS_AGE_KEY SOPS_AGE_KEY_FILE={keys}/{hub}.agekey sops decrypt "
                f"clusters/{hub}/spokes/{spoke.name}/{name}.sops.yaml"
            ) in commands
    secret_order = [i for i, c in enumerate(commands) if SOPS_SECRET in c]
    assert max(secret_order) < commands.index(bootstrap[0]), "keys before bootstrap"
    for line in _key_material(flux_repo):
        assert line not in out and line not in done.stderr
    assert "AGE-SECRET-KEY" not in out + done.stderr


def test_bootstrap_needs_the_tools_and_never_prints_keys(
    flux_repo: GeneratedRepo, tmp_path: Path
) -> None:
    done = _run_bootstrap(
        flux_repo.repo_dir, "--keys-dir", str(flux_repo.keys_dir), tmp_path=tmp_path
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "error: not installed: flux kubectl sops"
    assert "+ " not in done.stdout
    assert "AGE-SECRET-KEY" not in done.stdout + done.stderr
    unknown = _run_bootstrap(flux_repo.repo_dir, "--frobnicate", tmp_path=tmp_path)
    assert unknown.returncode == 1 and "unknown option: --frobnicate" in unknown.stderr
