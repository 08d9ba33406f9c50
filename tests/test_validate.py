"""`gitops-scaffold validate` on generated repos: clean ones pass, seeded defects are caught.

Each defect is seeded into a copy of a session repo (edited with yaml, the real sops for the
decrypted Secret), then validated offline against ../shared/schemas with real kustomize.
A seeded run must add the expected finding at the seeded file, and nothing anywhere else.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyrage
import pytest
import yaml

from scaffolder.commands.validate import validate
from scaffolder.generate import GeneratedRepo
from scaffolder.sops import decrypt_file, find_sops_files
from scaffolder.validate.checks import CheckContext
from scaffolder.validate.checks.builds import check_builds
from scaffolder.validate.findings import Finding, Report
from scaffolder.validate.repo import load_repo
from scaffolder.validate.schemas import SchemaStore, UnknownKind
from tests.cli_helpers import run_cli
from tests.conftest import CHECKOUT, SCHEMAS

LOCATIONS = [str(SCHEMAS)]


def run_validate(repo: Path, **options: Any) -> Report:
    return validate(repo, schema_locations=LOCATIONS, jobs=2, **options)


@pytest.fixture(scope="module")
def clean(repo_factory: Callable[[str, str], GeneratedRepo]) -> dict[str, Report]:
    """The reports of the default repos, which the seeded copies are compared with."""
    return {e: run_validate(repo_factory(e, "default").repo_dir) for e in ("flux", "argocd")}


def copy_repo(repo: GeneratedRepo, tmp_path: Path) -> Path:
    target = tmp_path / repo.repo_dir.name
    shutil.copytree(repo.repo_dir, target, symlinks=True)
    return target


def documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def write_documents(path: Path, docs: list[Any]) -> None:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def find_document(repo: Path, match: Callable[[dict[str, Any], str], bool]) -> tuple[Path, int]:
    """The first (file, document index) in the repo whose document matches."""
    for path in sorted(repo.rglob("*.yaml")):
        if ".git" in path.parts:
            continue
        relative = path.relative_to(repo).as_posix()
        for index, doc in enumerate(documents(path)):
            if isinstance(doc, dict) and match(doc, relative):
                return path, index
    raise AssertionError("no document matches")


def edit_document(path: Path, index: int, change: Callable[[dict[str, Any]], None]) -> str:
    docs = documents(path)
    change(docs[index])
    write_documents(path, docs)
    return path.as_posix()


def new_findings(seeded: Report, clean_report: Report) -> list[Finding]:
    return sorted(set(seeded.findings) - set(clean_report.findings), key=lambda f: f.sort_key)


def assert_caught(seeded: Report, clean_report: Report, check: str, file: str) -> list[Finding]:
    """The seeded defect is reported with its check id at its file, and only there."""
    added = new_findings(seeded, clean_report)
    assert any(f.check == check and f.file == file for f in added), added
    assert {f.file for f in added} == {file}, added
    return [f for f in added if f.check == check]


def rel(repo: Path, path: Path) -> str:
    return path.relative_to(repo).as_posix()


def line_text(path: Path, finding: Finding) -> str:
    assert finding.line is not None, finding
    return path.read_text().splitlines()[finding.line - 1].strip()


# --------------------------------------------------------------------------- clean repos


def test_a_clean_generated_repo_has_no_findings(
    clean: dict[str, Report], generated: GeneratedRepo, engine: str, size: str
) -> None:
    report = clean[engine] if size == "default" else run_validate(generated.repo_dir)
    assert [f"{f.file}:{f.line} {f.check} {f.message}" for f in report.findings] == []
    assert report.summary.objects > 30
    assert report.summary.builds >= 1


# --------------------------------------------------------------------------- seeded defects


def is_helm_release(doc: dict[str, Any], _: str) -> bool:
    return doc.get("kind") == "HelmRelease"


def test_a_misspelled_helmrelease_field_is_a_schema_finding_at_its_line(
    repo_factory: Callable[[str, str], GeneratedRepo], clean: dict[str, Report], tmp_path: Path
) -> None:
    repo = copy_repo(repo_factory("flux", "default"), tmp_path)
    path, index = find_document(repo, is_helm_release)

    def misspell(doc: dict[str, Any]) -> None:
        doc["spec"]["intervall"] = doc["spec"].pop("interval")

    edit_document(path, index, misspell)
    found = assert_caught(run_validate(repo), clean["flux"], "schema/invalid", rel(repo, path))
    unknown = [f for f in found if "unknown field 'intervall'" in f.message]
    assert unknown, found
    assert line_text(path, unknown[0]).startswith("intervall:")


def test_a_removed_helmrelease_api_version_is_reported(
    repo_factory: Callable[[str, str], GeneratedRepo], clean: dict[str, Report], tmp_path: Path
) -> None:
    repo = copy_repo(repo_factory("flux", "default"), tmp_path)
    path, index = find_document(repo, is_helm_release)
    edit_document(path, index, lambda d: d.update(apiVersion="helm.toolkit.fluxcd.io/v2beta2"))
    found = assert_caught(
        run_validate(repo), clean["flux"], "schema/unknown-api-version", rel(repo, path)
    )
    assert "helm.toolkit.fluxcd.io/v2beta2" in found[0].message
    assert "helm.toolkit.fluxcd.io/v2" in found[0].message.split("exist for", 1)[1]


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_kustomization_listing_a_missing_resource_fails_to_build_at_that_entry(
    repo_factory: Callable[[str, str], GeneratedRepo],
    clean: dict[str, Report],
    tmp_path: Path,
    engine: str,
) -> None:
    repo = copy_repo(repo_factory(engine, "default"), tmp_path)
    kustomization = sorted(repo.glob("tenants/*/platform/kustomization.yaml"))[0]
    body = yaml.safe_load(kustomization.read_text())
    body["resources"].append("missing.yaml")
    kustomization.write_text(yaml.safe_dump(body, sort_keys=False))
    found = assert_caught(
        run_validate(repo), clean[engine], "build/kustomize", rel(repo, kustomization)
    )
    assert found[0].message == "'missing.yaml' does not exist"
    assert line_text(kustomization, found[0]) == "- missing.yaml"


def test_a_flux_kustomization_path_that_does_not_exist_is_reported(
    repo_factory: Callable[[str, str], GeneratedRepo], clean: dict[str, Report], tmp_path: Path
) -> None:
    repo = copy_repo(repo_factory("flux", "default"), tmp_path)

    def platform_kustomization(doc: dict[str, Any], _: str) -> bool:
        path = (doc.get("spec") or {}).get("path", "")
        return doc.get("kind") == "Kustomization" and path.startswith("./clusters/")

    path, index = find_document(repo, platform_kustomization)
    edit_document(path, index, lambda d: d["spec"].update(path="./clusters/no-such-folder"))
    found = assert_caught(run_validate(repo), clean["flux"], "refs/flux-path", rel(repo, path))
    assert "./clusters/no-such-folder" in found[0].message
    assert line_text(path, found[0]) == "path: ./clusters/no-such-folder"


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_decrypted_secret_committed_is_a_plaintext_secret(
    repo_factory: Callable[[str, str], GeneratedRepo],
    clean: dict[str, Report],
    tmp_path: Path,
    engine: str,
) -> None:
    generated = repo_factory(engine, "default")
    repo = copy_repo(generated, tmp_path)
    relative = find_sops_files(repo)[0]
    plaintext = decrypt_file(repo / relative, generated.keys["admin"].path)
    (repo / relative).write_text(plaintext)
    found = assert_caught(run_validate(repo), clean[engine], "secrets/plaintext-secret", relative)
    assert "creation rule" in found[0].message and "sops encrypt" in found[0].message


def test_a_private_age_key_committed_is_reported_but_an_ignored_one_is_not(
    repo_factory: Callable[[str, str], GeneratedRepo], clean: dict[str, Report], tmp_path: Path
) -> None:
    repo = copy_repo(repo_factory("flux", "default"), tmp_path)
    key = str(pyrage.x25519.Identity.generate())
    (repo / "clusters" / "age-key.txt").write_text(f"# created by mistake\n{key}\n")
    (repo / "clusters" / "hub.agekey").write_text(f"{key}\n")  # .gitignore keeps it out of git
    report = run_validate(repo, only=["secrets"])
    found = assert_caught(report, clean["flux"], "secrets/private-key", "clusters/age-key.txt")
    assert found[0].line == 2
    assert key not in json.dumps([f.message for f in report.findings])


def test_a_tenant_appproject_with_a_wildcard_namespace_is_reported(
    repo_factory: Callable[[str, str], GeneratedRepo], clean: dict[str, Report], tmp_path: Path
) -> None:
    generated = repo_factory("argocd", "default")
    repo = copy_repo(generated, tmp_path)
    tenants = [t["name"] for t in yaml.safe_load((repo / "platform.yaml").read_text())["tenants"]]

    def tenant_project(doc: dict[str, Any], _: str) -> bool:
        return doc.get("kind") == "AppProject" and doc["metadata"]["name"] in tenants

    path, index = find_document(repo, tenant_project)
    edit_document(path, index, lambda d: d["spec"]["destinations"][0].update(namespace="*"))
    found = assert_caught(
        run_validate(repo), clean["argocd"], "tenancy/project-wildcard", rel(repo, path)
    )
    assert "namespace is '*'" in found[0].message
    assert line_text(path, found[0]).replace('"', "'") in ("namespace: '*'", "- namespace: '*'")


def test_a_flux_tenant_kustomization_without_impersonation_is_reported(
    repo_factory: Callable[[str, str], GeneratedRepo], clean: dict[str, Report], tmp_path: Path
) -> None:
    repo = copy_repo(repo_factory("flux", "default"), tmp_path)

    def tenant_sync(doc: dict[str, Any], relative: str) -> bool:
        return (
            doc.get("kind") == "Kustomization"
            and relative.startswith("tenants/")
            and ("serviceAccountName" in (doc.get("spec") or {}))
        )

    path, index = find_document(repo, tenant_sync)
    edit_document(path, index, lambda d: d["spec"].pop("serviceAccountName"))
    found = assert_caught(
        run_validate(repo), clean["flux"], "tenancy/impersonation", rel(repo, path)
    )
    assert "serviceAccountName" in found[0].message
    assert line_text(path, found[0]) == "spec:"


# --------------------------------------------------------------------------- the CLI


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["validate", *args], cwd=CHECKOUT, home=home)


def test_cli_exit_codes_and_stable_json(
    repo_factory: Callable[[str, str], GeneratedRepo], clean: dict[str, Report], tmp_path: Path
) -> None:
    generated = repo_factory("flux", "default")
    home = tmp_path / "home"
    location = ("--schema-location", str(SCHEMAS))

    ok = cli(home, str(generated.repo_dir), *location, "--format", "json")
    assert ok.returncode == (0 if clean["flux"].ok else 1), ok.stderr
    data = json.loads(ok.stdout)
    assert list(data) == ["version", "path", "checks", "findings", "summary", "notes"]
    assert data["version"] == 1 and data["summary"]["findings"] == len(clean["flux"].findings)

    repo = copy_repo(generated, tmp_path)
    (repo / "tenants" / "broken.yaml").write_text("kind: ConfigMap\nkind: Secret\n")
    key = str(pyrage.x25519.Identity.generate())
    (repo / "clusters" / "age-key.txt").write_text(key + "\n")
    first = cli(home, str(repo), *location, "--format", "json", "--jobs", "2")
    second = cli(home, str(repo), *location, "--format", "json", "--jobs", "1")
    assert first.returncode == 1 and second.returncode == 1, first.stderr
    assert first.stdout == second.stdout
    findings = json.loads(first.stdout)["findings"]
    assert findings == sorted(
        findings, key=lambda f: (f["file"], f["line"] or 0, f["check"], f["message"])
    )
    assert {"check": "yaml/syntax", "file": "tenants/broken.yaml", "line": 2} in [
        {k: f[k] for k in ("check", "file", "line")} for f in findings
    ]
    assert all(set(f) == {"check", "file", "line", "message"} for f in findings)

    text = cli(home, str(repo), *location)
    assert text.returncode == 1
    assert "tenants/broken.yaml" in text.stdout and "secrets/private-key" in text.stdout
    assert key not in text.stdout + first.stdout

    missing = cli(home, str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such folder"
    assert missing.stdout == ""
    bad = cli(home, str(repo), "--only", "spelling")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --only: unknown check")
    assert "Traceback" not in missing.stderr + bad.stderr


_BROKEN_BODIES = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": 5}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": 1}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "extra": True},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"},
     "spec": {"ports": [{"port": "80"}], "type": "Nowhere"}},
    {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
     "metadata": {"name": "a"}, "spec": {"interval": "ten minutes", "prune": "yes",
                                         "sourceRef": {"kind": "Bucket2", "name": "x"}}},
    {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "a"},
     "spec": {"destinations": [{"name": 3}], "unknown": {}}},
]  # fmt: skip


def test_the_compiled_validator_agrees_with_jsonschema(
    repo_factory: Callable[[str, str], GeneratedRepo],
) -> None:
    """jsonschema_rs decides "valid" alone (jsonschema explains the invalid ones): on every
    object of both engines' repos, as written and as built, and on broken ones, both agree."""
    store = SchemaStore(LOCATIONS)
    bodies: list[dict[str, Any]] = list(_BROKEN_BODIES)
    for engine in ("flux", "argocd"):
        ctx = CheckContext(load_repo(repo_factory(engine, "default").repo_dir), jobs=2)
        check_builds(ctx)
        bodies += [obj.body for obj in (*ctx.repo.source_objects(), *ctx.built)]
    agreed = {True: 0, False: 0}
    for body in bodies:
        try:
            validator = store.validator(body["apiVersion"], body["kind"])
        except UnknownKind:
            continue
        slow = validator.is_valid({k: v for k, v in body.items() if k != "sops"})
        assert store.is_valid(body) == slow, body
        agreed[slow] += 1
    assert agreed[False] == len(_BROKEN_BODIES) and agreed[True] > 300, agreed
