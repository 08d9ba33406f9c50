"""What the generated repo gets for validation: the CI workflow, its scripts, the pre-commit hook.

The workflow is linted by actionlint (with shellcheck on its scripts), read step by step for
what it installs and runs, and every script it runs is run here, as CI runs it, on generated
repos of both engines: clean, and with seeded defects.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pyrage
import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scaffolder import __version__
from scaffolder.errors import AnswersError
from scaffolder.generate import GeneratedRepo
from scaffolder.model import (
    DEFAULT_ANSWERS,
    answers_yaml,
    dump_answers,
    load_answers,
    read_answers_file,
)
from scaffolder.provenance import vcs_requirement
from scaffolder.sops import decrypt_file, find_sops_files
from tests.cli_helpers import cli_env, git, run_cli
from tests.conftest import CHECKOUT, make_repo

HOOK = "scripts/check-secrets"
MANIFESTS = "scripts/check-manifests"
CI_SCRIPT = "scripts/ci-gitops-scaffold"
REQUIREMENTS = "scripts/requirements.txt"
WORKFLOW = ".github/workflows/validate.yaml"
SKELETON = CHECKOUT / "{{cookiecutter.repo_name}}"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SOURCE = f"git+https://github.com/acme/gitops-scaffold.git@{COMMIT}"
# Every action the workflow uses, by the commit of its release tag. Sources (cross-checked):
# checkout v6.0.3: Dependabot's "Bump actions/checkout from 6.0.2 to 6.0.3" compare links
#   (RedisLabs/terraform-provider-rediscloud#847, ChrisCarini/jetbrains-auto-power-saver#787);
# setup-python v6.3.0: Dependabot's "from 6.2.0 to 6.3.0" (cisco-en-programmability/
#   catalystwan-sdk#209) and "from 6.3.0 to 7.0.0" (ms609/citation-bot#6023) compare links.
PINNED_ACTIONS = {
    "actions/checkout": ("df4cb1c069e1874edd31b4311f1884172cec0e10", "v6.0.3"),
    "actions/setup-python": ("ece7cb06caefa5fff74198d8649806c4678c61a1", "v6.3.0"),
}


def run_hook(repo: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, HOOK, *files], cwd=repo, capture_output=True, text=True, check=False
    )


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


# --------------------------------------------------------------------------- the workflow


def read_workflow(repo: Path) -> tuple[str, dict[Any, Any]]:
    text = (repo / WORKFLOW).read_text(encoding="utf-8")
    return text, yaml.safe_load(text)


def steps(workflow: dict[Any, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield name, step


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_workflow_runs_three_read_only_jobs_on_every_change(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str
) -> None:
    text, workflow = read_workflow(repo_factory(engine, "default").repo_dir)
    assert workflow[True] == {  # YAML 1.1 reads the key `on` as true
        "push": {"branches": ["main"]},
        "pull_request": None,
        "workflow_dispatch": None,
    }
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"] == {
        "group": "validate-${{ github.ref }}",
        "cancel-in-progress": True,
    }
    assert set(workflow["jobs"]) == {"secrets", "manifests", "gitops-scaffold"}
    for job in workflow["jobs"].values():
        assert job["runs-on"] == "ubuntu-24.04" and job["timeout-minutes"] <= 15
        assert "permissions" not in job  # the workflow's read-only token
    runs = {
        name: [s.get("run", "") for s in job["steps"]] for name, job in workflow["jobs"].items()
    }
    assert runs["secrets"][-1] == "python3 scripts/check-secrets --github"
    assert runs["manifests"][-1] == "python scripts/check-manifests --github"
    assert "python3 scripts/ci-gitops-scaffold source" in runs["gitops-scaffold"]
    assert "scripts/ci-gitops-scaffold annotate" in runs["gitops-scaffold"][-1]
    assert "gitops-scaffold validate . --format json" in runs["gitops-scaffold"][-1]
    assert "secrets." not in text and "GITHUB_TOKEN" not in text  # no secret needed
    for _, step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"] == {"persist-credentials": False}
    # The gitops-scaffold job does nothing but read platform.yaml when no source is recorded.
    [source_step] = [s for _, s in steps(workflow) if s.get("id") == "source"]
    later = workflow["jobs"]["gitops-scaffold"]["steps"]
    later = later[later.index(source_step) + 1 :]
    assert later and all(s["if"] == "steps.source.outputs.requirement != ''" for s in later)


def actionlint() -> str:
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    assert Path(found).is_file(), "actionlint is missing: pip install '.[test]'"
    return found


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_workflow_passes_actionlint_with_shellcheck(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str
) -> None:
    repo = repo_factory(engine, "default").repo_dir
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    assert Path(shellcheck).is_file()
    done = subprocess.run(
        [actionlint(), "-no-color", f"-shellcheck={shellcheck}", "-verbose", WORKFLOW],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Found total 0 errors" in done.stderr
    assert 'Rule "shellcheck" was disabled' not in done.stderr


def test_actionlint_finds_what_it_is_here_for(tmp_path: Path) -> None:
    """The linter really lints: an unpinned expression in a script and an unknown key."""
    workflow = tmp_path / ".github" / "workflows" / "x.yaml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    stepz: []\n"
        "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    done = subprocess.run(
        [actionlint(), "-no-color", str(workflow)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "stepz" in done.stdout and "github.event.pull_request.title" in done.stdout


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_every_action_is_pinned_to_a_release_commit_named_in_a_comment(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str
) -> None:
    text, workflow = read_workflow(repo_factory(engine, "default").repo_dir)
    used = [step["uses"] for _, step in steps(workflow) if "uses" in step]
    assert used
    for reference in used:
        action, _, commit = reference.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", commit), reference
        assert (commit, action) == (PINNED_ACTIONS[action][0], action)
        release = PINNED_ACTIONS[action][1]
        for line in text.splitlines():
            if reference in line:
                assert line.rstrip().endswith(f"uses: {reference} # {release}"), line
    for line in text.splitlines():
        if re.match(r"\s*(- )?uses:", line):
            assert re.fullmatch(r"\s*(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v[0-9.]+", line)


def commands(script: str) -> list[list[str]]:
    """The simple commands of a `run:` script, as words (continuation lines joined)."""
    joined = script.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#"):
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                words = shlex.split(part)
                if words:
                    found.append(words)
    return found


INSTALLERS = {"pip", "pip3", "pipx", "uv", "npm", "npx", "yarn", "gem", "go", "cargo", "apt-get",
              "apt", "brew", "snap", "conda", "mamba"}  # fmt: skip
DOWNLOADERS = {"curl", "wget", "gh", "git"}


def installs(words: list[str]) -> list[str] | None:
    """The arguments after `install` when the command installs something, else None."""
    program = Path(words[0]).name
    if program.startswith("python") and words[1:3] == ["-m", "pip"]:
        words = words[2:]
        program = "pip"
    if program in INSTALLERS:
        assert program == "pip", f"an installer this workflow never needs: {words}"
        if "install" in words:
            return words[words.index("install") + 1 :]
    return None


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_nothing_is_installed_or_downloaded_by_a_name_or_an_unchecked_url(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str
) -> None:
    """pip installs only the hash-pinned lock, and gitops-scaffold only from the source that
    platform.yaml records; nothing is fetched with curl, wget, gh or git."""
    repo = repo_factory(engine, "default").repo_dir
    text, workflow = read_workflow(repo)
    assert not re.search(r"gitops-scaffold\s*==", text)
    assert not re.search(r"pip3? install [^\n]*\bgitops-scaffold\b", text)
    assert not re.search(r"https?://", "\n".join(s.get("run", "") for _, s in steps(workflow)))
    checked = 0
    for _, step in steps(workflow):
        for words in commands(step.get("run", "")):
            assert Path(words[0]).name not in DOWNLOADERS, words
            arguments = installs(words)
            if arguments is None:
                continue
            checked += 1
            positional = [a for a in arguments if not a.startswith("-")]
            if "--require-hashes" in arguments:
                # only the lock file: every line a version and a sha256 (next test)
                assert "--only-binary=:all:" in arguments
                assert arguments[arguments.index("-r") + 1] == REQUIREMENTS
                assert positional == [REQUIREMENTS], words
            else:
                # the recorded source: `gitops-scaffold @ git+https://…@<commit>` (tests below)
                assert positional == ["$REQUIREMENT"], words
                assert {"--no-deps", "--no-build-isolation"} <= set(arguments), words
                assert step["env"] == {"REQUIREMENT": "${{ steps.source.outputs.requirement }}"}
                assert step["if"] == "steps.source.outputs.requirement != ''"
    assert checked == 3


def read_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) of a `pip --require-hashes` requirements file."""
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    lock: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement, *options = line.split()
        name, equals, version = requirement.partition("==")
        assert equals and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), line
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), line
        hashes = [o.removeprefix("--hash=sha256:") for o in options]
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), line
        assert canonicalize_name(name) not in lock, f"{name} listed twice"
        lock[canonicalize_name(name)] = (version, hashes)
    return lock


