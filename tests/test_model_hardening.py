"""Hostile answers: every answer is untrusted input (answers files travel in PRs and chat).

Each test names the finding of shared/reviews/review-adversarial.md it covers (C1, C2, M2, M6,
M7, L1-L6, R2): a payload is refused by the model, one short line naming the field and the
value, nothing written, and nothing of it ever runs.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaffolder import model
from scaffolder.errors import MAX_SHOWN, AnswersError, UsageError, shown
from scaffolder.model import (
    INFRASTRUCTURE_NAMESPACES,
    MAX_ANSWERS_FILE,
    Platform,
    answers_yaml,
    check_branch,
    check_git_url,
    check_schedule,
    check_text,
    default_platform,
    dump_answers,
    load_answers,
    parse_answers_text,
    read_answers_file,
)
from tests.cli_helpers import listing, one_error_line, run_cli
from tests.conftest import BIG_ANSWERS, CHECKOUT
from tests.test_model import Answers, answers, set_path

# What no accepted answer may contain (check_text).
FORBIDDEN = ("{{", "{%", "{#", "$(", "${", "`")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def refused(data: object) -> AnswersError:
    with pytest.raises(AnswersError) as caught:
        load_answers(data)
    return caught.value


def assert_one_short_line(message: str) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert len(message) < 400, message


def tenant(**fields: object) -> Callable[[Answers], None]:
    """A change that makes tenants[0] team-a with these fields."""
    return set_path("tenants.0", {"name": "team-a", **fields})


def window(**fields: object) -> Callable[[Answers], None]:
    return set_path("sync.windows", [{"schedule": "0 22 * * *", "envs": ["prod"], **fields}])


# --------------------------------------------------------------------------- payloads

SSTI = "{{cycler.__init__.__globals__.os.popen('id>pwned.txt').read()}}"

# id (review finding first) -> (change to the defaults, field named, words of the problem)
PAYLOADS: dict[str, tuple[Callable[[Answers], object], str, str]] = {
    # C2: git_url pasted into a double-quoted bash assignment.
    "C2 url-cmdsubst-ifs": (
        set_path("git_url", "https://github.com/acme/$(touch${IFS}PWNED).git"),
        "git_url",
        "shell command substitution ('$(')",
    ),
    "C2 url-backtick": (
        set_path("git_url", "https://github.com/acme/`touch PWNED`.git"),
        "git_url",
        "shell command substitution ('`')",
    ),
    "C2 url-semicolon": (
        set_path("git_url", 'https://github.com/acme/x.git";touch PWNED;"'),
        "git_url",
        "is not an https:// or SSH",
    ),
    "C2 url-scp-subst": (
        set_path("git_url", "git@github.com:acme/$(id>PWNED).git"),
        "git_url",
        "('$(')",
    ),
    "C2 url-parameter-expansion": (
        set_path("git_url", "https://github.com/acme/${HOME}.git"),
        "git_url",
        "shell parameter expansion ('${')",
    ),
    "C2 url-single-quote": (
        set_path("git_url", "https://github.com/acme/x'.git"),
        "git_url",
        "is not an https:// or SSH",
    ),
    "C2 url-space": (
        set_path("git_url", "https://github.com/acme/a b.git"),
        "git_url",
        "is not an https:// or SSH",
    ),
    "C2 url-ampersand": (
        set_path("git_url", "https://github.com/acme/a&b.git"),
        "git_url",
        "is not an https:// or SSH",
    ),
    "C2 url-percent": (
        set_path("git_url", "https://github.com/acme/a%20b.git"),
        "git_url",
        "is not an https:// or SSH",
    ),
    "C2 scp-option-injection": (
        set_path("git_url", "git@github.com:-oProxyCommand=touch.PWNED"),
        "git_url",
        "is not an https:// or SSH",
    ),
    "C2 host-leading-dash": (
        set_path("git_url", "ssh://-oProxyCommand=x/acme/p.git"),
        "git_url",
        "is not an https:// or SSH",
    ),
    "C2 user-leading-dash": (
        set_path("git_url", "ssh://-u@git.example.com/acme/p.git"),
        "git_url",
        "is not an https:// or SSH",
    ),
    "C2 url-dot-dot-segment": (
        set_path("git_url", "https://github.com/acme/../other/p.git"),
        "git_url",
        "must not have '.' or '..' path segments",
    ),
    "C2 url-empty-segment": (
        set_path("git_url", "https://github.com/acme//p.git"),
        "git_url",
        "is not an https:// or SSH",
    ),
    # C1: answers rendered as Jinja by cookiecutter.
    "C1 ssti-git-url": (
        set_path("git_url", f"https://github.com/acme/{SSTI}x.git"),
        "git_url",
        "template expression ('{{')",
    ),
    "C1 ssti-git-url-scp": (
        set_path("git_url", "git@github.com:acme/{{cycler}}.git"),
        "git_url",
        "template expression ('{{')",
    ),
    "C1 ssti-tenant-repo-url": (
        tenant(repo_url=f"https://github.com/acme/{SSTI}x.git"),
        "tenants[0].repo_url",
        "template expression ('{{')",
    ),
    "C1 ssti-tenant-path": (
        tenant(path="./{{ 7*7 }}"),
        "tenants[0].path",
        "template expression ('{{')",
    ),
    "C1 ssti-tenant-path-stmt": (
        tenant(path="./{% set x=1 %}deploy"),
        "tenants[0].path",
        "template statement ('{%')",
    ),
    "C1 template-comment-in-channel": (
        set_path("notifications.channel", "ops{# x #}"),
        "notifications.channel",
        "template comment ('{#')",
    ),
    "C1 template-in-branch": (
        set_path("git_branch", "release/{{v2}}"),
        "git_branch",
        "template expression ('{{')",
    ),
    "C1 template-in-shorthand-tenant": (
        set_path("tenants.1", "team-{{x}}"),
        "tenants[1].name",
        "template expression ('{{')",
    ),
    "C1 template-in-placement-item": (
        tenant(clusters=["dev-eu-1", "{{ 7*7 }}"]),
        "tenants[0].clusters[1]",
        "template expression ('{{')",
    ),
    "C1 template-in-manual-env": (
        set_path("sync.manual_envs", ["{%raw%}"]),
        "sync.manual_envs[0]",
        "template statement ('{%')",
    ),
    "C1 template-in-window-env": (
        window(envs=["prod", "${x}"]),
        "sync.windows[0].envs[1]",
        "shell parameter expansion ('${')",
    ),
    "C1 substitution-in-quota": (
        tenant(quota={"cpu": "$(id)"}),
        "tenants[0].quota.cpu",
        "('$(')",
    ),
    # Control characters, wherever they are.
    "M7 newline-in-repo-name": (set_path("repo_name", "a\nb"), "repo_name", "(U+000A)"),
    "M7 nul-in-cluster-name": (
        set_path("clusters.1.name", "dev\x00"),
        "clusters[1].name",
        "U+0000",
    ),
    "M7 del-in-region": (set_path("clusters.1.region", "eu\x7f"), "clusters[1].region", "U+007F"),
    "M7 next-line-in-group": (set_path("sso.admin_group", "a\x85b"), "sso.admin_group", "U+0085"),
    "M7 line-separator-in-env": (
        set_path("clusters.1.env", "d\u2028"),
        "clusters[1].env",
        "U+2028",
    ),
    "M7 paragraph-separator-in-time-zone": (
        window(time_zone="UTC\u2029"),
        "sync.windows[0].time_zone",
        "U+2029",
    ),
    "M7 tab-in-duration": (window(duration="8h\t"), "sync.windows[0].duration", "U+0009"),
    "M7 trailing-newline-in-group": (
        tenant(sso_group="team-a-admins\n"),
        "tenants[0].sso_group",
        "U+000A",
    ),
    # M7: tenant path lands in YAML.
    "M7 path-inject": (
        tenant(path="./x\nkind: ClusterRoleBinding"),
        "tenants[0].path",
        "control character (U+000A)",
    ),
    "M7 path-inject-doc": (
        tenant(path="./x\n---\nkind: ClusterRoleBinding"),
        "tenants[0].path",
        "control character",
    ),
    "M7 path-hash": (tenant(path="./x #c"), "tenants[0].path", "relative path starting with ./"),
    "M7 path-escapes": (tenant(path="./a/../../b"), "tenants[0].path", "no '.' or '..' folders"),
    "M7 path-dot-folder": (tenant(path="./a/./b"), "tenants[0].path", "no '.' or '..' folders"),
    "M7 path-empty-folder": (tenant(path="./a//b"), "tenants[0].path", "relative path"),
    "M7 path-absolute": (tenant(path="/etc"), "tenants[0].path", "relative path"),
    "M7 path-colon": (tenant(path="./a: b"), "tenants[0].path", "relative path"),
    "M7 path-too-long": (tenant(path="./" + "a" * 199), "tenants[0].path", "at most 200"),
    # L6: sync window schedules.
    "L6 sched-newline": (window(schedule="0\nfoo 22 * *"), "sync.windows[0].schedule", "U+000A"),
    "L6 minute-61": (window(schedule="61 * * * *"), "sync.windows[0].schedule", "'61' is not"),
    "L6 word": (window(schedule="0 22 * * foo"), "sync.windows[0].schedule", "'foo' is not"),
    "L6 four-fields": (window(schedule="0 22 * *"), "sync.windows[0].schedule", "5-field"),
    "L6 six-fields": (window(schedule="0 0 22 * * *"), "sync.windows[0].schedule", "5-field"),
    "L6 month-13": (window(schedule="0 22 * 13 *"), "sync.windows[0].schedule", "month '13'"),
    "L6 day-of-month-0": (window(schedule="0 22 0 * *"), "sync.windows[0].schedule", "'0'"),
    "L6 descending": (window(schedule="0 22-6 * * *"), "sync.windows[0].schedule", "ascend"),
    "L6 step-0": (window(schedule="*/0 * * * *"), "sync.windows[0].schedule", "step"),
    "L6 empty-list-item": (window(schedule="0,,5 * * * *"), "sync.windows[0].schedule", "''"),
    "L6 question-mark": (window(schedule="0 22 ? * *"), "sync.windows[0].schedule", "'?'"),
    "L6 no-break-space": (
        window(schedule="0\u00a022 * * *"),
        "sync.windows[0].schedule",
        "5-field",
    ),
    # Day of week 7 is Sunday to Vixie cron, but Argo CD's parser (robfig/cron) refuses it.
    "L6 weekday-7": (window(schedule="0 22 * * 7"), "sync.windows[0].schedule", "0-6 or SUN-SAT"),
    # R2: privileged groups and system namespaces.
    "R2 tenant-sso-system-authenticated": (
        tenant(sso_group="system:authenticated"),
        "tenants[0].sso_group",
        "is a Kubernetes system group",
    ),
    "R2 admin-group-system-masters": (
        set_path("sso.admin_group", "System:Masters"),
        "sso.admin_group",
        "is a Kubernetes system group",
    ),
    "R2 readonly-group-system": (
        set_path("sso.readonly_group", "SYSTEM:serviceaccounts"),
        "sso.readonly_group",
        "is a Kubernetes system group",
    ),
    "R2 tenant-istio-system": (
        set_path("tenants.0.name", "istio-system"),
        "tenants[0].name",
        "system or infrastructure namespace",
    ),
    "R2 tenant-gatekeeper-system": (
        set_path("tenants.1.name", "gatekeeper-system"),
        "tenants[1].name",
        "system or infrastructure namespace",
    ),
    "R2 tenant-ingress-nginx": (
        set_path("tenants.0.name", "ingress-nginx"),
        "tenants[0].name",
        "system or infrastructure namespace",
    ),
    "R2 tenant-openshift": (
        set_path("tenants.0.name", "openshift"),
        "tenants[0].name",
        "system or infrastructure namespace",
    ),
    "R2 cluster-openshift-ingress": (
        set_path("clusters.1.name", "openshift-ingress"),
        "clusters[1].name",
        "system or infrastructure namespace",
    ),
    "R2 cluster-velero": (
        set_path("clusters.2.name", "velero"),
        "clusters[2].name",
        "system or infrastructure namespace",
    ),
    # Branches: git's rules, in a safe subset.
    "C2 branch-at-brace": (set_path("git_branch", "a@{1}"), "git_branch", "valid Git branch"),
    "C2 branch-at": (set_path("git_branch", "@"), "git_branch", "valid Git branch"),
    "C2 branch-dollar": (set_path("git_branch", "a$b"), "git_branch", "valid Git branch"),
    "C2 branch-quote": (set_path("git_branch", 'a"b'), "git_branch", "valid Git branch"),
}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_is_refused_naming_the_field(payload: str) -> None:
    change, field, words = PAYLOADS[payload]
    error = refused(answers(change))
    assert error.field == field
    assert str(error).startswith(f"{field}: "), str(error)
    assert words in error.problem, str(error)
    assert_one_short_line(str(error))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("a\x00", "control character (U+0000)"),
        ("a\x1f", "control character (U+001F)"),
        ("a\x7f", "control character (U+007F)"),
        ("a\x85", "control character (U+0085)"),
        ("a\u2028", "control character (U+2028)"),
        ("a\u2029", "control character (U+2029)"),
        ("a{{b", "template expression ('{{')"),
        ("a{%b", "template statement ('{%')"),
        ("a{#b", "template comment ('{#')"),
        ("a$(b", "shell command substitution ('$(')"),
        ("a${b", "shell parameter expansion ('${')"),
        ("a`b", "shell command substitution ('`')"),
    ],
)
def test_c1_c2_check_text_names_what_it_refuses(value: str, words: str) -> None:
    with pytest.raises(AnswersError) as caught:
        check_text("field", value)
    assert caught.value.problem == f"must not contain a {words}"


def test_c1_single_braces_dollars_and_hashes_alone_are_data() -> None:
    for value in ("release/{v2}", "a}b", "{", "$5", "#ops alerts", "a%b"):
        assert check_text("field", value) == value


def test_c2_a_refused_url_never_shows_its_credentials_or_query() -> None:
    for url in ("https://bot:s3cr3t@github.com/a/{{x}}.git", "https://github.com/a.git?t=s3cr3t\n"):
        error = refused({"git_url": url})
        assert "s3cr3t" not in str(error), str(error)
    error = refused({"tenants": [{"name": "t", "repo_url": "https://u:s3cr3t@h.io/$(id)"}]})
    assert "s3cr3t" not in str(error) and error.field == "tenants[0].repo_url"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/platform.git",
        "https://git.example.com:8443/group/sub/platform",
        "https://10.0.0.1/acme/p.git",
        "https://github.com/acme/my_repo~1.git",
        "git@github.com:acme/platform.git",
        "git@github.com:platform.git",
        "git.bot@git-01.example.com:~acme/p",
        "ssh://git@git.example.com:2222/acme/platform.git",
        "ssh://git.example.com/acme/platform.git",
    ],
)
def test_c2_plain_git_urls_stay_accepted(url: str) -> None:
    assert check_git_url("git_url", url) == url
    assert load_answers({"git_url": url}).git_url == url


def test_c2_scp_url_keeps_its_named_groups() -> None:
    """context.git_url_form reads user, host and path from SCP_URL."""
    match = model.SCP_URL.match("git@github.com:acme/platform.git")
    assert match is not None
    assert (match["user"], match["host"], match["path"]) == (
        "git",
        "github.com",
        "acme/platform.git",
    )


@pytest.mark.parametrize("branch", ["release/{v2}", "a{b}c", "user@feature", "main", "v1.0"])
def test_c1_branches_with_single_braces_are_accepted_as_written(branch: str) -> None:
    assert check_branch("git_branch", branch) == branch
    assert load_answers({"git_branch": branch}).git_branch == branch


@pytest.mark.parametrize(
    "schedule",
    ["*/15 9-17 * * MON-FRI", "0 22 * * *", "0,30 0-6/2 1-15 jan-Jun sun", "5/15 * 31 12 6"],
)
def test_l6_cron_schedules_that_argo_cd_parses_are_accepted(schedule: str) -> None:
    assert check_schedule("schedule", schedule) == schedule


def test_r2_every_listed_infrastructure_namespace_is_refused_for_tenants_and_clusters() -> None:
    for name in sorted(INFRASTRUCTURE_NAMESPACES):
        assert refused(answers(set_path("tenants.0.name", name))).field == "tenants[0].name"
        assert refused(answers(set_path("clusters.1.name", name))).field == "clusters[1].name"


def test_r2_names_that_merely_resemble_system_ones_stay_allowed() -> None:
    platform = load_answers(
        answers(
            lambda d: (
                set_path("tenants.0.name", "systems")(d),
                set_path("tenants.1.name", "kube")(d),
                set_path("clusters.1.name", "my-openshift")(d),
                set_path("sso.admin_group", "systemadmins")(d),
            )
        )
    )
    assert [t.name for t in platform.tenants] == ["systems", "kube"]


# --------------------------------------------------------------------------- L3: short messages


def test_l3_a_10_mb_value_gives_a_short_one_line_message() -> None:
    error = refused({"repo_name": "a" * 10_000_000})
    assert_one_short_line(str(error))
    assert "…(10000000 characters)" in str(error)


def test_l3_a_10_mb_unknown_key_gives_a_short_one_line_message() -> None:
    error = refused({"k" * 10_000_000: "v", "x\ny": 1})
    assert_one_short_line(str(error))


def test_l3_an_unknown_key_with_a_line_break_stays_on_one_line() -> None:
    error = refused({"x\ny": 1})
    assert error.field == "'x\\ny'"
    assert_one_short_line(str(error))


def test_l3_m2_a_vast_or_cyclic_value_is_shown_without_computing_its_repr() -> None:
    wide: list[object] = ["lol"] * 9
    for _ in range(8):  # 9**9 strings when walked in full
        wide = [wide] * 9
    cyclic: list[object] = []
    cyclic.append(cyclic)
    for value in (wide, cyclic):
        error = refused({"repo_name": value})
        assert error.problem == "must be a string"
        assert_one_short_line(str(error))


def test_l3_shown_keeps_short_values_whole() -> None:
    assert shown("e" * 64) == repr("e" * 64)
    assert shown(["hub", "hub-2"]) == "['hub', 'hub-2']"
    assert shown(False) == "False"
    assert len(shown("x" * 1000)) <= MAX_SHOWN + len("…(1000 characters)")
    assert shown("\n" * 100).startswith("'\\n\\n")


# --------------------------------------------------------------------------- L5, M6: YAML typing


@pytest.fixture(params=["default", "pure-python"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both parsers behind parse_answers_text: libyaml's (when PyYAML has it) and PyYAML's own."""
    if request.param == "pure-python":
        monkeypatch.setattr(model, "_Loader", model._PythonLoader)
    return str(request.param)


