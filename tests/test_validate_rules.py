"""The rules of `validate` one by one, on small repos written here (fast, no generation).

Real tools throughout: kubectl kustomize, the strict schemas of ../shared/schemas, the
upstream Kubernetes schemas, git.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from scaffolder.commands.validate import validate
from scaffolder.errors import UsageError
from scaffolder.generate import GeneratedRepo
from scaffolder.validate.checks import CheckContext
from scaffolder.validate.checks.builds import BuildUnit, _split_aggregations, check_builds
from scaffolder.validate.checks.schema import canonical
from scaffolder.validate.findings import Report
from scaffolder.validate.gitops import repo_key
from scaffolder.validate.repo import load_repo
from scaffolder.validate.schemas import (
    BUNDLED_SCHEMAS,
    CACHE_ENV,
    KindRef,
    SchemaCache,
    SchemaStore,
    TemplateSource,
    UnknownKind,
)
from tests.cli_helpers import run_cli
from tests.conftest import CHECKOUT, SCHEMAS

FLUX_SYNC = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: "https://github.com/acme/x.git", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
"""
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: apps}\n"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def check(root: Path, **options: object) -> Report:
    options.setdefault("any_folder", not (root / "platform.yaml").exists())
    return validate(root, schema_locations=[str(SCHEMAS)], jobs=2, **options)  # type: ignore[arg-type]


def summary(report: Report) -> list[tuple[str, str, int | None]]:
    return [(f.check, f.file, f.line) for f in report.findings]


def test_only_documents_with_apiversion_and_kind_are_objects(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {
            "values/app.yaml": "replicaCount: 2\nimage: {repository: nginx}\nkind: web\n",
            ".github/workflows/ci.yaml": "name: ci\non: [push]\njobs: {}\n",
            ".pre-commit-config.yaml": "repos: []\n",
            ".sops.yaml": "creation_rules: []\n",
            "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
            "charts/web/templates/cm.yaml": "{{- if .Values.x }}\nkind: ConfigMap\n{{- end }}\n",
            "apps/kustomization.yaml": "resources: [cm.yaml]\npatches: [{path: patch.yaml}]\n",
            "apps/cm.yaml": CONFIG_MAP % "one",
            # a strategic-merge patch: partial on purpose, checked through the build only
            "apps/patch.yaml": "apiVersion: v1\nkind: ConfigMap\n"
            "metadata: {name: one, namespace: apps}\ndata: {a: b}\n",
            "apps/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
            "apps/half.yaml": "apiVersion: v1\nmetadata: {name: h}\n",
        },
    )
    assert summary(check(repo)) == [
        ("schema/not-an-object", "apps/half.yaml", 1),
        ("schema/unknown-kind", "apps/widget.yaml", 1),
    ]


def test_unknown_fields_removed_versions_and_unknown_kinds_in_core_and_crds(
    tmp_path: Path,
) -> None:
    repo = write_tree(
        tmp_path,
        {
            "a.yaml": CONFIG_MAP % "a" + "datta: {}\n",
            "b.yaml": "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: b}\n",
            "c.yaml": "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\n"
            "metadata: {name: c}\n",
            "d.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: d}\ntype: Opaque\n"
            "data:\n  k: ENC[AES256_GCM,data:x]\nsops: {version: 3.11.0}\n",
        },
    )
    report = check(repo)
    assert summary(report) == [
        ("schema/invalid", "a.yaml", 4),
        ("schema/unknown-api-version", "b.yaml", 1),
        ("schema/unknown-api-version", "c.yaml", 1),
    ]
    assert "unknown field 'datta'" in report.findings[0].message
    assert "apps/v1" in report.findings[1].message
    assert "external-secrets.io/v1" in report.findings[2].message


def test_a_flux_path_without_a_kustomization_builds_as_flux_builds_it(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {
            "clusters/hub/sync.yaml": FLUX_SYNC,
            "apps/one.yaml": CONFIG_MAP % "one",
            "apps/nested/two.yaml": CONFIG_MAP % "two",
            "apps/nested/kustomize/kustomization.yaml": "resources: [three.yaml]\n",
            "apps/nested/kustomize/three.yaml": CONFIG_MAP % "three",
        },
    )
    assert summary(check(repo)) == []

    (repo / "apps" / "nested" / "dup.yaml").write_text(CONFIG_MAP % "two")
    report = check(repo)
    assert summary(report) == [("build/kustomize", "clusters/hub/sync.yaml", 6)]
    assert "path apps has no kustomization file" in report.findings[0].message
    assert "already registered id" in report.findings[0].message


