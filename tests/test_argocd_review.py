"""The Argo CD output review (shared/reviews/review-argocd-output.md): one test per finding.

Each test is named after its finding id and fails on the output the review was written
against. ApplicationSets are rendered the way the ApplicationSet controller renders them
(tests/test_argocd_gotemplate.py: Go templates with missingkey=error and sprig), from cluster
Secrets shaped like the ones the platform writes and like the ones `argocd cluster add` or a
hand-written Secret would register.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.commands.validate import validate
from scaffolder.context import TENANT_IDENTITY_PREFIX
from scaffolder.generate import GeneratedRepo
from scaffolder.model import DEFAULT_ANSWERS, Platform
from scaffolder.sops import decrypt_file
from scaffolder.tools import find_sops
from scaffolder.validate.kustomize import build
from scaffolder.versions import VERSIONS
from tests.conftest import BIG_ANSWERS, SCHEMAS, make_repo
from tests.test_argocd_gotemplate import GoTemplateError, render
from tests.test_argocd_repo import BASH, ArgoRepo, _argo_repo, _store, selects

RepoFactory = Callable[[str, str], GeneratedRepo]

IN_CLUSTER = "https://kubernetes.default.svc"
SECRET_TYPE = "argocd.argoproj.io/secret-type"
CONTROLLER_SA = "argocd:argocd-application-controller"
SPOKE_ADMIN_SA = "kube-system:argocd-manager"
# Argo CD refuses these in a destinationServiceAccounts entry (util/settings/impersonation.go).
SA_DISALLOWED = set("!*[]{}\\/")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

# A hub not called hub, a branch not main, a spoke without region, uneven placement, tenants
# whose names are prefixes of one another, 6 tenants.
ODD_ANSWERS: dict[str, Any] = {
    "repo_name": "odd-platform",
    "git_url": "https://git.example.com/platform/odd-platform.git",
    "git_branch": "release/2026",
    "clusters": [
        {"name": "control", "role": "hub", "env": "ops"},
        {"name": "dev-a", "role": "spoke", "env": "dev"},
        {"name": "dev-b", "role": "spoke", "env": "dev", "region": "us-east-1"},
        {"name": "prod-a", "role": "spoke", "env": "prod", "region": "eu-west-1"},
    ],
    "tenants": [
        {"name": "team"},
        {"name": "team-a", "clusters": ["dev-a"]},
        {"name": "team-a-guardrails", "clusters": ["dev-a", "prod-a"]},
        {"name": "apps", "clusters": ["dev-b"]},
        {"name": "web", "clusters": ["dev-a", "dev-b", "prod-a"]},
        {"name": "data", "path": "./k8s/apps", "clusters": ["prod-a", "dev-b"]},
    ],
    "sync": {
        "manual_envs": ["prod"],
        "windows": [{"kind": "deny", "schedule": "0 22 * * *", "duration": "8h", "envs": ["prod"]}],
    },
    "notifications": {"provider": "msteams", "channel": "ops"},
}

# App folders of tenant repositories that squatted other Applications' names before.
FOLDERS = ("api", "guardrails", "a-guardrails", "sample-app", "a", "x.y", "a-api", "app")


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> ArgoRepo:
    return ArgoRepo(make_repo(tmp_path_factory.mktemp("argocd-odd"), ODD_ANSWERS, "argocd"))


@pytest.fixture(params=["default", "big", "odd"])
def any_repo(request: pytest.FixtureRequest, repo_factory: RepoFactory, odd: ArgoRepo) -> ArgoRepo:
    if request.param == "odd":
        return odd
    return _argo_repo(repo_factory("argocd", request.param))


# --------------------------------------------------------------------------- rendering


def params_of(name: str, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    """What the cluster generator gives a Go template for one cluster Secret: `metadata` has
    `labels` and `annotations` only when the Secret has some (applicationset/generators/
    cluster.go, getClusterParameters)."""
    metadata: dict[str, Any] = {}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if labels:
        metadata["labels"] = dict(labels)
    return {
        "name": name,
        "nameNormalized": name,
        "server": f"https://{name}.spoke.invalid:6443",
        "project": "",
        "metadata": metadata,
    }


def platform_params(repo: ArgoRepo, name: str) -> dict[str, Any]:
    meta = repo.cluster_secrets[name]["metadata"]
    return params_of(name, meta["labels"], meta.get("annotations") or {})


def cluster_generator(appset: dict[str, Any]) -> dict[str, Any]:
    (generator,) = appset["spec"]["generators"]
    if "matrix" in generator:
        generator = next(g for g in generator["matrix"]["generators"] if "clusters" in g)
    return dict(generator["clusters"])


def git_generator(appset: dict[str, Any]) -> dict[str, Any] | None:
    (generator,) = appset["spec"]["generators"]
    for child in generator.get("matrix", {}).get("generators", []):
        if "git" in child:
            return dict(child["git"])
    return None


def selected(appset: dict[str, Any], labels: dict[str, str]) -> bool:
    return labels.get(SECRET_TYPE) == "cluster" and selects(
        cluster_generator(appset)["selector"], labels
    )


def render_tree(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, params)
    if isinstance(value, dict):
        return {k: render_tree(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(v, params) for v in value]
    return value


def merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        return {**base, **{k: merge(base.get(k), v) for k, v in patch.items()}}
    return patch


def generate(appset: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """One Application as the controller renders it: template, then templatePatch."""
    application = render_tree(appset["spec"]["template"], params)
    patch = appset["spec"].get("templatePatch")
    if patch:
        application = merge(application, yaml.safe_load(render(patch, params)))
    return dict(application)


def git_params(appset: dict[str, Any], env: str, folder: str) -> dict[str, Any]:
    git = git_generator(appset)
    assert git is not None
    pattern = git["directories"][0]["path"]
    prefix = pattern.split("*")[0].rstrip("/")
    path = f"{prefix}/{folder}/{env}" if prefix else f"{folder}/{env}"
    return {
        "path": {
            "path": path,
            "basename": env,
            "basenameNormalized": env,
            "segments": path.split("/"),
        }
    }


def generated_names(repo: ArgoRepo, folders: tuple[str, ...] = FOLDERS) -> Iterator[str]:
    for appset in repo.of_kind("ApplicationSet"):
        for cluster, secret in repo.cluster_secrets.items():
            labels = secret["metadata"]["labels"]
            if not selected(appset, labels):
                continue
            params = platform_params(repo, cluster)
            if git_generator(appset) is None:
                yield generate(appset, params)["metadata"]["name"]
                continue
            for folder in folders:
                app = generate(appset, params | git_params(appset, labels["env"], folder))
                yield app["metadata"]["name"]


def hub_app_names(repo: ArgoRepo) -> set[str]:
    return {a["metadata"]["name"] for a in repo.of_kind("Application")}


# --------------------------------------------------------------------------- B1


def test_b1_application_names_cannot_collide(any_repo: ArgoRepo) -> None:
    """B1: whatever the tenant, app folder and cluster names, two generators never produce
    the same Application name, and no tenant folder can take a name of the platform's."""
    names = list(generated_names(any_repo))
    assert names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert duplicates == []
    assert not set(names) & hub_app_names(any_repo)
    for name in names:
        assert DNS_SUBDOMAIN.fullmatch(name) and len(name) <= 253, name


