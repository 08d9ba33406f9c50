"""The cookiecutter post-generate hook: plain Python (no template code), run for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scaffolder.context import root_context
from scaffolder.model import default_platform
from tests.conftest import CHECKOUT

HOOK = CHECKOUT / "hooks" / "post_gen_project.py"


def test_the_hooks_hold_no_template_code() -> None:
    """cookiecutter renders hook scripts as Jinja: ours have nothing to render, so no answer
    can ever be spliced into them (the answers reach the hook as JSON data)."""
    hooks = sorted(p.name for p in (CHECKOUT / "hooks").iterdir() if p.suffix == ".py")
    assert hooks == ["post_gen_project.py"]
    source = HOOK.read_text(encoding="utf-8")
    assert "{{" not in source and "{%" not in source and "{#" not in source


def test_a_python_without_the_dependencies_gets_one_line(tmp_path: Path) -> None:
    context = {**root_context(default_platform()), "_repo_dir": str(CHECKOUT)}
    (tmp_path / ".cookiecutter-context.json").write_text(json.dumps(context), encoding="utf-8")
    # -S: no site-packages, so scaffolder imports but pyyaml, jinja2 and pyrage do not
    done = subprocess.run(
        [sys.executable, "-S", str(HOOK)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ")
    assert "lacks gitops-scaffold's dependencies (no module" in done.stderr
    # F9: the install it advises is this checkout (the name is on no package index)
    assert f"-m pip install {CHECKOUT} " in done.stderr
    assert not (tmp_path / ".cookiecutter-context.json").exists()
