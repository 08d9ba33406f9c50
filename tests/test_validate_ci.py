"""What the generated repo gets for validation: the CI workflow and the pre-commit hook."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyrage
import pytest
import yaml

from scaffolder import __version__
from scaffolder.generate import GeneratedRepo
from scaffolder.sops import decrypt_file, find_sops_files
from tests.conftest import CHECKOUT

HOOK = "scripts/check-secrets"


def run_hook(repo: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, HOOK, *files], cwd=repo, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_workflow_installs_this_version_and_validates(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str
) -> None:
    repo = repo_factory(engine, "default").repo_dir
    text = (repo / ".github" / "workflows" / "validate.yaml").read_text()
    workflow = yaml.safe_load(text)
    assert workflow[True] == {  # YAML 1.1 reads the key `on` as true
        "push": {"branches": ["main"]},
        "pull_request": None,
        "workflow_dispatch": None,
    }
    assert "${{ github.ref }}" in text
    runs = [step.get("run", "") for step in workflow["jobs"]["validate"]["steps"]]
    assert f"python -m pip install gitops-scaffold=={__version__}" in runs
    assert "gitops-scaffold validate ." in runs


def test_plain_cookiecutter_pins_the_same_version() -> None:
    context = json.loads((CHECKOUT / "cookiecutter.json").read_text())
    assert context["_gitops_scaffold_version"] == __version__


def test_the_pre_commit_hook_is_a_local_executable_script(
    repo_factory: Callable[[str, str], GeneratedRepo],
) -> None:
    repo = repo_factory("flux", "default").repo_dir
    config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    [hook] = config["repos"][0]["hooks"]
    assert config["repos"][0]["repo"] == "local"
    assert (hook["entry"], hook["language"]) == (HOOK, "script")
    mode = subprocess.run(
        ["git", "ls-files", "-s", HOOK], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert mode == "100755"


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_hook_passes_a_generated_repo_and_blocks_what_must_not_be_committed(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    generated = repo_factory(engine, "default")
    clean = run_hook(generated.repo_dir)  # no files: every file git tracks
    assert (clean.returncode, clean.stderr) == (0, "")

    repo = tmp_path / "repo"
    shutil.copytree(generated.repo_dir, repo)
    encrypted = find_sops_files(repo)[0]
    (repo / encrypted).write_text(decrypt_file(repo / encrypted, generated.keys["admin"].path))
    key = str(pyrage.x25519.Identity.generate())
    (repo / "notes.txt").write_text(f"first line\n{key}\n")
    blocked = run_hook(repo, encrypted, "notes.txt", "platform.yaml")
    assert blocked.returncode == 1
    lines = blocked.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{encrypted}:") and "Secret values are readable" in lines[0]
    assert lines[1].startswith("notes.txt:2: an age private key")
    assert key not in blocked.stderr


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {a: YQ==}\n", [4]),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData:\n  a: |\n    x\n", [4]),
        ("kind: Secret\napiVersion: v1\nstringData: {}\n", []),
        ("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n", []),
        ("apiVersion: v1\nkind: Secret\ndata:\n  a: ENC[AES256_GCM,data:x]\n", [3]),  # no sops
        (
            "apiVersion: v1\nkind: Secret\ndata:\n  a: ENC[AES256_GCM,data:x]\n  b: plain\n"
            "sops:\n  version: 3.11.0\n",
            [3],
        ),
        (
            "a: 1\n---\napiVersion: v1\nkind: Secret\nstringData:\n  a: 'ENC[AES256_GCM,x]'\n"
            "sops:\n  mac: ENC[x]\n",
            [],
        ),
        ("---\napiVersion: 'v1'\nkind: \"Secret\" # quoted\nstringData:\n  a: b\n", [4]),
    ],
)
def test_the_hook_reads_secrets_as_sops_writes_them(
    tmp_path: Path, text: str, flagged: list[int]
) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(CHECKOUT / "{{cookiecutter.repo_name}}" / HOOK, tmp_path / HOOK)
    (tmp_path / "secret.yaml").write_text(text)
    done = run_hook(tmp_path, "secret.yaml")
    assert [int(line.split(":")[1]) for line in done.stderr.splitlines()] == flagged
    assert done.returncode == (1 if flagged else 0)
