"""Plain `cookiecutter <checkout> --no-input` builds the same repo as `gitops-scaffold new`.

Only what must differ may differ: each run makes its own age keys, so the encrypted files
are compared decrypted (with each run's admin key) and by structure, and .sops.yaml with the
recipients masked.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.context import root_context
from scaffolder.model import ENGINES, default_git_url, default_platform
from scaffolder.prompts import MESSAGES
from scaffolder.sops import decrypt_file, is_encrypted
from tests.cli_helpers import cli_env, git, listing, run_cli
from tests.conftest import CHECKOUT

REPO = default_platform().repo_name
KEY_FILES = {f"{c.name}.agekey" for c in default_platform().clusters} | {"admin.agekey"}
AGE_RECIPIENT = re.compile(r"age1[0-9a-z]{58}")
ENCRYPTED_VALUE = re.compile(r"^ENC\[.*\]$", re.DOTALL)


def run_cookiecutter(cwd: Path, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(CHECKOUT), "--no-input", *extra],
        cwd=cwd,
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@dataclass(frozen=True)
class Pair:
    engine: str
    cookiecutter_out: Path
    scaffold_out: Path

    @property
    def cookiecutter_repo(self) -> Path:
        return self.cookiecutter_out / REPO

    @property
    def scaffold_repo(self) -> Path:
        return self.scaffold_out / REPO


@pytest.fixture(scope="module", params=ENGINES)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    engine = str(request.param)
    root = tmp_path_factory.mktemp(f"equivalence-{engine}")
    extra = [] if engine == ENGINES[0] else [f"engine={engine}"]
    baked = run_cookiecutter(root / "cookiecutter", root / "home", *extra)
    assert baked.returncode == 0, baked.stderr
    scaffolded = run_cli(
        ["new", "--no-input", "--engine", engine, "--output-dir", root / "scaffold"],
        cwd=root,
        home=root / "home",
    )
    assert scaffolded.returncode == 0, scaffolded.stderr
    return Pair(engine, root / "cookiecutter", root / "scaffold")


def work_tree(repo: Path) -> list[str]:
    return [p for p in listing(repo) if p != ".git" and not p.startswith(".git/")]


def test_same_file_tree(pair: Pair) -> None:
    tree = work_tree(pair.scaffold_repo)
    assert len(tree) > 20
    assert work_tree(pair.cookiecutter_repo) == tree


def test_same_plain_files_byte_for_byte(pair: Pair) -> None:
    compared = 0
    for relative in work_tree(pair.scaffold_repo):
        ours, theirs = pair.scaffold_repo / relative, pair.cookiecutter_repo / relative
        if not ours.is_file() or relative == ".sops.yaml" or _encrypted(ours):
            continue
        assert theirs.read_bytes() == ours.read_bytes(), relative
        assert stat.S_IMODE(theirs.stat().st_mode) == stat.S_IMODE(ours.stat().st_mode), relative
        compared += 1
    assert compared > 20


def _encrypted(path: Path) -> bool:
    return path.name.endswith(".sops.yaml") and is_encrypted(path.read_text(encoding="utf-8"))


def test_same_sops_rules_apart_from_the_public_keys(pair: Pair) -> None:
    ours = (pair.scaffold_repo / ".sops.yaml").read_text(encoding="utf-8")
    theirs = (pair.cookiecutter_repo / ".sops.yaml").read_text(encoding="utf-8")
    assert len(AGE_RECIPIENT.findall(ours)) == 2 * len(default_platform().clusters)
    assert AGE_RECIPIENT.sub("age1…", theirs) == AGE_RECIPIENT.sub("age1…", ours)
    assert AGE_RECIPIENT.findall(theirs) != AGE_RECIPIENT.findall(ours)  # own keys each


def _shape(node: Any) -> Any:
    """An encrypted document with every ciphertext and key-specific sops field masked."""
    if isinstance(node, dict):
        return {
            key: _sops_shape(value) if key == "sops" else _shape(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_shape(item) for item in node]
    if isinstance(node, str) and ENCRYPTED_VALUE.match(node):
        return "ENC[…]"
    return node


def _sops_shape(sops: dict[str, Any]) -> dict[str, Any]:
    return {
        "fields": sorted(sops),
        "age_recipients": len(sops.get("age") or []),
        "encrypted_regex": sops.get("encrypted_regex"),
        "version": sops.get("version"),
    }


def test_same_secrets_once_decrypted_and_same_encrypted_structure(pair: Pair) -> None:
    encrypted = [
        relative
        for relative in work_tree(pair.scaffold_repo)
        if _encrypted(pair.scaffold_repo / relative)
    ]
    assert len(encrypted) >= len(default_platform().clusters)
    for relative in encrypted:
        ours = yaml.safe_load((pair.scaffold_repo / relative).read_text(encoding="utf-8"))
        theirs = yaml.safe_load((pair.cookiecutter_repo / relative).read_text(encoding="utf-8"))
        assert _shape(theirs) == _shape(ours), relative

    def decrypt_both(relative: str) -> tuple[str, str, str]:
        return (
            relative,
            decrypt_file(
                pair.scaffold_repo / relative, pair.scaffold_out / f"{REPO}.keys" / "admin.agekey"
            ),
            decrypt_file(
                pair.cookiecutter_repo / relative,
                pair.cookiecutter_out / f"{REPO}.keys" / "admin.agekey",
            ),
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        for relative, ours_plain, theirs_plain in pool.map(decrypt_both, encrypted):
            assert theirs_plain == ours_plain, relative


def test_cookiecutter_keys_land_beside_the_repo(pair: Pair) -> None:
    keys = pair.cookiecutter_out / f"{REPO}.keys"
    assert sorted(os.listdir(pair.cookiecutter_out)) == [REPO, f"{REPO}.keys"]
    assert set(os.listdir(keys)) == KEY_FILES
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((keys / name).stat().st_mode) == 0o600 for name in KEY_FILES)


def test_both_are_one_commit_repos_with_the_same_files_and_message(pair: Pair) -> None:
    for repo in (pair.scaffold_repo, pair.cookiecutter_repo):
        assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"
        assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(pair.cookiecutter_repo, "ls-files") == git(pair.scaffold_repo, "ls-files")
    # Both keep the same pristine record for `update` (its own branch, one commit).
    pristine = ["ls-tree", "-r", "--name-only", "gitops-scaffold/pristine"]
    assert git(pair.cookiecutter_repo, *pristine) == git(pair.scaffold_repo, *pristine)
    message = ["log", "-1", "--format=%s"]
    assert git(pair.cookiecutter_repo, *message) == git(pair.scaffold_repo, *message)


def test_cookiecutter_refuses_invalid_answers_and_writes_nothing(tmp_path: Path) -> None:
    baked = run_cookiecutter(
        tmp_path / "cwd", tmp_path / "home", "git_url=http://example.com/p.git"
    )
    assert baked.returncode != 0
    # Refused when the project folder name is rendered (cookiecutter prints the message).
    output = baked.stdout + baked.stderr
    assert "Traceback" not in output
    ours = [line for line in output.splitlines() if line.startswith("error: ")]
    assert ours == [
        "error: git_url: 'http://example.com/p.git' must use https:// (or SSH), not plain http://"
    ]
    assert listing(tmp_path / "cwd") == []


# --------------------------------------------------------------------------- one source of truth


def test_cookiecutter_json_holds_the_model_defaults() -> None:
    declared = json.loads((CHECKOUT / "cookiecutter.json").read_text(encoding="utf-8"))
    expected = root_context(default_platform())

    # Empty: the model's default, next to the repo name (no template in a default: values
    # are data, see scaffolder/cookiecutter_guard.py).
    assert declared.pop("git_url") == ""
    assert expected.pop("git_url") == default_git_url(REPO)
    prompts = declared.pop("__prompts__")
    # engine is a plain string, not a cookiecutter choice list: cookiecutter refuses a value
    # outside a choice list with a traceback before any hook runs, whereas the answers model
    # refuses it with one line (L8). Its question names the choices instead.
    assert prompts.pop("engine") == f"{MESSAGES['engine']} ({' or '.join(ENGINES)})"
    assert {key: prompts[key] for key in MESSAGES if key != "engine"} == {
        key: text for key, text in MESSAGES.items() if key != "engine"
    }
    # Private variables only cookiecutter.json needs (set by cookiecutter or its hooks).
    assert declared.pop("_keys_dir") == ""
    assert declared.pop("_extensions") == ["scaffolder.cookiecutter_guard.AnswersAreData"]
    assert declared.pop("_copy_without_render")
    # .sops.yaml is written by the renderer only, with the public keys (Renderer.root).
    assert declared.pop("_when") == {
        ".cookiecutter-context.json": "false",
        ".sops.yaml": "cookiecutter._sops",
    }
    assert declared == expected