def parse(text: str) -> object:
    return parse_answers_text(text, "--config: p.yaml")


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("010", "010"),
        ("0123", "0123"),
        ("0x1f", "0x1f"),
        ("0o17", "0o17"),
        ("1_000", "1_000"),
        ("1:30", "1:30"),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("n", "n"),
        ("1e3", "1e3"),
        ("1.50", "1.50"),
        ("-0", "-0"),
        (".inf", ".inf"),
        ("2024-01-01", "2024-01-01"),
        ("true", True),
        ("FALSE", False),
        ("tRuE", True),
        ("null", None),
        ("~", None),
        ("", None),
        ("0", 0),
        ("12", 12),
        ("-3", -3),
        ("0.5", 0.5),
        ("'010'", "010"),
        ('"true"', "true"),
    ],
)
def test_l5_plain_scalars_follow_the_yaml_1_2_core_schema(
    yaml_parser: str, written: str, read: object
) -> None:
    value = parse(f"v: {written}\n")
    assert isinstance(value, dict) and value == {"v": read}
    assert type(value["v"]) is type(read)


def test_l5_m6_names_that_yaml_1_1_would_retype_stay_as_written(tmp_path: Path) -> None:
    config = tmp_path / "p.yaml"
    config.write_text(
        "repo_name: 1.10\n"
        "git_branch: release/{v2}\n"
        "clusters:\n"
        "  - {name: hub, role: hub, env: mgmt}\n"
        "  - {name: dc010, role: spoke, env: dev, region: eu1}\n"
        "tenants:\n"
        "  - 123\n"
        "  - 010\n"
        "  - {name: 0x1f, path: ./deploy/base}\n"
        "notifications: {channel: '#ops alerts'}\n",
        encoding="utf-8",
    )
    platform = read_answers_file(config)
    assert platform.repo_name == "1.10"
    assert platform.git_branch == "release/{v2}"
    assert [t.name for t in platform.tenants] == ["123", "010", "0x1f"]
    assert platform.tenants[2].path == "./deploy/base"
    assert platform.notifications.channel == "#ops alerts"
    # ... and platform.yaml reads back to the same answers.
    config.write_text(answers_yaml(platform), encoding="utf-8")
    assert read_answers_file(config) == platform


