"""`gitops-scaffold update` and `check` (issue 14): a repo follows newer templates, hand edits
kept, conflicts named.

Version A is this checkout's template; version B is a copy of it (``template_b``) where a
tenant's Flux Kustomization and Argo CD ApplicationSet gain a field, a cluster's SOPS file
gains a placeholder and a new file appears, rendered through the test-only
``GITOPS_SCAFFOLD_TEMPLATE_ROOT`` with the version number bumped. The real upgrade takes an
earlier commit of this project from git history and generates with it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

import scaffolder
from scaffolder import git as scaffolder_git
from scaffolder import pristine, sops, written
from scaffolder.cli import main
from scaffolder.commands.clusters import add_cluster, remove_cluster
from scaffolder.commands.freeze import freeze, unfreeze
from scaffolder.commands.new import new
from scaffolder.commands.rotate import rotate
from scaffolder.commands.secrets import add_secret
from scaffolder.commands.tenants import add_tenant, remove_tenant
from scaffolder.commands.update import UpdateResult, _newer, check, update
from scaffolder.commands.validate import validate
from scaffolder.generate import GeneratedRepo, repo_files
from scaffolder.model import DEFAULT_ANSWERS, PLATFORM_FILE, load_answers
from scaffolder.paths import ROOT_SKELETON, TEMPLATE_ROOT_VARIABLE, template_root
from scaffolder.repo_state import public_keys, read_platform
from tests.cli_helpers import cli_env, git, one_error_line, run_cli, snapshot
from tests.conftest import CHECKOUT, SCHEMAS

ENGINES = ("flux", "argocd")
VERSION_A = scaffolder.__version__
VERSION_B = "0.2.0"
# The last commit before the Argo CD and Flux correctness fixes landed: a real earlier version
# of this project, whose repos differ from today's in many files.
OLD_COMMIT = "f158751"

FLUX_TENANT_FILE = "tenants/team-a/sync/sync.yaml"
ARGOCD_TENANT_FILE = "tenants/team-a/argocd/apps.yaml"
TENANT_FILE = {"flux": FLUX_TENANT_FILE, "argocd": ARGOCD_TENANT_FILE}
NEW_FILE = "docs/upgrading.md"
SOPS_FILE = "clusters/dev-eu-1/secrets/cluster-secrets.sops.yaml"
GONE_FILE = "tenants/{}/examples/sealed-secret.yaml"  # B no longer writes it (Flux)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="session")
def template_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Version B of the template: a copy of A with a field added to a tenant's Flux
    Kustomization and Argo CD ApplicationSet, a new placeholder in a SOPS file, a new file,
    and a Flux tenant file gone."""
    root = tmp_path_factory.mktemp("template-b")
    source = template_root()
    shutil.copy(source / "cookiecutter.json", root / "cookiecutter.json")
    shutil.copytree(source / ROOT_SKELETON, root / ROOT_SKELETON)
    shutil.copytree(source / "templates", root / "templates")
    flux_tenant = root / "templates/flux/tenant/{{cookiecutter.repo_dir}}/tenants"
    sync = flux_tenant / "{{cookiecutter._tenant.name}}/sync/sync.yaml"
    sync.write_text(sync.read_text(encoding="utf-8") + "  force: false\n", encoding="utf-8")
    argocd_tenant = root / "templates/argocd/tenant/{{cookiecutter.repo_dir}}/tenants"
    _replace(
        argocd_tenant / "{{cookiecutter._tenant.name}}/argocd/apps.yaml",
        "    preserveResourcesOnDeletion: true\n",
        "    preserveResourcesOnDeletion: true\n    applicationsSync: create-update\n",
    )
    secrets = (
        root / "templates/flux/cluster/{{cookiecutter.repo_dir}}/clusters"
        / "{{cookiecutter._cluster.name}}/secrets/cluster-secrets.sops.yaml"
    )  # fmt: skip
    secrets.write_text(
        secrets.read_text(encoding="utf-8") + "  another-token: REPLACE-ME\n", encoding="utf-8"
    )
    (flux_tenant / "{{cookiecutter._tenant.name}}/examples/sealed-secret.yaml").unlink()
    unit = root / "templates/flux/tenant/cookiecutter.json"
    config = json.loads(unit.read_text(encoding="utf-8"))
    del config["_when"]["tenants/{{cookiecutter._tenant.name}}/examples/sealed-secret.yaml"]
    unit.write_text(json.dumps(config), encoding="utf-8")
    docs = root / ROOT_SKELETON / "docs"
    docs.mkdir()
    (docs / "upgrading.md").write_text(
        "# Upgrading\n\nRun `gitops-scaffold update`, review, commit.\n", encoding="utf-8"
    )
    return root