def test_b1_the_odd_config_has_prefix_tenants(odd: ArgoRepo) -> None:
    """B1: the collision the review describes is in the odd config (tenants `team`, `team-a`
    and `team-a-guardrails`, a folder `a-guardrails`), so the test above exercises it."""
    tenants = {t.name for t in odd.platform.tenants}
    assert {"team", "team-a", "team-a-guardrails"} <= tenants
    folded = [n.replace(".", "-") for n in generated_names(odd)]  # the old `-` joining
    assert len(folded) != len(set(folded))


# --------------------------------------------------------------------------- B2


HAND_REGISTERED = {
    # `argocd cluster add --label ...`: the CLI adds its own managed-by annotation only
    "cli": {"managed-by": "argocd.argoproj.io"},
    # a Secret written by hand or by Terraform, applied server-side: no annotation at all
    "bare": {},
}


def hand_labels(env: str, role: str = "spoke") -> dict[str, str]:
    return {
        SECRET_TYPE: "cluster",
        "role": role,
        "env": env,
        "enable_sealed_secrets": "true",
        "enable_external_secrets": "true",
    }


def test_b2_a_cluster_without_the_platform_annotations_degrades_nothing(any_repo: ArgoRepo) -> None:
    """B2: every ApplicationSet renders for a cluster registered without the platform's
    annotations (missingkey=error would stop the whole ApplicationSet): the values source
    falls back to this repo and branch, the sync mode to the answer for the cluster's env."""
    platform = any_repo.platform
    rendered = 0
    for appset in any_repo.of_kind("ApplicationSet"):
        for kind, given in HAND_REGISTERED.items():
            for env in sorted({c.env for c in platform.clusters}):
                labels = hand_labels(env)
                if not selected(appset, labels):
                    continue
                params = params_of(f"{kind}-{env}", labels, given)
                if git_generator(appset) is not None:
                    params |= git_params(appset, env, "api")
                try:
                    app = generate(appset, params)
                except GoTemplateError as err:
                    pytest.fail(f"{appset['metadata']['name']} ({kind}, {env}): {err}")
                automated = app["spec"]["syncPolicy"]["automated"]["enabled"]
                assert automated is platform.sync_automated(env), (appset["metadata"]["name"], env)
                for source in app["spec"].get("sources", []):
                    if source.get("ref") == "values":
                        assert source["repoURL"] == platform.git_url
                        assert source["targetRevision"] == platform.git_branch
                rendered += 1
    assert rendered, "no ApplicationSet selects an addon-labelled cluster"