@pytest.mark.parametrize(("field", "written"), [("name", "010"), ("env", "on"), ("region", "1e3")])
def test_l5_m6_a_cluster_value_yaml_would_retype_is_refused_as_written(
    tmp_path: Path, field: str, written: str
) -> None:
    """Kept as written by the loader (not 8, True or 1000.0), then refused: Flux substitutes
    cluster names, envs and regions into manifests, where no quoting survives."""
    spoke = {"name": "dc1", "role": "spoke", "env": "dev", field: "PLACEHOLDER"}
    text = yaml.safe_dump({"clusters": [{"name": "hub", "role": "hub"}, spoke]})
    config = tmp_path / "p.yaml"
    config.write_text(text.replace("PLACEHOLDER", written), encoding="utf-8")
    with pytest.raises(AnswersError) as caught:
        read_answers_file(config)
    assert (caught.value.field, caught.value.value) == (f"clusters[1].{field}", written)
    assert caught.value.problem.startswith("reads as a number, boolean or null in YAML")


@pytest.mark.parametrize("written", ["yes", "on", "y", "1", "'true'"])
def test_l5_a_flag_must_be_written_true_or_false(tmp_path: Path, written: str) -> None:
    config = tmp_path / "p.yaml"
    config.write_text(f"image_automation: {{enabled: {written}}}\n", encoding="utf-8")
    with pytest.raises(AnswersError) as caught:
        read_answers_file(config)
    assert caught.value.field == "image_automation.enabled"
    assert caught.value.problem == "must be true or false"


