"""`new` never loses a key and never removes what it did not create (review-adversarial H2,
H3, M1, M4, M5, M9, R1, R3, R4, L9-L12)."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from scaffolder import keys as keys_module
from scaffolder.commands.new import new
from scaffolder.errors import UsageError
from scaffolder.model import default_platform
from tests.cli_helpers import CLI, cli_env, git, listing, one_error_line, run_cli, snapshot

REPO = default_platform().repo_name


def test_h2_r4_force_twice_keeps_the_keys_byte_for_byte(tmp_path: Path) -> None:
    out, keys = tmp_path / "out", tmp_path / "keys"
    new(default_platform(), out, keys)
    first = snapshot(keys)
    new(default_platform(), out, keys, force=True)
    assert snapshot(keys) == first


def test_h2_a_failure_after_the_repo_moved_brings_the_old_repo_and_keys_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, keys = tmp_path / "out", tmp_path / "keys"
    new(default_platform(), out, keys)
    (keys / "dev-eu-1.agekey").unlink()  # so --force has a key to make
    repo_before, keys_before = snapshot(out / REPO), snapshot(keys)

    def full_disk(*args: object, **kwargs: object) -> object:
        raise OSError(28, "No space left on device", str(keys / "dev-eu-1.agekey"))

    monkeypatch.setattr(keys_module, "write_keys", full_disk)
    with pytest.raises(Exception, match="No space left on device; nothing was written"):
        new(default_platform(), out, keys, force=True)
    assert snapshot(out / REPO) == repo_before
    assert snapshot(keys) == keys_before
    assert sorted(os.listdir(out)) == [REPO]


def test_m9_a_full_disk_while_writing_keys_leaves_no_key_file(tmp_path: Path) -> None:
    made = keys_module.new_keys(["a", "b", "c"])
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "c.agekey").write_text("someone else's\n")  # the third write fails
    with pytest.raises(FileExistsError):
        keys_module.write_keys(folder, made)
    assert sorted(os.listdir(folder)) == ["c.agekey"]
    assert (folder / "c.agekey").read_text() == "someone else's\n"


def test_r1_force_never_replaces_a_folder_this_tool_did_not_generate(tmp_path: Path) -> None:
    target = tmp_path / "out" / REPO
    target.mkdir(parents=True)
    (target / "main.go").write_text("package main\n")
    before = snapshot(tmp_path / "out")
    with pytest.raises(UsageError, match="not a gitops-scaffold platform repo"):
        new(default_platform(), tmp_path / "out", tmp_path / "keys", force=True)
    assert snapshot(tmp_path / "out") == before
    assert not (tmp_path / "keys").exists()


def test_r3_force_never_replaces_another_repos_keys_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    new(default_platform(), out)
    keys_before = snapshot(out / f"{REPO}.keys")
    from dataclasses import replace

    other = replace(default_platform(), repo_name=f"{REPO}.keys")
    with pytest.raises(UsageError, match="not a gitops-scaffold platform repo"):
        new(other, out, tmp_path / "other-keys", force=True)
    assert snapshot(out / f"{REPO}.keys") == keys_before


def test_l9_a_symlinked_target_is_refused_even_with_force(tmp_path: Path) -> None:
    victim = tmp_path / "thesis"
    victim.mkdir()
    (victim / "thesis.tex").write_text("\\section{}\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / REPO).symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link"):
        new(default_platform(), out, tmp_path / "keys", force=True)
    assert sorted(os.listdir(out)) == [REPO] and (victim / "thesis.tex").exists()


def test_m5_an_existing_keys_folder_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    new(default_platform(), tmp_path / "out", shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    for key in shared.iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_m4_keys_inside_an_enclosing_work_tree_are_excluded_there(tmp_path: Path) -> None:
    enclosing = tmp_path / "monorepo"
    enclosing.mkdir()
    git(enclosing, "init", "-q")
    new(default_platform(), enclosing)
    status = git(enclosing, "status", "--porcelain", "--untracked-files=all")
    assert f"{REPO}.keys" not in status
    assert f"/{REPO}.keys/" in (enclosing / ".git" / "info" / "exclude").read_text()


def test_h3_l11_a_run_removes_only_what_it_created(tmp_path: Path) -> None:
    """Two runs into one new output folder: the second is refused while the first holds the
    target, and a failed run never removes a folder another run has filled."""
    out = tmp_path / "fresh" / "out"
    env = cli_env(tmp_path / "home", GITOPS_SCAFFOLD_TEST_WRITE_DELAY="0")
    slow = subprocess.Popen(
        [*CLI, "new", "--no-input", "--output-dir", str(out)],
        env={**env, "GITOPS_SCAFFOLD_TEST_NEW_DELAY": "3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (out / f".{REPO}.lock").exists():
        assert time.monotonic() < deadline and slow.poll() is None
        time.sleep(0.05)
    second = run_cli(["new", "--no-input", "--output-dir", out], cwd=tmp_path, home=tmp_path / "h")
    assert second.returncode == 2
    assert "is being changed by another gitops-scaffold command" in one_error_line(second.stderr)
    slow.communicate(timeout=120)
    assert slow.returncode == 0
    assert sorted(os.listdir(out)) == [REPO, f"{REPO}.keys"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_m1_l12_a_signal_mid_run_leaves_no_staging_folder_and_no_key(
    tmp_path: Path, signum: int
) -> None:
    out = tmp_path / "out"
    run = subprocess.Popen(
        [*CLI, "new", "--no-input", "--output-dir", str(out)],
        env={**cli_env(tmp_path / "home"), "GITOPS_SCAFFOLD_TEST_NEW_DELAY": "5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not list(out.glob(f".{REPO}.staging-*")) if out.exists() else True:
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + signum
    assert one_error_line(stderr).startswith("error: interrupted")
    assert listing(tmp_path / "out") == []
    assert not list(tmp_path.rglob("*.agekey"))


def test_m1_a_killed_runs_staging_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = out / f".{REPO}.staging-{dead.pid}-abc"
    (stale / REPO).mkdir(parents=True)
    alive = out / f".{REPO}.staging-{os.getpid()}-def"
    alive.mkdir()
    new(default_platform(), out)
    assert not stale.exists()
    assert alive.exists()  # a live process's: not ours to remove
    shutil.rmtree(alive)


def test_l10_an_exported_git_dir_never_receives_the_platform_commit(tmp_path: Path) -> None:
    """L10 (git-dir-env): inside a git hook or some CI, GIT_DIR and friends point elsewhere."""
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    git(other, "commit", "-q", "--allow-empty", "-m", "theirs")
    before = snapshot(other / ".git")
    env = cli_env(
        tmp_path / "home",
        GIT_DIR=str(other / ".git"),
        GIT_WORK_TREE=str(other),
        GIT_INDEX_FILE=str(other / ".git" / "index"),
    )
    out = tmp_path / "out"
    done = run_cli(["new", "--no-input", "--output-dir", out], cwd=tmp_path, home=tmp_path / "home",
                   env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert snapshot(other / ".git") == before
    assert git(out / REPO, "rev-list", "--count", "HEAD").strip() == "1"