def test_flux_references_sources_depends_on_and_bootstrap_secrets(tmp_path: Path) -> None:
    kustomization = FLUX_SYNC.split("---\n")[1]
    repo = write_tree(
        tmp_path,
        {
            "clusters/hub/sync.yaml": FLUX_SYNC + "  dependsOn: [{name: infra}]\n"
            "  decryption: {provider: sops, secretRef: {name: sops-age}}\n",
            "clusters/hub/other.yaml": kustomization.replace("name: apps", "name: other").replace(
                "{kind: GitRepository, name: flux-system}", "{kind: GitRepository, name: x}"
            ),
            "apps/one.yaml": CONFIG_MAP % "one",
        },
    )
    assert summary(check(repo, only=["refs"])) == [
        ("refs/flux-source", "clusters/hub/other.yaml", 8),
        ("refs/flux-depends-on", "clusters/hub/sync.yaml", 14),
        ("refs/flux-decryption", "clusters/hub/sync.yaml", 15),
    ]
    write_tree(
        repo,
        {
            "scripts/bootstrap.sh": (
                '#!/usr/bin/env bash\nreadonly SOPS_SECRET="sops-age"\n'
                'kubectl create secret generic "${SOPS_SECRET}" \\\n  --namespace=flux-system\n'
            )
        },
    )
    found = [(f.check, f.file) for f in check(repo, only=["refs"]).findings]
    assert ("refs/flux-decryption", "clusters/hub/sync.yaml") not in found
    assert ("refs/flux-depends-on", "clusters/hub/sync.yaml") in found


def test_tenant_rules_from_labels_when_there_is_no_platform_yaml(tmp_path: Path) -> None:
    label = "labels: {gitops-scaffold.io/tenant: team-a}"
    repo = write_tree(
        tmp_path,
        {
            "tenants/team-a/ns.yaml": (
                f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  {label}\n"
            ),
            "tenants/team-a/rbac.yaml": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
                "metadata: {name: admin, namespace: team-a}\n"
                "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, "
                "name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: team-a, "
                "namespace: team-a}]\n"
            ),
            "projects/team-a.yaml": (
                "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\n"
                f"metadata:\n  name: team-a\n  namespace: argocd\n  {label}\n"
                "spec:\n  sourceRepos: ['*']\n  destinations:\n"
                "    - {server: '*', namespace: team-a}\n"
                "    - {name: in-cluster, namespace: argocd}\n"
                "  clusterResourceWhitelist: [{group: '*', kind: '*'}]\n"
            ),
            "projects/platform.yaml": (
                "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\n"
                "metadata: {name: platform, namespace: argocd}\n"
                "spec:\n  destinations: [{server: '*', namespace: '*'}]\n"
            ),
        },
    )
    assert sorted((f.check, f.file) for f in check(repo, only=["tenancy"]).findings) == [
        ("tenancy/cluster-admin", "tenants/team-a/rbac.yaml"),
        ("tenancy/project-admin-namespace", "projects/team-a.yaml"),
        ("tenancy/project-cluster-resources", "projects/team-a.yaml"),
        ("tenancy/project-wildcard", "projects/team-a.yaml"),
    ]


GUARDRAILS_PROJECT = """apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: guardrails.%s
  namespace: argocd
spec:
  sourceRepos: [%s]
  destinations: [%s]
  destinationServiceAccounts:
    - {server: '*', namespace: %s, defaultServiceAccount: 'kube-system:argocd-manager'}
  clusterResourceWhitelist: [%s]
"""