def test_l5_a_mixed_case_boolean_spelling_round_trips_as_a_string(tmp_path: Path) -> None:
    platform = load_answers({"repo_name": "tRuE", "git_branch": "False"})
    text = answers_yaml(platform)
    assert "repo_name: 'tRuE'" in text
    assert load_answers(parse(text)) == platform


@pytest.mark.parametrize("data", [{}, BIG_ANSWERS], ids=["default", "big"])
def test_platform_yaml_text_is_unchanged_for_valid_answers(data: Answers) -> None:
    """answers_yaml quotes more only where the YAML 1.2 reader would otherwise retype."""
    platform = load_answers(data)
    header = answers_yaml(default_platform()).split("repo_name:")[0]
    expected = header + yaml.safe_dump(dump_answers(platform), sort_keys=False, width=100)
    assert answers_yaml(platform) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "repo_name: a\ngit_branch: main\nrepo_name: b\n",
            "line 3: the key 'repo_name' appears twice",
        ),
        ("tenants:\n  - {name: a, name: b}\n", "line 2: the key 'name' appears twice"),
        ("repo_name: &r acme\ngit_url: *r\n", "line 1: anchors and aliases are not allowed"),
        ("base: &b {cpu: '1'}\n", "line 1: anchors and aliases are not allowed"),
        ("repo_name: !!python/object/apply:os.system [id]\n", "the tag '!!python/object/apply"),
        ("repo_name: !!binary YWNtZQ==\n", "line 1: the tag '!!binary' is not allowed"),
        ("repo_name: !local acme\n", "line 1: the tag '!local' is not allowed"),
        ("quota: {pods: !!int 050}\n", "line 1: '050' is not a decimal whole number"),
        ("? [a]\n: b\n", "line 1: a mapping key must be a scalar"),
        ("a: " + "[" * 30 + "]" * 30 + "\n", "nests deeper than 20 levels"),
        ("repo_name: acme\n  bad: indent\n", "line 2 is not valid YAML"),
        ("a: 1\n---\nb: 2\n", "is not valid YAML"),
        ("a: \x00\n", "is not valid YAML"),
    ],
)
def test_l5_m2_yaml_that_an_answers_file_may_not_use(
    yaml_parser: str, text: str, words: str
) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith("--config: p.yaml"), message
    assert words in message, message
    assert_one_short_line(message)


