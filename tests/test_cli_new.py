"""`gitops-scaffold new` through the real CLI: what it writes, where, and what it refuses."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from scaffolder import cli
from scaffolder.keys import read_public_key
from scaffolder.model import DEFAULT_ANSWERS, PLATFORM_FILE
from tests.cli_helpers import cli_env, git, listing, one_error_line, run_cli, snapshot

REPO = str(DEFAULT_ANSWERS["repo_name"])
AGE_PRIVATE_KEY = re.compile(r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}")
KEY_FILES = {"hub.agekey", "dev-eu-1.agekey", "prod-eu-1.agekey", "admin.agekey"}


@dataclass(frozen=True)
class Run:
    root: Path
    out: Path
    keys: Path
    home: Path
    done: subprocess.CompletedProcess[str]

    @property
    def repo(self) -> Path:
        return self.out / REPO


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`new --no-input` with an empty $HOME, run from an unrelated folder."""
    root = tmp_path_factory.mktemp("no-input")
    out, home = root / "out", root / "home"
    done = run_cli(["new", "--no-input", "--output-dir", out], cwd=root / "cwd", home=home)
    return Run(root, out, out / f"{REPO}.keys", home, done)


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`new --config` (engine flux) with --engine argocd and a separate --keys-dir."""
    root = tmp_path_factory.mktemp("custom")
    config = root / "answers.yaml"
    config.write_text(yaml.safe_dump({**DEFAULT_ANSWERS, "engine": "flux"}), encoding="utf-8")
    out, keys, home = root / "out", root / "vault" / "platform-keys", root / "home"
    done = run_cli(
        ["new", "--config", config, "--engine", "argocd", "--output-dir", out, "--keys-dir", keys],
        cwd=root,
        home=home,
    )
    return Run(root, out, keys, home, done)


def test_no_input_succeeds_quietly(default_run: Run) -> None:
    assert default_run.done.returncode == 0, default_run.done.stderr
    assert default_run.done.stderr == ""


def test_the_repo_is_a_git_repo_with_one_commit_and_a_clean_work_tree(default_run: Run) -> None:
    repo = default_run.repo
    # One commit on main; the pristine record (what update merges from) on its own branch.
    assert git(repo, "rev-list", "--count", "main").strip() == "1"
    assert git(repo, "for-each-ref", "--format=%(refname)").split() == [
        "refs/heads/gitops-scaffold/pristine", "refs/heads/main",
    ]  # fmt: skip
    assert git(repo, "rev-list", "--count", "gitops-scaffold/pristine").strip() == "1"
    assert git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored") == ""
    assert git(repo, "branch", "--show-current").strip() == "main"


def test_only_the_repo_and_its_keys_are_written(default_run: Run) -> None:
    assert sorted(os.listdir(default_run.out)) == [REPO, f"{REPO}.keys"]  # no staging folder


def test_keys_are_private_files_outside_the_repo(default_run: Run) -> None:
    keys = default_run.keys
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert set(os.listdir(keys)) == KEY_FILES
    sops_config = (default_run.repo / ".sops.yaml").read_text(encoding="utf-8")
    for name in KEY_FILES:
        path = keys / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "AGE-SECRET-KEY-" in path.read_text(encoding="utf-8")
        assert read_public_key(path) in sops_config


def test_no_private_key_anywhere_in_the_repo_or_its_history(default_run: Run) -> None:
    repo = default_run.repo
    secrets = {
        line
        for name in KEY_FILES
        for line in (default_run.keys / name).read_text(encoding="utf-8").splitlines()
        if line.startswith("AGE-SECRET-KEY-")
    }
    assert len(secrets) == len(KEY_FILES)
    assert list(repo.rglob("*.agekey")) == []
    assert ".agekey" not in git(repo, "ls-files")
    texts = {
        str(path): path.read_text(encoding="utf-8", errors="replace")
        for path in repo.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(repo).parts
    }
    texts["git history"] = git(repo, "log", "--all", "-p", "--format=%H")
    for where, text in texts.items():
        assert AGE_PRIVATE_KEY.search(text) is None, where
        assert not any(secret in text for secret in secrets), where


def test_home_is_left_alone(default_run: Run) -> None:
    assert listing(default_run.home) == []  # no ~/.cookiecutter_replay, no ~/.cookiecutters


def test_the_summary_names_the_keys_folder_and_next_steps(default_run: Run) -> None:
    summary = default_run.done.stdout
    assert f"Private age keys: {default_run.keys}/" in summary
    assert "Next steps:" in summary
    assert f"cd '{default_run.repo}'\n" in summary
    assert "git remote add origin 'https://github.com/acme/acme-platform.git'" in summary
    assert "git push -u origin 'main'" in summary
    assert "git push origin gitops-scaffold/pristine" in summary  # update's record travels
    bootstrap = f"scripts/bootstrap.sh --keys-dir '../{REPO}.keys'"
    assert f"{bootstrap} --dry-run" in summary
    assert "# https: export GIT_PASSWORD=" in summary  # flux bootstrap pushes with it
    # The next steps work as printed: the script exists and the keys path resolves from the repo.
    assert os.access(default_run.repo / "scripts" / "bootstrap.sh", os.X_OK)
    assert (default_run.repo / f"../{REPO}.keys").resolve() == default_run.keys.resolve()


def test_l7_the_next_steps_run_as_printed(default_run: Run, tmp_path: Path) -> None:
    """Pasted into bash from the folder `new` ran in, the printed steps work (every value is
    one quoted word); `git push` and the real bootstrap are left out (no remote, no cluster)."""
    steps = default_run.done.stdout.split("Next steps:\n", 1)[1].splitlines()
    runnable = [
        line.split("  #")[0].strip()
        for line in steps
        if line.strip()
        and not line.strip().startswith("#")
        and "git push" not in line
        and not line.strip().startswith("sops edit")  # an editor: see the test below
        and not line.rstrip().endswith("--keys-dir '../acme-platform.keys'")
    ]
    assert len(runnable) == 4, runnable
    copy = tmp_path / "copy"
    shutil.copytree(default_run.root, copy, symlinks=True)
    script = " && ".join(runnable).replace(str(default_run.root), str(copy))
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=copy / "cwd",
        env=cli_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "git remote" not in done.stderr


def test_the_printed_dry_run_works(default_run: Run) -> None:
    done = subprocess.run(
        ["scripts/bootstrap.sh", "--keys-dir", f"../{REPO}.keys", "--dry-run"],
        cwd=default_run.repo,
        env=cli_env(default_run.root / "home-dry-run"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "AGE-SECRET-KEY" not in done.stdout + done.stderr


def test_engine_option_overrides_the_config(custom_run: Run) -> None:
    assert custom_run.done.returncode == 0, custom_run.done.stderr
    platform = yaml.safe_load((custom_run.repo / PLATFORM_FILE).read_text(encoding="utf-8"))
    assert platform["engine"] == "argocd"
    assert "(argocd)" in custom_run.done.stdout


def test_keys_dir_is_honoured(custom_run: Run) -> None:
    assert set(os.listdir(custom_run.keys)) == KEY_FILES
    assert stat.S_IMODE(custom_run.keys.stat().st_mode) == 0o700
    assert os.listdir(custom_run.out) == [REPO]
    assert "Private age keys: vault/platform-keys/" in custom_run.done.stdout  # below the cwd
    assert "--keys-dir '../../vault/platform-keys'" in custom_run.done.stdout


def test_keys_dir_inside_the_repo_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = cli.main(
        ["new", "--no-input", "--output-dir", str(out), "--keys-dir", str(out / REPO / "keys")]
    )
    line = one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "--keys-dir" in line and "inside the repo" in line
    assert not out.exists()


def test_no_terminal_and_no_answers_is_one_line_naming_the_options(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli(["new", "--output-dir", out], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "--no-input" in line and "--config" in line
    assert not out.exists()


def test_an_existing_repo_is_kept_without_force_and_replaced_with_it(
    custom_run: Run, tmp_path: Path
) -> None:
    out, keys = tmp_path / "out", tmp_path / "keys"
    shutil.copytree(custom_run.out, out, symlinks=True)
    shutil.copytree(custom_run.keys, keys)
    repo = out / REPO
    before, keys_before = snapshot(repo), snapshot(keys)
    args = ["new", "--no-input", "--output-dir", out, "--keys-dir", keys]

    refused = run_cli(args, cwd=tmp_path, home=tmp_path / "home")

    assert refused.returncode == 2
    line = one_error_line(refused.stderr)
    assert str(repo) in line and "--force" in line
    assert snapshot(repo) == before
    assert snapshot(keys) == keys_before
    assert sorted(os.listdir(out)) == [REPO]

    (repo / "local-change.txt").write_text("mine\n", encoding="utf-8")
    replaced = run_cli([*args, "--force"], cwd=tmp_path, home=tmp_path / "home")

    assert replaced.returncode == 0, replaced.stderr
    assert not (repo / "local-change.txt").exists()
    assert yaml.safe_load((repo / PLATFORM_FILE).read_text(encoding="utf-8"))["engine"] == "flux"
    assert git(repo, "rev-list", "--count", "main").strip() == "1"
    assert git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored") == ""
    assert sorted(os.listdir(out)) == [REPO]  # no staging or replaced-repo folder left
    # --force never replaces a key: the keys are the same files, byte for byte, and the new
    # repo is encrypted for them (review-adversarial H2, R4)
    assert snapshot(keys) == keys_before
    public = read_public_key(keys / "admin.agekey")
    assert public == read_public_key(custom_run.keys / "admin.agekey")
    assert public in (repo / ".sops.yaml").read_text(encoding="utf-8")


def test_a_failure_midway_leaves_no_repo_no_keys_and_no_staging_folder(tmp_path: Path) -> None:
    # A real failure after rendering, key generation and sops encryption: the user's git
    # configuration is broken, so `git init` fails at the very last step.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user\n\tname = broken\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()

    done = run_cli(["new", "--no-input", "--output-dir", out], cwd=tmp_path, home=home)

    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert line.startswith("error: git init failed:") and "bad config" in line
    assert done.stdout == ""
    assert listing(out) == []
    assert listing(home) == [".gitconfig"]


def test_an_output_dir_below_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    code = cli.main(["new", "--no-input", "--output-dir", str(tmp_path / "file" / "out")])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2
    assert f"--output-dir: {tmp_path / 'file'} exists and is not a folder" in line


def test_the_next_steps_name_every_placeholder_and_open_it_as_printed(
    default_run: Run, tmp_path: Path
) -> None:
    """F8: each encrypted file still holding a REPLACE-... value is named with the command
    that opens it; run as printed (decrypting instead of editing), each shows a placeholder,
    and no other encrypted file holds one."""
    steps = default_run.done.stdout.split("Next steps:\n", 1)[1].splitlines()
    export = next(line.strip() for line in steps if line.strip().startswith("export "))
    edits = [line.strip().removeprefix("sops edit ") for line in steps if "sops edit" in line]
    assert edits, steps
    listed = {path.strip("'") for path in edits}
    env = cli_env(tmp_path / "home")
    holding = set()
    for path in sorted((default_run.repo / "clusters").rglob("*.sops.yaml")):
        relative = path.relative_to(default_run.repo).as_posix()
        done = subprocess.run(
            ["bash", "-c", f"{export} && sops --decrypt '{relative}'"],
            cwd=default_run.repo, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        if "REPLACE-" in done.stdout:
            holding.add(relative)
    assert listed == holding


def test_the_example_git_url_is_pointed_out(default_run: Run, tmp_path: Path) -> None:
    assert "git_url is the example https://github.com/acme/acme-platform.git" in (
        default_run.done.stdout
    )
    out = tmp_path / "out"
    done = run_cli(
        ["new", "--no-input", "--output-dir", out, "--set", "git_url=git@example.com:a/b.git"],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "is the example" not in done.stdout
    assert "git remote add origin 'git@example.com:a/b.git'" in done.stdout


def test_set_overrides_answers_like_extra_context(tmp_path: Path) -> None:
    config = tmp_path / "answers.yaml"
    config.write_text(yaml.safe_dump({**DEFAULT_ANSWERS, "repo_name": "from-config"}))
    out = tmp_path / "out"
    done = run_cli(
        [
            "new", "--config", config, "--output-dir", out, "--format", "json",
            "--set", "repo_name=beta", "--set", "secrets.sealed_secrets=false",
            "--set", "notifications.channel=ops",
        ],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = yaml.safe_load((out / "beta" / PLATFORM_FILE).read_text())
    assert answers["secrets"]["sealed_secrets"] is False
    assert answers["notifications"]["channel"] == "ops"
    # a default git_url follows --set repo_name (no config: the example URL is derived)
    done = run_cli(
        ["new", "--no-input", "--dry-run", "--format", "json", "--set", "repo_name=gamma",
         "--output-dir", out],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["reponame=x"], "reponame: 'x' is not a known field (did you mean 'repo_name'?)"),
        (["secrets.sealed_secrets=nope"], "secrets.sealed_secrets: 'nope' must be true or false"),
        (["clusters=[]"], "--set clusters: one value only"),
        (["repo_name.x=1"], "--set repo_name.x: repo_name is not a section"),
        (["novalue"], "--set 'novalue': expected KEY=VALUE"),
        (["repo_name=../x"], "repo_name: '../x'"),
    ],
)
def test_a_bad_set_is_one_line_and_writes_nothing(
    tmp_path: Path, settings: list[str], message: str
) -> None:
    out = tmp_path / "out"
    args: list[str | Path] = ["new", "--no-input", "--output-dir", out]
    for setting in settings:
        args += ["--set", setting]
    done = run_cli(args, cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    assert message in one_error_line(done.stderr)
    assert listing(out) == []


def test_set_needs_no_input_or_a_config(tmp_path: Path) -> None:
    done = run_cli(["new", "--set", "repo_name=x"], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 2
    assert "--set needs --no-input or --config" in one_error_line(done.stderr)


def test_dry_run_lists_what_new_writes_and_writes_nothing(default_run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = listing(tmp_path)
    done = run_cli(
        ["new", "--no-input", "--dry-run", "--format", "json", "--output-dir", out],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [p for p in listing(tmp_path) if not p.startswith("home")] == [
        p for p in before if not p.startswith("home")
    ]
    plan = json.loads(done.stdout)
    written = sorted(
        p.relative_to(default_run.repo).as_posix()
        for p in default_run.repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(default_run.repo).parts
    )
    assert plan["files"] == written
    assert sorted(Path(p).name for p in plan["new_keys"]) == sorted(KEY_FILES)
    assert plan["replaces"] is False and plan["reused_keys"] == []
    text = run_cli(
        ["new", "--no-input", "--dry-run", "--verbose", "--output-dir", out],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert "Nothing was written" in text.stdout and "  .sops.yaml" in text.stdout
    assert not out.exists()


def test_dry_run_refuses_what_new_refuses(default_run: Run, tmp_path: Path) -> None:
    done = run_cli(
        ["new", "--no-input", "--dry-run", "--output-dir", default_run.out],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert done.returncode == 2
    assert "already exists" in one_error_line(done.stderr)


def test_quiet_and_json_output_of_new(tmp_path: Path) -> None:
    quiet = run_cli(
        ["new", "--no-input", "--quiet", "--output-dir", tmp_path / "q"],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    done = run_cli(
        ["new", "--no-input", "--format", "json", "--output-dir", tmp_path / "j"],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    data = json.loads(done.stdout)
    assert Path(data["repo"]) == tmp_path / "j" / REPO
    assert {Path(p).name for p in data["keys"].values()} == KEY_FILES
    assert all((Path(data["repo"]) / p).is_file() for p in data["encrypted"])
    assert set(data["placeholders"]) <= set(data["encrypted"]) and data["placeholders"]
    assert data["example_git_url"] is True
    repo = Path(data["repo"])
    assert data["written"] == sorted(
        p.relative_to(repo).as_posix()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    )
    assert data["committed"] is True
    verbose = run_cli(
        ["new", "--no-input", "--verbose", "--output-dir", tmp_path / "v"],
        cwd=tmp_path, home=tmp_path / "home",
    )  # fmt: skip
    assert verbose.returncode == 0, verbose.stderr
    lines = verbose.stdout.splitlines()
    assert "  wrote .sops.yaml" in lines and "  wrote platform.yaml" in lines
    assert f"  key {tmp_path / 'v' / (REPO + '.keys') / 'admin.agekey'}" in lines