def test_a_tenants_guardrails_project_stays_within_its_namespace(tmp_path: Path) -> None:
    """guardrails.<tenant> is the platform's project (Namespace, quota, RoleBindings as the
    spoke's argocd-manager): the tenant-project rules do not apply to it, but it may reach
    nothing but the tenant's namespace, no cluster-scoped kind but Namespace, and no
    repository but this one (tenancy/guardrails-scope)."""
    platform = "https://github.com/acme/x.git"
    namespace = "{group: '', kind: Namespace}"
    repo = write_tree(
        tmp_path,
        {
            "platform.yaml": f"repo_name: x\ngit_url: {platform}\nengine: argocd\n"
            "tenants: [team-a, team-b]\n",
            "tenants/team-a/guardrails-project.yaml": GUARDRAILS_PROJECT % (
                "team-a", f"{platform}, https://github.com/acme/team-a-apps.git",
                "{name: dev-eu-1, namespace: team-a}, {name: '*', namespace: team-a}, "
                "{name: dev-eu-1, namespace: team-b}",
                "team-a", f"{namespace}, {{group: '*', kind: '*'}}",
            ),
            "tenants/team-b/guardrails-project.yaml": GUARDRAILS_PROJECT % (
                "team-b", platform, "{name: dev-eu-1, namespace: team-b}", "team-b", namespace
            ),
        },
    )  # fmt: skip
    findings = check(repo, only=["tenancy"]).findings
    assert sorted((f.check, f.file, f.line) for f in findings) == [
        ("tenancy/guardrails-scope", "tenants/team-a/guardrails-project.yaml", 7),
        ("tenancy/guardrails-scope", "tenants/team-a/guardrails-project.yaml", 8),
        ("tenancy/guardrails-scope", "tenants/team-a/guardrails-project.yaml", 8),
        ("tenancy/guardrails-scope", "tenants/team-a/guardrails-project.yaml", 11),
    ]
    messages = " ".join(f.message for f in findings)
    assert "'https://github.com/acme/team-a-apps.git' is not this repository" in messages
    assert "destinations[1] (name '*'" in messages and "destinations[2] (namespace" in messages
    assert "clusterResourceWhitelist[1]" in messages


def test_secret_hygiene_rules(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {
            ".sops.yaml": "creation_rules:\n  - path_regex: (^|/)clusters/hub/.*\\.sops\\.yaml$\n"
            "    encrypted_regex: ^(data|stringData)$\n    age: age1aaa,age1bbb\n",
            "clusters/hub/a.sops.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n"
            "stringData:\n  token: |\n    plain\n",
            "clusters/hub/b.sops.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
            "data:\n  token: ENC[AES256_GCM,data:x]\n"
            "sops:\n  age:\n    - recipient: age1aaa\n",
            "apps/kustomization.yaml": "secretGenerator:\n  - name: s\n    literals: [a=b]\n",
            "docs/key.md": "An age key looks like AGE-SECRET-KEY-1... (never commit one)\n"
            "-----BEGIN OPENSSH PRIVATE KEY----- is the header of an SSH key\n",
            "ssh/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\n"
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
            "-----END OPENSSH PRIVATE KEY-----\n",
        },
    )
    report = check(repo, only=["secrets"])
    assert summary(report) == [
        ("secrets/plaintext-secret", "apps/kustomization.yaml", None),
        ("secrets/plaintext-secret", "clusters/hub/a.sops.yaml", 4),
        ("secrets/sops-recipients", "clusters/hub/b.sops.yaml", 7),
        ("secrets/private-key", "ssh/id_ed25519", 1),
    ]
    assert "creation rule 1 covers this file" in report.findings[1].message
    assert "1 missing" in report.findings[2].message