@pytest.fixture
def version_b(monkeypatch: pytest.MonkeyPatch, template_b: Path) -> Iterator[Path]:
    monkeypatch.setenv(TEMPLATE_ROOT_VARIABLE, str(template_b))
    monkeypatch.setattr(scaffolder, "__version__", VERSION_B)
    yield template_b


@pytest.fixture(scope="module")
def made_with_a(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], GeneratedRepo]:
    made: dict[str, GeneratedRepo] = {}

    def get(engine: str) -> GeneratedRepo:
        if engine not in made:
            root = tmp_path_factory.mktemp(f"update-a-{engine}")
            with pytest.MonkeyPatch.context() as version_a:  # whatever the test set up
                version_a.delenv(TEMPLATE_ROOT_VARIABLE, raising=False)
                version_a.setattr(scaffolder, "__version__", VERSION_A)
                platform = load_answers({**DEFAULT_ANSWERS, "engine": engine})
                made[engine] = new(platform, root / "out", root / "keys")
        return made[engine]

    return get


def copy_repo(repo: GeneratedRepo, tmp_path: Path) -> Path:
    target = tmp_path / repo.repo_dir.name
    shutil.copytree(repo.repo_dir, target, symlinks=True)
    return target


def commit_all(repo: Path, message: str = "hand edits") -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "-m", message)


def plain_render(repo: Path) -> dict[str, str]:
    """What the running version generates for the repo (plain files, platform.yaml aside)."""
    platform = read_platform(repo)
    files = repo_files(platform, public_keys(repo, platform))
    return {
        path: file.content
        for path, file in files.items()
        if not sops.is_sops_file(path) and path != PLATFORM_FILE
    }


def assert_valid(repo: Path) -> None:
    report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
    assert [str(f) for f in report.findings] == []


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- A -> B


