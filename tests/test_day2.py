"""Day 2 on existing repos: add and remove tenants and clusters (issue: day-2 core).

Real repos made by `new`, real sops, real git; the result is compared with what `new` writes
for the same answers, and every failure must leave the repo byte-identical (.git included).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder import transaction, written
from scaffolder.commands.clusters import add_cluster, remove_cluster
from scaffolder.commands.new import new
from scaffolder.commands.tenants import add_tenant, remove_tenant
from scaffolder.commands.validate import validate
from scaffolder.cookiecutter_guard import REQUEST_PREFIX
from scaffolder.errors import AnswersError, UsageError
from scaffolder.generate import GeneratedRepo
from scaffolder.model import DEFAULT_ANSWERS, load_answers
from scaffolder.repo_state import read_platform
from scaffolder.sops import decrypt_file, find_sops_files, is_encrypted
from tests.cli_helpers import CLI, cli_env, copy_of, git, one_error_line, run_cli, snapshot
from tests.conftest import CHECKOUT, SCHEMAS

ENGINES = ("flux", "argocd")


def many_tenants(count: int) -> dict[str, Any]:
    """The default answers with ``count`` tenants spread over the two spokes."""
    spokes = ["dev-eu-1", "prod-eu-1"]
    tenants = [
        {"name": f"team-{i:03d}", **({"clusters": [spokes[i % 2]]} if i % 3 else {})}
        for i in range(count)
    ]
    return {**DEFAULT_ANSWERS, "tenants": tenants}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, int], GeneratedRepo]:
    """Generated once per (engine, tenant count); tests work on copies."""
    made: dict[tuple[str, int], GeneratedRepo] = {}

    def get(engine: str, tenants: int = 2) -> GeneratedRepo:
        if (engine, tenants) not in made:
            root = tmp_path_factory.mktemp(f"day2-{engine}-{tenants}")
            answers = DEFAULT_ANSWERS if tenants == 2 else many_tenants(tenants)
            platform = load_answers({**answers, "engine": engine})
            made[(engine, tenants)] = new(platform, root / "out", root / "out" / "keys")
        return made[(engine, tenants)]

    return get


def work_tree(repo: Path) -> dict[str, str]:
    """Every file outside .git: plaintext, SOPS files as their structure without ciphertext."""
    files = {}
    for path in sorted(repo.rglob("*")):
        relative = path.relative_to(repo).as_posix()
        if path.is_file() and not relative.startswith(".git/"):
            text = path.read_text(encoding="utf-8")
            files[relative] = "<encrypted>" if is_encrypted(text) else text
    return files


def same_as_new(repo: Path, keys: Path, tmp_path: Path) -> None:
    """The repo equals what `new` writes for its platform.yaml; SOPS files decrypt the same."""
    fresh = new(read_platform(repo), tmp_path / "fresh", keys, force=True).repo_dir
    assert work_tree(repo) == work_tree(fresh)
    for relative in find_sops_files(repo):
        assert decrypt_file(repo / relative, keys / "admin.agekey") == decrypt_file(
            fresh / relative, keys / "admin.agekey"
        ), relative


def changed(repo: Path) -> list[str]:
    out = git(repo, "status", "--porcelain", "--untracked-files=all")
    return sorted(line[3:] for line in out.splitlines())


# --------------------------------------------------------------------------- add-tenant

# What add-tenant changes besides the tenant's own folder, whatever the repo's size.
TOUCHED = {
    "flux": [
        "README.md",
        "clusters/dev-eu-1/tenant-sync/kustomization.yaml",
        "platform.yaml",
    ],
    "argocd": [
        "README.md",
        "clusters/hub/argocd/tenants/kustomization.yaml",
        "platform.yaml",
    ],
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("size", [2, 200])
def test_add_tenant_touches_a_small_set_of_files_and_equals_new(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, size: int, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine, size), tmp_path)
    result = add_tenant(repo, "team-new", clusters=["dev-eu-1"])

    outside = [p for p in changed(repo) if not p.startswith("tenants/team-new/")]
    assert outside == TOUCHED[engine]
    assert [p for p in result.written if p.startswith("tenants/team-new/")]
    assert result.left_alone == [] and result.deleted == []
    same_as_new(repo, keys, tmp_path)
    if size == 2:
        report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
        assert [str(f) for f in report.findings] == []


def _cookiecutter(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """The real cookiecutter CLI on this checkout, the way the README shows it."""
    home.mkdir(exist_ok=True)
    env = cli_env(home)
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(CHECKOUT), "--no-input", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_the_cookiecutter_directory_route_equals_add_tenant(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    by_command, _ = copy_of(pristine(engine, 2), tmp_path / "command")
    by_cookiecutter, _ = copy_of(pristine(engine, 2), tmp_path / "cookiecutter")
    add_tenant(by_command, "team-c", clusters=["dev-eu-1"])
    requests_before = set(Path(tempfile.gettempdir()).glob(REQUEST_PREFIX + "*"))
    done = _cookiecutter(
        ["--directory", f"templates/{engine}/tenant", "tenant_name=team-c",
         "clusters=dev-eu-1"],
        by_cookiecutter, tmp_path / "h",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Added tenant team-c" in done.stdout
    assert work_tree(by_cookiecutter) == work_tree(by_command)
    assert changed(by_cookiecutter) == changed(by_command)
    assert set(Path(tempfile.gettempdir()).glob(REQUEST_PREFIX + "*")) == requests_before


def test_the_cookiecutter_route_refuses_bad_input_and_changes_nothing(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine("flux", 2), tmp_path)
    before = snapshot(repo)
    for answers, message in [
        (["tenant_name=team-a"], "error: tenant team-a is already in platform.yaml"),
        (["tenant_name={{7*7}}"], "must not contain a template expression"),
        (["tenant_name=team-c", "clusters=hub"], "hub"),
    ]:
        done = _cookiecutter(
            ["--directory", "templates/flux/tenant", *answers], repo, tmp_path / "h"
        )
        assert done.returncode != 0
        assert message in done.stdout + done.stderr
        assert snapshot(repo) == before
    not_a_repo = _cookiecutter(
        ["--directory", "templates/flux/tenant", "tenant_name=team-c"], tmp_path, tmp_path / "h"
    )
    assert "is not a gitops-scaffold platform repo" in not_a_repo.stdout
    assert not_a_repo.returncode != 0
    for part in ("base", "cluster"):  # rendered by gitops-scaffold only
        done = _cookiecutter(["--directory", f"templates/flux/{part}"], tmp_path, tmp_path / "h")
        assert "rendered by gitops-scaffold itself" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["h", repo.name, "keys"])


@pytest.mark.parametrize("engine", ENGINES)
def test_add_then_remove_tenant_leaves_git_clean_and_comments_intact(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine(engine), tmp_path)
    answers = repo / "platform.yaml"
    answers.write_text(
        answers.read_text().replace("tenants:\n", "# who deploys here\ntenants:  # teams\n")
    )
    git(repo, "commit", "-qam", "a comment")
    add_tenant(repo, "team-c")
    assert "# who deploys here\ntenants:  # teams\n" in answers.read_text()
    remove_tenant(repo, "team-c")
    assert changed(repo) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_add_then_remove_cluster_leaves_git_clean_and_keeps_the_key(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    result = add_cluster(repo, "stg-us-1", env="staging", region="us-east-1", keys_dir=keys)
    key = result.keys["stg-us-1"].path
    assert key == keys / "stg-us-1.agekey" and (key.stat().st_mode & 0o777) == 0o600
    remove_cluster(repo, "stg-us-1")
    assert changed(repo) == []
    assert key.exists()  # a private key is never deleted
    again = add_cluster(repo, "stg-us-1", env="staging", keys_dir=keys)
    assert again.keys == {}  # the key left behind is reused, not replaced


@pytest.mark.parametrize("engine", ENGINES)
def test_a_new_cluster_gets_its_own_key_and_a_tenant_on_it_validates(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    add_cluster(repo, "stg-us-1", env="staging", keys_dir=keys, commit=True)
    add_tenant(repo, "team-c", clusters=["stg-us-1"], commit=True)
    assert changed(repo) == []
    assert git(repo, "log", "-2", "--format=%s").splitlines() == [
        "Add tenant team-c (gitops-scaffold)",
        "Add cluster stg-us-1 (gitops-scaffold)",
    ]
    report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
    assert [str(f) for f in report.findings] == []
    same_as_new(repo, keys, tmp_path)
    own = [f for f in find_sops_files(repo) if f.startswith("clusters/stg-us-1/")]
    assert own
    for relative in own:
        decrypt_file(repo / relative, keys / "stg-us-1.agekey")
        decrypt_file(repo / relative, keys / "admin.agekey")
        with pytest.raises(Exception, match="sops decrypt"):
            decrypt_file(repo / relative, keys / "dev-eu-1.agekey")


TOKEN = "eyJhbGciOiJSUzI1NiJ9.c3Bva2UtdG9rZW4tZm9yLXRlc3Rz.c2lnbmF0dXJl"  # shaped like a JWT
CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="


def _kubeconfig(path: Path, user: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.7:6443",
                                              "certificate-authority-data": CA}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    return path


# Where each engine keeps what the hub uses to reach a spoke.
CREDENTIALS_FILE = {
    "flux": "clusters/hub/spokes/stg-us-1/kubeconfig.sops.yaml",
    "argocd": "clusters/stg-us-1/secrets/cluster.sops.yaml",
}


@pytest.mark.parametrize("engine", ENGINES)
def test_add_cluster_encrypts_the_kubeconfig_credentials_into_the_repo(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    config = _kubeconfig(tmp_path / "stg.kubeconfig", {"token": TOKEN})
    add_cluster(repo, "stg-us-1", env="staging", keys_dir=keys, kubeconfig=config)
    opener = keys / ("stg-us-1.agekey" if engine == "argocd" else "hub.agekey")  # the README says
    plain = decrypt_file(repo / CREDENTIALS_FILE[engine], opener)
    assert TOKEN in plain and "https://10.0.0.7:6443" in plain and CA in plain
    assert "REPLACE" not in plain.split("stringData:", 1)[1]
    for path in repo.rglob("*"):  # the token is in no file in plaintext, .git included
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
    assert [str(f) for f in report.findings] == []
    secret = yaml.safe_load(plain)
    if engine == "flux":  # the value is a kubeconfig of its own
        inner = yaml.safe_load(secret["stringData"]["value"])
        assert inner["users"][0]["user"] == {"token": TOKEN}
        assert inner["clusters"][0]["cluster"]["server"] == "https://10.0.0.7:6443"
    else:  # Argo CD's cluster config (ClusterConfig: bearerToken, tlsClientConfig)
        assert secret["stringData"]["server"] == "https://10.0.0.7:6443"
        assert json.loads(secret["stringData"]["config"]) == {
            "bearerToken": TOKEN, "tlsClientConfig": {"caData": CA, "insecure": False},
        }  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_add_cluster_takes_a_client_certificate_too(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    user = {"client-certificate-data": CA, "client-key-data": "S0VZLWRhdGE="}
    add_cluster(repo, "stg-us-1", env="staging", keys_dir=keys,
                kubeconfig=_kubeconfig(tmp_path / "k", user))  # fmt: skip
    secret = yaml.safe_load(decrypt_file(repo / CREDENTIALS_FILE[engine], keys / "admin.agekey"))
    if engine == "flux":
        inner = yaml.safe_load(secret["stringData"]["value"])
        assert inner["users"][0]["user"] == user
    else:
        assert json.loads(secret["stringData"]["config"])["tlsClientConfig"] == {
            "certData": CA, "keyData": "S0VZLWRhdGE=", "caData": CA, "insecure": False,
        }  # fmt: skip


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"exec": {"command": "aws"}}, "logs in through exec"),
        ({"auth-provider": {"name": "gcp"}}, "logs in through auth-provider"),
        ({"tokenFile": "/var/run/token"}, "tokenFile is a file path"),
        ({}, "neither a token nor a client certificate"),
        ({"client-certificate-data": "not base64!", "client-key-data": CA}, "not base64"),
    ],
)
def test_add_cluster_refuses_credentials_the_hub_cannot_use(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path, user: dict[str, Any],
    message: str,
) -> None:  # fmt: skip
    repo, keys = copy_of(pristine("flux"), tmp_path)
    before, keys_before = snapshot(repo), snapshot(keys)
    config = _kubeconfig(tmp_path / "k", user)
    with pytest.raises(UsageError, match=message):
        add_cluster(repo, "stg-us-1", env="staging", keys_dir=keys, kubeconfig=config)
    assert snapshot(repo) == before and snapshot(keys) == keys_before
    args = ["add-cluster", "stg-us-1", "--env", "staging", "--repo", repo]
    missing = run_cli([*args, "--kubeconfig", tmp_path / "nope"], cwd=tmp_path, home=tmp_path)
    assert missing.returncode == 2
    assert one_error_line(missing.stderr).endswith("does not exist")


def test_an_unreadable_key_file_is_one_line_not_a_traceback(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    (keys / "stg-us-1.agekey").write_text("AGE-SECRET-KEY-1NOTAKEY\n")
    before = snapshot(repo)
    done = run_cli(["add-cluster", "stg-us-1", "--env", "staging", "--repo", repo,
                    "--keys-dir", keys], cwd=tmp_path, home=tmp_path / "h")  # fmt: skip
    assert done.returncode == 2
    assert one_error_line(done.stderr).endswith("holds no usable age key: repair or move it; "
                                                "nothing was changed")  # fmt: skip
    assert "NOTAKEY" not in done.stderr and snapshot(repo) == before


def test_adding_a_tenant_needs_no_private_key(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    shutil.rmtree(keys)
    add_tenant(repo, "team-c")
    assert "tenants/team-c/platform/namespace.yaml" in changed(repo)


# --------------------------------------------------------------------------- hand edits


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hand_edited_file_is_reported_and_left_alone_unless_force(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine(engine), tmp_path)
    readme = repo / "README.md"
    edited = readme.read_text() + "\nOur own notes.\n"
    readme.write_text(edited)
    result = add_tenant(repo, "team-c")
    assert [a.path for a in result.left_alone] == ["README.md"]
    assert "edited by hand" in result.left_alone[0].reason
    assert readme.read_text() == edited
    forced = add_tenant(repo, "team-d", force=True)
    assert forced.left_alone == [] and "Our own notes." not in readme.read_text()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_clone_without_the_record_of_written_files_gets_the_same_change(
    pristine: Callable[[str, int], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    """The record in .git only saves rendering the old answers: without it (a fresh clone),
    hand edits are still found and the result is the same."""
    with_record, _ = copy_of(pristine(engine), tmp_path / "with")
    without, _ = copy_of(pristine(engine), tmp_path / "without")
    shutil.rmtree(without / written.RECORD_DIR)
    for repo in (with_record, without):
        readme = repo / "README.md"
        readme.write_text(readme.read_text() + "\nOur own notes.\n")
        result = add_tenant(repo, "team-c", clusters=["dev-eu-1"])
        assert [a.path for a in result.left_alone] == ["README.md"]
    assert work_tree(with_record) == work_tree(without)
    healed = written.read(without)  # what add-tenant rendered and found as it writes it
    assert "platform.yaml" in healed and ".sops.yaml" in healed
    assert any(path.startswith("tenants/team-c/") for path in healed)
    assert "README.md" not in healed  # edited by hand: not what this tool wrote
    remove_tenant(without, "team-c")  # the record written by add-tenant now says what it wrote
    assert "team-c" not in (without / "platform.yaml").read_text()


def test_a_file_the_tool_does_not_own_is_never_touched(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    mine = repo / "tenants" / "team-a" / "platform" / "extra.yaml"
    mine.write_text("kind: ConfigMap\n")
    remove_tenant(repo, "team-a")
    assert mine.read_text() == "kind: ConfigMap\n"  # not ours: the folder keeps it
    assert not (repo / "tenants/team-a/platform/namespace.yaml").exists()


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: add_tenant(r, "team-a"), "tenant team-a is already in platform.yaml"),
        (lambda r: add_tenant(r, "team-c", clusters=["nowhere"]), "'nowhere' is not a cluster"),
        (lambda r: add_tenant(r, "team-c", clusters=["hub"]), "is the hub"),
        (lambda r: add_tenant(r, "Bad_Name"), "is not a DNS-1123 label"),
        (lambda r: remove_tenant(r, "nobody"), "tenant nobody is not in platform.yaml"),
        (lambda r: add_cluster(r, "dev-eu-1", env="dev"), "cluster dev-eu-1 is already"),
        (lambda r: remove_cluster(r, "hub"), "is the hub; it cannot be removed"),
    ],
)
def test_bad_input_changes_nothing(
    pristine: Callable[[str, int], GeneratedRepo],
    tmp_path: Path,
    call: Callable[[Path], object],
    message: str,
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    before = snapshot(repo)
    with pytest.raises((UsageError, AnswersError), match=message):
        call(repo)
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("read_only", "message"),
    [("README.md", "README.md is read-only"), ("tenants", "tenants is a read-only folder")],
)
def test_a_read_only_file_or_folder_stops_the_change(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path, read_only: str, message: str
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    target = repo / read_only
    mode = target.stat().st_mode
    target.chmod(mode & ~0o222)
    try:
        before = snapshot(repo)
        with pytest.raises(UsageError, match=message):
            add_tenant(repo, "team-c")
        assert snapshot(repo) == before
    finally:
        target.chmod(mode)
    result = run_cli(["add-tenant", "team-d", "--no-input", "--repo", repo], cwd=tmp_path,
                     home=tmp_path / "h")  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_remove_cluster_refuses_while_a_tenant_lives_only_there(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    add_cluster(repo, "stg-1", env="staging", keys_dir=keys)
    add_tenant(repo, "team-c", clusters=["stg-1"])
    before = snapshot(repo)
    with pytest.raises(UsageError, match="tenant team-c is placed only on stg-1"):
        remove_cluster(repo, "stg-1")
    assert snapshot(repo) == before
    remove_cluster(repo, "stg-1", force=True)
    assert [t.name for t in read_platform(repo).tenants] == ["team-a", "team-b"]


def test_a_folder_that_is_not_a_platform_repo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    done = run_cli(["add-tenant", "team-c", "--repo", tmp_path], cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 2
    assert "is not a gitops-scaffold platform repo" in one_error_line(done.stderr)
    assert snapshot(tmp_path) == {**before, "h": snapshot(tmp_path)["h"]}


# --------------------------------------------------------------------------- atomicity


@pytest.fixture
def fail_on_write(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    def arm(after: int) -> None:
        original = transaction.Transaction._replace
        calls = {"n": 0}

        def failing(self: transaction.Transaction, *args: Any, **kwargs: Any) -> None:
            calls["n"] += 1
            if calls["n"] > after:
                raise OSError(28, "No space left on device", "injected")
            original(self, *args, **kwargs)

        monkeypatch.setattr(transaction.Transaction, "_replace", failing)

    yield arm


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failure_halfway_leaves_the_repo_byte_identical(
    pristine: Callable[[str, int], GeneratedRepo],
    engine: str,
    tmp_path: Path,
    fail_on_write: Callable[[int], None],
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    before, keys_before = snapshot(repo), snapshot(keys)
    fail_on_write(5)
    with pytest.raises(OSError, match="No space left"):
        add_cluster(repo, "stg-1", env="staging", keys_dir=keys, commit=True)
    assert snapshot(repo) == before
    assert snapshot(keys) == keys_before  # no key was written either


def test_a_failing_commit_leaves_the_repo_byte_identical(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    (repo / ".git" / "refs" / "heads" / "main.lock").write_text("")  # git busy: commit fails
    before = snapshot(repo)
    with pytest.raises(Exception, match="git commit"):
        add_tenant(repo, "team-c", commit=True)
    assert snapshot(repo) == before


def _slow_cli(args: list[str], repo: Path, home: Path, delay: str) -> subprocess.Popen[str]:
    env = cli_env(home, GITOPS_SCAFFOLD_TEST_WRITE_DELAY=delay)
    return subprocess.Popen(
        [*CLI, *args, "--repo", str(repo)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_journal(repo: Path, process: subprocess.Popen[str]) -> None:
    journal = repo / ".git" / transaction.JOURNAL / "index.json"
    deadline = time.monotonic() + 30
    while not journal.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the change never started"
        time.sleep(0.02)
    time.sleep(0.3)  # a few files into the change


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_change_leaves_the_repo_byte_identical(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path, signum: int
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    before = snapshot(repo)
    process = _slow_cli(["add-tenant", "team-c", "--no-input"], repo, tmp_path / "h", "0.1")
    _wait_for_journal(repo, process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signum
    assert one_error_line(stderr).startswith("error: interrupted")
    assert snapshot(repo) == before


def test_a_killed_change_is_rolled_back_by_the_next_command(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    before = snapshot(repo)
    process = _slow_cli(["add-tenant", "team-c", "--no-input"], repo, tmp_path / "h", "0.1")
    _wait_for_journal(repo, process)
    process.kill()  # SIGKILL: no cleanup at all
    process.communicate(timeout=30)
    assert snapshot(repo) != before
    pristine_tree = git(repo, "rev-parse", "gitops-scaffold/pristine^{tree}")
    result = add_tenant(repo, "team-d")
    assert result.recovered
    remove_tenant(repo, "team-d")
    # The pristine record gained two commits (add, remove), back to the tree it had.
    assert git(repo, "rev-parse", "gitops-scaffold/pristine^{tree}") == pristine_tree
    assert without_pristine_record(snapshot(repo)) == without_pristine_record(before)


def without_pristine_record(files: dict[str, tuple[int, bytes]]) -> dict[str, tuple[int, bytes]]:
    """A snapshot without the pristine branch's commits (its ref, log and objects)."""
    record = (".git/objects", ".git/refs/heads/gitops-scaffold", ".git/logs/refs/heads/gitops")
    return {path: entry for path, entry in files.items() if not path.startswith(record)}


def test_a_second_command_on_the_same_repo_is_refused(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    first = _slow_cli(["add-tenant", "team-c", "--no-input"], repo, tmp_path / "h", "0.5")
    _wait_for_journal(repo, first)
    second = run_cli(
        ["add-tenant", "team-d", "--no-input", "--repo", repo], cwd=tmp_path, home=tmp_path / "h"
    )
    assert second.returncode == 2
    assert "is being changed by another gitops-scaffold command" in one_error_line(second.stderr)
    first.communicate(timeout=60)
    assert first.returncode == 0
    names = [t.name for t in read_platform(repo).tenants]
    assert names == ["team-a", "team-b", "team-c"]
    yaml.safe_load((repo / "platform.yaml").read_text())  # never corrupted


def test_the_cli_prints_what_it_did(
    pristine: Callable[[str, int], GeneratedRepo], tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    done = run_cli(
        ["add-tenant", "team-c", "--no-input", "--clusters", "dev-eu-1", "--repo", repo],
        cwd=tmp_path,
        home=tmp_path / "h",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Added tenant team-c in acme-platform: ")
    assert "git -C" in done.stdout
    assert os.path.isdir(repo / "tenants" / "team-c")