def test_the_lock_pins_every_package_with_its_hash_and_leaves_none_out() -> None:
    """Every package at one version with the sha256 of its wheel; every dependency of a locked
    package (as installed here, for CPython 3.12 on Linux) is locked too, at a version it
    accepts; gitops-scaffold's own dependencies and build backend are all there."""
    lock = read_lock(SKELETON / REQUIREMENTS)
    assert {"kubernetes-validate", "pyyaml", "hatchling"} <= set(lock)
    assert "gitops-scaffold" not in lock
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    runner = {
        **default_environment(),
        "python_version": "3.12",
        "python_full_version": "3.12.8",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in lock and requirement.specifier.contains(lock[name][0]), text
    compared = 0
    for name, (version, _) in lock.items():
        try:
            installed = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if installed.version != version:
            continue
        compared += 1
        for text in installed.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate({**runner, "extra": ""}):
                continue
            needed = canonicalize_name(requirement.name)
            assert needed in lock, f"{name} needs {text}"
            assert requirement.specifier.contains(lock[needed][0], prereleases=True), text
    assert compared >= 10


def test_the_skeleton_copies_every_top_level_entry_without_rendering() -> None:
    """Plain cookiecutter copies the root skeleton as it is; gitops-scaffold's renderer
    renders it. Only .cookiecutter-context.json (the answers for the hook) is rendered."""
    declared = json.loads((CHECKOUT / "cookiecutter.json").read_text(encoding="utf-8"))
    entries = {p.name for p in SKELETON.iterdir()} - {".cookiecutter-context.json"}
    assert entries <= set(declared["_copy_without_render"])
    assert ".cookiecutter-context.json" not in declared["_copy_without_render"]


# --------------------------------------------------------------------------- the scripts


def run_script(repo: Path, *argv: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, *argv], cwd=repo, capture_output=True, text=True, check=False, env=env
    )