@pytest.mark.parametrize("engine", ENGINES)
def test_an_untouched_repo_updates_to_b_cleanly(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path, engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a(engine), tmp_path)
    answers_before = (repo / PLATFORM_FILE).read_text(encoding="utf-8")
    code, out, _ = run_main(["check", "--repo", str(repo)], capsys)
    assert code == 1
    assert f"written by gitops-scaffold {VERSION_A}, this is gitops-scaffold {VERSION_B}" in out
    code, out, _ = run_main(["update", "--repo", str(repo)], capsys)
    assert code == 0, out
    assert out.startswith(f"Updated {repo.name} from gitops-scaffold 0.1.0 to {VERSION_B}")
    # Every plain file is what B generates for these answers: B's field, B's new file.
    render = plain_render(repo)
    for path, content in render.items():
        assert (repo / path).read_text(encoding="utf-8") == content, path
    assert (repo / NEW_FILE).is_file()
    assert (repo / GONE_FILE.format("team-a")).exists() is (engine == "argocd")
    tenant = (repo / TENANT_FILE[engine]).read_text(encoding="utf-8")
    assert "force: false" in tenant or "applicationsSync: create-update" in tenant
    # platform.yaml: the version edited in place, the comments kept.
    answers = (repo / PLATFORM_FILE).read_text(encoding="utf-8")
    assert answers == answers_before.replace(
        "gitops_scaffold_version: 0.1.0", f"gitops_scaffold_version: {VERSION_B}"
    )
    assert read_platform(repo).generator_version == VERSION_B
    # The record follows: check is satisfied, a second update changes nothing.
    assert run_main(["check", "--repo", str(repo)], capsys)[0] == 0
    meta = json.loads(git(repo, "show", f"{pristine.BRANCH}:{pristine.META}"))
    assert meta["gitops_scaffold_version"] == VERSION_B
    assert git(repo, "show", f"{pristine.BRANCH}:{NEW_FILE}") == render[NEW_FILE]
    commit_all(repo, "update")
    record = git(repo, "rev-parse", pristine.BRANCH)
    code, out, _ = run_main(["update", "--repo", str(repo)], capsys)
    assert (code, out) == (0, f"{repo.name} is up to date with gitops-scaffold {VERSION_B}.\n")
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", pristine.BRANCH) == record  # not even a new record
    assert_valid(repo)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hand_edit_survives_and_b_is_merged_in(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path, engine: str
) -> None:
    repo = copy_repo(made_with_a(engine), tmp_path)
    edited = repo / TENANT_FILE[engine]
    if engine == "flux":
        _replace(edited, "  interval: 10m\n", "  interval: 30m\n")
        _replace(repo / GONE_FILE.format("team-b"), "# ", "# mine: ")
    else:
        _replace(edited, "              revision: HEAD\n", "              revision: main\n")
    commit_all(repo)
    result = update(repo)
    assert result.conflicts == [] and TENANT_FILE[engine] in result.written
    text = edited.read_text(encoding="utf-8")
    if engine == "flux":
        assert "  interval: 30m\n" in text and "  force: false\n" in text
    else:
        assert "revision: main" in text and "applicationsSync: create-update" in text
    assert (repo / NEW_FILE).is_file()
    if engine == "flux":  # B no longer writes it: deleted where untouched, kept where edited
        assert GONE_FILE.format("team-a") in result.deleted
        assert (repo / GONE_FILE.format("team-b")).is_file()
        reasons = {note.path: note.reason for note in result.notes}
        assert "edited: not deleted" in reasons[GONE_FILE.format("team-b")]
    # The merged file holds a hand edit: never recorded as this tool's own output.
    assert written.unchanged(repo, TENANT_FILE[engine], written.read(repo)) is False
    assert_valid(repo)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_conflicting_edit_is_named_and_left_unmerged(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path, engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a(engine), tmp_path)
    path = TENANT_FILE[engine]
    if engine == "flux":
        (repo / path).write_text(
            (repo / path).read_text(encoding="utf-8") + "  force: true\n", encoding="utf-8"
        )
    else:
        _replace(
            repo / path,
            "    preserveResourcesOnDeletion: true\n",
            "    preserveResourcesOnDeletion: true\n    applicationsSync: create-only\n",
        )
    commit_all(repo)
    code, out, _ = run_main(["update", "--repo", str(repo)], capsys)
    assert code == 1
    assert not out.startswith("Updated") and "Updated" not in out
    assert f"CONFLICT {path}" in out
    text = (repo / path).read_text(encoding="utf-8")
    assert "<<<<<<< yours" in text and ">>>>>>> gitops-scaffold 0.2.0" in text
    # git sees a merge conflict: unmerged, both versions in the index.
    status = git(repo, "status", "--porcelain")
    assert f"UU {path}" in status.splitlines(), status
    assert "both modified" in git(repo, "status")
    assert git(repo, "show", f":3:{path}") == plain_render(repo)[path]
    # The rest of B landed; the version moved on (the conflict is the user's to resolve).
    assert (repo / NEW_FILE).is_file()
    assert read_platform(repo).generator_version == VERSION_B
    # Resolving it the usual way: take B's, add, commit.
    git(repo, "checkout", "--theirs", "--", path)
    commit_all(repo, "resolved")
    assert git(repo, "status", "--porcelain") == ""


def test_rej_keeps_yours_and_writes_the_hunk_beside_it(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a("flux"), tmp_path)
    path = FLUX_TENANT_FILE
    ours = (repo / path).read_text(encoding="utf-8") + "  force: true\n"
    (repo / path).write_text(ours, encoding="utf-8")
    commit_all(repo)
    code, out, _ = run_main(["update", "--repo", str(repo), "--conflict", "rej"], capsys)
    assert code == 1 and f"CONFLICT {path} (your version kept; theirs in {path}.rej)" in out
    assert (repo / path).read_text(encoding="utf-8") == ours
    reject = (repo / f"{path}.rej").read_text(encoding="utf-8")
    assert "-  force: true\n+  force: false\n" in reject
    assert reject.startswith(f"--- {path}")
    status = git(repo, "status", "--porcelain").splitlines()
    assert f"?? {path}.rej" in status and all(path not in line[3:] for line in status[:0])