def test_b2_the_platform_annotations_still_win(any_repo: ArgoRepo) -> None:
    """B2: the annotations of the platform's own cluster Secrets are read as before."""
    for appset in any_repo.of_kind("ApplicationSet"):
        for cluster, secret in any_repo.cluster_secrets.items():
            labels = secret["metadata"]["labels"]
            if not selected(appset, labels):
                continue
            params = platform_params(any_repo, cluster)
            annotations = {**secret["metadata"]["annotations"], "platform_repo_revision": "v9"}
            params["metadata"]["annotations"] = annotations
            annotations["sync_automated"] = "false"
            if git_generator(appset) is not None:
                params |= git_params(appset, labels["env"], "api")
            app = generate(appset, params)
            assert app["spec"]["syncPolicy"]["automated"]["enabled"] is False
            for source in app["spec"].get("sources", []):
                if source.get("ref") == "values":
                    assert source["targetRevision"] == "v9"


def test_b2_the_cluster_secret_contract_is_documented(any_repo: ArgoRepo) -> None:
    """B2: the README says which labels select and which annotations are optional."""
    readme = (any_repo.root / "README.md").read_text()
    section = readme.split("## Clusters: declarative cluster Secrets")[1].split("\n## ")[0]
    assert "argocd cluster add" in section
    assert "optional" in section.lower() and "default" in section.lower()


# --------------------------------------------------------------------------- B3


def sync_policies(repo: ArgoRepo) -> Iterator[tuple[str, dict[str, Any]]]:
    for app in repo.of_kind("Application"):
        yield app["metadata"]["name"], app["spec"]["syncPolicy"]
    for appset in repo.of_kind("ApplicationSet"):
        yield appset["metadata"]["name"], appset["spec"]["template"]["spec"]["syncPolicy"]


def test_b3_retries_never_give_up(any_repo: ArgoRepo) -> None:
    """B3: Argo CD never retries a failed automated sync of the same revision once the retry
    limit is spent (controller/appcontroller.go): retries are unlimited (limit < 0, per
    docs/operator-manual/application.yaml) and pick up new revisions (refresh)."""
    for name, policy in sync_policies(any_repo):
        retry = policy["retry"]
        assert retry["limit"] < 0, name
        assert retry["refresh"] is True, name
        backoff = retry["backoff"]
        assert backoff["factor"] >= 2 and backoff["maxDuration"].endswith("m"), name


# --------------------------------------------------------------------------- B4


def test_b4_replicated_external_secrets_elect_a_leader(any_repo: ArgoRepo) -> None:
    """B4: the external-secrets chart passes --enable-leader-election only with leaderElect:
    true; two replicas without it both reconcile every ExternalSecret."""
    folder = any_repo.root / "values" / "external-secrets"
    common = yaml.safe_load((folder / "common.yaml").read_text())
    for path in folder.glob("*.yaml"):
        values = {**common, **(yaml.safe_load(path.read_text()) or {})}
        if values.get("replicaCount", 1) > 1:
            assert values.get("leaderElect") is True, path.name
    assert any(
        (yaml.safe_load(p.read_text()) or {}).get("replicaCount", 1) > 1
        for p in folder.glob("*.yaml")
    ) or "prod" not in {c.env for c in any_repo.platform.clusters}


# --------------------------------------------------------------------------- S1 (+ M2)


def argocd_values(repo: ArgoRepo) -> dict[str, Any]:
    return dict(yaml.safe_load((repo.root / "values/argocd/common.yaml").read_text()))


def argocd_cm(repo: ArgoRepo) -> dict[str, Any]:
    """argocd-cm's keys: the chart's configs.cm (W1)."""
    return dict(argocd_values(repo)["configs"]["cm"])


def server_of(repo: ArgoRepo, cluster: str) -> str:
    hub = repo.platform.hub.name
    return IN_CLUSTER if cluster == hub else f"https://{cluster}.spoke.invalid:6443"


def impersonated(project: dict[str, Any], server: str, namespace: str) -> str:
    """DeriveServiceAccountToImpersonate (util/settings/impersonation.go): the first entry whose
    server and namespace globs match; a `namespace:name` account is taken as written."""
    for entry in project["spec"].get("destinationServiceAccounts") or []:
        if fnmatch.fnmatchcase(server, entry["server"]) and fnmatch.fnmatchcase(
            namespace, entry.get("namespace", "")
        ):
            account = entry["defaultServiceAccount"]
            assert account.strip() and not set(account) & SA_DISALLOWED, account
            return str(account) if ":" in account else f"{namespace}:{account}"
    raise AssertionError(f"{project['metadata']['name']}: no account for {server} {namespace}")


