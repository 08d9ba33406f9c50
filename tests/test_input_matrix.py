"""Hostile input through every entry point (issue 13, hardening: the input matrix).

One table of values per kind of field, sent through each way an answer reaches the tool:
`new --config`, `new --set`, the prompts, the plain cookiecutter CLI's extra context and the
day-2 flags (add-tenant, add-cluster, secrets add). A refused value must give exit 2 (the
prompts: the model's message, then the question again), one line on stderr naming the field
and the value, and nothing written. What a table accepts is accepted by every entry point,
and a repo made of those values validates.

The refusal runs call the CLI's `main` in-process (milliseconds each); the cookiecutter route
and one accepted repo run the real programs.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prompt_toolkit.input import create_pipe_input

from scaffolder import model
from scaffolder.cli import main
from scaffolder.commands.new import new
from scaffolder.commands.validate import validate
from scaffolder.generate import GeneratedRepo
from scaffolder.model import load_answers
from scaffolder.prompts import ask_answers
from tests.cli_helpers import listing, snapshot
from tests.conftest import SCHEMAS
from tests.test_cookiecutter_equivalence import run_cookiecutter
from tests.test_prompts import ENTER, Screen, model_error, typed

REFUSED, ACCEPTED = "refused", "accepted"
LONG = "a" * 64

# Tenant and cluster names: DNS-1123 labels of at most 40 characters, not a reserved
# namespace. Cluster names are also Flux substitution variables, so a name YAML would read
# as a number, boolean or null is refused for clusters; tenant names are written quoted
# wherever they appear, so those stay accepted for tenants (and read back as strings).
NAMES: dict[str, tuple[str, str]] = {
    # value: (as a tenant, as a cluster)
    "": (REFUSED, REFUSED),
    LONG: (REFUSED, REFUSED),
    "Team-A": (REFUSED, REFUSED),
    "-team": (REFUSED, REFUSED),
    "team-": (REFUSED, REFUSED),
    "team.a": (REFUSED, REFUSED),
    "tëam": (REFUSED, REFUSED),
    "../x": (REFUSED, REFUSED),
    "a/b": (REFUSED, REFUSED),
    "~": (REFUSED, REFUSED),
    "yes": (ACCEPTED, REFUSED),
    "no": (ACCEPTED, REFUSED),
    "on": (ACCEPTED, REFUSED),
    "null": (ACCEPTED, REFUSED),
    "0x1": (ACCEPTED, REFUSED),
    "1e3": (ACCEPTED, REFUSED),
    "kube-system": (REFUSED, REFUSED),
    "flux-system": (REFUSED, REFUSED),
    "argocd": (REFUSED, REFUSED),
    "default": (REFUSED, REFUSED),
}
TENANT_REFUSED = [name for name, (tenant, _) in NAMES.items() if tenant == REFUSED]
TENANT_ACCEPTED = [name for name, (tenant, _) in NAMES.items() if tenant == ACCEPTED]
CLUSTER_REFUSED = [name for name, (_, cluster) in NAMES.items() if cluster == REFUSED]

# The repo name is a folder name: letters, digits, '.', '_', '-', at most 100 characters.
REPO_NAMES: dict[str, str] = {
    "": REFUSED,
    "-team": REFUSED,
    "tëam": REFUSED,
    "../x": REFUSED,
    "a/b": REFUSED,
    "..": REFUSED,
    "~": REFUSED,
    "a" * 101: REFUSED,
    LONG: ACCEPTED,
    "Team-A": ACCEPTED,
    "team.a": ACCEPTED,
    "yes": ACCEPTED,
    "1e3": ACCEPTED,
}

GIT_URLS = [
    "not a url",
    "github.com/acme/platform",
    "file:///srv/git/platform.git",
    "ftp://example.com/platform.git",
    "https://user:hunter2@github.com/acme/platform.git",
    "https://github.com/acme/platform.git?token=hunter2",
    "https://github.com/acme/$(id).git",
    "",
]

# Answers files that are not answers: (text, what the line must say).
BAD_CONFIGS: dict[str, tuple[str, str]] = {
    "malformed": ("repo_name: [unclosed\n", "line 2 is not valid YAML"),
    "tab indentation": ("repo_name:\tx\n\t- y\n", "is not valid YAML"),
    "a list": ("- a\n- b\n", "answers: ['a', 'b'] must be a mapping"),
    "a scalar": ("hello\n", "answers: 'hello' must be a mapping"),
    "clusters not a list": ("clusters: 3\n", "clusters: 3 must be a list"),
    "tenants a mapping": ("tenants: {a: 1}\n", "tenants: {'a': 1} must be a list"),
    "repo_name a list": ("repo_name: [a]\n", "repo_name: ['a'] must be a string"),
    "quota pods a word": (
        "tenants: [{name: a, quota: {pods: many}}]\n",
        "tenants[0].quota.pods: 'many' must be a positive whole number",
    ),
    "flag a word": ("secrets: {sealed_secrets: maybe}\n", "'maybe' must be true or false"),
    "unknown key": ("repo_nmae: x\n", "repo_nmae: 'x' is not a known field (did you mean"),
    "unknown nested key": (
        "tenants: [{name: a, clusterz: [x]}]\n",
        "tenants[0].clusterz: ['x'] is not a known field (did you mean 'clusters'?)",
    ),
    "duplicate key": ("repo_name: a\nrepo_name: b\n", "the key 'repo_name' appears twice"),
    "duplicate tenant": ("tenants: [a, a]\n", "tenants[1].name: 'a' is already used"),
    "duplicate cluster": (
        "clusters: [{name: hub, role: hub, env: mgmt}, {name: d, role: spoke, env: dev},"
        " {name: d, role: spoke, env: dev}]\n",
        "clusters[2].name: 'd' is already used by clusters[1]",
    ),
    "python tag": (
        "repo_name: !!python/object/apply:os.system ['touch PWNED']\n",
        "the tag '!!python/object/apply:os.system' is not allowed",
    ),
    "python name tag": ("repo_name: !!python/name:os.system\n", "is not allowed"),
    "custom tag": ("repo_name: !foo bar\n", "the tag '!foo' is not allowed"),
    "alias bomb": (
        "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nrepo_name: *c\n",
        "anchors and aliases are not allowed",
    ),
    "merge key": ("a: &x {b: 1}\nc:\n  <<: *x\n", "anchors and aliases are not allowed"),
    "a NUL character": ("repo_name: a\x00b\n", "is not valid YAML"),
    "null repo name": (
        "repo_name: null\n",
        "repo_name: None is required (null, ~ and nothing read as no value)",
    ),
    "engine unknown": ("engine: jenkins\n", "engine: 'jenkins' must be one of: flux, argocd"),
    "engine capitalised": ("engine: Flux\n", "engine: 'Flux' must be one of"),
}


# --------------------------------------------------------------------------- helpers


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def refusal(code: int, out: str, err: str) -> str:
    """Exit 2 and one `error:` line, nothing on stdout: the line."""
    assert code == 2, (code, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def new_refusing(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`gitops-scaffold new ARGS` into tmp_path/out: refused with one line, nothing written."""
    out, keys = tmp_path / "out", tmp_path / "keys"
    line = refusal(
        *run_main(["new", *args, "--output-dir", str(out), "--keys-dir", str(keys)], capsys)
    )
    assert listing(out) == [] and not keys.exists()
    return line