def test_platform_yaml_and_folders_must_agree(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(repo_factory("flux", "default").repo_dir, repo)
    (repo / "clusters" / "ghost").mkdir()
    (repo / "clusters" / "ghost" / "README.md").write_text("left behind\n")
    shutil.rmtree(repo / "tenants" / "team-b")
    found = [(f.check, f.file) for f in check(repo, only=["refs"]).findings]
    assert ("refs/platform-orphan", "clusters/ghost") in found
    assert ("refs/platform-missing", "platform.yaml") in found

    (repo / "platform.yaml").write_text("repo_name: x\nengine: helm\n")
    found = [(f.check, f.file) for f in check(repo, only=["refs"]).findings]
    assert ("refs/platform-invalid", "platform.yaml") in found


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such folder"):
        validate(tmp_path / "missing")
    with pytest.raises(UsageError, match="--schema-location"):
        validate(tmp_path, schema_locations=[str(tmp_path / "nope")], any_folder=True)
    with pytest.raises(UsageError, match="--jobs"):
        validate(tmp_path, jobs=0, any_folder=True)
    with pytest.raises(UsageError, match="no Kubernetes schemas"):
        validate(tmp_path, kubernetes_version="1.2", any_folder=True)


def test_schema_url_templates_are_cached_for_offline_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = tmp_path / "served"
    shutil.copytree(SCHEMAS / "source.toolkit.fluxcd.io", served / "source.toolkit.fluxcd.io")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    template = served.as_uri() + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
    document = yaml.safe_load(FLUX_SYNC.split("---\n")[0])
    first = SchemaStore([template], cache=SchemaCache.default())
    assert first.problems(document) == []
    shutil.rmtree(served)  # the "network" is gone: the cache serves the second run
    second = SchemaStore([template], cache=SchemaCache.default())
    assert second.problems(document) == []
    with pytest.raises(UnknownKind):
        second.problems({"apiVersion": "example.com/v1", "kind": "Widget"})


def test_kubeconform_placeholders() -> None:
    ref = KindRef("helm.toolkit.fluxcd.io", "v2", "HelmRelease")
    source = TemplateSource(
        "https://x/{{ .NormalizedKubernetesVersion }}{{.StrictSuffix}}/{{.ResourceKind}}"
        "{{.KindSuffix}}.json|{group}/{kind}_{version}",
        "1.33",
        None,
    )
    assert source.render(ref) == (
        "https://x/v1.33.0-strict/helmrelease-helm-v2.json|helm.toolkit.fluxcd.io/helmrelease_v2"
    )


@pytest.mark.skipif(
    SCHEMAS == BUNDLED_SCHEMAS, reason="no ../shared/schemas here to compare the bundled ones with"
)
def test_the_bundled_schemas_are_the_shared_ones() -> None:
    bundled = {
        p.relative_to(BUNDLED_SCHEMAS): p.read_bytes() for p in BUNDLED_SCHEMAS.rglob("*.json")
    }
    shared = {p.relative_to(SCHEMAS): p.read_bytes() for p in SCHEMAS.rglob("*.json")}
    assert bundled == shared


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("git@github.com:Acme/Platform.git", "github.com/acme/platform"),
        ("ssh://git@github.com:22/acme/platform", "github.com/acme/platform"),
        ("https://github.com/acme/platform.git/", "github.com/acme/platform"),
    ],
)
def test_git_urls_compare_across_forms(url: str, key: str) -> None:
    assert repo_key(url) == key


def test_git_ignored_files_are_not_scanned(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path, {".gitignore": "*.agekey\n", "hub.agekey": "AGE-SECRET-KEY-1" + "Q" * 58 + "\n"}
    )
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    assert check(repo, only=["secrets"]).findings == []


def test_without_kustomize_builds_stop_with_a_clear_error_but_secrets_still_run(
    tmp_path: Path,
) -> None:
    repo = write_tree(
        tmp_path / "repo",
        {
            "apps/kustomization.yaml": "resources: []\n",
            "apps/key.txt": "AGE-SECRET-KEY-1" + "Q" * 58 + "\n",
        },
    )
    bare = tmp_path / "bin"  # an empty PATH: no kubectl, no kustomize, no git
    bare.mkdir()
    env = {"PATH": str(bare), "HOME": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            ["validate", repo, "--any-folder", *args], cwd=CHECKOUT, home=tmp_path, env=env
        )

    full = cli()
    assert full.returncode == 2
    assert full.stderr.startswith("error: neither kustomize nor kubectl is on PATH")
    secrets = cli("--only", "secrets")
    assert secrets.returncode == 1, secrets.stderr
    assert "apps/key.txt" in secrets.stdout and "secrets/private-key" in secrets.stdout


def _aggregation_tree(root: Path, parts: int, clash: bool) -> Path:
    files = {
        "all/kustomization.yaml": "resources:\n"
        + "".join(f"- ../part-{i:02d}\n" for i in range(parts)),
    }
    for i in range(parts):
        name = "same" if clash and i in (1, parts - 1) else f"cm-{i:02d}"
        files[f"part-{i:02d}/kustomization.yaml"] = "resources:\n- cm.yaml\n"
        files[f"part-{i:02d}/cm.yaml"] = CONFIG_MAP % name
    return write_tree(root, files)


@pytest.mark.parametrize("parts", [4, 40])
def test_an_aggregation_is_checked_as_kustomize_builds_it(tmp_path: Path, parts: int) -> None:
    """An aggregation is built as its parts (a part several gather is built once; far less
    memory): its objects are checked and an object two parts both produce is the finding
    kustomize gives."""
    clean = check(_aggregation_tree(tmp_path / "clean", parts, clash=False))
    assert clean.findings == []
    assert clean.summary.objects == parts
    clashing = check(_aggregation_tree(tmp_path / "clash", parts, clash=True))
    assert [(f.check, f.file) for f in clashing.findings] == [
        ("build/kustomize", "all/kustomization.yaml")
    ]
    assert "already registered id" in clashing.findings[0].message
    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / "clash" / "all")], capture_output=True, text=True
    )
    assert built.returncode != 0 and "already registered id" in built.stderr


