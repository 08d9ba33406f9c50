"""The README's examples stay true: its answers file loads, its command lines parse."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from scaffolder.cli import build_parser
from scaffolder.model import load_answers
from tests.conftest import CHECKOUT

README = (CHECKOUT / "README.md").read_text(encoding="utf-8")


def test_the_answers_example_is_valid_and_uses_every_section() -> None:
    section = README.split("## The answers schema (`platform.yaml`)", 1)[1]
    example = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    platform = load_answers(example)
    assert {t.name for t in platform.tenants} == {"team-a", "team-b"}
    assert set(example) == {
        "repo_name", "git_url", "git_branch", "engine", "clusters", "tenants",
        "secrets", "notifications", "image_automation", "sync", "sso", "ci",
        "progressive_delivery", "workshop", "freezes",
    }  # fmt: skip
    assert platform.freeze_of("prod") is not None


COMMANDS = (
    "new|validate|add-tenant|remove-tenant|add-cluster|remove-cluster|update|check|freeze"
    "|unfreeze|workshop"
)


@pytest.mark.parametrize(
    "line",
    [m.group(1) for m in re.finditer(rf"^ *(gitops-scaffold (?:{COMMANDS})[^\n#]*)", README, re.M)],
)
def test_every_example_command_parses(line: str) -> None:
    argv = shlex.split(line.replace("[", "").replace("]", "").replace("...", ""))[1:]
    if "|" in " ".join(argv):  # the contract lines: take the first alternative of each choice
        argv = [a.split("|")[0] for a in argv]
    argv = [
        a
        for a in argv
        if a not in {"FILE", "DIR", "KDIR", "LOC", "PATH", "N", "X.Y", "CHECK", "REV"}
    ]
    build_parser().parse_args(_fill_values(argv))


def _fill_values(argv: list[str]) -> list[str]:
    """Give the contract lines' bare value-taking options a sample value."""
    needs_value = {
        "--config", "--output-dir", "--keys-dir", "--schema-location",
        "--kubernetes-version", "--jobs", "--only", "--engine", "--format", "--repo",
        "--repo-url", "--region", "--clusters", "--env", "--kubeconfig", "--base-from",
        "--attendees",
    }  # fmt: skip
    samples = {
        "--jobs": "2", "--kubernetes-version": "1.33", "--only": "secrets", "--attendees": "3",
    }  # fmt: skip
    filled: list[str] = []
    for i, arg in enumerate(argv):
        filled.append(arg)
        following = argv[i + 1] if i + 1 < len(argv) else "--"
        if arg in needs_value and following.startswith("--"):
            filled.append(samples.get(arg, "x"))
    return filled
