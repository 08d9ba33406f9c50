"""The answers model: every rule, enforced through the real CLI with one readable line."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder import cli
from scaffolder.context import guardrails_project
from scaffolder.engines import argocd
from scaffolder.errors import AnswersError
from scaffolder.generate import GeneratedRepo
from scaffolder.model import (
    DEFAULT_ANSWERS,
    MAX_CLUSTER_NAME,
    MAX_TENANT_NAME,
    PLATFORM_FILE,
    RESERVED_NAMESPACES,
    RESERVED_PROJECTS,
    answers_yaml,
    check_branch,
    check_tenant_name,
    default_platform,
    dump_answers,
    load_answers,
    read_answers_file,
)
from tests.cli_helpers import one_error_line, run_cli
from tests.conftest import BIG_ANSWERS

Answers = dict[str, Any]


def answers(change: Callable[[Answers], object]) -> Answers:
    """The default answers, spelt out in full, with one change applied."""
    data = copy.deepcopy(dump_answers(default_platform()))
    change(data)
    return data


def spoke(name: str, env: str = "dev") -> dict[str, str]:
    return {"name": name, "role": "spoke", "env": env}


def set_path(path: str, value: object) -> Callable[[Answers], None]:
    """A change that sets one field, e.g. set_path("clusters.1.name", "x")."""

    def change(data: Answers) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


LONG_CLUSTER = "c" * (MAX_CLUSTER_NAME + 1)
LONG_TENANT = "t" * (MAX_TENANT_NAME + 1)

# id -> (change to the defaults, field named in the error, value shown in the error)
BROKEN_RULES: dict[str, tuple[Callable[[Answers], object], str, str]] = {
    "two hubs": (
        lambda d: d["clusters"].append({"name": "hub-2", "role": "hub", "env": "mgmt"}),
        "clusters",
        "['hub', 'hub-2']",
    ),
    "no hub": (set_path("clusters.0.role", "spoke"), "clusters", "[]"),
    "no spoke": (lambda d: d["clusters"].__delitem__(slice(1, None)), "clusters", "['hub']"),
    "cluster role unknown": (set_path("clusters.1.role", "edge"), "clusters[1].role", "'edge'"),
    "cluster name not a DNS label": (
        set_path("clusters.1.name", "Dev_EU"),
        "clusters[1].name",
        "'Dev_EU'",
    ),
    "cluster name starts with a dash": (
        set_path("clusters.1.name", "-dev"),
        "clusters[1].name",
        "'-dev'",
    ),
    "cluster name over its cap": (
        set_path("clusters.1.name", LONG_CLUSTER),
        "clusters[1].name",
        repr(LONG_CLUSTER),
    ),
    "tenant name over its cap": (
        set_path("tenants.0.name", LONG_TENANT),
        "tenants[0].name",
        repr(LONG_TENANT),
    ),
    "env over 63 characters": (
        set_path("clusters.1.env", "e" * 64),
        "clusters[1].env",
        repr("e" * 64),
    ),
    "region not a DNS label": (
        set_path("clusters.1.region", "EU West"),
        "clusters[1].region",
        "'EU West'",
    ),
    "cluster name used twice": (
        lambda d: d["clusters"].append(spoke("dev-eu-1")),
        "clusters[3].name",
        "'dev-eu-1'",
    ),
    "tenant named like a cluster": (
        set_path("tenants.0.name", "prod-eu-1"),
        "tenants[0].name",
        "'prod-eu-1'",
    ),
    "tenant name used twice": (set_path("tenants.1.name", "team-a"), "tenants[1].name", "'team-a'"),
    "tenant on an unknown cluster": (
        set_path("tenants.0.clusters", ["dev-eu-1", "qa-eu-1"]),
        "tenants[0].clusters[1]",
        "'qa-eu-1'",
    ),
    "tenant on the hub": (
        set_path("tenants.0.clusters", ["hub"]),
        "tenants[0].clusters[0]",
        "'hub'",
    ),
    "tenant placed on another tenant": (
        set_path("tenants.0.clusters", ["team-b"]),
        "tenants[0].clusters[0]",
        "'team-b'",
    ),
    "tenant on no spoke": (set_path("tenants.0.clusters", []), "tenants[0].clusters", "[]"),
    "tenant on a spoke twice": (
        set_path("tenants.0.clusters", ["dev-eu-1", "dev-eu-1"]),
        "tenants[0].clusters[1]",
        "'dev-eu-1'",
    ),
    "tenant kube-system": (
        set_path("tenants.0.name", "kube-system"),
        "tenants[0].name",
        "'kube-system'",
    ),
    "tenant default": (set_path("tenants.0.name", "default"), "tenants[0].name", "'default'"),
    "tenant flux-system": (
        set_path("tenants.1.name", "flux-system"),
        "tenants[1].name",
        "'flux-system'",
    ),
    "tenant argocd": (set_path("tenants.1.name", "argocd"), "tenants[1].name", "'argocd'"),
    "tenant kube- prefix": (
        set_path("tenants.1.name", "kube-team"),
        "tenants[1].name",
        "'kube-team'",
    ),
    "cluster kube-public": (
        set_path("clusters.1.name", "kube-public"),
        "clusters[1].name",
        "'kube-public'",
    ),
    "hub kube-node-lease": (
        set_path("clusters.0.name", "kube-node-lease"),
        "clusters[0].name",
        "'kube-node-lease'",
    ),
    "tenant named like an Argo CD platform project": (
        set_path("tenants.0.name", "platform"),
        "tenants[0].name",
        "'platform'",
    ),
    "git_url plain http": (
        set_path("git_url", "http://github.com/acme/p.git"),
        "git_url",
        "'http://github.com/acme/p.git'",
    ),
    "git_url https user and token": (
        set_path("git_url", "https://bot:s3cr3t-t0ken@github.com/acme/p.git"),
        "git_url",
        "'https://***@github.com/acme/p.git'",
    ),
    "git_url https token only": (
        set_path("git_url", "https://ghp_s3cr3t@github.com/acme/p.git"),
        "git_url",
        "'https://***@github.com/acme/p.git'",
    ),
    "git_url ssh with password": (
        set_path("git_url", "ssh://git:s3cr3t@git.example.com/acme/p.git"),
        "git_url",
        "'ssh://***@git.example.com/acme/p.git'",
    ),
    "git_url token in the query": (
        set_path("git_url", "https://github.com/acme/p.git?private_token=s3cr3t"),
        "git_url",
        "'https://github.com/acme/p.git?***'",
    ),
    "git_url not a URL": (
        set_path("git_url", "github.com/acme/p.git"),
        "git_url",
        "'github.com/acme/p.git'",
    ),
    "git_url file scheme": (
        set_path("git_url", "file:///srv/git/p.git"),
        "git_url",
        "'file:///srv/git/p.git'",
    ),
    "tenant repo_url with credentials": (
        set_path("tenants.0", {"name": "team-a", "repo_url": "https://u:p@git.example.com/a.git"}),
        "tenants[0].repo_url",
        "'https://***@git.example.com/a.git'",
    ),
    "repo_name with a slash": (
        set_path("repo_name", "acme/platform"),
        "repo_name",
        "'acme/platform'",
    ),
    "repo_name dot-dot": (set_path("repo_name", ".."), "repo_name", "'..'"),
    "repo_name with dot-dot inside": (set_path("repo_name", "a..b"), "repo_name", "'a..b'"),
    "repo_name hidden": (set_path("repo_name", ".platform"), "repo_name", "'.platform'"),
    "git_branch with dot-dot": (set_path("git_branch", "a..b"), "git_branch", "'a..b'"),
    "git_branch with a dot component": (
        set_path("git_branch", "feature/.x"),
        "git_branch",
        "'feature/.x'",
    ),
    "engine unknown": (set_path("engine", "jenkins-x"), "engine", "'jenkins-x'"),
    "unknown field": (set_path("tennants", ["team-c"]), "tennants", "['team-c']"),
    "section not a mapping": (set_path("secrets", False), "secrets", "False"),
    "flag not a boolean": (
        set_path("image_automation.enabled", "yes"),
        "image_automation.enabled",
        "'yes'",
    ),
    "notification provider unknown": (
        set_path("notifications.provider", "email"),
        "notifications.provider",
        "'email'",
    ),
    "notification channel missing": (
        set_path("notifications.channel", ""),
        "notifications.channel",
        "''",
    ),
    "sso group with a comma": (
        set_path("sso.admin_group", "admins, role:admin"),
        "sso.admin_group",
        "'admins, role:admin'",
    ),
    "manual sync env unknown": (
        set_path("sync.manual_envs", ["qa"]),
        "sync.manual_envs[0]",
        "'qa'",
    ),
    "sync window schedule": (
        set_path("sync.windows", [{"schedule": "every night", "envs": ["prod"]}]),
        "sync.windows[0].schedule",
        "'every night'",
    ),
    "quota not a quantity": (
        set_path("tenants.0", {"name": "team-a", "quota": {"memory": "lots"}}),
        "tenants[0].quota.memory",
        "'lots'",
    ),
    "tenant path escapes": (
        set_path("tenants.0", {"name": "team-a", "path": "../other"}),
        "tenants[0].path",
        "'../other'",
    ),
    "clusters not a list": (set_path("clusters", "hub"), "clusters", "'hub'"),
}


@pytest.mark.parametrize("rule", BROKEN_RULES)
def test_each_broken_rule_is_one_line_exit_2_and_nothing_written(
    rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, field, shown = BROKEN_RULES[rule]
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(answers(change)), encoding="utf-8")
    out, keys = tmp_path / "out", tmp_path / "keys"

    code = cli.main(
        ["new", "--config", str(config), "--output-dir", str(out), "--keys-dir", str(keys)]
    )

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    line = one_error_line(captured.err)
    assert line.startswith(f"error: {field}: {shown} "), line
    assert "s3cr3t" not in line  # credentials are masked
    assert not out.exists()
    assert not keys.exists()


def test_reserved_names_cover_kubernetes_and_the_platform() -> None:
    assert {"kube-system", "kube-public", "kube-node-lease", "default"} <= RESERVED_NAMESPACES
    assert {"flux-system", "argocd"} <= RESERVED_NAMESPACES
    # Tenant names become AppProjects next to the ones the platform itself defines.
    platform_projects = {
        argocd.PLATFORM_PROJECT, argocd.ADDONS_PROJECT, argocd.SHARED_GUARDRAILS_PROJECT
    }  # fmt: skip
    assert platform_projects <= RESERVED_PROJECTS
    # A tenant's guardrails project has a dot, which no tenant name (a DNS label) has.
    for tenant in DEFAULT_ANSWERS["tenants"]:
        project = guardrails_project(tenant["name"])
        assert "." in project and project not in RESERVED_PROJECTS
        with pytest.raises(AnswersError):
            check_tenant_name("tenants[0].name", project)


@pytest.mark.parametrize(
    ("where", "value", "words"),
    [
        ("clusters.1.name", LONG_CLUSTER, f"longer than {MAX_CLUSTER_NAME} characters"),
        ("tenants.0.name", LONG_TENANT, f"longer than {MAX_TENANT_NAME} characters"),
    ],
)
def test_capped_names_say_why_they_are_capped(where: str, value: str, words: str) -> None:
    with pytest.raises(AnswersError) as caught:
        load_answers(answers(set_path(where, value)))
    assert words in str(caught.value)
    assert "63-character DNS label limit" in str(caught.value)


def test_names_up_to_their_caps_are_accepted() -> None:
    platform = load_answers(
        answers(
            lambda d: (
                set_path("clusters.1.name", "c" * MAX_CLUSTER_NAME)(d),
                set_path("tenants.0.name", "t" * MAX_TENANT_NAME)(d),
                set_path("clusters.1.env", "e" * 63)(d),
            )
        )
    )
    assert platform.spokes[0].name == "c" * MAX_CLUSTER_NAME


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/platform.git",
        "https://git.example.com:8443/group/sub/platform",
        "git@github.com:acme/platform.git",
        "ssh://git@git.example.com:2222/acme/platform.git",
        "ssh://git.example.com/acme/platform.git",
    ],
)
def test_accepted_git_urls(url: str) -> None:
    assert load_answers({"git_url": url}).git_url == url


BRANCHES = [
    "main", "trunk", "release/1.0", "feature/x_y", "a.b", "a/-b", "x/HEAD",
    "a..b", "a/.b", ".a", "a.lock", "a.lock/b", "a/b.lock", "a/", "/a", "a//b", "a.",
    "HEAD", "-x", "a@{b", "a b", "a~1", "a^", "a:b", "a?b", "a*b", "a[b", "a\\b",
    # Braces: git allows them (single braces are data); the model refuses {{ {% {# and @{.
    "release/{v2}", "{", "}", "a{b", "a}b", "a/{b}/c", "{v2}.lock", "a{{b", "a{%b", "a{#b",
    "a}}b", "@", "a@b", "@{-1}", "a/@{u}", "x@{", "a{.b", "a/{.b}",
]  # fmt: skip
# Branches every tool should take, so the model must too.
MUST_ACCEPT = {"main", "trunk", "release/1.0", "feature/x_y", "a.b", "release/{v2}", "a@b"}


@pytest.mark.parametrize("branch", BRANCHES)
def test_branch_names_accepted_only_when_git_accepts_them(branch: str) -> None:
    git_accepts = (
        subprocess.run(
            ["git", "check-ref-format", "--branch", branch], capture_output=True, check=False
        ).returncode
        == 0
    )
    try:
        check_branch("git_branch", branch)
        model_accepts = True
    except AnswersError:
        model_accepts = False
    assert not model_accepts or git_accepts, f"{branch!r} accepted but git refuses it"
    if branch in MUST_ACCEPT:
        assert model_accepts, f"{branch!r} refused but git accepts it"


def test_tenants_may_be_written_as_plain_names_and_default_to_every_spoke() -> None:
    platform = load_answers({"tenants": ["web"]})
    assert platform.tenants[0].clusters is None
    assert platform.placement(platform.tenants[0]) == ("dev-eu-1", "prod-eu-1")


def test_no_input_defaults_are_flux_one_hub_two_spokes_two_tenants() -> None:
    platform = default_platform()
    assert platform.engine == "flux"
    assert platform.hub.name == "hub"
    assert [(c.name, c.env) for c in platform.spokes] == [
        ("dev-eu-1", "dev"),
        ("prod-eu-1", "prod"),
    ]
    assert [t.name for t in platform.tenants] == ["team-a", "team-b"]
    assert all(t.clusters is None for t in platform.tenants)


@pytest.mark.parametrize("data", [DEFAULT_ANSWERS, BIG_ANSWERS], ids=["default", "big"])
def test_answers_round_trip(data: Answers) -> None:
    platform = load_answers(data)
    assert load_answers(dump_answers(platform)) == platform
    assert load_answers(yaml.safe_load(answers_yaml(platform))) == platform


def test_a_missing_or_broken_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("repo_name: acme\ngit_branch: main\n  bad: indent\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    for config, words in ((missing, "does not exist"), (broken, "line 3 is not valid YAML")):
        code = cli.main(["new", "--config", str(config), "--output-dir", str(tmp_path / "out")])
        line = one_error_line(capsys.readouterr().err)
        assert code == 2
        assert str(config) in line and words in line
    assert not (tmp_path / "out").exists()


def test_the_real_cli_reports_a_broken_rule_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    bad = {"git_url": "https://bot:s3cr3t@github.com/acme/p.git"}
    config.write_text(yaml.safe_dump(bad), encoding="utf-8")
    out, keys = tmp_path / "out", tmp_path / "keys"

    done = run_cli(
        ["new", "--config", config, "--output-dir", out, "--keys-dir", keys],
        cwd=tmp_path / "cwd",
        home=tmp_path / "home",
    )

    assert done.returncode == 2
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    assert line.startswith("error: git_url: 'https://***@github.com/acme/p.git' must not embed")
    assert "s3cr3t" not in done.stderr
    assert not out.exists() and not keys.exists()


def test_platform_yaml_fed_back_through_config_gives_the_same_platform_yaml(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    original = repo_factory("argocd", "big").repo_dir / PLATFORM_FILE
    out = tmp_path / "out"

    code = cli.main(
        [
            "new",
            "--config",
            str(original),
            "--output-dir",
            str(out),
            "--keys-dir",
            str(tmp_path / "k"),
        ]
    )

    assert code == 0
    regenerated = out / "big-platform" / PLATFORM_FILE
    assert regenerated.read_text(encoding="utf-8") == original.read_text(encoding="utf-8")


@pytest.mark.parametrize("data", [DEFAULT_ANSWERS, BIG_ANSWERS], ids=["default", "big"])
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_platform_yaml_reads_back_to_the_same_text(
    data: Answers, engine: str, tmp_path: Path
) -> None:
    text = answers_yaml(load_answers({**data, "engine": engine}))
    path = tmp_path / PLATFORM_FILE
    path.write_text(text, encoding="utf-8")
    assert answers_yaml(read_answers_file(path)) == text