def with_config(tmp_path: Path, data: Any) -> str:
    config = tmp_path / "p.yaml"
    config.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return str(config)


def names_value(line: str, field: str, value: str) -> None:
    assert field in line, line
    if value == "~" and "None" in line:  # YAML null: the line says how it was read
        assert "None is required (null, ~" in line, line
        return
    assert repr(value)[:40] in line or repr(value)[:40].replace("'", '"') in line, line


def clusters_with(name: str) -> list[dict[str, str]]:
    return [
        {"name": "hub", "role": "hub", "env": "mgmt"},
        {"name": name, "role": "spoke", "env": "dev"},
    ]


# --------------------------------------------------------------------------- new --config


@pytest.mark.parametrize("name", TENANT_REFUSED, ids=repr)
def test_a_refused_tenant_name_in_a_config(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = new_refusing(tmp_path, capsys, "--config", with_config(tmp_path, {"tenants": [name]}))
    names_value(line, "tenants[0].name: ", name)


@pytest.mark.parametrize("name", CLUSTER_REFUSED, ids=repr)
def test_a_refused_cluster_name_in_a_config(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = with_config(tmp_path, {"clusters": clusters_with(name), "tenants": []})
    line = new_refusing(tmp_path, capsys, "--config", config)
    names_value(line, "clusters[1].name: ", name)


@pytest.mark.parametrize("name", [n for n, v in REPO_NAMES.items() if v == REFUSED], ids=repr)
def test_a_refused_repo_name_in_a_config_and_through_set(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = new_refusing(tmp_path, capsys, "--config", with_config(tmp_path, {"repo_name": name}))
    names_value(line, "repo_name: ", name)
    line = new_refusing(tmp_path, capsys, "--no-input", "--set", f"repo_name={name}")
    names_value(line, "repo_name: ", name)


@pytest.mark.parametrize("url", GIT_URLS, ids=repr)
def test_a_refused_git_url_in_a_config_and_through_set(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = new_refusing(tmp_path, capsys, "--config", with_config(tmp_path, {"git_url": url}))
    assert line.startswith("error: git_url: ")
    assert "hunter2" not in line  # a credential is never repeated
    line = new_refusing(tmp_path, capsys, "--no-input", "--set", f"git_url={url}")
    assert line.startswith("error: git_url: ") and "hunter2" not in line


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_an_answers_file_that_is_not_answers(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message = BAD_CONFIGS[case]
    line = new_refusing(tmp_path, capsys, "--config", with_config(tmp_path, text))
    assert message in line
    assert not (tmp_path / "PWNED").exists()


def test_config_files_that_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"repo_name: caf\xe9\n")
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_text("repo_name: x\n", encoding="utf-16")
    huge = tmp_path / "huge.yaml"
    with huge.open("w", encoding="utf-8") as stream:  # 50 MB
        stream.write("repo_name: x\n")
        stream.write(("#" * 999 + "\n") * 50_000)
    unreadable = tmp_path / "unreadable.yaml"
    unreadable.write_text("repo_name: x\n", encoding="utf-8")
    unreadable.chmod(0)
    cases = {
        folder: "is a directory, not an answers file",
        tmp_path / "missing.yaml": "does not exist",
        latin1: "is not UTF-8 text",
        utf16: "is not UTF-8 text",
        huge: "is larger than 1 MiB",
        Path("/dev/zero"): "is not a regular file",
    }
    if not os.access(unreadable, os.R_OK):  # root reads it all the same
        cases[unreadable] = "Permission denied"
    for config, message in cases.items():
        line = new_refusing(tmp_path / "run", capsys, "--config", str(config))
        assert message in line and str(config) in line, line
        assert len(line) < 300


# --------------------------------------------------------------------------- new --set


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("repo_name", "--set 'repo_name': expected KEY=VALUE"),
        ("=x", "--set '=x': expected KEY=VALUE"),
        ("nokey=1", "nokey: 1 is not a known field"),
        ("repo_nmae=x", "repo_nmae: 'x' is not a known field (did you mean 'repo_name'?)"),
        ("clusters=3", "clusters: 3 must be a list"),
        ("tenants=[a", "--set tenants line 2 is not valid YAML"),
        ("platform={}", "--set platform: one value only"),
        ("tenants.0.name=X", "--set tenants.0.name: tenants is not a section"),
        ("engine=jenkins", "engine: 'jenkins' must be one of: flux, argocd"),
        ("secrets.sealed_secrets=maybe", "secrets.sealed_secrets: 'maybe' must be true or false"),
        ("repo_name=!!python/name:os.system", "is not allowed"),
        ("repo_name=*a", "anchors and aliases are not allowed"),
        ("git_branch=a..b", "git_branch: 'a..b'"),
    ],
)
def test_a_bad_set(
    setting: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in new_refusing(tmp_path, capsys, "--no-input", "--set", setting)


# --------------------------------------------------------------------------- day-2 flags


@pytest.fixture(scope="module")
def flux_repo(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRepo:
    root = tmp_path_factory.mktemp("matrix")
    return new(load_answers({}), root / "out", root / "keys")


@pytest.fixture
def repo_copy(flux_repo: GeneratedRepo, tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    shutil.copytree(flux_repo.repo_dir, repo, symlinks=True)
    keys = tmp_path / "keys"
    shutil.copytree(flux_repo.keys_dir, keys)
    return repo, keys


def day2_refusing(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str], argv: list[str]
) -> str:
    repo, keys = repo_copy
    before, keys_before = snapshot(repo), snapshot(keys)
    line = refusal(*run_main([*argv, "--repo", str(repo)], capsys))
    assert snapshot(repo) == before and snapshot(keys) == keys_before
    return line


DAY2: dict[str, tuple[Callable[[str, Path], list[str]], list[str], str]] = {
    # command: (argv for a name, the names it refuses, the field its message names)
    "add-tenant": (
        lambda name, keys: ["add-tenant", name, "--no-input"],
        TENANT_REFUSED,
        "tenants[2].name: ",
    ),
    "add-cluster": (
        lambda name, keys: ["add-cluster", name, "--env", "dev", "--keys-dir", str(keys)],
        CLUSTER_REFUSED,
        "clusters[3].name: ",
    ),
    "secrets add NAME": (
        lambda name, keys: [
            "secrets",
            "add",
            name,
            "--cluster",
            "dev-eu-1",
            "--namespace",
            "team-a",
            "--from-literal",
            "password=s3cr3t-v4lue",
        ],
        [*TENANT_REFUSED[:9], "~", "null", "yes", "0x1", "1e3"],
        "secret name ",
    ),
    "secrets add --namespace": (
        lambda name, keys: [
            "secrets",
            "add",
            "db",
            "--cluster",
            "dev-eu-1",
            "--namespace",
            name,
            "--from-literal",
            "password=s3cr3t-v4lue",
        ],
        [n for n in NAMES if n != LONG],
        "namespace ",
    ),
}
DAY2_CASES = [(command, name) for command, (_, names, _) in DAY2.items() for name in names]


@pytest.mark.parametrize(("command", "name"), DAY2_CASES, ids=[f"{c}={n!r}" for c, n in DAY2_CASES])
def test_a_refused_name_through_a_day2_flag(
    command: str,
    name: str,
    repo_copy: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv, _, field = DAY2[command]
    line = day2_refusing(repo_copy, capsys, argv(name, repo_copy[1]))
    assert "s3cr3t-v4lue" not in line  # a secret value never shows in an error
    if name.startswith("-"):  # argparse reads it as an option: the line still names it
        assert f"{name!r} is not an option" in line, line
    else:
        names_value(line, field, name)


def test_names_of_things_not_in_the_repo_are_refused_by_remove(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("remove-tenant", "remove-cluster"):
        for name in ("", "../x", "a/b", "Team-A", LONG, "null"):
            line = day2_refusing(repo_copy, capsys, [command, name])
            assert f"{name} is not in platform.yaml; nothing was changed" in line


# --------------------------------------------------------------------------- accepted values


def test_every_accepted_name_is_accepted_and_the_repo_validates(tmp_path: Path) -> None:
    """What the tables accept works end to end: the repo validates and reads back the same."""
    answers = {
        "repo_name": "1e3",
        "tenants": TENANT_ACCEPTED,
        "clusters": clusters_with("dev-eu-1"),
    }
    platform = load_answers(answers)
    assert [t.name for t in platform.tenants] == TENANT_ACCEPTED
    for name, verdict in REPO_NAMES.items():
        if verdict == ACCEPTED:
            assert model.check_repo_name("repo_name", name) == name
    repo = new(platform, tmp_path / "out", tmp_path / "keys")
    written = yaml.safe_load((repo.repo_dir / "platform.yaml").read_text(encoding="utf-8"))
    assert written["repo_name"] == "1e3"
    assert [t if isinstance(t, str) else t["name"] for t in written["tenants"]] == TENANT_ACCEPTED
    assert validate(repo.repo_dir, schema_locations=[str(SCHEMAS)], jobs=2).findings == []


def test_an_accepted_secret_name_round_trips_and_validates(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = repo_copy
    argv = ["secrets", "add", "db-1e3", "--cluster", "dev-eu-1", "--namespace", "team-a",
            "--from-literal", "password=s3cr3t-v4lue", "--repo", str(repo)]  # fmt: skip
    code, out, err = run_main(argv, capsys)
    assert code == 0, err
    assert "s3cr3t-v4lue" not in out + err
    assert validate(repo, schema_locations=[str(SCHEMAS)], jobs=2).findings == []


# --------------------------------------------------------------------------- the prompts


def prompt_refuses(steps: list[tuple[str, str]]) -> model.Platform:
    with create_pipe_input() as pipe:
        screen = Screen(pipe, steps)
        closer = threading.Timer(8, pipe.close)  # a message that never shows: fail, not hang
        closer.start()
        try:
            return ask_answers("flux", input=pipe, output=screen)
        finally:
            closer.cancel()
            assert steps == [], f"never shown: {steps[0][0]!r}"


def refusals(
    question: str, before: str, check: Callable[[str, str], object], field: str,
    values: list[str], good: str,
) -> list[tuple[str, str]]:  # fmt: skip
    """Steps typing each refused value in turn at one question, each after the message about
    the one before, then ``good`` and Enter for every later question and the review screen."""
    steps = [(question, before + typed(values[0]))]
    for value, following in zip(values, [*values[1:], good], strict=True):
        steps.append((model_error(check, field, value), typed(following)))
    steps[-1] = (steps[-1][0], steps[-1][1] + ENTER * 20)
    return steps


def test_refused_tenant_names_at_the_prompt() -> None:
    # engine given: repo, URL, branch, hub, spoke count, 2 x (name, env, region), then tenants
    names = [n for n in TENANT_REFUSED if n]  # nothing typed there means no tenant
    steps = refusals("Repository folder name", ENTER * 11, model.check_tenant_name,
                     "tenants[0].name", names, "team-a")  # fmt: skip
    assert [t.name for t in prompt_refuses(steps).tenants] == ["team-a"]


def test_refused_hub_names_at_the_prompt() -> None:
    steps = refusals("Repository folder name", ENTER * 3, model.check_cluster_name,
                     "clusters[0].name", CLUSTER_REFUSED, "hub")  # fmt: skip
    assert prompt_refuses(steps).hub.name == "hub"


def test_refused_git_urls_at_the_prompt() -> None:
    urls = [u for u in GIT_URLS if u]  # nothing typed takes the suggested URL
    steps = refusals("Repository folder name", ENTER, model.check_git_url, "git_url", urls,
                     "git@github.com:acme/acme-platform.git")  # fmt: skip
    assert not any("hunter2" in text for text, _ in steps)  # the messages hide the password
    assert prompt_refuses(steps).git_url == "git@github.com:acme/acme-platform.git"


# --------------------------------------------------------------------------- plain cookiecutter


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("repo_name=../x", "error: repo_name: '../x'"),
        ("repo_name=a/b", "error: repo_name: 'a/b'"),
        ("git_url=file:///srv/git/p.git", "error: git_url: 'file:///srv/git/p.git'"),
        ('platform={"tenants": ["kube-system"]}', "error: tenants[0].name: 'kube-system'"),
        ('platform={"repo_nmae": "x"}', "did you mean 'repo_name'?"),
        ("platform=[1, 2]", "error: platform: [1, 2] must be a JSON object"),
        ("platform={bad json", "error: platform: '{bad json' is not a JSON object"),
        ("platform=notjson", "error: platform: 'notjson' is not a JSON object"),
        (
            'platform={"clusters": [{"name": "Hub", "role": "hub"}, {"name": "dev"}]}',
            "error: clusters[0].name: 'Hub'",
        ),
        # L8: a choice cookiecutter would check itself (a traceback before any hook runs)
        ("engine=jenkins", "error: engine: 'jenkins' must be one of: flux, argocd"),
        ("engine=", "error: engine: '' must be one of: flux, argocd"),
        ("engine=Flux", "error: engine: 'Flux'"),
        ("repo_name=", "error: repo_name: ''"),
        ("git_branch=a b", "error: git_branch: 'a b'"),
    ],
)
def test_a_refused_value_through_cookiecutter_extra_context(
    extra: str, message: str, tmp_path: Path
) -> None:
    done = run_cookiecutter(tmp_path / "cwd", tmp_path / "home", extra)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    errors = [line for line in output.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], output
    assert "Traceback" not in output
    assert listing(tmp_path / "cwd") == []


@pytest.mark.parametrize("name", ["1e3", "null", "Team-A", "-db"])
def test_a_refused_name_for_a_sealed_secret(
    name: str, repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cert = repo_copy[0] / "no-such.pem"  # never read: the name is refused first
    for argv in (["secrets", "seal", name, "--namespace", "team-a"],
                 ["secrets", "seal", "db", "--namespace", name]):  # fmt: skip
        line = day2_refusing(
            repo_copy, capsys, [*argv, "--cert", str(cert), "--from-literal", "k=s3cr3t-v4lue"]
        )
        assert repr(name) in line and "s3cr3t-v4lue" not in line, line