def destinations(repo: ArgoRepo, project: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(cluster, server, namespace) of every destination a project permits, `*` names expanded
    to every cluster."""
    clusters = [c.name for c in repo.platform.clusters]
    for destination in project["spec"].get("destinations") or []:
        if "server" in destination:
            names = [c for c in clusters if server_of(repo, c) == destination["server"]]
        else:
            names = [c for c in clusters if fnmatch.fnmatchcase(c, destination["name"])]
        for cluster in names:
            yield cluster, server_of(repo, cluster), destination["namespace"]


def test_s1_every_sync_is_impersonated(any_repo: ArgoRepo) -> None:
    """S1: sync impersonation is on, and once it is on it applies to every Application: every
    destination of every project maps to an account (enforced: no match is a sync error)."""
    cm = argocd_cm(any_repo)
    assert cm["application.sync.impersonation.enabled"] == "true"
    assert cm.get("application.sync.impersonation.enforced", "true") == "true"
    tenants = {t.name: t for t in any_repo.platform.tenants}
    hub = any_repo.platform.hub.name
    for project in any_repo.of_kind("AppProject"):
        name = project["metadata"]["name"]
        for cluster, server, namespace in destinations(any_repo, project):
            account = impersonated(project, server, namespace)
            if name in tenants:
                assert account == f"argocd:{TENANT_IDENTITY_PREFIX}{name}", (name, cluster)
            elif cluster == hub:
                assert account == CONTROLLER_SA, (name, cluster)
            else:
                assert account == SPOKE_ADMIN_SA, (name, cluster)


def test_s1_tenant_identity_is_admin_of_its_namespace_only(any_repo: ArgoRepo) -> None:
    """S1: the guardrails bind the tenant's identity (a ServiceAccount of the platform's
    `argocd` namespace on the spoke, where no tenant pod runs) to `admin` in the tenant's
    namespace; Role and RoleBinding stay denied to tenant projects."""
    tenant_namespaces = {t.name for t in any_repo.platform.tenants}
    assert "argocd" not in tenant_namespaces
    for tenant in any_repo.platform.tenants:
        result = build(any_repo.root / "tenants" / tenant.name / "platform")
        assert result.ok, result.output
        bindings = [
            d for d in yaml.safe_load_all(result.output) if d and d["kind"] == "RoleBinding"
        ]
        identity = {
            "kind": "ServiceAccount",
            "name": TENANT_IDENTITY_PREFIX + tenant.name,
            "namespace": "argocd",
        }
        (binding,) = [b for b in bindings if identity in b["subjects"]]
        assert binding["metadata"]["namespace"] == tenant.name
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "admin",
        }
        spec = any_repo.named("AppProject", tenant.name)["spec"]
        denied = {(k["group"], k["kind"]) for k in spec["namespaceResourceBlacklist"]}
        assert {
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
        } <= denied
        assert spec["clusterResourceWhitelist"] == []


def access_documents(repo: ArgoRepo, spoke: str) -> list[dict[str, Any]]:
    path = repo.root / "clusters" / spoke / "argocd-access.yaml"
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_m2_each_spoke_has_its_onboarding(any_repo: ArgoRepo) -> None:
    """M2: what `argocd cluster add` creates, as a file: the argocd-manager ServiceAccount, its
    cluster-wide role and binding (the long-lived token Secret comes from --register-spoke:
    no Secret stays in Git unencrypted); the hub gets no such file."""
    hub = any_repo.platform.hub.name
    assert not (any_repo.root / "clusters" / hub / "argocd-access.yaml").exists()
    for spoke in any_repo.platform.spokes:
        docs = access_documents(any_repo, spoke.name)
        for doc in docs:
            assert _store().problems(doc) == [], (spoke.name, doc["kind"])
        kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
        assert ("ServiceAccount", "argocd-manager") in kinds
        assert not [d for d in docs if d["kind"] == "Secret"]
        (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
        assert {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]} in role["rules"]
        (binding,) = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "argocd-manager", "namespace": "kube-system"}
        ]


FAKE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")


def fake_tools(
    tmp_path: Path, contexts: list[str], has_argocd_app: bool = False
) -> tuple[str, Path]:
    """kubectl and helm stand-ins that log their arguments; kubectl answers what bootstrap.sh
    asks a spoke (token, CA, API server) and whether Argo CD already manages itself."""
    tools = tmp_path / "bin"
    tools.mkdir(parents=True)
    log = tmp_path / "calls.log"
    token = base64.b64encode(FAKE_TOKEN.encode()).decode()
    fake = f"""#!/usr/bin/env bash