def test_files_deleted_or_replaced_by_hand_stay_that_way(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path
) -> None:
    repo = copy_repo(made_with_a("flux"), tmp_path)
    deleted = "tenants/team-b/sync/sync.yaml"
    (repo / deleted).unlink()
    (repo / SOPS_FILE).unlink()
    (repo / FLUX_TENANT_FILE).unlink()
    (repo / FLUX_TENANT_FILE).symlink_to("../../team-b/sync/kustomization.yaml")
    commit_all(repo, "mine")
    result = update(repo)
    reasons = {note.path: note.reason for note in result.notes}
    assert reasons[deleted] == "deleted here, changed by the new version: not written again"
    assert reasons[SOPS_FILE] == "encrypted, deleted here: not written again"
    assert reasons[FLUX_TENANT_FILE] == "not a regular file here: left alone"
    assert not (repo / deleted).exists() and not (repo / SOPS_FILE).exists()
    assert (repo / FLUX_TENANT_FILE).is_symlink()
    assert not result.conflicts


# --------------------------------------------------------------------------- SOPS files


def test_sops_files_are_compared_by_fingerprint_never_decrypted(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path
) -> None:
    source = made_with_a("flux")
    repo = copy_repo(source, tmp_path)
    filled = "clusters/hub/secrets/cluster-secrets.sops.yaml"
    plaintext = sops.decrypt_file(repo / filled, source.keys_dir / "hub.agekey")
    secret_value = "s3cr3t-value-" + "x" * 20
    mine = plaintext.replace("REPLACE-ME", secret_value)
    encrypted = sops.encrypt_texts({filled: mine}, repo / ".sops.yaml", cwd=repo)
    (repo / filled).write_text(encrypted[filled], encoding="utf-8")
    commit_all(repo, "fill in the hub's secrets")
    untouched_before = (repo / SOPS_FILE).read_text(encoding="utf-8")
    filled_before = (repo / filled).read_text(encoding="utf-8")
    result = update(repo)
    assert not result.conflicts
    # The untouched placeholder gets B's new key, encrypted; the filled-in file is named.
    assert SOPS_FILE in result.written
    assert (repo / SOPS_FILE).read_text(encoding="utf-8") != untouched_before
    decrypted = sops.decrypt_file(repo / SOPS_FILE, source.keys_dir / "dev-eu-1.agekey")
    assert "another-token: REPLACE-ME" in decrypted
    assert (repo / filled).read_text(encoding="utf-8") == filled_before
    assert any(n.path == filled and "sops edit" in n.reason for n in result.notes)
    # No plaintext of a SOPS file on the branch: fingerprints only.
    for commit in git(repo, "rev-list", pristine.BRANCH).split():
        listing = git(repo, "ls-tree", "-r", "--name-only", commit).split()
        assert not any(sops.is_sops_file(p) for p in listing)
        meta = json.loads(git(repo, "show", f"{commit}:{pristine.META}"))
        assert all(v.startswith("sha256:") and len(v) == 71 for v in meta["sops"].values())
    everything = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    assert secret_value.encode() not in everything
    assert_valid(repo)


# --------------------------------------------------------------------------- safety


def test_dry_run_changes_nothing(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a("flux"), tmp_path)
    before = snapshot(repo)
    code, out, _ = run_main(["update", "--repo", str(repo), "--dry-run"], capsys)
    assert code == 0
    assert snapshot(repo) == before
    assert f"  add      {NEW_FILE}" in out
    assert f"  update   {FLUX_TENANT_FILE}" in out
    assert f"  delete   {GONE_FILE.format('team-a')}" in out
    assert "nothing was written" in out
    assert f"Base: branch {pristine.BRANCH}." in out
    # A conflict shows as one too, still without a change.
    (repo / FLUX_TENANT_FILE).write_text(
        (repo / FLUX_TENANT_FILE).read_text(encoding="utf-8") + "  force: true\n", "utf-8"
    )
    commit_all(repo)
    before = snapshot(repo)
    code, out, _ = run_main(["update", "--repo", str(repo), "--dry-run"], capsys)
    assert code == 1 and f"  conflict {FLUX_TENANT_FILE}" in out
    assert snapshot(repo) == before


