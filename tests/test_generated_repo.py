"""What every generated repo must satisfy, whichever the engine and size.

Real tools only: strict schemas from ../shared/schemas and the upstream Kubernetes schemas,
`kubectl kustomize` (or kustomize), the real sops binary, real git.
"""

from __future__ import annotations

import re
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from scaffolder.errors import ToolFailedError
from scaffolder.generate import GeneratedRepo
from scaffolder.git import tracked_files
from scaffolder.sops import decrypt_file, find_sops_files, is_encrypted
from scaffolder.validate.documents import is_kubernetes_object, load_file, yaml_files
from scaffolder.validate.kustomize import build, kustomization_folders
from scaffolder.validate.schemas import SchemaStore
from tests.conftest import SCHEMAS

NOT_OBJECTS = {".sops.yaml", "platform.yaml", "kustomization.yaml"}
HELM_VALUES_DIR = "values"  # top-level folder of Helm values files (Argo CD valueFiles)


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    return SchemaStore([SCHEMAS])


def manifest_files(repo: Path) -> list[Path]:
    return [
        p
        for p in yaml_files(repo)
        if p.name not in NOT_OBJECTS
        and ".github" not in p.parts
        and not p.name.startswith(".")
        and p.relative_to(repo).parts[0] != HELM_VALUES_DIR
    ]


def test_every_document_is_valid_against_strict_schemas(
    generated: GeneratedRepo, store: SchemaStore
) -> None:
    problems = []
    checked = 0
    for path in manifest_files(generated.repo_dir):
        for doc in load_file(path):
            if doc.body is None:
                continue
            assert is_kubernetes_object(doc.body), f"{path}:{doc.line} is not a Kubernetes object"
            checked += 1
            for problem in store.problems(doc.body):
                problems.append(f"{path.relative_to(generated.repo_dir)}:{doc.line}: {problem}")
    assert checked > 10
    assert problems == []


def test_every_kustomization_builds_and_its_output_is_valid(
    generated: GeneratedRepo, store: SchemaStore
) -> None:
    folders = kustomization_folders(generated.repo_dir)
    assert folders
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(build, folders))
    failures = [f"{r.folder}: {r.output}" for r in results if not r.ok]
    assert failures == []
    problems = []
    for result in results:
        for doc in yaml.safe_load_all(result.output):
            if doc:
                problems += [f"{result.folder}: {p}" for p in store.problems(doc)]
    assert problems == []


def test_secrets_decrypt_with_their_cluster_key_and_the_admin_key_only(
    generated: GeneratedRepo,
) -> None:
    repo = generated.repo_dir
    files = find_sops_files(repo)
    clusters_with_secrets = {f.split("/")[1] for f in files}
    assert len(clusters_with_secrets) == len(generated.keys) - 1, "one encrypted Secret per cluster"
    for relative in files:
        owner = relative.split("/")[1]
        text = (repo / relative).read_text()
        assert is_encrypted(text)
        for key_name in (owner, "admin"):
            plain = yaml.safe_load(decrypt_file(repo / relative, generated.keys[key_name].path))
            assert plain["kind"] == "Secret"
            assert plain.get("stringData") or plain.get("data")
        other = next(k for k in generated.keys if k not in (owner, "admin"))
        with pytest.raises(ToolFailedError):
            decrypt_file(repo / relative, generated.keys[other].path)


def test_no_private_key_or_plaintext_secret_in_git(generated: GeneratedRepo) -> None:
    repo = generated.repo_dir
    tracked = tracked_files(repo)
    assert "platform.yaml" in tracked
    for relative in tracked:
        text = (repo / relative).read_text(errors="replace")
        assert "AGE-SECRET-KEY-" not in text, relative
        assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text), relative
        if relative.endswith((".yaml", ".yml")) and "kind: Secret" in text:
            for doc in yaml.safe_load_all(text):
                if isinstance(doc, dict) and doc.get("kind") == "Secret":
                    assert "sops" in doc, f"plaintext Secret in {relative}"


def test_keys_are_outside_the_repo_and_private(generated: GeneratedRepo) -> None:
    assert generated.repo_dir not in generated.keys_dir.parents
    assert stat.S_IMODE(generated.keys_dir.stat().st_mode) == 0o700
    for key in generated.keys.values():
        assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
        assert key.path.read_text().count("AGE-SECRET-KEY-") == 1


def test_every_tenant_gets_a_sealed_secret_stub_that_nothing_applies(
    generated: GeneratedRepo,
) -> None:
    repo = generated.repo_dir
    listed = "\n".join(p.read_text() for p in repo.rglob("kustomization.yaml"))
    platform = yaml.safe_load((repo / "platform.yaml").read_text())
    for tenant in platform["tenants"]:
        stub = repo / "tenants" / tenant["name"] / "examples" / "sealed-secret.yaml"
        (document,) = [d for d in yaml.safe_load_all(stub.read_text()) if d]
        assert document["kind"] == "SealedSecret"
        assert document["metadata"]["namespace"] == tenant["name"]
        assert "kubeseal" in stub.read_text()
    assert "examples" not in listed