printf '%s' "${{0##*/}}" >> {log}; printf ' %q' "$@" >> {log}; printf '\\n' >> {log}
case "$*" in
  *get-contexts*) printf '%s\\n' {" ".join(contexts)} ;;
  *"get secret argocd-manager-token"*) printf '%s' {token} ;;
  *certificate-authority-data*) printf '%s' {FAKE_CA.decode()} ;;
  *"cluster.server"*) printf '%s' https://10.1.2.3:6443 ;;
  *"get application argocd"*) exit {0 if has_argocd_app else 1} ;;
esac
[[ -t 0 ]] || cat >> {tmp_path / "stdin.log"}
"""
    for tool in ("kubectl", "helm"):
        (tools / tool).write_text(fake)
        (tools / tool).chmod(0o755)
    sops_dir = Path(find_sops()).parent
    return f"{tools}:{sops_dir}:/usr/bin:/bin", log


def run_script(root: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(
        [BASH, str(root / "scripts" / "bootstrap.sh"), *args],
        cwd=root.parent,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_m2_register_spoke_fills_the_cluster_secret(
    repo_factory: RepoFactory, tmp_path: Path
) -> None:
    """M2: `bootstrap.sh --register-spoke SPOKE=CONTEXT` applies the onboarding to the spoke
    and writes its API server, token and CA into the SOPS cluster Secret (real sops): the
    token is never printed, never on disk in plaintext."""
    generated = repo_factory("argocd", "default")
    root = tmp_path / "repo"
    shutil.copytree(generated.repo_dir, root)
    spoke = load_platform(root).spokes[0].name
    path, log = fake_tools(tmp_path, ["hub", "spoke-ctx"])
    keys = str(generated.keys_dir)

    dry = run_script(
        root, "--keys-dir", keys, "--register-spoke", f"{spoke}=spoke-ctx", "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr
    assert f"kubectl --context spoke-ctx apply -f clusters/{spoke}/argocd-access.yaml" in dry.stdout

    done = run_script(root, "--keys-dir", keys, "--register-spoke", f"{spoke}=spoke-ctx", path=path)
    assert done.returncode == 0, done.stderr
    calls = log.read_text()
    assert f"kubectl --context spoke-ctx apply -f clusters/{spoke}/argocd-access.yaml" in calls
    assert FAKE_TOKEN not in done.stdout + done.stderr + calls
    secret_file = root / "clusters" / spoke / "secrets" / "cluster.sops.yaml"
    assert FAKE_TOKEN not in secret_file.read_text()
    plain = yaml.safe_load(decrypt_file(secret_file, generated.keys[spoke].path))
    assert plain["stringData"]["server"] == "https://10.1.2.3:6443"
    config = json.loads(plain["stringData"]["config"])
    assert config == {
        "bearerToken": FAKE_TOKEN,
        "tlsClientConfig": {"insecure": False, "caData": FAKE_CA.decode()},
    }
    assert plain["metadata"]["labels"]["cluster_name"] == spoke  # the rest is untouched
    (token_secret,) = list(yaml.safe_load_all((tmp_path / "stdin.log").read_text()))
    assert _store().problems(token_secret) == []
    assert token_secret["type"] == "kubernetes.io/service-account-token"
    assert token_secret["metadata"]["namespace"] == "kube-system"
    assert token_secret["metadata"]["annotations"] == {
        "kubernetes.io/service-account.name": "argocd-manager"
    }
    assert "REPLACE-" not in json.dumps(plain)
    # an unknown spoke or context is refused before anything is applied
    log.write_text("")
    bad = run_script(root, "--keys-dir", keys, "--register-spoke", "nope=spoke-ctx", path=path)
    assert bad.returncode != 0 and "apply" not in log.read_text()


def load_platform(root: Path) -> Platform:
    from scaffolder.model import read_answers_file

    return read_answers_file(root / "platform.yaml")


# --------------------------------------------------------------------------- S2


def test_s2_the_default_project_is_locked(any_repo: ArgoRepo) -> None:
    """S2: Argo CD creates `default` wide open unless it is declared; it is declared with no
    source, no destination and every kind denied, and the root app's projects folder has it."""
    spec = any_repo.named("AppProject", "default")["spec"]
    assert spec["sourceRepos"] == [] and spec["destinations"] == []
    assert spec.get("sourceNamespaces", []) == []
    assert spec["clusterResourceWhitelist"] == []
    assert spec["namespaceResourceBlacklist"] == [{"group": "*", "kind": "*"}]
    hub = any_repo.platform.hub.name
    built = build(any_repo.root / "clusters" / hub / "argocd" / "projects")
    assert built.ok, built.output
    assert {d["metadata"]["name"] for d in yaml.safe_load_all(built.output)} >= {"default"}
    used = {a["spec"]["project"] for a in any_repo.of_kind("Application")}
    used |= {a["spec"]["template"]["spec"]["project"] for a in any_repo.of_kind("ApplicationSet")}
    assert "default" not in used


