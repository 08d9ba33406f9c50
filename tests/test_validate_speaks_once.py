"""validate says each mistake once, in the user's words, about the repo they meant (F11-F13):
no finding that only follows from a file that does not parse, no kubectl log prefixes, the
repo found from any folder inside it, a clear refusal for a folder that is not one or an
empty platform.yaml, progress for long runs, SARIF and GitHub annotations for CI."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from scaffolder.commands.validate import validate
from scaffolder.errors import UsageError
from scaffolder.generate import GeneratedRepo
from scaffolder.validate.findings import CHECKS, Finding, Report, Summary
from scaffolder.validate.kustomize import error_text
from scaffolder.validate.report import to_github, to_sarif
from tests.cli_helpers import CLI, cli_env, one_error_line, run_cli
from tests.conftest import SCHEMAS

KLOG = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+|run\.go:\d+|command failed")
NAMESPACE = "tenants/team-a/platform/namespace.yaml"
TENANT_LABEL = "    gitops-scaffold.io/tenant: team-a\n"


def copy_of(repo_factory: Callable[[str, str], GeneratedRepo], engine: str, tmp_path: Path) -> Path:
    generated = repo_factory(engine, "default")
    repo = tmp_path / generated.repo_dir.name
    shutil.copytree(generated.repo_dir, repo, symlinks=True)
    return repo


def found(repo: Path, **options: object) -> list[Finding]:
    report: Report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2, **options)  # type: ignore[arg-type]
    return report.findings


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("mistake", "problem"),
    [
        (  # one label indented too far: the mapping breaks
            (TENANT_LABEL, "      gitops-scaffold.io/tenant: team-a\n"),
            "mapping values are not allowed",
        ),
        (("  name: team-a\n", "  name: team-a\n  name: team-a\n"), "duplicate key 'name'"),
    ],
    ids=["indentation", "duplicate-key"],
)
def test_a_yaml_mistake_is_one_finding_not_a_build_failure_too(
    repo_factory: Callable[[str, str], GeneratedRepo],
    tmp_path: Path,
    mistake: tuple[str, str],
    problem: str,
) -> None:
    repo = copy_of(repo_factory, "flux", tmp_path)
    edit(repo / NAMESPACE, *mistake)
    findings = found(repo)
    assert [(f.check, f.file) for f in findings] == [("yaml/syntax", NAMESPACE)]
    assert problem in findings[0].message


def test_a_broken_kustomization_file_is_one_finding(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = copy_of(repo_factory, "flux", tmp_path)
    kustomization = repo / "tenants/team-a/platform/kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - : x: y\n")
    findings = found(repo)
    assert [(f.check, f.file) for f in findings] == [
        ("yaml/syntax", "tenants/team-a/platform/kustomization.yaml")
    ]


def test_a_broken_appproject_is_one_finding_not_one_per_application(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = copy_of(repo_factory, "argocd", tmp_path)
    edit(repo / "tenants/team-a/argocd/project.yaml", "\nspec:\n", "\nspec:\n  - broken: [\n")
    findings = found(repo)
    assert [(f.check, f.file) for f in findings] == [
        ("yaml/syntax", "tenants/team-a/argocd/project.yaml")
    ]


def test_a_reference_to_nothing_is_still_found_when_every_file_parses(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    """The cascade rule drops only what a broken file may define."""
    repo = copy_of(repo_factory, "argocd", tmp_path)
    edit(repo / "tenants/team-a/argocd/apps.yaml", "project: team-a", "project: team-z")
    assert [f.check for f in found(repo)] == ["refs/argocd-project"]


def test_kubectl_log_prefixes_never_reach_a_message(tmp_path: Path) -> None:
    block = (
        'E1130 08:15:52.321843    5226 run.go:72] "command failed" err=<\n'
        "\tmap[string]interface {}(nil): yaml: unmarshal errors:\n"
        '\t  line 7: mapping key "name" already defined at line 6\n >\n'
    )
    assert (
        error_text(block)
        == 'yaml: unmarshal errors: line 7: mapping key "name" already defined at line 6'
    )
    quoted = 'E1130 08:21:07.623681   26403 run.go:72] "command failed" err="a: \\"b\\" c"'
    assert error_text(quoted) == 'a: "b" c'
    # and from a real kubectl: a component that is an empty kustomization
    (tmp_path / "app").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "app/kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "components:\n- ../empty\n"
    )
    (tmp_path / "empty/kustomization.yaml").write_text("")
    findings = found(tmp_path, any_folder=True)
    builds = [f for f in findings if f.check == "build/kustomize"]
    assert builds, findings
    for finding in builds:
        assert not KLOG.search(finding.message), finding.message


def test_validate_from_a_folder_inside_the_repo_checks_the_whole_repo(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = copy_of(repo_factory, "flux", tmp_path)
    report = validate(repo / "clusters/hub", schema_locations=[str(SCHEMAS)], jobs=2)
    assert report.findings == []
    assert report.path == str(repo)
    assert any("checked the whole platform repo" in note for note in report.notes)
    done = run_cli(["validate"], cwd=repo / "clusters/hub", home=tmp_path / "home")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no findings" in done.stdout


def test_a_folder_that_is_not_a_platform_repo_is_refused_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-repo"
    (folder / "x").mkdir(parents=True)
    (folder / "x/a.yaml").write_text("a: 1\n")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    with pytest.raises(UsageError, match="not a gitops-scaffold platform repo"):
        validate(folder / "x")
    done = run_cli(["validate", folder], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    assert "--any-folder" in one_error_line(done.stderr)
    assert done.stdout == ""
    # asked for explicitly, a plain tree is checked
    done = run_cli(["validate", folder, "--any-folder"], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0, done.stderr


def test_platform_yaml_above_the_git_root_is_not_this_repo(tmp_path: Path) -> None:
    (tmp_path / "platform.yaml").write_text("repo_name: outer\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    subprocess.run(["git", "init", "-q", str(inner)], check=True)
    with pytest.raises(UsageError, match="not a gitops-scaffold platform repo"):
        validate(inner)


@pytest.mark.parametrize("content", ["", "# only a comment\n", "---\n"])
def test_an_empty_platform_yaml_is_refused(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path, content: str
) -> None:
    repo = copy_of(repo_factory, "flux", tmp_path)
    (repo / "platform.yaml").write_text(content)
    with pytest.raises(UsageError, match=r"platform\.yaml is empty"):
        validate(repo)
    done = run_cli(["validate", repo], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    assert "is empty" in one_error_line(done.stderr)


def test_progress_names_each_step(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = copy_of(repo_factory, "flux", tmp_path)
    steps: list[str] = []
    validate(repo, schema_locations=[str(SCHEMAS)], jobs=2, progress=steps.append)
    assert steps[0].startswith("reading ")
    assert any(s.startswith("building ") and "kustomizations" in s for s in steps)
    assert steps[-1].startswith("checking ")


def test_progress_shows_on_a_terminal_and_never_in_a_log(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = copy_of(repo_factory, "flux", tmp_path)
    done = run_cli(["validate", repo], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0 and done.stderr == ""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [*CLI, "validate", str(repo)],
            cwd=tmp_path,
            env=cli_env(tmp_path / "home", TERM="xterm", COLUMNS="120"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=terminal,
        )
    finally:
        os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the process is done with it
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.wait(timeout=120) == 0
    assert b"validate: " in shown


def _report(findings: list[Finding], path: str = "platform") -> Report:
    return Report(path, ("yaml",), findings, Summary(1, 1, 0, 0, 0.0))


def test_sarif_names_each_rule_and_each_result_at_its_line() -> None:
    findings = [
        Finding("yaml/syntax", "clusters/a.yaml", 3, "did not find expected key"),
        Finding("refs/argocd-project", "tenants/t/apps.yaml", None, "project 'x' does not exist"),
    ]
    sarif = json.loads(to_sarif(_report(findings)))
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["refs/argocd-project", "yaml/syntax"]
    assert all(r["shortDescription"]["text"] == CHECKS[r["id"]] for r in rules)
    by_rule = {r["ruleId"]: r for r in run["results"]}
    syntax = by_rule["yaml/syntax"]
    assert rules[syntax["ruleIndex"]]["id"] == "yaml/syntax"
    location = syntax["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "platform/clusters/a.yaml"},
        "region": {"startLine": 3},
    }
    assert "region" not in by_rule["refs/argocd-project"]["locations"][0]["physicalLocation"]
    assert json.loads(to_sarif(_report([])))["runs"][0]["results"] == []


def test_github_annotations_escape_what_would_end_them() -> None:
    findings = [Finding("yaml/syntax", "a,b:c.yaml", 7, "50% broken\nsecond line")]
    out = to_github(_report(findings, ".")).splitlines()
    assert out == [
        "::error file=a%2Cb%3Ac.yaml,line=7,title=yaml/syntax::50%25 broken%0Asecond line",
        "1 finding",
    ]
    assert to_github(_report([])).splitlines() == ["no findings"]


def test_the_cli_writes_sarif_and_github_formats(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = copy_of(repo_factory, "flux", tmp_path)
    edit(repo / NAMESPACE, "  name: team-a\n", "  name: team-a\n  name: team-a\n")
    home = tmp_path / "home"
    done = run_cli(["validate", repo.name, "--format", "sarif"], cwd=tmp_path, home=home)
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["yaml/syntax"]
    uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == f"{repo.name}/{NAMESPACE}"
    done = run_cli(["validate", repo.name, "--format", "github"], cwd=tmp_path, home=home)
    assert done.returncode == 1
    assert done.stdout.startswith(f"::error file={repo.name}/{NAMESPACE},line=")