BILLION_LAUGHS = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def test_m2_a_billion_laughs_file_is_refused_at_its_first_anchor(
    yaml_parser: str, tmp_path: Path
) -> None:
    config = tmp_path / "bomb.yaml"
    config.write_text("repo_name: *i\n" + BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        read_answers_file(config)
    assert "anchors and aliases are not allowed in an answers file" in str(caught.value)


def test_parse_answers_text_is_the_reader_of_other_entry_points() -> None:
    assert parse("repo_name: acme\nclusters: []\n") == {"repo_name": "acme", "clusters": []}
    assert parse("") is None
    with pytest.raises(UsageError, match=r"^hook: answers is larger than 1 MiB"):
        parse_answers_text("#" * (MAX_ANSWERS_FILE + 1), "hook: answers")


# --------------------------------------------------------------------------- L1, L2, L4: the file


def config_error(path: Path) -> str:
    with pytest.raises(UsageError) as caught:
        read_answers_file(path)
    message = str(caught.value)
    assert message.startswith(f"--config: {path}") or message.startswith("--config: cannot read")
    assert str(path) in message
    assert_one_short_line(message)
    return message


def test_l1_a_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("repo_name: caf\u00e9\n".encode("latin-1"))
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_bytes("repo_name: acme\n".encode("utf-16"))
    assert "is not UTF-8 text (byte 15)" in config_error(latin1)
    assert "is not UTF-8 text" in config_error(utf16)


def test_l1_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    config = tmp_path / "bom.yaml"
    config.write_bytes("\ufeffrepo_name: acme\n".encode())
    assert read_answers_file(config).repo_name == "acme"


def test_l2_a_directory_is_one_line(tmp_path: Path) -> None:
    assert "is a directory" in config_error(tmp_path)


def test_l2_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "answers.fifo"
    os.mkfifo(fifo)
    assert "is not a regular file" in config_error(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_l2_a_device_is_never_read(device: str) -> None:
    assert "is not a regular file" in config_error(Path(device))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_l2_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "secret.yaml"
    config.write_text("repo_name: acme\n", encoding="utf-8")
    config.chmod(0)
    assert "Permission denied" in config_error(config)


def test_l4_a_config_over_1_mib_is_refused_and_up_to_1_mib_is_read(tmp_path: Path) -> None:
    answers_text = "repo_name: padded\n"
    padding = "#" * (MAX_ANSWERS_FILE - len(answers_text) - 1) + "\n"
    config = tmp_path / "p.yaml"
    config.write_text(answers_text + padding, encoding="utf-8")
    assert config.stat().st_size == MAX_ANSWERS_FILE
    assert read_answers_file(config).repo_name == "padded"
    config.write_text(answers_text + "#" + padding, encoding="utf-8")
    assert "is larger than 1 MiB" in config_error(config)


# --------------------------------------------------------------------------- the real CLI


def scaffold_refusing(tmp_path: Path, text: str) -> str:
    """`gitops-scaffold new --config` of this text: exit 2, one line, nothing written or run."""
    config = tmp_path / "p.yaml"
    config.write_text(text, encoding="utf-8")
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    done = run_cli(
        ["new", "--config", config, "--output-dir", out, "--keys-dir", tmp_path / "keys"],
        cwd=cwd,
        home=tmp_path / "home",
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    assert listing(out) == [] and listing(cwd) == [] and not (tmp_path / "keys").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.lower().startswith("pwned")]
    return line


CLI_PAYLOADS = {
    "C2 url-cmdsubst-ifs": ("git_url", "https://github.com/acme/$(touch${IFS}PWNED).git"),
    "C2 url-backtick": ("git_url", "https://github.com/acme/`touch PWNED`.git"),
    "C2 url-semicolon": ("git_url", 'https://github.com/acme/x.git";touch PWNED;"'),
    "C2 url-scp-subst": ("git_url", "git@github.com:acme/$(id>PWNED).git"),
    "C1 ssti-git-url": ("git_url", f"https://github.com/acme/{SSTI}x.git"),
    "C1 ssti-git-url-scp": ("git_url", "git@github.com:acme/{{cycler}}.git"),
}


@pytest.mark.parametrize("payload", CLI_PAYLOADS)
def test_c1_c2_payloads_through_the_real_cli(tmp_path: Path, payload: str) -> None:
    field, value = CLI_PAYLOADS[payload]
    text = yaml.safe_dump({"repo_name": "acme-platform", field: value})
    assert scaffold_refusing(tmp_path, text).startswith(f"error: {field}: ")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("./{{ cycler.__init__.__globals__.os.popen('id > PWNED').read() }}deploy", "path"),
        ("./{% set x = cycler.__init__.__globals__.os.system('touch PWNED') %}deploy", "path"),
    ],
    ids=["C1 ssti-tenant-path", "C1 ssti-tenant-path-stmt"],
)
def test_c1_tenant_path_templates_through_the_real_cli(
    tmp_path: Path, path: str, field: str
) -> None:
    text = yaml.safe_dump({"tenants": [{"name": "team-a", field: path}]})
    assert scaffold_refusing(tmp_path, text).startswith(f"error: tenants[0].{field}: ")