# --------------------------------------------------------------------------- W1, W4, W5, W13


def test_w1_argocd_cm_keeps_the_chart_defaults(any_repo: ArgoRepo) -> None:
    """W1: the chart owns argocd-cm (configs.cm.create), so its Argo CD 3.x defaults
    (resource.exclusions, ignoreResourceUpdates, jitter) and `url` (from global.domain) stay;
    the platform's keys are added under configs.cm and override none of them."""
    values = argocd_values(any_repo)
    cm = values["configs"]["cm"]
    assert cm.get("create", True) is True
    for key in cm:
        assert not key.startswith(("resource.exclusions", "resource.inclusions")), key
        assert not key.startswith("resource.customizations.ignoreResourceUpdates"), key
        assert key not in ("url", "timeout.reconciliation.jitter"), key
    assert values["global"]["domain"]
    assert not [c for c in any_repo.of_kind("ConfigMap") if c["metadata"]["name"] == "argocd-cm"]
    assert (
        "obj.status.health.status" in cm["resource.customizations.health.argoproj.io_Application"]
    )


def test_w4_applicationset_policy_is_left_to_the_default(any_repo: ArgoRepo) -> None:
    """W4: an explicit applicationsetcontroller.policy makes Argo CD ignore per-ApplicationSet
    syncPolicy.applicationsSync; the empty default is already `sync`."""
    params = argocd_values(any_repo)["configs"].get("params") or {}
    assert "applicationsetcontroller.policy" not in params


def test_w5_no_setting_removed_in_argo_cd_3(any_repo: ArgoRepo) -> None:
    """W5: server.rbac.log.enforce.enable was removed in 3.0 (logs RBAC is always enforced)."""
    for path in any_repo.root.rglob("*.yaml"):
        if ".git" not in path.parts:
            assert "server.rbac.log.enforce.enable" not in path.read_text(), path


def test_w13_only_the_missing_health_check_is_customized(any_repo: ArgoRepo) -> None:
    """W13: SealedSecret and ExternalSecret health checks ship with Argo CD
    (resource_customizations/); only the Application one is not built in."""
    health = [k for k in argocd_cm(any_repo) if k.startswith("resource.customizations.health.")]
    assert health == ["resource.customizations.health.argoproj.io_Application"]


# --------------------------------------------------------------------------- W2


def test_w2_bootstrap_hands_argocd_over_to_itself(
    repo_factory: RepoFactory, tmp_path: Path
) -> None:
    """W2: once the `argocd` Application exists, bootstrap leaves the chart to Argo CD (a rerun
    never downgrades it through Helm); the first install leaves no Helm release behind, and
    Argo CD takes over the fields Helm wrote (client-side-apply-migration-manager)."""
    generated = repo_factory("argocd", "default")
    repo = _argo_repo(generated)
    app = repo.named("Application", "argocd")
    annotations = app["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/client-side-apply-migration-manager"] == "helm"
    keys = str(generated.keys_dir)
    root = generated.repo_dir
    for managed in (False, True):
        path, log = fake_tools(tmp_path / str(managed), ["hub"], has_argocd_app=managed)
        done = run_script(root, "--keys-dir", keys, "--allow-placeholders", path=path)
        assert done.returncode == 0, done.stderr
        calls = log.read_text()
        assert ("helm" in calls.split()) is not managed
        if not managed:
            deleted = [c for c in calls.splitlines() if " delete secret --namespace argocd " in c]
            assert [c.replace("\\,", ",").split()[-1] for c in deleted] == [
                "owner=helm,name=argocd"
            ]
        assert "apply -f clusters/hub/argocd/apps/root.yaml" in calls


# --------------------------------------------------------------------------- W3


def test_w3_image_updater_writes_with_its_own_credential(any_repo: ArgoRepo) -> None:
    """W3: Image Updater pushes with a write credential of its own (git:secret:...); Argo CD's
    repository credential stays read-only."""
    updaters = any_repo.of_kind("ImageUpdater")
    if not any_repo.platform.image_automation.enabled:
        assert not updaters
        return
    hub = any_repo.platform.hub.name
    for updater in updaters:
        assert updater["spec"]["writeBackConfig"]["method"] == "git:secret:argocd/image-updater-git"
    path = any_repo.root / "clusters" / hub / "secrets" / "image-updater-git.sops.yaml"
    secret = yaml.safe_load(decrypt_file(path, any_repo.generated.keys[hub].path))
    assert secret["metadata"] == {
        "name": "image-updater-git",
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/managed-by": "gitops-scaffold"},
    }
    fields = set(secret["stringData"])
    assert fields in ({"username", "password"}, {"sshPrivateKey"})
    assert "WRITE" in json.dumps(secret["stringData"])
    repo_secret = any_repo.root / "clusters" / hub / "secrets" / "repo-platform.sops.yaml"
    plain = decrypt_file(repo_secret, any_repo.generated.keys[hub].path)
    assert "READ-ONLY" in plain