def test_a_dirty_worktree_is_refused(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a("flux"), tmp_path)
    (repo / "README.md").write_text("mine\n", encoding="utf-8")
    before = snapshot(repo)
    for args in (["update"], ["update", "--dry-run"]):
        code, _, err = run_main([*args, "--repo", str(repo)], capsys)
        assert code == 2
        assert "README.md has uncommitted changes" in one_error_line(err)
        assert snapshot(repo) == before
    (repo / "README.md").unlink()
    git(repo, "checkout", "--", "README.md")
    (repo / "notes.txt").write_text("untracked\n", encoding="utf-8")
    code, _, err = run_main(["update", "--repo", str(repo)], capsys)
    assert code == 2 and "notes.txt" in one_error_line(err)
    (repo / "notes.txt").unlink()
    answers = (repo / PLATFORM_FILE).read_bytes()
    git(repo, "checkout", "--quiet", pristine.BRANCH)
    (repo / PLATFORM_FILE).write_bytes(answers)
    code, _, err = run_main(["update", "--repo", str(repo)], capsys)
    assert code == 2 and "is checked out" in one_error_line(err)


def test_a_failure_halfway_leaves_the_repo_byte_identical(
    made_with_a: Callable[[str], GeneratedRepo],
    tmp_path: Path,
    version_b: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = copy_repo(made_with_a("flux"), tmp_path)
    before = snapshot(repo)
    real = scaffolder_git.write_commits

    def fail_after_writing(repo_dir: Path, commits: list[scaffolder_git.NewCommit]) -> None:
        real(repo_dir, commits)  # the branch moved, its objects written ...
        raise OSError(28, "No space left on device")  # ... and then the disk is full

    monkeypatch.setattr(scaffolder_git, "write_commits", fail_after_writing)
    with pytest.raises(OSError):
        update(repo)
    assert snapshot(repo) == before


def test_an_unusable_record_is_one_error_line(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a("flux"), tmp_path)
    # A branch whose record is not what this tool writes: refused, never used as a base.
    worktree = tmp_path / "other"
    git(repo, "worktree", "add", "--quiet", str(worktree), pristine.BRANCH)
    (worktree / pristine.META).write_text('{"sops": {"../x": "y"}}', encoding="utf-8")
    commit_all(worktree, "tampered")
    git(repo, "worktree", "remove", "--force", str(worktree))
    before = snapshot(repo)
    for command in ("update", "check"):
        code, _, err = run_main([command, "--repo", str(repo)], capsys)
        assert code == 2
        assert "is not what gitops-scaffold wrote" in one_error_line(err) or (
            "is not what gitops-scaffold writes" in err
        )
    assert snapshot(repo) == before
    # No record at all: the branch gone and a first commit not made by gitops-scaffold.
    bare = tmp_path / "bare"
    bare.mkdir()
    git(bare, "init", "--quiet")
    for name in (PLATFORM_FILE, ".sops.yaml"):
        shutil.copy(repo / name, bare / name)
    commit_all(bare, "my own first commit")
    code, _, err = run_main(["update", "--repo", str(bare)], capsys)
    assert code == 2 and "no record of what gitops-scaffold generated" in one_error_line(err)


def test_newer_versions_compare_as_numbers() -> None:
    assert _newer("0.10.0", "0.9.1") and not _newer("0.9.1", "0.10.0")
    assert _newer("0.1.0", "") and not _newer("", "0.1.0")
    assert _newer("1.0.0", "1.0.0rc1") and not _newer("1.0.0rc1", "1.0.0")
    assert not _newer("1.0.0", "1.0.0")


def test_a_repo_from_a_newer_version_is_not_downgraded(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a("flux"), tmp_path)
    monkeypatch.setattr(scaffolder, "__version__", "0.0.9")
    code, out, _ = run_main(["check", "--repo", str(repo)], capsys)
    assert code == 0 and "newer than this one" in out
    code, _, err = run_main(["update", "--repo", str(repo)], capsys)
    assert code == 2 and "install 0.1.0 or newer" in one_error_line(err)


# --------------------------------------------------------------------------- day 2


def test_tenants_added_by_add_tenant_survive_an_update(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, template_b: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a("flux"), tmp_path)
    commits = git(repo, "rev-list", "--count", pristine.BRANCH)
    add_tenant(repo, "team-c", commit=True)
    assert int(git(repo, "rev-list", "--count", pristine.BRANCH)) == int(commits) + 1
    assert git(repo, "show", f"{pristine.BRANCH}:tenants/team-c/sync/sync.yaml") == (
        repo / "tenants/team-c/sync/sync.yaml"
    ).read_text(encoding="utf-8")
    assert check(repo).up_to_date
    monkeypatch.setenv(TEMPLATE_ROOT_VARIABLE, str(template_b))
    monkeypatch.setattr(scaffolder, "__version__", VERSION_B)
    result = update(repo)
    assert not result.conflicts
    assert "tenants/team-c/sync/sync.yaml" in result.written
    assert "  force: false\n" in (repo / "tenants/team-c/sync/sync.yaml").read_text()
    assert [t.name for t in read_platform(repo).tenants] == ["team-a", "team-b", "team-c"]
    assert_valid(repo)


def copy_keys(repo: GeneratedRepo, tmp_path: Path) -> Path:
    target = tmp_path / "keys"
    shutil.copytree(repo.keys_dir, target)
    return target


def _frozen_then_unfrozen(repo: Path, keys: Path, commit: bool) -> object:
    freeze(repo, "prod", reason="release", commit=commit)
    return unfreeze(repo, "prod", commit=commit)


# Every command that changes a repo, as (repo, keys folder, --commit) -> its result.
CHANGES: dict[str, Callable[[Path, Path, bool], object]] = {
    "rotate a cluster key": lambda r, k, c: rotate(r, cluster="dev-eu-1", keys_dir=k, commit=c),
    "rotate the hub key": lambda r, k, c: rotate(r, cluster="hub", keys_dir=k, commit=c),
    "rotate the admin key": lambda r, k, c: rotate(r, admin=True, keys_dir=k, commit=c),
    "add a secret": lambda r, k, c: add_secret(
        r, "db", cluster="hub", namespace="platform-system", values={"password": b"v"}, commit=c
    ),
    "freeze": lambda r, k, c: freeze(r, "prod", commit=c),
    "freeze then unfreeze": _frozen_then_unfrozen,
    "add a cluster": lambda r, k, c: add_cluster(r, "stg-1", env="staging", keys_dir=k, commit=c),
    "remove a cluster": lambda r, k, c: remove_cluster(r, "prod-eu-1", commit=c),
    "add a tenant": lambda r, k, c: add_tenant(r, "team-c", commit=c),
    "remove a tenant": lambda r, k, c: remove_tenant(r, "team-b", commit=c),
}


@pytest.mark.parametrize("commit", [False, True], ids=["", "--commit"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_after_any_command_check_is_up_to_date_and_update_has_nothing_to_merge(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, change: str, commit: bool
) -> None:
    """The record moves with every command that rewrites a generated file (`secrets rotate`:
    .sops.yaml; add-cluster: its SOPS files' fingerprints too): a CI `check` right after it
    passes, and `update` finds nothing to merge, nor anything to record."""
    made = made_with_a("flux")
    repo, keys = copy_repo(made, tmp_path), copy_keys(made, tmp_path)
    record = git(repo, "rev-parse", pristine.BRANCH)
    CHANGES[change](repo, keys, commit)
    if commit:
        assert git(repo, "status", "--porcelain") == ""  # one commit of all it wrote
    result = check(repo)
    assert (result.differing, result.up_to_date) == ([], True)
    if change == "add a secret":
        assert git(repo, "rev-parse", pristine.BRANCH) == record  # nothing of it is generated
    if git(repo, "status", "--porcelain"):
        commit_all(repo, change)  # update wants a clean work tree
    record = git(repo, "rev-parse", pristine.BRANCH)
    before = snapshot(repo)
    merged = update(repo)
    assert (merged.changed, merged.notes, merged.rejects) == ([], [], [])
    assert git(repo, "rev-parse", pristine.BRANCH) == record  # not even a new record
    assert snapshot(repo) == before


@pytest.mark.parametrize("engine", ENGINES)
def test_secrets_rotate_commit_then_check_in_ci(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The report: `secrets rotate --commit`, then `check` in CI said an update was available
    (.sops.yaml differed from the record) and exited 1."""
    made = made_with_a(engine)
    repo, keys = copy_repo(made, tmp_path), copy_keys(made, tmp_path)
    code, out, err = run_main(
        ["secrets", "rotate", "--cluster", "dev-eu-1", "--repo", str(repo), "--keys-dir",
         str(keys), "--commit", "--quiet"], capsys,
    )  # fmt: skip
    assert (code, out, err) == (0, "", "")
    code, out, _ = run_main(["check", "--repo", str(repo)], capsys)
    assert (code, out) == (0, f"{repo.name} is up to date with gitops-scaffold {VERSION_A}.\n")
    # The record holds the new .sops.yaml, as the work tree and the commit do; nothing else
    # of it changed (the rotated files' templates did not).
    assert git(repo, "show", f"{pristine.BRANCH}:.sops.yaml") == (repo / ".sops.yaml").read_text(
        encoding="utf-8"
    )
    changed = git(repo, "diff", "--name-only", f"{pristine.BRANCH}^", pristine.BRANCH).split()
    assert changed == [".sops.yaml"]
    assert git(repo, "status", "--porcelain") == ""


def test_a_repo_without_the_branch_falls_back_to_its_first_commit(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path
) -> None:
    source = made_with_a("flux")
    repo = copy_repo(source, tmp_path)
    git(repo, "branch", "--quiet", "-D", pristine.BRANCH)
    shutil.rmtree(repo / written.RECORD_DIR)  # a clone: no record either
    filled = "clusters/prod-eu-1/secrets/cluster-secrets.sops.yaml"
    plaintext = sops.decrypt_file(repo / filled, source.keys_dir / "prod-eu-1.agekey")
    mine = plaintext.replace("REPLACE-ME", "filled-in")
    encrypted = sops.encrypt_texts({filled: mine}, repo / ".sops.yaml", cwd=repo)
    (repo / filled).write_text(encrypted[filled], encoding="utf-8")
    commit_all(repo, "fill in prod")
    before = (repo / filled).read_bytes()
    result = update(repo)
    assert result.base.startswith("the initial commit ")
    assert not result.conflicts and FLUX_TENANT_FILE in result.written
    # No fingerprints: a SOPS file as `new` wrote it holds placeholders only and gets the new
    # ones; a changed one is left as it is, named.
    assert SOPS_FILE in result.written
    assert (repo / filled).read_bytes() == before
    assert [n.path for n in result.notes] == [filled]
    assert git(repo, "rev-parse", "--verify", pristine.BRANCH)  # the record starts now
    assert_valid(repo)


def test_base_from_names_the_generated_commit_of_an_imported_history(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo = copy_repo(made_with_a("flux"), tmp_path)
    git(repo, "branch", "--quiet", "-D", pristine.BRANCH)
    # The generated files imported into another history: its first commit is not new's.
    git(repo, "checkout", "--quiet", "--orphan", "platform")
    commit_all(repo, "import the platform repo")
    git(repo, "branch", "--quiet", "-D", "main")
    imported = git(repo, "rev-parse", "HEAD").strip()
    (repo / "README.md").write_text("ours\n", encoding="utf-8")
    commit_all(repo, "our README")
    code, _, err = run_main(["update", "--repo", str(repo)], capsys)
    assert code == 2 and "pass --base-from REV" in one_error_line(err)
    code, _, err = run_main(["check", "--repo", str(repo), "--base-from", "nope"], capsys)
    assert code == 2 and "--base-from: 'nope' names no commit" in one_error_line(err)
    code, out, _ = run_main(["update", "--repo", str(repo), "--base-from", imported], capsys)
    assert code == 0, out
    assert (repo / "README.md").read_text(encoding="utf-8") == "ours\n"  # unchanged by B
    assert "  force: false\n" in (repo / FLUX_TENANT_FILE).read_text(encoding="utf-8")


def test_a_clone_uses_the_remote_record(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, version_b: Path
) -> None:
    origin = copy_repo(made_with_a("flux"), tmp_path / "origin")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(origin), str(clone))
    assert git(clone, "branch", "--list", pristine.BRANCH) == ""  # only main is local
    result = update(clone)
    assert result.base == f"branch origin/{pristine.BRANCH}"
    assert not result.conflicts and FLUX_TENANT_FILE in result.written
    # No record of what this tool wrote in a fresh clone: the placeholders are recognised
    # as the first commit's bytes and get B's.
    assert SOPS_FILE in result.written and not result.notes
    parent = git(clone, "rev-parse", f"{pristine.BRANCH}^").strip()
    assert parent == git(clone, "rev-parse", f"origin/{pristine.BRANCH}").strip()


# --------------------------------------------------------------------------- CLI


def test_the_cli_in_a_subprocess(
    made_with_a: Callable[[str], GeneratedRepo], tmp_path: Path, template_b: Path
) -> None:
    repo = copy_repo(made_with_a("argocd"), tmp_path)
    done = run_cli(["check", "--repo", repo], cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert "up to date with gitops-scaffold 0.1.0" in done.stdout
    env = cli_env(tmp_path / "home", **{TEMPLATE_ROOT_VARIABLE: str(template_b)})
    done = run_cli(["check", "--repo", repo], cwd=tmp_path, home=tmp_path / "h", env=env)
    assert done.returncode == 1 and "Update available" in done.stdout
    done = run_cli(["update", "--repo", repo], cwd=repo, home=tmp_path / "h", env=env)
    assert done.returncode == 0, done.stderr
    assert ARGOCD_TENANT_FILE in git(repo, "status", "--porcelain")
    done = run_cli(["update", "--conflict", "both"], cwd=repo, home=tmp_path / "h", env=env)
    assert done.returncode == 2 and "--conflict" in one_error_line(done.stderr)


# --------------------------------------------------------------------------- real upgrade


def _old_checkout(root: Path) -> Path:
    """This project at OLD_COMMIT, from git history: never skipped (CI clones fully)."""
    found = subprocess.run(
        ["git", "-C", str(CHECKOUT), "cat-file", "-e", f"{OLD_COMMIT}^{{commit}}"],
        capture_output=True, check=False,
    )  # fmt: skip
    if found.returncode != 0:
        pytest.fail(
            f"commit {OLD_COMMIT} is not in this checkout's history (a shallow clone?): the "
            "real-upgrade test needs it; fetch the full history (git fetch --unshallow)"
        )
    checkout = root / "old-checkout"
    checkout.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(CHECKOUT), "archive", OLD_COMMIT], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
    return checkout


@pytest.fixture(scope="module")
def old_repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A repo per engine, generated by the project as it was at OLD_COMMIT."""
    root = tmp_path_factory.mktemp("old-version")
    checkout = _old_checkout(root)
    answers = root / "answers.yaml"
    answers.write_text(yaml.safe_dump(DEFAULT_ANSWERS), encoding="utf-8")
    env = cli_env(root / "home")
    env["PYTHONPATH"] = str(checkout)
    env.pop(TEMPLATE_ROOT_VARIABLE, None)
    made = {}
    for engine in ENGINES:
        out = root / engine
        subprocess.run(
            [sys.executable, "-m", "scaffolder", "new", "--config", str(answers), "--engine",
             engine, "--output-dir", str(out), "--keys-dir", str(root / f"{engine}.keys")],
            cwd=root, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        made[engine] = out / DEFAULT_ANSWERS["repo_name"]
    return made


@pytest.mark.parametrize("engine", ENGINES)
def test_a_repo_of_an_earlier_version_updates_cleanly(
    old_repos: dict[str, Path], tmp_path: Path, engine: str
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(old_repos[engine], repo, symlinks=True)
    assert git(repo, "branch", "--list", pristine.BRANCH) == ""  # made before the record
    assert not check(repo).up_to_date
    result = update(repo)
    assert isinstance(result, UpdateResult)
    assert result.conflicts == [] and result.base.startswith("the initial commit")
    assert len(result.written) > 10, result.written  # the correctness fixes
    render = plain_render(repo)
    for path, content in render.items():
        assert (repo / path).read_text(encoding="utf-8") == content, path
    assert read_platform(repo).generator_version == scaffolder.__version__
    assert_valid(repo)
    commit_all(repo, "update")
    assert check(repo).up_to_date


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hand_edited_repo_of_an_earlier_version_reports_its_conflicts(
    old_repos: dict[str, Path], tmp_path: Path, engine: str
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(old_repos[engine], repo, symlinks=True)
    # Edit every line the new version changes in one file that it changes, so the edit and
    # the new version collide; and one file the new version leaves as it was.
    base = pristine.read(repo)
    assert base is not None
    render = plain_render(repo)
    changed = sorted(
        p for p in render if p in base.files and base.files[p][0].decode() != render[p]
    )
    target = next(p for p in changed if p.endswith(".yaml"))
    old_lines = (repo / target).read_text(encoding="utf-8").splitlines(keepends=True)
    new_lines = set(render[target].splitlines(keepends=True))
    edited = [
        line if line in new_lines or not line.strip() else line.rstrip("\n") + "  # mine\n"
        for line in old_lines
    ]
    (repo / target).write_text("".join(edited), encoding="utf-8")
    commit_all(repo)
    result = update(repo)
    assert result.conflicts == [target]
    status = git(repo, "status", "--porcelain").splitlines()
    assert f"UU {target}" in status
