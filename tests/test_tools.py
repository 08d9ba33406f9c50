"""External tools: found for real, and a missing or broken tool is one readable line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scaffolder.errors import ToolFailedError, ToolMissingError
from scaffolder.tools import find_sops, require, run
from tests.cli_helpers import cli_env, one_error_line, run_cli


def test_the_bundled_sops_is_found_and_runs() -> None:
    sops = find_sops()
    assert os.access(sops, os.X_OK)
    assert run([sops, "--version", "--check-for-updates=false"]).startswith("sops 3.")


def test_a_missing_tool_names_itself_and_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ToolMissingError, match="git is not installed or not on PATH: install git"):
        require("git")


def test_a_file_that_cannot_run_is_a_tool_failure(tmp_path: Path) -> None:
    not_executable = tmp_path / "tool"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(ToolFailedError, match=r"cannot run .*tool: Permission denied"):
        run([str(not_executable)])


def test_a_failing_tool_reports_its_last_error_line() -> None:
    with pytest.raises(ToolFailedError, match=r"^git log failed: fatal: "):
        run(["git", "log", "--no-such-option"], what="git log")


def test_new_without_git_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    empty_path = tmp_path / "empty-bin"
    empty_path.mkdir()
    env = cli_env(tmp_path / "home", PATH=str(empty_path))
    out = tmp_path / "out"
    result = run_cli(
        ["new", "--no-input", "--output-dir", out], cwd=tmp_path, home=tmp_path / "home", env=env
    )
    assert result.returncode == 1
    assert "git is not installed" in one_error_line(result.stderr)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-bin", "home"]