# --------------------------------------------------------------------------- W6, W7, W9


def test_w6_tenants_own_their_network_policies(any_repo: ArgoRepo) -> None:
    """W6: the tenant's kubectl identity (`admin`) may write NetworkPolicies, so GitOps may too
    (applied as that identity, S1); the platform's default-deny is a default."""
    for tenant in any_repo.platform.tenants:
        spec = any_repo.named("AppProject", tenant.name)["spec"]
        denied = {(k["group"], k["kind"]) for k in spec["namespaceResourceBlacklist"]}
        assert ("networking.k8s.io", "NetworkPolicy") not in denied
        assert {("", "ResourceQuota"), ("", "LimitRange")} <= denied


def test_w7_no_presync_hook_gates_the_root(any_repo: ArgoRepo) -> None:
    """W7: the PreSync preflight Job is gone (it ran before the upgrade it meant to protect and
    failed every root sync while any Argo CD Deployment was unavailable)."""
    assert not any_repo.of_kind("Job")
    hub = any_repo.platform.hub.name
    built = build(any_repo.root / "clusters" / hub / "argocd" / "apps")
    assert built.ok and "argocd.argoproj.io/hook" not in built.output


def test_w9_tenant_sets_select_only_what_their_projects_permit(any_repo: ArgoRepo) -> None:
    """W9 (and B2): a spoke registered by hand (`role: spoke`, not in platform.yaml) is not
    selected by any tenant ApplicationSet, whose AppProject would refuse it: placement follows
    platform.yaml, regenerated when a spoke is added."""
    extra = hand_labels(sorted(c.env for c in any_repo.platform.spokes)[0])
    for tenant in any_repo.platform.tenants:
        project = any_repo.named("AppProject", tenant.name)
        permitted = {d["name"] for d in project["spec"]["destinations"]}
        for appset in any_repo.of_kind("ApplicationSet"):
            if appset["metadata"]["labels"].get("gitops-scaffold.io/tenant") != tenant.name:
                continue
            assert not selected(appset, extra), appset["metadata"]["name"]
            for cluster, secret in any_repo.cluster_secrets.items():
                if selected(appset, secret["metadata"]["labels"]):
                    assert cluster in permitted
    for path in any_repo.root.glob("tenants/*/argocd/*.yaml"):
        assert "spokes added later" not in path.read_text(), path


# --------------------------------------------------------------------------- W8


def test_w8_notifications_are_scoped_and_revision_safe(any_repo: ArgoRepo) -> None:
    """W8: `on-deployed` goes to the platform channel for the platform's Applications only;
    it fires once per revision for multi-source apps too, after the catalog's health guard;
    Teams is told to use a Workflows webhook URL (Office 365 connectors are retired)."""
    if not any_repo.platform.notifications.enabled:
        return
    data = any_repo.named("ConfigMap", "argocd-notifications-cm")["data"]
    subscriptions = yaml.safe_load(data["subscriptions"])
    deployed = [s for s in subscriptions if "on-deployed" in s["triggers"]]
    assert deployed and all(
        s.get("selector") == "app.kubernetes.io/part-of=platform" for s in deployed
    )
    (trigger,) = yaml.safe_load(data["trigger.on-deployed"])
    assert "revisions" in trigger["oncePer"]
    assert "lastTransitionTime" in trigger["when"]
    assert "revisions" in yaml.safe_load(data["template.app-deployed"])["message"]
    if any_repo.platform.notifications.provider == "msteams":
        # service.teams still posts to a Workflows URL; the README/comment says to use one
        assert "Workflows webhook URL" in (any_repo.root / cm_path(any_repo)).read_text()
    for appset in any_repo.of_kind("ApplicationSet"):
        labels = appset["spec"]["template"]["metadata"]["labels"]
        is_addon = "gitops-scaffold.io/addon" in labels
        assert (labels.get("app.kubernetes.io/part-of") == "platform") is is_addon


def cm_path(repo: ArgoRepo) -> str:
    hub = repo.platform.hub.name
    return f"clusters/{hub}/argocd/config/argocd-notifications-cm.yaml"


# --------------------------------------------------------------------------- W11, W12


def test_w11_chart_pins_are_the_verified_releases(any_repo: ArgoRepo) -> None:
    """W11: argo-cd 10.3.3 is the release that took Argo CD v3.5.1 (argo-helm release notes,
    2026-08-13; 10.4.1 moved on to v3.5.2); argocd-image-updater 1.3.1 ships Image Updater
    v1.3.0 (1.3.0 took v1.3.0, 1.3.1 only fixed the metrics Service). Every place agrees."""
    assert (VERSIONS["argocd"], VERSIONS["argocd_chart"]) == ("v3.5.1", "10.3.3")
    assert VERSIONS["argocd_image_updater_chart"] == "1.3.1"
    argocd = any_repo.named("Application", "argocd")
    assert argocd["spec"]["sources"][0]["targetRevision"] == "10.3.3"
    script = (any_repo.root / "scripts" / "bootstrap.sh").read_text()
    assert "readonly CHART_VERSION='10.3.3'" in script


