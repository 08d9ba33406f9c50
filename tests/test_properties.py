"""Properties of `gitops-scaffold new` over generated answers (issue 13, hardening).

For any answers file: the command either writes a repo that `validate` passes (no findings),
or exits 2 with one `error:` line and writes nothing; it never fails another way (a
traceback, exit 1). Topologies are kept small and examples few so the suite stays fast;
tests/test_model_hardening.py holds the model-level properties (every string field).
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaffolder.cli import main
from scaffolder.commands.validate import validate
from tests.cli_helpers import listing
from tests.conftest import SCHEMAS

LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True)
HOSTILE = st.sampled_from(
    ["", "Team-A", "-x", "x-", "a.b", "../x", "a/b", "yes", "null", "~", "0x1", "1e3",
     "kube-system", "flux-platform", "a" * 64, "tëam", "{{ 7*7 }}", "$(id)", "${HOME}",
     "x\nkind: Secret", "hub"]
)  # fmt: skip
NAME = st.one_of(LABEL, LABEL, HOSTILE)  # mostly well-formed, so some specs are accepted
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**9),
    st.text(max_size=12),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
    HOSTILE,
)


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@st.composite
def topologies(draw: st.DrawFn) -> dict[str, Any]:
    """A hub, one or two spokes, up to two tenants: names mostly valid, some hostile."""
    engine = draw(st.sampled_from(["flux", "argocd"]))
    envs = draw(st.lists(st.sampled_from(["dev", "staging", "prod"]), min_size=1, max_size=2))
    spokes = [
        {
            "name": draw(NAME),
            "role": "spoke",
            "env": env,
            "region": draw(st.sampled_from(["eu-west-1", "us-east-1", "1e3"])),
        }
        for env in envs
    ]
    tenants: list[Any] = []
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        name = draw(NAME)
        if draw(st.booleans()):
            tenants.append(name)
            continue
        tenant: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            tenant["clusters"] = [spokes[0]["name"]]
        if draw(st.booleans()):
            tenant["quota"] = {
                "cpu": str(draw(st.integers(min_value=1, max_value=16))),
                "memory": f"{draw(st.integers(min_value=1, max_value=64))}Gi",
                "pods": draw(st.integers(min_value=1, max_value=500)),
            }
        tenants.append(tenant)
    answers: dict[str, Any] = {
        "repo_name": draw(st.one_of(st.just("acme-platform"), NAME)),
        "engine": engine,
        "clusters": [{"name": "hub", "role": "hub", "env": "mgmt"}, *spokes],
        "tenants": tenants,
        "notifications": {"provider": draw(st.sampled_from(["slack", "msteams"])),
                          "channel": draw(st.sampled_from(["platform", "#ops"]))},
    }  # fmt: skip
    if engine == "argocd" and draw(st.booleans()):
        answers["sync"] = {"manual_envs": ["prod"]}
    return answers


@st.composite
def junk_answers(draw: st.DrawFn) -> dict[str, Any]:
    """Any field may hold any type; sections and list items too."""
    fields = ["repo_name", "git_url", "git_branch", "engine", "clusters", "tenants",
              "notifications", "sync", "secrets", "sso", "image_automation", "nme"]  # fmt: skip
    answers: dict[str, Any] = {}
    for field in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=4, unique=True)):
        answers[field] = draw(JUNK)
    if draw(st.booleans()):
        answers["tenants"] = draw(
            st.lists(
                st.one_of(
                    NAME,
                    st.fixed_dictionaries(
                        {"name": NAME},
                        optional={
                            "clusters": JUNK,
                            "quota": JUNK,
                            "path": JUNK,
                            "repo_url": JUNK,
                            "sso_group": JUNK,
                        },
                    ),
                ),
                max_size=2,
            )
        )
    return answers


def run_new(answers: dict[str, Any], root: Path, capsys: pytest.CaptureFixture[str]) -> Path | None:
    """`new --config` of these answers: the repo it wrote, or None after a clean refusal."""
    config = root / "answers.yaml"
    config.write_text(yaml.safe_dump(answers, allow_unicode=True), encoding="utf-8")
    out, keys = root / "out", root / "keys"
    capsys.readouterr()
    code = main(["new", "--config", str(config), "--output-dir", str(out), "--keys-dir",
                 str(keys), "--quiet"])  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert "Traceback" not in stderr
    if code == 2:
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert stdout == ""
        assert listing(out) == [] and not keys.exists()  # nothing written
        return None
    assert code == 0, stderr  # never exit 1 (a tool failing) or anything else
    (repo,) = out.iterdir()
    return repo


def assert_validates(repo: Path) -> None:
    report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
    assert [f"{f.check} {f.file}: {f.message}" for f in report.findings] == []


def assert_new_validates_or_writes_nothing(
    answers: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with TemporaryDirectory() as root:
        repo = run_new(answers, Path(root), capsys)
        if repo is not None:
            assert_validates(repo)


@examples(12)
@given(answers=topologies())
def test_every_accepted_topology_validates_and_every_refused_one_writes_nothing(
    answers: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert_new_validates_or_writes_nothing(answers, capsys)


@examples(30)
@given(answers=junk_answers())
def test_any_answers_are_a_valid_repo_or_one_line_and_nothing_written(
    answers: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert_new_validates_or_writes_nothing(answers, capsys)