def test_l2_a_device_through_the_real_cli(tmp_path: Path) -> None:
    done = run_cli(
        ["new", "--config", "/dev/zero", "--output-dir", tmp_path / "out"],
        cwd=tmp_path / "cwd",
        home=tmp_path / "home",
        timeout=30,
    )
    assert done.returncode == 2
    assert "is not a regular file" in one_error_line(done.stderr)


def test_l1_l3_m2_file_problems_through_the_real_cli(tmp_path: Path) -> None:
    line = scaffold_refusing(tmp_path, "repo_name: *i\n" + BILLION_LAUGHS)
    assert "anchors and aliases are not allowed" in line
    line = scaffold_refusing(tmp_path, "repo_name: " + "a" * 900_000 + "\n")
    assert len(line) < 400 and "…(900000 characters)" in line
    (tmp_path / "p.yaml").write_bytes(b"repo_name: caf\xe9\n")
    done = run_cli(
        ["new", "--config", tmp_path / "p.yaml", "--output-dir", tmp_path / "out"],
        cwd=tmp_path / "cwd",
        home=tmp_path / "home",
    )
    assert done.returncode == 2 and "is not UTF-8 text" in one_error_line(done.stderr)


# --------------------------------------------------------------------------- properties

# Every string field of the answers, as set_path paths into FULL (all sections spelt out).
FULL: Answers = dump_answers(
    load_answers(
        {
            **BIG_ANSWERS,
            "tenants": [
                {
                    "name": "payments",
                    "clusters": ["dev-eu-1", "prod-eu-1"],
                    "repo_url": "https://gitlab.example.com/pay/deploy.git",
                    "path": "./k8s",
                    "sso_group": "pay-admins",
                    "quota": {"cpu": "8", "memory": "16Gi", "pods": 60},
                },
                "web",
            ],
        }
    )
)
FULL["tenants"][1] = "web"  # the shorthand form
STRING_FIELDS = [
    "repo_name", "git_url", "git_branch", "engine",
    "clusters.1.name", "clusters.1.role", "clusters.1.env", "clusters.1.region",
    "tenants.0.name", "tenants.0.clusters.1", "tenants.0.repo_url", "tenants.0.path",
    "tenants.0.sso_group", "tenants.0.quota.cpu", "tenants.0.quota.memory", "tenants.1",
    "notifications.provider", "notifications.channel",
    "sync.manual_envs.0", "sync.windows.0.kind", "sync.windows.0.schedule",
    "sync.windows.0.duration", "sync.windows.0.envs.0", "sync.windows.0.time_zone",
    "sso.admin_group", "sso.readonly_group",
]  # fmt: skip

