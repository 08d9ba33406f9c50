"""Ctrl-C, SIGTERM and a second command, at named points of every writing command (issue 13,
hardening; review-adversarial M1, H2, L11, L12).

scaffolder/testhooks.py pauses a command at a named point (GITOPS_SCAFFOLD_TEST_PAUSE_AT)
and tells the test it got there (GITOPS_SCAFFOLD_TEST_PAUSE_MARK); the test then signals it.
Each interrupted command must exit 130 (SIGINT) or 143 (SIGTERM) with one line, leave the repo
and the keys folder byte for byte as they were (.git included), and leave no staging folder,
journal or partial file anywhere (the repo, its parent, $TMPDIR).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from scaffolder import transaction
from scaffolder.commands.new import new
from scaffolder.generate import GeneratedRepo
from scaffolder.model import load_answers
from scaffolder.repo_state import read_platform
from tests.cli_helpers import CLI, cli_env, listing, one_error_line, snapshot


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRepo:
    root = tmp_path_factory.mktemp("interrupts")
    return new(load_answers({}), root / "out", root / "keys")


def copy_of(repo: GeneratedRepo, root: Path) -> tuple[Path, Path]:
    target = root / "work" / repo.repo_dir.name
    shutil.copytree(repo.repo_dir, target, symlinks=True)
    keys = root / "work" / "keys"
    shutil.copytree(repo.keys_dir, keys)
    return target, keys


def start(args: list[str], root: Path, point: str) -> tuple[subprocess.Popen[str], Path]:
    """The CLI, paused at ``point``: (the process, the mark file it writes there)."""
    mark = root / "mark"
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    env = cli_env(
        root / "home",
        GITOPS_SCAFFOLD_TEST_PAUSE_AT=point,
        GITOPS_SCAFFOLD_TEST_PAUSE_MARK=str(mark),
        TMPDIR=str(tmp),
    )
    process = subprocess.Popen(
        [*CLI, *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return process, mark


def wait_for(mark: Path, process: subprocess.Popen[str], point: str) -> None:
    deadline = time.monotonic() + 60
    while not mark.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"ended before {point}: {process.returncode} {out} {err}")
        assert time.monotonic() < deadline, f"never reached {point}"
        time.sleep(0.02)


def leftovers(*folders: Path) -> list[str]:
    """Staging folders, journals and partial files below ``folders``."""
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            name = path.name
            if (
                ".staging-" in name
                or ".replaced-" in name
                or name.endswith(".gitops-scaffold-partial")
                or name == transaction.JOURNAL
            ):
                found.append(str(path))
    return found


def temporary_files(tmp: Path) -> list[str]:
    """What is left in $TMPDIR but Jinja's template cache (kept between runs by design)."""
    return [p for p in listing(tmp) if not p.startswith("_jinja2-cache-")]


K = "{keys}"  # replaced by the keys folder of the copy
CASES: list[tuple[str, list[str], str]] = [
    # (id, arguments before --repo, the point to interrupt at)
    ("add-tenant files", ["add-tenant", "team-c", "--no-input"], "day2:files"),
    ("add-tenant commit", ["add-tenant", "team-c", "--no-input", "--commit"], "day2:commit"),
    ("remove-tenant files", ["remove-tenant", "team-b"], "day2:files"),
    ("add-cluster keys", ["add-cluster", "stg-1", "--env", "staging", "--keys-dir", K],
     "day2:keys"),
    ("add-cluster commit", ["add-cluster", "stg-1", "--env", "staging", "--keys-dir", K,
                            "--commit"], "day2:commit"),
    ("remove-cluster files", ["remove-cluster", "prod-eu-1"], "day2:files"),
    ("secrets add files", ["secrets", "add", "db", "--cluster", "dev-eu-1", "--namespace",
                           "team-a", "--from-literal", "password=v"], "add:files"),
    ("secrets add commit", ["secrets", "add", "db", "--cluster", "dev-eu-1", "--namespace",
                            "team-a", "--from-literal", "password=v", "--commit"], "add:commit"),
    ("rotate files", ["secrets", "rotate", "--cluster", "dev-eu-1", "--keys-dir", K],
     "rotate:files"),
    ("rotate keys", ["secrets", "rotate", "--admin", "--keys-dir", K, "--prune-old"],
     "rotate:outside"),
    ("rotate commit", ["secrets", "rotate", "--cluster", "hub", "--keys-dir", K, "--commit"],
     "rotate:commit"),
]  # fmt: skip


def assert_stopped_cleanly(
    process: subprocess.Popen[str], signum: int, tmp_path: Path,
    *unchanged: tuple[Path, object],
) -> None:  # fmt: skip
    """The signalled command exits 128+signum with one `interrupted` line, every folder of
    ``unchanged`` (path, snapshot before) as it was, and no staging or temporary file left."""
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr
    assert one_error_line(stderr).startswith("error: interrupted")
    for folder, before in unchanged:
        assert snapshot(folder) == before
    assert leftovers(tmp_path / "work") == []
    assert temporary_files(tmp_path / "tmp") == []