_NAMESPACED_PART = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: sync-%(i)02d}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: sync-%(i)02d}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {kind: ServiceAccount, name: default}
- {kind: ServiceAccount, name: sync-%(i)02d, namespace: elsewhere}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader-%(i)02d}
rules: []
---
apiVersion: v1
kind: ConfigMap
metadata: {name: %(config)s, namespace: %(origin)s}
"""


def _namespaced_aggregation(root: Path, namespace: str, parts: int, clash: bool) -> Path:
    files = {
        "all/kustomization.yaml": f"namespace: {namespace!r}\nresources:\n"
        + "".join(f"- ../part-{i:02d}\n" for i in range(parts)),
    }
    for i in range(parts):
        config = "settings" if clash and i in (2, parts - 1) else f"settings-{i:02d}"
        files[f"part-{i:02d}/kustomization.yaml"] = "resources:\n- objects.yaml\n"
        files[f"part-{i:02d}/objects.yaml"] = _NAMESPACED_PART % {
            "i": i, "config": config, "origin": f"team-{i:02d}"
        }  # fmt: skip
    return write_tree(root, files)


def _built_objects(root: Path, unit: str) -> list[str]:
    ctx = CheckContext(load_repo(root), jobs=2)
    assert check_builds(ctx) == []
    return sorted(canonical(o.body) for o in ctx.built if o.unit == unit)


@pytest.mark.parametrize(("namespace", "parts"), [("spoke-07", 4), ("spoke-07", 24), ("on", 24)])
def test_a_namespaced_aggregation_is_checked_as_kustomize_builds_it(
    tmp_path: Path, namespace: str, parts: int
) -> None:
    """A tenant-sync (a namespace over many parts): each part is built once, under a stand-in
    namespace that is then renamed; the objects are exactly kustomize's build of the whole
    (RoleBinding subjects, cluster-scoped kinds, namespaces written in the parts), and an
    object that two parts put into one namespace is the finding kustomize gives."""
    root = _namespaced_aggregation(tmp_path / "clean", namespace, parts, clash=False)
    real = subprocess.run(
        ["kubectl", "kustomize", str(root / "all")], capture_output=True, text=True, check=True
    )
    expected = sorted(canonical(body) for body in yaml.safe_load_all(real.stdout))
    assert _built_objects(root, "all") == expected
    assert sum(f'"namespace": "{namespace}"' in body for body in expected) == 4 * parts - parts
    repo = load_repo(root)
    _, split = _split_aggregations(repo, [BuildUnit("all")])
    # Built apart when the namespace is one kustomize writes as it writes the stand-in (`on`
    # it quotes): otherwise kustomize builds the whole.
    assert bool(split) == (namespace != "on")
    assert check(root).findings == []

    clashing = _namespaced_aggregation(tmp_path / "clash", namespace, parts, clash=True)
    built = subprocess.run(["kubectl", "kustomize", str(clashing / "all")], capture_output=True)
    assert built.returncode != 0
    assert [(f.check, f.file) for f in check(clashing).findings] == [
        ("build/kustomize", "all/kustomization.yaml")
    ]


def test_copies_in_other_namespaces_are_validated_once_and_reported_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects that differ only in metadata.namespace share one schema validation when the
    kind's schema takes any string there; each copy still gets its own finding."""
    validated: list[object] = []
    problems = SchemaStore.problems
    monkeypatch.setattr(
        SchemaStore, "problems", lambda self, body: validated.append(body) or problems(self, body)
    )
    store = SchemaStore([str(SCHEMAS)])
    assert store.takes_any_namespace("v1", "ServiceAccount")
    assert store.takes_any_namespace("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    assert not store.takes_any_namespace("v1", "NoSuchKind")
    wrong = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: %s}\nx: 3\n"
    repo = write_tree(tmp_path, {f"{ns}/sa.yaml": wrong % ns for ns in ("team-a", "team-b")})
    report = check(repo)
    assert summary(report) == [
        ("schema/invalid", "team-a/sa.yaml", 4),
        ("schema/invalid", "team-b/sa.yaml", 4),
    ]
    assert len(validated) == 1
