"""`--quiet`, `--verbose` and `--format json` on every command that writes or inspects a repo
(issue 13): the same options from one helper, one JSON vocabulary (repo, written, deleted,
left_alone, keys, encrypted, committed, recovered), and never a secret in any output: no
private age key, no value of a Secret."""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

import scaffolder
from scaffolder.cli import build_parser, main
from scaffolder.generate import GeneratedRepo
from tests.cli_helpers import copy_of, git
from tests.test_secrets import controller  # noqa: F401  (a fixture: a controller's cert)

# Every command that writes or inspects a platform repo (validate and doctor have formats of
# their own: SARIF, GitHub annotations).
OUTPUT_COMMANDS = {
    "new", "workshop", "add-tenant", "remove-tenant", "add-cluster", "remove-cluster",
    "freeze", "unfreeze", "update", "check",
    "secrets list", "secrets rotate", "secrets add", "secrets seal",
}  # fmt: skip
OTHERS = {"validate", "doctor", "completion", "version", "secrets"}
DAY2_FIELDS = {"repo", "written", "deleted", "left_alone", "keys", "committed", "recovered"}
VALUE = "pl41n-V4lue-n3ver-printed"


def _commands(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{path} {name}".strip()
                yield full, sub
                yield from _commands(sub, full)


def run(argv: Sequence[str | Path], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def flux_repo(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> tuple[Path, Path]:
    return copy_of(repo_factory("flux", "default"), tmp_path)


def test_every_command_that_writes_or_inspects_a_repo_takes_the_output_options() -> None:
    commands = dict(_commands(build_parser()))
    assert set(commands) == OUTPUT_COMMANDS | OTHERS  # a new command is sorted into one
    for name in OUTPUT_COMMANDS:
        parser = commands[name]
        flags = {flag: action for action in parser._actions for flag in action.option_strings}
        assert {"-q", "--quiet", "-v", "--verbose", "--format"} <= set(flags), name
        assert tuple(flags["--format"].choices or ()) == ("text", "json"), name
        assert "json: one object {" in (flags["--format"].help or ""), name
        exclusive = [
            {a.dest for a in group._group_actions} for group in parser._mutually_exclusive_groups
        ]
        assert {"quiet", "verbose"} in exclusive, name


def _private_keys(keys: Path) -> set[str]:
    return {
        line.strip()
        for path in keys.glob("*.agekey*")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("AGE-SECRET-KEY-")
    }


def _assert_no_secret(outputs: list[str], private_keys: set[str]) -> None:
    assert private_keys
    needles = [VALUE, base64.b64encode(VALUE.encode()).decode(), "AGE-SECRET-KEY", *private_keys]
    for output in outputs:
        for needle in needles:
            assert needle not in output, (needle, output)


def test_add_and_rotate_report_paths_and_names_never_a_secret(
    flux_repo: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, keys = flux_repo
    secrets = _private_keys(keys)
    outputs: list[str] = []
    add = ["secrets", "add", "db", "--cluster", "dev-eu-1", "--namespace", "team-a",
           "--from-literal", f"password={VALUE}", "--repo", repo]  # fmt: skip
    code, out, err = run([*add, "--format", "json"], capsys)
    outputs += [out, err]
    assert code == 0, err
    folder = "clusters/dev-eu-1/secrets"
    assert json.loads(out) == {
        "repo": str(repo),
        "written": [f"{folder}/db.sops.yaml", f"{folder}/kustomization.yaml"],
        "encrypted": [f"{folder}/db.sops.yaml"],
        "secret": {
            "path": f"{folder}/db.sops.yaml", "name": "db", "namespace": "team-a",
            "cluster": "dev-eu-1", "data_keys": ["password"],
        },
        "listed_in": f"{folder}/kustomization.yaml",
        "applied_by": json.loads(out)["applied_by"],
        "committed": False,
        "recovered": False,
    }  # fmt: skip
    code, out, err = run([*add[:2], "db2", *add[3:], "--verbose"], capsys)
    outputs += [out, err]
    assert code == 0, err
    assert f"  wrote {folder}/db2.sops.yaml" in out.splitlines()
    code, out, err = run([*add[:2], "db3", *add[3:], "--quiet"], capsys)
    outputs += [out, err]
    assert (code, out, err) == (0, "", "")

    rotate = ["secrets", "rotate", "--cluster", "dev-eu-1", "--repo", repo, "--keys-dir", keys]
    code, out, err = run([*rotate, "--format", "json"], capsys)
    outputs += [out, err]
    assert code == 0, err
    data = json.loads(out)
    secrets |= _private_keys(keys)  # the new key (and the old one, kept as .old)
    assert data["rotated_key"] == "dev-eu-1"
    assert data["keys"] == {"dev-eu-1": str(keys / "dev-eu-1.agekey")}
    assert data["old_key"] == str(keys / "dev-eu-1.agekey.old") and data["pruned"] == []
    assert {f"{folder}/db.sops.yaml", f"{folder}/db2.sops.yaml"} <= set(data["encrypted"])
    assert data["written"] == sorted([*data["encrypted"], ".sops.yaml"])
    assert (data["committed"], data["recovered"]) == (False, False)
    assert any("kubectl" in step for step in data["next_steps"])
    code, out, err = run([*rotate, "--prune-old", "--verbose"], capsys)
    outputs += [out, err]
    assert code == 0, err
    secrets |= _private_keys(keys)
    lines = out.splitlines()
    assert f"  new key {keys / 'dev-eu-1.agekey'}" in lines
    assert f"  deleted the old key {keys / 'dev-eu-1.agekey.old'}" in lines
    assert f"  wrote {folder}/db.sops.yaml" in lines
    code, out, err = run([*rotate, "--prune-old", "-q"], capsys)
    outputs += [out, err]
    assert (code, out, err) == (0, "", "")
    _assert_no_secret(outputs, secrets | _private_keys(keys))


def test_secrets_list_and_seal_output(
    flux_repo: tuple[Path, Path],
    controller: tuple[rsa.RSAPrivateKey, Path],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    repo, keys = flux_repo
    outputs: list[str] = []
    code, out, err = run(["secrets", "list", "--repo", repo, "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"repo", "secrets"} and data["repo"] == str(repo)
    assert {"path", "mechanism", "cluster", "recipients"} <= set(data["secrets"][0])
    assert run(["secrets", "list", "--repo", repo, "-q"], capsys) == (0, "", "")
    code, out, err = run(["secrets", "list", "--repo", repo, "-v"], capsys)
    outputs += [out, err]
    assert "Recipients (public age keys):" in out and "    admin: age1" in out

    _, cert = controller
    seal = ["secrets", "seal", "api", "--namespace", "team-a", "--cert", cert,
            "--from-literal", f"token={VALUE}"]  # fmt: skip
    code, out, err = run([*seal, "--quiet"], capsys)  # the SealedSecret is the result
    outputs += [out, err]
    assert code == 0 and err == "" and yaml.safe_load(out)["kind"] == "SealedSecret"
    code, out, err = run([*seal, "--verbose"], capsys)  # details beside it, on stderr
    outputs += [out, err]
    assert yaml.safe_load(out)["kind"] == "SealedSecret"
    assert err.startswith(f"  sealed token for the certificate {cert}")
    code, out, err = run([*seal, "--format", "json"], capsys)
    outputs += [out, err]
    data = json.loads(out)
    assert data["secret"] == {"name": "api", "namespace": "team-a", "data_keys": ["token"]}
    assert data["output"] is None and data["cert"] == str(cert)
    assert yaml.safe_load(data["sealed_secret"])["kind"] == "SealedSecret"
    target = tmp_path / "sealed.yaml"
    assert run([*seal, "--output", target, "-q"], capsys) == (0, "", "")
    assert yaml.safe_load(target.read_text())["kind"] == "SealedSecret"
    code, out, err = run([*seal, "--output", target, "--format", "json"], capsys)
    outputs += [out, err]
    data = json.loads(out)
    assert data["output"] == str(target) and data["sealed_secret"] is None
    _assert_no_secret(outputs, _private_keys(keys))


def test_update_and_check_speak_json_quietly_or_verbosely(
    flux_repo: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = flux_repo
    code, out, err = run(["check", "--repo", repo, "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out) == {
        "repo": str(repo), "up_to_date": True, "recorded_version": scaffolder.__version__,
        "running_version": scaffolder.__version__, "newer_recorded": False,
        "base": json.loads(out)["base"], "differing": [],
    }  # fmt: skip
    assert run(["check", "--repo", repo, "--quiet"], capsys) == (0, "", "")
    # A repo recorded by an older version: an update is available.
    answers = repo / "platform.yaml"
    text = answers.read_text(encoding="utf-8")
    older = text.replace(
        f"gitops_scaffold_version: {scaffolder.__version__}", "gitops_scaffold_version: 0.0.1"
    )
    assert older != text
    answers.write_text(older, encoding="utf-8")
    git(repo, "commit", "-qam", "recorded by an older version")
    assert run(["check", "--repo", repo, "--quiet"], capsys) == (1, "", "")
    code, out, _ = run(["check", "--repo", repo, "--format", "json"], capsys)
    assert code == 1 and json.loads(out)["recorded_version"] == "0.0.1"
    code, out, err = run(["update", "--repo", repo, "--dry-run", "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {
        "repo", "dry_run", "recorded_version", "running_version", "base", "written",
        "deleted", "conflicts", "rejects", "left_alone", "recovered",
    }  # fmt: skip
    assert data["dry_run"] is True and data["written"] == ["platform.yaml"]
    assert (data["deleted"], data["conflicts"], data["left_alone"]) == ([], [], [])
    code, out, err = run(["update", "--repo", repo, "--verbose"], capsys)
    assert code == 0, err
    assert "  wrote platform.yaml" in out.splitlines()
    assert "gitops_scaffold_version: 0.0.1" not in answers.read_text(encoding="utf-8")


def test_freeze_list_and_unfreeze_speak_the_day2_json(
    flux_repo: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = flux_repo
    listing = ["freeze", "--list", "--repo", repo, "--format", "json"]
    code, out, _ = run(listing, capsys)
    assert (code, json.loads(out)) == (0, {"repo": str(repo), "freezes": []})
    freeze = ["freeze", "--env", "prod", "--reason", "go-live", "--repo", repo, "-q"]
    assert run(freeze, capsys) == (0, "", "")
    code, out, _ = run(listing, capsys)
    assert json.loads(out)["freezes"] == [
        {"env": "prod", "until": "", "reason": "go-live", "manual_sync": False,
         "clusters": ["prod-eu-1"]},
    ]  # fmt: skip
    code, out, err = run(["unfreeze", "--env", "prod", "--repo", repo, "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == DAY2_FIELDS and data["written"] and data["keys"] == {}
