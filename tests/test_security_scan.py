"""What we generate, scanned (issue 13, hardening): checkov over a repo of each engine, tenants
that cannot escalate, private keys 0600 under any umask, no secret value in any output.

checkov is not a test dependency: it pins packaging<24, which the test tools' pytest (>= 9.2,
packaging>=24) rules out, so it cannot share their environment. Install it in a venv of its
own and point $GITOPS_SCAFFOLD_CHECKOV at its `checkov` (or put it on PATH); the scan test is
skipped without it. Every rule a generated resource skips is listed below (EXPECTED_SKIPS)
and carries its reason in a `checkov.io/skipN: CKV_...=reason` annotation: that part is
checked without checkov.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.commands.new import new
from scaffolder.generate import GeneratedRepo
from scaffolder.model import load_answers
from tests.cli_helpers import cli_env, git
from tests.conftest import BIG_ANSWERS, CHECKOUT

ENGINES = ("flux", "argocd")

# Every optional part on, so every template that writes a Kubernetes object is scanned.
FULL_ANSWERS: dict[str, Any] = {
    **BIG_ANSWERS,
    "progressive_delivery": "canary",
    "tenants": [{**BIG_ANSWERS["tenants"][0], "canary": True}, *BIG_ANSWERS["tenants"][1:]],
    "secrets": {
        "vault": {"server": "https://vault.example.com:8200", "mount": "kv", "role": "eso"}
    },
    "image_automation": {"enabled": True},
}

# (kind, rule) pairs a generated resource skips, each with its reason in the annotation:
# - RoleBinding CKV2_K8S_3 (Flux): the hub's kube-system/flux-hub must impersonate the one
#   ServiceAccount it applies as (flux-platform, tenant-<t>); the Role names no other.
# - ServiceAccount CKV_K8S_21 (Flux): tenant-<t> on the hub has no namespace in its file on
#   purpose; each spoke's tenant-sync puts it in that spoke's namespace.
# - Deployment CKV_K8S_43: the sample app is pinned by tag so image automation can move it.
# - ClusterRole CKV_K8S_49/155-158 (Argo CD): argocd-manager-role is what `argocd cluster add`
#   grants the hub on a spoke; tenants sync as impersonated namespace admins instead.
EXPECTED_SKIPS: dict[str, set[tuple[str, str]]] = {
    "flux": {
        ("RoleBinding", "CKV2_K8S_3"),
        ("ServiceAccount", "CKV_K8S_21"),
        ("Deployment", "CKV_K8S_43"),
    },
    "argocd": {
        ("Deployment", "CKV_K8S_43"),
        *(("ClusterRole", f"CKV_K8S_{n}") for n in (49, 155, 156, 157, 158)),
    },
}
ADMIN = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}
SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")
SKIP_VALUE = re.compile(r"^(CKV2?_K8S_\d+)=(.+)$")


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GeneratedRepo]:
    made = {}
    for engine in ENGINES:
        root = tmp_path_factory.mktemp(f"scan-{engine}")
        made[engine] = new(load_answers({**FULL_ANSWERS, "engine": engine}), root / "out",
                           root / "keys")  # fmt: skip
    return made


def documents(repo: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object in the repo's YAML files (as written, before any build)."""
    for path in sorted(repo.rglob("*.yaml")):
        if ".git" in path.parts:
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and "kind" in doc and "apiVersion" in doc:
                yield path.relative_to(repo), doc


# --------------------------------------------------------------------------- checkov


def checkov() -> str | None:
    configured = os.environ.get("GITOPS_SCAFFOLD_CHECKOV")
    return configured if configured else shutil.which("checkov")


@pytest.mark.parametrize("engine", ENGINES)
def test_every_skipped_scanner_rule_is_listed_and_gives_its_reason(
    repos: dict[str, GeneratedRepo], engine: str
) -> None:
    found: set[tuple[str, str]] = set()
    for path, doc in documents(repos[engine].repo_dir):
        for key, value in (doc.get("metadata", {}).get("annotations") or {}).items():
            if not key.startswith("checkov.io/"):
                continue
            assert SKIP_ANNOTATION.match(key), (path, key)
            match = SKIP_VALUE.match(str(value))
            assert match, (path, value)
            assert len(match.group(2).split()) >= 8, f"{path}: a skip needs its reason: {value}"
            found.add((doc["kind"], match.group(1)))
    assert found == EXPECTED_SKIPS[engine]


