"""freeze / unfreeze of an env, both engines (issue 12).

Real repos made by `new`, the day-2 pipeline, real kustomize builds and the strict CRD schemas:
a freeze is reviewable (platform.yaml and the engine's files), validates, suspends exactly
what applies to the env's spokes (Flux) or puts a deny window on exactly the projects with
applications there (Argo CD), and unfreeze leaves the repo byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.cli import main
from scaffolder.commands.freeze import freeze, list_freezes, unfreeze
from scaffolder.commands.validate import validate
from scaffolder.errors import UsageError
from scaffolder.generate import GeneratedRepo
from scaffolder.model import load_answers
from scaffolder.repo_state import read_platform
from tests.cli_helpers import git, one_error_line, run_cli
from tests.conftest import BIG_ANSWERS, SCHEMAS

Factory = Callable[[str, str], GeneratedRepo]


def _copy(generated: GeneratedRepo, tmp_path: Path) -> Path:
    repo = tmp_path / generated.repo_dir.name
    shutil.copytree(generated.repo_dir, repo, symlinks=True)
    return repo


def _hashes(repo: Path) -> dict[str, str]:
    """Every file of the work tree (platform.yaml included; .git aside): its sha256."""
    return {
        str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def _build(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _flux_objects(repo: Path) -> list[dict[str, Any]]:
    """Every Kustomization and HelmRelease the hub holds, as built from the repo."""
    platform = read_platform(repo)
    folders = [repo / "clusters" / platform.hub.name]
    for spoke in platform.spokes:
        folders += [
            repo / "clusters" / platform.hub.name / "spokes" / spoke.name,
            repo / "clusters" / spoke.name / "tenant-sync",
            repo / "clusters" / spoke.name / "infrastructure" / "controllers",
        ]
    folders.append(repo / "clusters" / platform.hub.name / "infrastructure" / "controllers")
    return [
        doc
        for folder in folders
        for doc in _build(folder)
        if doc["kind"] in ("Kustomization", "HelmRelease")
    ]


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_freeze_then_unfreeze_leaves_the_repo_byte_identical(
    repo_factory: Factory, engine: str, tmp_path: Path
) -> None:
    repo = _copy(repo_factory(engine, "big"), tmp_path)
    before = _hashes(repo)
    freeze(repo, "prod", until="2026-12-27T08:00Z", reason="holiday: no changes")
    freeze(repo, "staging", manual_sync=True)
    frozen = _hashes(repo)
    assert frozen != before
    assert [(f.freeze.env, f.clusters) for f in list_freezes(repo)] == [
        ("prod", ("prod-eu-1",)),
        ("staging", ("stg-us-1",)),
    ]
    report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
    assert report.ok, [str(f) for f in report.findings]
    unfreeze(repo, "prod")
    unfreeze(repo, "staging")
    assert _hashes(repo) == before
    assert not list_freezes(repo)


def test_a_frozen_flux_env_suspends_what_applies_to_its_spokes_and_nothing_else(
    repo_factory: Factory, tmp_path: Path
) -> None:
    repo = _copy(repo_factory("flux", "big"), tmp_path)
    freeze(repo, "prod", until="2026-12-27", reason="release")
    objects = _flux_objects(repo)
    suspended = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in objects
        if o["spec"].get("suspend")
    }
    # What applies to prod-eu-1: its layers with the spoke's kubeconfig, every tenant
    # Kustomization and every HelmRelease in its namespace on the hub.
    expected = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in objects
        if o["metadata"].get("namespace") == "prod-eu-1"
        and (o["kind"] == "HelmRelease" or "kubeConfig" in o["spec"])
    }
    assert expected and suspended == expected
    names = {name for _, _, name in suspended}
    assert {"flux-access", "infra-configs", "payments-apps", "data-guardrails"} <= names
    assert any(kind == "HelmRelease" for kind, _, _ in suspended)
    # the dispatchers on the hub carry the freeze to what they apply
    running = {
        o["metadata"]["name"] for o in objects if o["metadata"].get("namespace") == "prod-eu-1"
    }
    assert {"infra-controllers", "tenant-sync"} <= running - names
    for o in objects:
        if o["spec"].get("suspend"):
            annotations = o["metadata"]["annotations"]
            assert annotations["gitops-scaffold.io/frozen-env"] == "prod"
            assert annotations["gitops-scaffold.io/frozen-until"] == "2026-12-27"
            assert annotations["gitops-scaffold.io/freeze-reason"] == "release"


def _projects(repo: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in repo.rglob("*.yaml"):
        if ".git" in path.parts:
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "AppProject":
                found[doc["metadata"]["name"]] = doc
    return found


def test_a_frozen_argocd_env_denies_syncs_on_exactly_its_projects(
    repo_factory: Factory, tmp_path: Path
) -> None:
    repo = _copy(repo_factory("argocd", "big"), tmp_path)
    before = _projects(repo)
    freeze(repo, "staging", reason="audit")
    after = _projects(repo)
    platform = read_platform(repo)
    tenants_on_staging = {t.name for t in platform.tenants if "stg-us-1" in platform.placement(t)}
    changed = {name for name in after if after[name] != before[name]}
    guardrails = {f"guardrails.{t}" for t in tenants_on_staging}
    assert changed == tenants_on_staging | guardrails | {"addons"}
    for name in changed:
        windows = after[name]["spec"]["syncWindows"]
        freezes = [w for w in windows if "freeze" in w.get("description", "")]
        assert freezes == [
            {
                "kind": "deny", "schedule": "* * * * *", "duration": "24h", "timeZone": "UTC",
                "manualSync": False, "clusters": ["stg-us-1"],
                "description": "gitops-scaffold freeze of env staging: audit",
            }
        ]  # fmt: skip
    report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2, only=["schema"])
    assert report.ok, [str(f) for f in report.findings]


def test_freeze_through_the_cli_commits_and_lists(repo_factory: Factory, tmp_path: Path) -> None:
    repo = _copy(repo_factory("flux", "default"), tmp_path)
    head = git(repo, "rev-parse", "HEAD").strip()
    args = ["--repo", str(repo)]
    assert main(["freeze", "--env", "prod", "--reason", "go-live", "--commit", *args]) == 0
    assert git(repo, "rev-parse", "HEAD").strip() != head
    assert git(repo, "status", "--porcelain") == ""
    done = run_cli(["freeze", "--list", *args], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0 and "prod (prod-eu-1) frozen: go-live" in done.stdout
    done = run_cli(
        ["freeze", "--list", "--format", "json", *args], cwd=tmp_path, home=tmp_path / "h"
    )
    assert '"reason": "go-live"' in done.stdout
    assert main(["unfreeze", "--env", "prod", "--commit", *args]) == 0
    assert git(repo, "diff", head, "HEAD", "--stat") == ""
    done = run_cli(["freeze", "--list", *args], cwd=tmp_path, home=tmp_path / "home")
    assert "No env is frozen." in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["freeze", "--env", "nowhere"], "is not the env of any cluster"),
        (["freeze", "--env", "mgmt"], "is the hub's env"),
        (["freeze", "--env", "prod", "--until", "next week"], "is not an ISO-8601"),
        (["freeze", "--env", "prod", "--until", "2026-02-30"], "is not a real date"),
        (["freeze", "--env", "prod", "--reason", "$(reboot)"], "shell command"),
        (["freeze", "--env", "prod", "--reason", "x" * 201], "longer than 200"),
        (["freeze"], "--env ENV is required"),
        (["unfreeze", "--env", "prod"], "is not frozen"),
        (["unfreeze", "--env", "nowhere"], "is not the env of any cluster"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    repo_factory: Factory, tmp_path: Path, args: list[str], message: str
) -> None:
    repo = _copy(repo_factory("flux", "big"), tmp_path)
    before = _hashes(repo)
    done = run_cli([*args, "--repo", repo], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    assert message in one_error_line(done.stderr)
    assert _hashes(repo) == before


def test_freezing_twice_is_refused(repo_factory: Factory, tmp_path: Path) -> None:
    repo = _copy(repo_factory("argocd", "default"), tmp_path)
    freeze(repo, "prod")
    with pytest.raises(UsageError, match="already frozen"):
        freeze(repo, "prod")


def test_freezes_in_the_answers_are_checked() -> None:
    base = {**BIG_ANSWERS}
    assert load_answers({**base, "freezes": [{"env": "prod"}]}).freeze_of("prod") is not None
    for freezes, message in [
        ([{"env": "prod"}, {"env": "prod"}], "is frozen twice"),
        ([{"env": "qa"}], "is not the env of any cluster"),
        ([{"env": "prod", "until": "soon"}], "ISO-8601"),
        ([{"env": "prod", "manual_sync": "yes"}], "must be true or false"),
        ([{"env": "prod", "why": "x"}], "is not a known field"),
    ]:
        with pytest.raises(UsageError, match=message):
            load_answers({**base, "freezes": freezes})