def copy_repo(generated: GeneratedRepo, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(generated.repo_dir, repo)
    return repo


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line == text)


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_check_secrets_annotates_what_it_blocks(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    generated = repo_factory(engine, "default")
    clean = run_script(generated.repo_dir, HOOK, "--github")
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")

    repo = copy_repo(generated, tmp_path)
    encrypted = find_sops_files(repo)[0]
    (repo / encrypted).write_text(decrypt_file(repo / encrypted, generated.keys["admin"].path))
    blocked = run_script(repo, HOOK, "--github")
    assert blocked.returncode == 1
    [annotation] = blocked.stdout.splitlines()
    line = blocked.stderr.split(":")[1]
    assert annotation.startswith(
        f"::error file={encrypted},line={line},title=check-secrets::Secret values are readable"
    )


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_check_manifests_passes_generated_repos(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str, size: str
) -> None:
    done = run_script(repo_factory(engine, size).repo_dir, MANIFESTS, "--github")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    [summary] = done.stdout.splitlines()
    assert summary.endswith("Kubernetes 1.33 schemas): 0 problem(s)")
    checked = int(re.search(r"(\d+) schema-checked", summary)[1])  # type: ignore[index]
    assert checked >= 20


def seed(path: Path, after: str, inserted: str) -> int:
    """Insert a line after the first line equal to ``after``; its line number."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.rstrip("\n") == after)
    lines.insert(index + 1, inserted + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return index + 2


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_check_manifests_annotates_seeded_defects_on_their_lines(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo = copy_repo(repo_factory(engine, "default"), tmp_path)
    quota = next(
        p
        for p in sorted((repo / "tenants").rglob("*.yaml"))
        if re.search(r"^kind: ResourceQuota$", p.read_text(), re.M)
    )
    schema_line = seed(quota, "kind: ResourceQuota", "replicas: 3")
    (repo / "broken").mkdir()
    (repo / "broken" / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    (repo / "broken" / "bad.yaml").write_text("a: 1\nb: c: d\n")
    git(repo, "add", "-A")

    done = run_script(repo, MANIFESTS, "--github")
    assert done.returncode == 1
    relative = quota.relative_to(repo).as_posix()
    annotations = sorted(done.stdout.splitlines()[:-1])
    assert annotations[0].startswith(
        "::error file=broken/bad.yaml,line=2,title=check-manifests::YAML syntax error: mapping "
        "values are not allowed"
    )
    assert annotations[1].startswith(
        "::error file=broken/kustomization.yaml,line=1,title=check-manifests::"
        "kustomize build failed:"
    )
    assert "missing.yaml" in annotations[1] and str(tmp_path) not in annotations[1]
    assert annotations[2] == (
        f"::error file={relative},line={schema_line},title=check-manifests::ResourceQuota "
        f"team-a-quota: (the object): Additional properties are not allowed ('replicas' was "
        "unexpected)"
    )
    assert len(annotations) == 3
    assert done.stdout.splitlines()[-1].endswith(": 3 problem(s)")
    assert len(done.stderr.splitlines()) == 3


def test_check_manifests_refuses_a_kind_kubernetes_does_not_have(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = copy_repo(repo_factory("argocd", "default"), tmp_path)
    namespace = next(
        p
        for p in sorted((repo / "tenants").rglob("*.yaml"))
        if "\nkind: Namespace\n" in p.read_text()
    )
    namespace.write_text(namespace.read_text().replace("\nkind: Namespace\n", "\nkind: Namespac\n"))
    done = run_script(repo, MANIFESTS)
    assert done.returncode == 1
    relative = namespace.relative_to(repo).as_posix()
    assert done.stderr == (
        f"{relative}:{line_of(namespace, 'kind: Namespac')}: Namespac team-a: Kubernetes 1.33 "
        "has no kind Namespac in v1 (a typo, or an API version that was removed?)\n"
    )


def ci_source(repo: Path, tmp_path: Path) -> tuple[Any, str]:
    outputs = tmp_path / "github-output"
    outputs.write_text("")
    env = {**os.environ, "GITHUB_OUTPUT": str(outputs)}
    return run_script(repo, CI_SCRIPT, "source", env=env), outputs.read_text()


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_ci_installs_gitops_scaffold_only_from_the_source_platform_yaml_records(
    engine: str, tmp_path: Path
) -> None:
    answers = {**DEFAULT_ANSWERS, "ci": {"gitops_scaffold_source": SOURCE}}
    repo = make_repo(tmp_path, answers, engine).repo_dir
    assert f"ci:\n  gitops_scaffold_source: {SOURCE}\n" in (repo / "platform.yaml").read_text()
    done, outputs = ci_source(repo, tmp_path)
    assert done.returncode == 0 and done.stdout == ""
    assert outputs == f"requirement=gitops-scaffold @ {SOURCE}\n"

    # Edited by hand to something that is not a commit: an annotation, nothing to install.
    platform = repo / "platform.yaml"
    platform.write_text(platform.read_text().replace(f"@{COMMIT}", "@main"))
    done, outputs = ci_source(repo, tmp_path)
    assert done.returncode == 1 and outputs == ""
    line = line_of(platform, f"  gitops_scaffold_source: {SOURCE.replace(COMMIT, 'main')}")
    assert done.stdout.startswith(
        f"::error file=platform.yaml,line={line},title=gitops-scaffold source::"
    )


def test_without_a_recorded_source_the_gitops_scaffold_job_installs_nothing(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    repo = repo_factory("flux", "default").repo_dir
    assert "ci:" not in (repo / "platform.yaml").read_text()  # this checkout: no git source
    done, outputs = ci_source(repo, tmp_path)
    assert (done.returncode, done.stdout, outputs) == (0, "", "requirement=\n")


@pytest.mark.parametrize(
    "value",
    [
        SOURCE,
        f"git+https://git.example.com:8443/platform/tools/gitops-scaffold@{COMMIT}",
        f'"{SOURCE}"',
        f"git+https://github.com/acme/gitops-scaffold.git@{COMMIT.upper()}",
        "git+https://github.com/acme/gitops-scaffold.git@v0.1.0",
        f"git+https://github.com/acme/gitops-scaffold.git@{COMMIT[:12]}",
        f"git+http://github.com/acme/gitops-scaffold.git@{COMMIT}",
        f"git+ssh://git@github.com/acme/gitops-scaffold.git@{COMMIT}",
        f"git+https://token@github.com/acme/gitops-scaffold.git@{COMMIT}",
        f"https://github.com/acme/gitops-scaffold.git@{COMMIT}",
        f"gitops-scaffold @ {SOURCE}",
        f"{SOURCE} --index-url https://evil.example.com/simple",
        f"{SOURCE}#egg=gitops-scaffold",
        "gitops-scaffold==0.1.0",
    ],
)
def test_the_ci_script_accepts_exactly_the_sources_the_model_accepts(
    value: str, tmp_path: Path
) -> None:
    unquoted = value.strip('"')
    try:
        load_answers({"ci": {"gitops_scaffold_source": unquoted}})
        accepted = True
    except AnswersError:
        accepted = False
    (tmp_path / "platform.yaml").write_text(
        f"repo_name: x\nsso:\n  admin_group: a\nci:\n  gitops_scaffold_source: {value}\n"
    )
    (tmp_path / "scripts").mkdir()
    shutil.copy(SKELETON / CI_SCRIPT, tmp_path / CI_SCRIPT)
    done, outputs = ci_source(tmp_path, tmp_path)
    assert done.returncode == (0 if accepted else 1)
    assert outputs == (f"requirement=gitops-scaffold @ {unquoted}\n" if accepted else "")
    assert accepted == (value in (SOURCE, f'"{SOURCE}"') or ":8443/" in value)


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_gitops_scaffold_findings_become_annotations(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    """The real `gitops-scaffold validate --format json`, read by the CI script."""
    generated = repo_factory(engine, "default")
    repo = copy_repo(generated, tmp_path)
    report = tmp_path / "validate.json"

    def validate() -> Any:
        done = run_cli(
            ["validate", ".", "--format", "json", "--only", "secrets"],
            cwd=repo,
            home=tmp_path / "home",
        )
        report.write_text(done.stdout)
        return run_script(repo, CI_SCRIPT, "annotate", str(report))

    clean = validate()
    assert (clean.returncode, clean.stdout) == (0, "")
    encrypted = find_sops_files(repo)[0]
    (repo / encrypted).write_text(decrypt_file(repo / encrypted, generated.keys["admin"].path))
    found = validate()
    assert found.returncode == 1
    [finding] = json.loads(report.read_text())["findings"]
    assert found.stdout.splitlines() == [
        f"::error file={encrypted},line={finding['line']},title=gitops-scaffold validate%3A "
        f"secrets/plaintext-secret::{finding['message']}"
    ]

    report.write_text("not json")
    broken = run_script(repo, CI_SCRIPT, "annotate", str(report))
    assert broken.returncode == 1 and broken.stdout.startswith("::error ::")


# --------------------------------------------------------------------------- the answers field


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("git+https://github.com/acme/gitops-scaffold.git@main", "full 40-character"),
        (f"git+https://user:tok@github.com/a/b.git@{COMMIT}", "no credentials"),
        (f"git+https://github.com/a/../b.git@{COMMIT}", "'..' path segments"),
        ("gitops-scaffold==0.1.0", "git+https://HOST/PATH@COMMIT"),
        ("$(id)", "shell command substitution"),
    ],
)
def test_a_source_that_is_not_a_pinned_https_git_url_is_refused(value: str, problem: str) -> None:
    with pytest.raises(AnswersError, match=re.escape(problem)) as caught:
        load_answers({"ci": {"gitops_scaffold_source": value}})
    assert str(caught.value).startswith("ci.gitops_scaffold_source: ")
    assert "tok" not in str(caught.value)


def test_the_source_round_trips_through_platform_yaml(tmp_path: Path) -> None:
    for ci in ({"gitops_scaffold_source": SOURCE}, {"gitops_scaffold_source": ""}, None):
        answers = {**DEFAULT_ANSWERS, **({"ci": ci} if ci is not None else {})}
        platform = load_answers(answers)
        assert platform.ci.gitops_scaffold_source == (ci or {}).get("gitops_scaffold_source", "")
        assert load_answers(dump_answers(platform)) == platform
        (tmp_path / "platform.yaml").write_text(answers_yaml(platform))
        assert read_answers_file(tmp_path / "platform.yaml") == platform
        # written only when it says something (this checkout records no source of its own)
        assert ("ci" in dump_answers(platform)) == bool(platform.ci.gitops_scaffold_source)
    with pytest.raises(AnswersError, match=r"ci\.gitops_scaffld: .* is not a known field"):
        load_answers({"ci": {"gitops_scaffld": SOURCE}})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"url": "https://github.com/acme/gitops-scaffold.git",
          "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "v0.1.0"}},
         SOURCE),
        ({"url": "https://github.com/acme/gitops-scaffold.git", "subdirectory": "tool",
          "vcs_info": {"vcs": "git", "commit_id": COMMIT}}, ""),
        ({"url": "https://hg.example.com/x", "vcs_info": {"vcs": "hg", "commit_id": COMMIT}}, ""),
        ({"url": "https://github.com/acme/gitops-scaffold.git", "vcs_info": {"vcs": "git"}}, ""),
        ({"url": "file:///work/gitops-scaffold", "dir_info": {"editable": True}}, ""),
        ({"url": "https://example.com/gitops_scaffold-0.1.0.tar.gz",
          "archive_info": {"hashes": {"sha256": "0" * 64}}}, ""),
    ],
)  # fmt: skip
def test_a_git_installation_record_gives_its_url_at_its_commit(
    record: dict[str, Any], expected: str
) -> None:
    assert vcs_requirement(record) == expected


def installed_from(tmp_path: Path, record: dict[str, Any]) -> Path:
    """A real installation record of gitops-scaffold (PEP 376 + PEP 610), first on the path."""
    dist_info = tmp_path / "site" / f"gitops_scaffold-{__version__}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: gitops-scaffold\nVersion: {__version__}\n"
    )
    (dist_info / "direct_url.json").write_text(json.dumps(record))
    return dist_info.parent


@pytest.mark.parametrize(
    ("url", "recorded"),
    [
        ("https://github.com/acme/gitops-scaffold.git", SOURCE),
        ("ssh://git@github.com/acme/gitops-scaffold.git", ""),  # CI has no key: not used
    ],
)
def test_new_records_the_git_commit_it_was_installed_from(
    tmp_path: Path, url: str, recorded: str
) -> None:
    site = installed_from(tmp_path, {"url": url, "vcs_info": {"vcs": "git", "commit_id": COMMIT}})
    env = cli_env(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join([str(CHECKOUT), str(site)])
    done = run_cli(
        ["new", "--no-input", "--output-dir", tmp_path / "out"],
        cwd=tmp_path,
        home=tmp_path / "home",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    repo = tmp_path / "out" / "acme-platform"
    platform_yaml = (repo / "platform.yaml").read_text()
    if recorded:
        assert platform_yaml.endswith(f"ci:\n  gitops_scaffold_source: {recorded}\n")
    else:
        assert "ci:" not in platform_yaml
    _, outputs = ci_source(repo, tmp_path)
    assert outputs == f"requirement={'gitops-scaffold @ ' + recorded if recorded else ''}\n"


def test_the_hook_gives_validates_advice_and_the_advice_works(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    """F6: the same advice as validate; where it says `sops encrypt --in-place`, that works."""
    from scaffolder.commands.validate import validate

    generated = repo_factory("flux", "default")
    repo = tmp_path / "repo"
    shutil.copytree(generated.repo_dir, repo)
    encrypted = find_sops_files(repo)[0]
    (repo / encrypted).write_text(decrypt_file(repo / encrypted, generated.keys["admin"].path))
    stray = "tenants/team-a/platform/db-secret.yaml"
    (repo / stray).write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {a: YQ==}\n"
    )
    blocked = run_hook(repo, encrypted, stray)
    assert blocked.returncode == 1
    hook = {line.split(":", 1)[0]: line.split("; ", 1)[1] for line in blocked.stderr.splitlines()}
    findings = {
        f.file: f.message.split("; ", 1)[1]
        for f in validate(repo, only=["secrets"]).findings
        if f.check == "secrets/plaintext-secret"
    }
    assert hook == findings
    assert "no .sops.yaml creation rule covers this file" in hook[stray]
    command = hook[encrypted].split("`")[1]
    assert command == f"sops encrypt --in-place {encrypted}"
    done = subprocess.run(
        command.split(), cwd=repo, capture_output=True, text=True, check=False,
        env={**os.environ, "SOPS_AGE_KEY_FILE": "/nonexistent"},  # encrypting needs no key
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert run_hook(repo, encrypted).returncode == 0


def test_the_hook_checks_the_whole_repo_from_any_folder(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    generated = repo_factory("flux", "default")
    repo = tmp_path / "repo"
    shutil.copytree(generated.repo_dir, repo)
    stray = "tenants/team-a/platform/db-secret.yaml"
    (repo / stray).write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {a: YQ==}\n"
    )
    git(repo, "add", stray)
    inside = subprocess.run(
        [sys.executable, "../scripts/check-secrets"], cwd=repo / "clusters",
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert inside.returncode == 1
    assert inside.stderr.startswith(f"{stray}:4: ")
    # a file named from a subfolder is shown from the repo's root
    named = subprocess.run(
        [sys.executable, "../../../scripts/check-secrets", "db-secret.yaml"],
        cwd=repo / "tenants/team-a/platform", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert named.returncode == 1 and named.stderr.startswith(f"{stray}:4: ")


def test_the_hook_outside_a_git_work_tree_is_one_line(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    generated = repo_factory("argocd", "default")
    copy = tmp_path / "no-git"
    shutil.copytree(generated.repo_dir, copy, ignore=shutil.ignore_patterns(".git"))
    done = subprocess.run(
        [sys.executable, str(copy / HOOK)], cwd=tmp_path, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"check-secrets: {copy} is not a git work tree: pass the files to check"
    ]