def test_w12_no_dead_ignore_differences(any_repo: ArgoRepo) -> None:
    """W12: external-secrets chart 2.9.0 has no CRD conversion webhook: only the webhook
    configuration's caBundle is ignored."""
    if not any_repo.platform.secrets.external_secrets:
        return
    spec = any_repo.named("ApplicationSet", "external-secrets")["spec"]["template"]["spec"]
    assert [d["kind"] for d in spec["ignoreDifferences"]] == ["ValidatingWebhookConfiguration"]


# --------------------------------------------------------------------------- W15, St


def test_w15_readme_states_the_deletion_and_key_choices(any_repo: ArgoRepo) -> None:
    """W15: the README says why hub Applications have no resources finalizer, that per-cluster
    keys isolate nothing with this engine, and where Image Updater commits."""
    readme = (any_repo.root / "README.md").read_text()
    assert "resources-finalizer" in readme
    assert "every key" in readme or "admin key" in readme.split("## Access")[0]
    assert "no isolation" in readme.lower() or "isolate nothing" in readme.lower()


def test_st_waves_only_where_they_order_something(any_repo: ArgoRepo) -> None:
    """St: the platform's AppProjects are the only kind in platform-projects, so a wave on
    them orders nothing; a tenant's AppProjects (its own and its guardrails') keep their wave
    (before its ApplicationSets)."""
    names = {t.name for t in any_repo.platform.tenants}
    tenants = names | {f"guardrails.{t}" for t in names}
    for project in any_repo.of_kind("AppProject"):
        annotations = project["metadata"].get("annotations") or {}
        wave = annotations.get("argocd.argoproj.io/sync-wave")
        assert (wave is not None) is (project["metadata"]["name"] in tenants)


# --------------------------------------------------------------------------- M1, M6


def test_m1_addon_values_layer_per_cluster(any_repo: ArgoRepo) -> None:
    """M1: addon values layer common -> env -> cluster, and a missing layer is not an error."""
    for appset in any_repo.of_kind("ApplicationSet"):
        if "gitops-scaffold.io/addon" not in appset["metadata"]["labels"]:
            continue
        chart = appset["spec"]["template"]["spec"]["sources"][0]
        name = appset["metadata"]["name"]
        helm = chart["helm"]
        assert helm["ignoreMissingValueFiles"] is True
        assert helm["valueFiles"][-1] == f"$values/values/{name}/clusters/{{{{ .name }}}}.yaml"


def test_m6_tenants_see_their_applicationsets(any_repo: ArgoRepo) -> None:
    """M6: a tenant's SSO group can read its project, ApplicationSets (and their errors),
    Applications and logs, through the role of its own AppProject bound to the group (Argo CD
    adds `projects, get` for every role itself: ProjectPoliciesString); the README has a hub
    recovery runbook."""
    for tenant in any_repo.platform.tenants:
        (role,) = any_repo.named("AppProject", tenant.name)["spec"]["roles"]
        subject = f"proj:{tenant.name}:{role['name']}"
        for resource, action in [("applicationsets", "get"), ("applications", "get"),
                                 ("logs", "get"), ("applications", "sync")]:  # fmt: skip
            assert f"p, {subject}, {resource}, {action}, {tenant.name}/*, allow" in role["policies"]
        assert role["groups"] == [any_repo.platform.tenant_sso_group(tenant)]
    assert "## Recovering the hub" in (any_repo.root / "README.md").read_text()


# --------------------------------------------------------------------------- validate


def test_validate_reports_nothing_on_any_config(any_repo: ArgoRepo) -> None:
    """`gitops-scaffold validate` finds nothing in the default, big and odd configs (hub not
    called hub, branch not main, a spoke without region, uneven placement, 6 tenants)."""
    report = validate(any_repo.root, schema_locations=[str(SCHEMAS)], jobs=2)
    assert [str(f) for f in report.findings] == []


def test_the_odd_config_is_what_it_claims() -> None:
    answers = {**ODD_ANSWERS, "engine": "argocd"}
    assert answers["git_branch"] != "main"
    hubs = [c for c in answers["clusters"] if c["role"] == "hub"]
    assert hubs[0]["name"] != "hub"
    assert any("region" not in c for c in answers["clusters"] if c["role"] == "spoke")
    assert len(answers["tenants"]) >= 5
    assert DEFAULT_ANSWERS and BIG_ANSWERS  # the other two sizes come from conftest