@pytest.mark.skipif(
    checkov() is None,
    reason="checkov is not installed (not a test dependency: it pins packaging<24, which "
    "pytest>=9.2 rules out); set GITOPS_SCAFFOLD_CHECKOV to a checkov in its own venv",
)
@pytest.mark.parametrize("engine", ENGINES)
def test_checkov_finds_nothing_in_a_generated_repo(
    repos: dict[str, GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo = repos[engine].repo_dir
    done = subprocess.run(
        [str(checkov()), "--directory", str(repo), "--framework", "kubernetes", "--output", "json",
         "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**cli_env(tmp_path / "home"), "BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    (report,) = [r for r in reports if r.get("check_type") == "kubernetes"]
    results = report["results"]
    failed = [f"{f['check_id']} {f['resource']} {f['file_path']}" for f in results["failed_checks"]]
    assert failed == [], "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 150  # it did look at the objects
    skipped = {(s["resource"].split(".")[0], s["check_id"]) for s in results["skipped_checks"]}
    assert skipped == EXPECTED_SKIPS[engine]
    assert all(s["check_result"].get("suppress_comment") for s in results["skipped_checks"])


# --------------------------------------------------------------------------- tenants


@pytest.mark.parametrize("engine", ENGINES)
def test_tenants_cannot_escalate(repos: dict[str, GeneratedRepo], engine: str) -> None:
    """A tenant's identities (its ServiceAccount, its SSO group) are bound only inside the
    tenant's namespace, to `admin` (which grants no escalate, bind or impersonate beyond what
    it holds), and the engine applies a tenant's repository as that identity only."""
    repo = repos[engine].repo_dir
    platform = load_answers({**FULL_ANSWERS, "engine": engine})
    identities = {f"tenant-{t.name}": t.name for t in platform.tenants}
    groups = {t.sso_group: t.name for t in platform.tenants if t.sso_group}
    bound = {name: 0 for name in identities.values()}
    applies_as_tenant = {name: 0 for name in identities.values()}
    for path, doc in documents(repo):
        kind, meta = doc["kind"], doc.get("metadata", {})
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            for subject in doc.get("subjects") or []:
                tenant = (
                    identities.get(subject["name"])
                    if subject["kind"] == "ServiceAccount"
                    else groups.get(subject["name"])
                    if subject["kind"] == "Group"
                    else None
                )
                if tenant is None:
                    continue
                where = f"{path}: {kind} {meta.get('name')}"
                assert kind == "RoleBinding", where
                assert meta.get("namespace") == tenant, where
                assert doc["roleRef"] == ADMIN, where
                bound[tenant] += 1
        if kind in ("Role", "ClusterRole") and path.parts[0] == "tenants":
            for rule in doc.get("rules") or []:
                risky = {"escalate", "bind", "*"} & set(rule.get("verbs", []))
                assert not risky, f"{path}: {meta.get('name')} {rule}"
                if "impersonate" in rule.get("verbs", []):  # only the hub's Flux, by name
                    assert rule.get("resourceNames") and all(
                        n in identities for n in rule["resourceNames"]
                    ), f"{path}: {rule}"
        if doc["apiVersion"].startswith("kustomize.toolkit") and path.parts[0] == "tenants":
            tenant = path.parts[1]
            spec = doc["spec"]
            if spec["path"] == f"./tenants/{tenant}/platform":  # the guardrails: the platform's
                assert spec["sourceRef"]["name"] == "platform", path
                assert spec["serviceAccountName"] == "flux-platform", path
            else:  # everything else of the tenant's applies as the tenant, into its namespace
                assert spec["serviceAccountName"] == f"tenant-{tenant}", path
                assert spec["targetNamespace"] == tenant, path
                applies_as_tenant[tenant] += 1
        if engine == "argocd" and kind == "AppProject" and meta["name"] in bound:
            spec = doc["spec"]
            assert spec["clusterResourceWhitelist"] == [], path
            assert {d["namespace"] for d in spec["destinations"]} == {meta["name"]}, path
            assert {(b["group"], b["kind"]) for b in spec["namespaceResourceBlacklist"]} >= {
                ("rbac.authorization.k8s.io", "Role"),
                ("rbac.authorization.k8s.io", "RoleBinding"),
            }, path
            (sa,) = spec["destinationServiceAccounts"]
            assert sa["defaultServiceAccount"] == f"argocd:tenant-{meta['name']}", path
    assert all(count >= 1 for count in bound.values()), bound  # every tenant was looked at
    if engine == "flux":
        assert all(count >= 1 for count in applies_as_tenant.values()), applies_as_tenant


# --------------------------------------------------------------------------- keys and secrets


AGE_KEY = re.compile(rb"AGE-SECRET-KEY-1[0-9A-Z]{50,}")
UMASK_ZERO = (
    "import os, sys; os.umask(0); from scaffolder.cli import main; sys.exit(main(sys.argv[1:]))"
)


def cli_umask_zero(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", UMASK_ZERO, *args],
        cwd=tmp_path, env=cli_env(tmp_path / "home"), capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


def test_private_keys_are_0600_in_a_0700_folder_under_umask_000(tmp_path: Path) -> None:
    keys, out = tmp_path / "keys", tmp_path / "out"
    repo = out / "acme-platform"
    steps = [
        ["new", "--no-input", "--output-dir", str(out), "--keys-dir", str(keys)],
        ["add-cluster", "stg-1", "--env", "staging", "--keys-dir", str(keys), "--repo", str(repo)],
        ["secrets", "rotate", "--cluster", "dev-eu-1", "--keys-dir", str(keys), "--repo",
         str(repo)],
    ]  # fmt: skip
    for args in steps:
        done = cli_umask_zero(args, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "AGE-SECRET-KEY" not in done.stdout + done.stderr
        key_files = sorted(keys.glob("*.agekey"))
        assert key_files and {p.name for p in key_files} >= {"admin.agekey", "hub.agekey"}
        for key in key_files:
            assert stat.S_IMODE(key.stat().st_mode) == 0o600, (args[0], key)
        assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert (keys / "stg-1.agekey").exists()
    private = [p for p in repo.rglob("*") if p.is_file() and AGE_KEY.search(p.read_bytes())]
    assert private == []  # no private key inside the repo, whatever the mode


SECRET = "s3cr3t-Value-7f1c"


def test_no_secret_value_in_any_output_file_or_commit(
    repos: dict[str, GeneratedRepo], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(repos["flux"].repo_dir, repo, symlinks=True)
    env = cli_env(tmp_path / "home")
    token = tmp_path / "token.txt"
    token.write_text(SECRET + "-file", encoding="utf-8")
    runs = [
        ["secrets", "add", "db", "--cluster", "dev-eu-1", "--namespace", "payments",
         "--from-literal", f"password={SECRET}", "--from-file", f"token={token}", "--commit",
         "--repo", str(repo)],
        # refused after the values were read: the message names no value either
        ["secrets", "add", "db", "--cluster", "dev-eu-1", "--namespace", "payments",
         "--from-literal", f"password={SECRET}", "--repo", str(repo)],
        ["secrets", "add", "db2", "--cluster", "dev-eu-1", "--namespace", "nowhere",
         "--from-literal", f"password={SECRET}", "--repo", str(repo)],
        ["secrets", "add", "db3", "--cluster", "dev-eu-1", "--namespace", "payments",
         "--from-literal", f"pass word={SECRET}", "--repo", str(repo)],
        ["secrets", "list", "--format", "json", "--repo", str(repo)],
        ["secrets", "list", "--repo", str(repo)],
        ["validate", str(repo), "--format", "json"],
    ]  # fmt: skip
    for args in runs:
        done = subprocess.run([sys.executable, "-m", "scaffolder", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
        assert "Traceback" not in done.stderr, done.stderr
        assert SECRET not in done.stdout + done.stderr, (args, done.stdout, done.stderr)
    assert "db" in subprocess.run(
        [sys.executable, "-m", "scaffolder", "secrets", "list", "--repo", str(repo)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert SECRET.encode() not in path.read_bytes(), path
    history = git(repo, "log", "-p", "--all")
    assert "db.sops.yaml" in history and SECRET not in history


def test_the_generated_skip_reasons_are_in_the_templates_not_added_later() -> None:
    """The annotations come from the templates (so `new` and every day-2 command write them)."""
    texts = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (CHECKOUT / "templates").rglob("*")
        if p.is_file() and p.suffix in (".yaml", ".j2")
    )
    for rule in {rule for pairs in EXPECTED_SKIPS.values() for _, rule in pairs}:
        assert f"{rule}=" in texts, rule