# Arbitrary text, with the pieces that matter here more likely than chance would make them.
PIECES = st.sampled_from(
    [*FORBIDDEN, "{", "}", "$", "#", ":", " ", "\n", "\x85", "\u2028", "\x00", "/", "..", "@"]
)
NAMEISH = st.text(alphabet="az09-._/{}@:# ", max_size=8)
TEXT = st.lists(st.one_of(st.text(max_size=8), NAMEISH, PIECES), max_size=6).map("".join)


def current(data: Answers, path: str) -> str:
    target: Any = data
    for key in path.split("."):
        target = target[int(key)] if isinstance(target, list) else target[key]
    return str(target)


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def load_or_refuse(data: Answers) -> Platform | None:
    """load_answers' only outcomes: a Platform, or AnswersError with one short line."""
    try:
        return load_answers(data)
    except AnswersError as error:
        assert_one_short_line(str(error))
        return None


PROPERTY = settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("path", STRING_FIELDS)
@PROPERTY
@given(text=TEXT, position=st.integers(min_value=0, max_value=80), replace=st.booleans())
def test_property_any_text_in_any_string_field_is_a_platform_or_one_answers_error(
    path: str, text: str, position: int, replace: bool
) -> None:
    """C1, C2, M7, L3, L6: and what is accepted never holds a forbidden sequence."""
    data = copy.deepcopy(FULL)
    written = current(data, path)
    value = text if replace else written[:position] + text + written[position:]
    set_path(path, value)(data)
    platform = load_or_refuse(data)
    if platform is None:
        return
    for accepted in strings_in(dump_answers(platform)):
        assert not any(sequence in accepted for sequence in FORBIDDEN), accepted
        assert not CONTROL.search(accepted), accepted
    # What was accepted reads back from platform.yaml exactly as written (L5, M6).
    assert load_answers(parse(answers_yaml(platform))) == platform


@PROPERTY
@given(text=st.text(max_size=200))
def test_property_any_answers_text_parses_or_is_one_usage_error(text: str) -> None:
    """L5, M2: the answers reader never fails in any other way."""
    try:
        data = parse(text)
    except UsageError as error:
        assert_one_short_line(str(error))
        return
    if isinstance(data, dict):
        load_or_refuse(data)


@pytest.mark.parametrize("name", ["flux-platform", "flux-hub", "argocd-manager"])
def test_f2_a_tenant_cannot_take_a_platform_identity_name(name: str) -> None:
    with pytest.raises(AnswersError) as caught:
        load_answers({"tenants": [name]})
    assert caught.value.problem == "is the name of a platform identity"


def test_f2_the_flux_platform_identities_are_the_reserved_ones() -> None:
    """The names the Flux templates give platform identities are the ones the model refuses."""
    library = (CHECKOUT / "templates/flux/_lib/flux.yaml.j2").read_text(encoding="utf-8")
    reconciler = re.search(r'set SPOKE_RECONCILER = "([^"]+)"', library)
    assert reconciler and reconciler.group(1) in model.PLATFORM_IDENTITIES
    assert "flux-hub" in model.PLATFORM_IDENTITIES
