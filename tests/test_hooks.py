"""The cookiecutter hook scripts, rendered as cookiecutter renders them and run for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jinja2 import Environment

from scaffolder.context import root_context
from scaffolder.model import default_platform
from tests.conftest import CHECKOUT


def rendered_hook(name: str, tmp_path: Path) -> Path:
    context = {**root_context(default_platform()), "_repo_dir": str(CHECKOUT)}
    source = (CHECKOUT / "hooks" / name).read_text(encoding="utf-8")
    script = tmp_path / name
    script.write_text(Environment().from_string(source).render(cookiecutter=context))
    return script


@pytest.mark.parametrize("name", ["pre_gen_project.py", "post_gen_project.py"])
def test_a_python_without_the_dependencies_gets_one_line(name: str, tmp_path: Path) -> None:
    script = rendered_hook(name, tmp_path)
    # -S: no site-packages, so scaffolder imports but pyyaml, cookiecutter and pyrage do not
    done = subprocess.run(
        [sys.executable, "-S", str(script)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ")
    assert "lacks gitops-scaffold's dependencies (no module 'yaml')" in done.stderr


def test_the_pre_hook_accepts_the_defaults(tmp_path: Path) -> None:
    script = rendered_hook("pre_gen_project.py", tmp_path)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stderr


def test_the_context_survives_the_round_trip_through_the_hook_source(tmp_path: Path) -> None:
    script = rendered_hook("pre_gen_project.py", tmp_path).read_text()
    literal = script.split("json.loads(", 1)[1].rsplit(")))", 1)[0]
    assert json.loads(json.loads(literal))["platform"]["tenants"] == [
        {"name": "team-a"},
        {"name": "team-b"},
    ]