@pytest.mark.parametrize(
    ("args", "point", "signum"),
    [(a, p, (signal.SIGINT, signal.SIGTERM)[i % 2]) for i, (_, a, p) in enumerate(CASES)],
    ids=[f"{c[0]}-{('SIGINT', 'SIGTERM')[i % 2]}" for i, c in enumerate(CASES)],
)
def test_a_signal_at_each_point_of_each_command_changes_nothing(
    pristine: GeneratedRepo, tmp_path: Path, args: list[str], point: str, signum: int
) -> None:
    repo, keys = copy_of(pristine, tmp_path)
    before, keys_before = snapshot(repo), snapshot(keys)
    argv = [str(keys) if a == K else a for a in args]
    process, mark = start([*argv, "--repo", str(repo)], tmp_path, point)
    wait_for(mark, process, point)
    assert snapshot(repo) != before or point.endswith(":commit")  # it had started changing
    process.send_signal(signum)
    assert_stopped_cleanly(process, signum, tmp_path, (repo, before), (keys, keys_before))


@pytest.mark.parametrize(
    ("point", "signum"), [("new:staged", signal.SIGINT), ("new:moved", signal.SIGTERM)]
)
def test_a_signal_during_new_force_keeps_the_existing_repo_and_keys(
    pristine: GeneratedRepo, tmp_path: Path, point: str, signum: int
) -> None:
    """H2: interrupted between moving the new repo in and writing its keys, the old repo and
    the old keys (the only ones that open its secrets) come back unchanged."""
    repo, keys = copy_of(pristine, tmp_path)
    before, keys_before = snapshot(repo), snapshot(keys)
    process, mark = start(
        ["new", "--no-input", "--force", "--output-dir", str(repo.parent), "--keys-dir",
         str(keys)], tmp_path, point,
    )  # fmt: skip
    wait_for(mark, process, point)
    process.send_signal(signum)
    assert_stopped_cleanly(process, signum, tmp_path, (repo, before), (keys, keys_before))


def test_two_commands_on_one_repo_both_land_or_one_is_refused(
    pristine: GeneratedRepo, tmp_path: Path
) -> None:
    """A second command while the first one is writing: refused with one line, nothing of it
    written; the first lands whole; platform.yaml is valid all along."""
    repo, keys = copy_of(pristine, tmp_path)
    first, mark = start(
        ["add-cluster", "stg-1", "--env", "staging", "--keys-dir", str(keys), "--repo",
         str(repo)], tmp_path, "day2:keys",
    )  # fmt: skip
    wait_for(mark, first, "day2:keys")
    for second in (
        ["add-tenant", "team-c", "--no-input"],
        ["secrets", "rotate", "--cluster", "dev-eu-1", "--keys-dir", str(keys)],
        ["secrets", "add", "db", "--cluster", "dev-eu-1", "--namespace", "team-a",
         "--from-literal", "password=v"],
    ):  # fmt: skip
        done = subprocess.run(
            [*CLI, *second, "--repo", str(repo)], cwd=tmp_path, env=cli_env(tmp_path / "home"),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "is being changed by another gitops-scaffold command" in one_error_line(done.stderr)
        yaml.safe_load((repo / "platform.yaml").read_text(encoding="utf-8"))
    mark.unlink()  # the first goes on, and lands whole
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    platform = read_platform(repo)
    assert [c.name for c in platform.clusters] == ["hub", "dev-eu-1", "prod-eu-1", "stg-1"]
    assert [t.name for t in platform.tenants] == ["team-a", "team-b"]  # nothing of the others
    assert not (repo / "clusters/dev-eu-1/secrets/db.sops.yaml").exists()
    assert (keys / "stg-1.agekey").exists() and not list(keys.glob("*.old"))
    assert leftovers(tmp_path / "work") == []


def test_commands_one_after_the_other_all_land(pristine: GeneratedRepo, tmp_path: Path) -> None:
    """The same commands in turn: every change is there, platform.yaml names them all."""
    repo, keys = copy_of(pristine, tmp_path)
    for args in (
        ["add-cluster", "stg-1", "--env", "staging", "--keys-dir", str(keys)],
        ["add-tenant", "team-c", "--no-input"],
        ["secrets", "rotate", "--cluster", "dev-eu-1", "--keys-dir", str(keys)],
    ):
        done = subprocess.run(
            [*CLI, *args, "--repo", str(repo)], cwd=tmp_path, env=cli_env(tmp_path / "home"),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    platform = read_platform(repo)
    assert "stg-1" in [c.name for c in platform.clusters]
    assert "team-c" in [t.name for t in platform.tenants]
