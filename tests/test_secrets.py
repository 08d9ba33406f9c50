"""`gitops-scaffold secrets`: list, rotate, add, seal (issue: secrets lifecycle).

Real repos made by `new`, real sops and git; values are only ever looked at by decrypting
with a key in the test, never from the command's output.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import os
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from scaffolder.commands.new import new
from scaffolder.commands.rotate import rotate
from scaffolder.commands.secrets import add_secret, list_secrets, seal_secret
from scaffolder.commands.tenants import add_tenant, remove_tenant
from scaffolder.commands.validate import validate
from scaffolder.errors import AnswersError, ToolFailedError, UsageError
from scaffolder.generate import SOPS_CONFIG, GeneratedRepo
from scaffolder.model import DEFAULT_ANSWERS, Vault, dump_answers, load_answers
from scaffolder.sops import decrypt_file, encrypt_texts, find_sops_files, read_recipients
from tests.cli_helpers import cli_env, copy_of, git, one_error_line, run_cli, snapshot
from tests.conftest import SCHEMAS

ENGINES = ("flux", "argocd")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], GeneratedRepo]:
    """One repo per engine, generated once per module; tests work on copies."""
    made: dict[str, GeneratedRepo] = {}

    def get(engine: str) -> GeneratedRepo:
        if engine not in made:
            root = tmp_path_factory.mktemp(f"secrets-{engine}")
            platform = load_answers({**DEFAULT_ANSWERS, "engine": engine})
            made[engine] = new(platform, root / "out", root / "keys")
        return made[engine]

    return get


def values_of(repo: Path, keys: Path) -> set[str]:
    """Every value of every SOPS file of the repo (decrypted with the admin key)."""
    found: set[str] = set()

    def leaves(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                leaves(item)
        elif isinstance(value, list):
            for item in value:
                leaves(item)
        elif value is not None:
            found.add(str(value))

    for relative in find_sops_files(repo):
        document = yaml.safe_load(decrypt_file(repo / relative, keys / "admin.agekey"))
        for field in ("data", "stringData"):
            leaves(document.get(field))
    return found


KNOWN = {"db-password": "s3cr3t-Pa55w0rd-xyz", "api-token": "tok_9f8e7d6c5b4a"}


def add_known_secret(repo: Path, cluster: str = "dev-eu-1") -> str:
    """A Secret with KNOWN values, encrypted the way the pipeline does (from memory)."""
    relative = f"clusters/{cluster}/secrets/known.sops.yaml"
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "known", "namespace": "platform-system"},
        "stringData": KNOWN,
    }
    encrypted = encrypt_texts({relative: yaml.safe_dump(manifest)}, repo / SOPS_CONFIG, cwd=repo)
    (repo / relative).write_text(encrypted[relative])
    return relative


# ---------------------------------------------------------------------------------- list


@pytest.mark.parametrize("engine", ENGINES)
def test_list_names_every_secret_and_never_a_value(
    pristine: Callable[[str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    known = add_known_secret(repo)
    # The values that are secret: those no plaintext file of the repo shows anyway (a
    # cluster's name in its credentials is no secret).
    public = "".join(
        p.read_text(errors="replace")
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.parts and not p.name.endswith(".sops.yaml")
    )
    values = {v for v in values_of(repo, keys) if len(v) >= 4 and v not in public}
    assert set(KNOWN.values()) <= values
    text = run_cli(["secrets", "list", "--repo", repo], cwd=tmp_path, home=tmp_path / "h")
    as_json = run_cli(
        ["secrets", "list", "--repo", repo, "--format", "json"], cwd=tmp_path, home=tmp_path / "h"
    )
    for done in (text, as_json):
        assert done.returncode == 0, done.stderr
        for value in values:
            assert value not in done.stdout
            assert value not in done.stderr
    entries = {e["path"]: e for e in json.loads(as_json.stdout)["secrets"]}
    assert set(find_sops_files(repo)) <= set(entries)
    entry = entries[known]
    assert entry["mechanism"] == "sops"
    assert (entry["cluster"], entry["namespace"], entry["name"]) == (
        "dev-eu-1",
        "platform-system",
        "known",
    )
    assert [r["key"] for r in entry["recipients"]] == ["dev-eu-1", "admin"]
    assert entry["last_rotated"] and entry["state"] == "ok"
    stub = entries["tenants/team-a/examples/sealed-secret.yaml"]
    assert (stub["mechanism"], stub["state"], stub["cluster"]) == (
        "sealed",
        "placeholder",
        "dev-eu-1,prod-eu-1",
    )
    assert f"{known}  [sops] Secret platform-system/known" in text.stdout


def test_list_flags_a_plaintext_sops_file_and_external_secrets(
    pristine: Callable[[str], GeneratedRepo], tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    (repo / "clusters/hub/secrets/oops.sops.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: oops\n  namespace: flux-system\n"
        "stringData:\n  password: hunter2-plain\n"
    )
    (repo / "clusters/hub/external.yaml").write_text(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: db\n"
        "  namespace: team-a\nspec:\n  refreshInterval: 1h\n  secretStoreRef:\n"
        "    kind: ClusterSecretStore\n    name: vault\n"
    )
    entries = {e.path: e for e in list_secrets(repo)}
    assert entries["clusters/hub/secrets/oops.sops.yaml"].state == "NOT ENCRYPTED"
    external = entries["clusters/hub/external.yaml"]
    assert (external.mechanism, external.cluster, external.detail) == (
        "external",
        "hub",
        "ClusterSecretStore/vault, refresh 1h",
    )
    done = run_cli(["secrets", "list", "--repo", repo], cwd=tmp_path, home=tmp_path / "h")
    assert "hunter2-plain" not in done.stdout
    assert "!! NOT ENCRYPTED" in done.stdout


def test_list_outside_a_platform_repo_is_one_line(tmp_path: Path) -> None:
    done = run_cli(["secrets", "list", "--repo", tmp_path], cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 2
    assert "not a gitops-scaffold platform repo" in one_error_line(done.stderr)


# -------------------------------------------------------------------------------- rotate


def opens(path: Path, key: Path) -> bool:
    try:
        decrypt_file(path, key)
    except ToolFailedError:
        return False
    return True


def files_of(repo: Path) -> dict[str, bytes]:
    return {r: (repo / r).read_bytes() for r in find_sops_files(repo)}


@pytest.mark.parametrize("engine", ENGINES)
def test_rotate_a_cluster_key(
    pristine: Callable[[str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    before = files_of(repo)
    old_key = (keys / "dev-eu-1.agekey").read_bytes()
    plaintext = {r: decrypt_file(repo / r, keys / "admin.agekey") for r in before}
    done = rotate(repo, cluster="dev-eu-1", keys_dir=keys)
    mine = [r for r in before if r.startswith("clusters/dev-eu-1/")]
    assert sorted(done.rotated) == sorted(mine) and mine
    assert (keys / "dev-eu-1.agekey.old").read_bytes() == old_key  # kept, byte for byte
    assert (keys / "dev-eu-1.agekey").stat().st_mode & 0o777 == 0o600
    after = files_of(repo)
    for relative in before:
        if relative in mine:
            assert after[relative] != before[relative]
            assert opens(repo / relative, keys / "dev-eu-1.agekey")
            assert not opens(repo / relative, keys / "dev-eu-1.agekey.old")
            assert decrypt_file(repo / relative, keys / "admin.agekey") == plaintext[relative]
        else:
            assert after[relative] == before[relative]  # other clusters: byte-identical
    rules = read_recipients((repo / SOPS_CONFIG).read_text())
    assert rules["dev-eu-1"][0] == done.key.public
    assert validate(str(repo), only=["secrets"]).ok
    if engine == "flux":
        assert "--namespace='dev-eu-1'" in done.next_steps[1]
        assert "--server-side" in done.next_steps[-1]
        assert "old.agekey" not in done.next_steps[-1]


def test_rotate_the_admin_key_rewraps_every_file(
    pristine: Callable[[str], GeneratedRepo], tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    before = files_of(repo)
    done = rotate(repo, admin=True, keys_dir=keys, commit=True)
    assert sorted(done.rotated) == sorted(before)
    for relative in before:
        cluster = relative.split("/")[1]
        assert opens(repo / relative, keys / "admin.agekey")
        assert not opens(repo / relative, keys / "admin.agekey.old")
        assert opens(repo / relative, keys / f"{cluster}.agekey")
    assert git(repo, "status", "--porcelain") == ""
    assert "Rotate the admin age key" in git(repo, "log", "-1", "--format=%s")
    assert done.next_steps == [
        "No cluster holds the admin key: keep the new one where the old one was kept."
    ]


def test_a_lost_cluster_key_is_replaced_with_the_admin_key(
    pristine: Callable[[str], GeneratedRepo], tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    (keys / "prod-eu-1.agekey").unlink()  # lost
    done = rotate(repo, cluster="prod-eu-1", keys_dir=keys)
    assert done.kept is None and not (keys / "prod-eu-1.agekey.old").exists()
    for relative in done.rotated:
        assert opens(repo / relative, keys / "prod-eu-1.agekey")


def test_an_old_key_is_only_deleted_with_prune_old(
    pristine: Callable[[str], GeneratedRepo], tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    rotate(repo, cluster="dev-eu-1", keys_dir=keys)
    before, keys_before = snapshot(repo), snapshot(keys)
    again = run_cli(
        ["secrets", "rotate", "--cluster", "dev-eu-1", "--repo", repo, "--keys-dir", keys],
        cwd=tmp_path, home=tmp_path / "h",
    )  # fmt: skip
    assert again.returncode == 2
    assert "--prune-old" in one_error_line(again.stderr)
    assert snapshot(repo) == before and snapshot(keys) == keys_before
    pruned = run_cli(
        ["secrets", "rotate", "--cluster", "dev-eu-1", "--repo", repo, "--keys-dir", keys,
         "--prune-old"],
        cwd=tmp_path, home=tmp_path / "h",
    )  # fmt: skip
    assert pruned.returncode == 0, pruned.stderr
    assert "Deleted the old key" in pruned.stdout
    assert sorted(p.name for p in keys.iterdir() if p.name.startswith("dev-eu-1")) == [
        "dev-eu-1.agekey"
    ]
    for relative in files_of(repo):
        if relative.startswith("clusters/dev-eu-1/"):
            assert opens(repo / relative, keys / "dev-eu-1.agekey")
    assert "AGE-SECRET-KEY" not in pruned.stdout + pruned.stderr


@pytest.mark.parametrize("point", ["rotate:files", "rotate:outside"])
@pytest.mark.parametrize("commit", [False, True])
def test_a_failure_halfway_leaves_repo_and_keys_byte_identical(
    pristine: Callable[[str], GeneratedRepo], tmp_path: Path, point: str, commit: bool
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    before, keys_before = snapshot(repo), snapshot(keys)
    done = run_cli(
        ["secrets", "rotate", "--cluster", "hub", "--repo", repo, "--keys-dir", keys,
         *(["--commit"] if commit else [])],
        cwd=tmp_path, home=tmp_path / "h",
        env=cli_env(tmp_path / "h", GITOPS_SCAFFOLD_TEST_FAIL_AT=point),
    )  # fmt: skip
    assert done.returncode == 1
    assert "No space left on device" in one_error_line(done.stderr)
    assert snapshot(repo) == before
    assert snapshot(keys) == keys_before


def test_rotate_refuses_bad_input_and_changes_nothing(
    pristine: Callable[[str], GeneratedRepo], tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    other = tmp_path / "other-keys"
    other.mkdir()
    shutil.copy(keys / "admin.agekey", other / "hub.agekey")  # not hub's key
    before, keys_before = snapshot(repo), snapshot(keys)
    cases = [
        (["--cluster", "nope"], "cluster nope is not in platform.yaml"),
        (["--cluster", "hub", "--keys-dir", str(other)], "is not the key .sops.yaml names"),
        ([], "one of the arguments --cluster --admin is required"),
        (["--cluster", "hub", "--admin"], "not allowed with argument"),
    ]
    for args, message in cases:
        done = run_cli(
            ["secrets", "rotate", *args, "--repo", repo], cwd=tmp_path, home=tmp_path / "h"
        )
        assert done.returncode == 2, done.stderr
        assert message in one_error_line(done.stderr)
    (repo / SOPS_CONFIG).write_text((repo / SOPS_CONFIG).read_text() + "# mine\n")
    with pytest.raises(UsageError, match="edited by hand"):
        rotate(repo, cluster="hub", keys_dir=keys)
    (repo / SOPS_CONFIG).write_bytes(before[SOPS_CONFIG][1])
    assert snapshot(repo) == before and snapshot(keys) == keys_before
    shutil.rmtree(keys)
    with pytest.raises(UsageError, match="no key in"):
        rotate(repo, cluster="hub", keys_dir=keys)


# ----------------------------------------------------------------------------------- add

SECRET_VALUES = {
    "password": "pl41n-T3xt-never-on-disk",
    "dsn": "postgres://app:hunter2-dsn@db:5432/app",
    "cert.pem": "-----BEGIN CERTIFICATE-----\nMIIB-not-really\n-----END CERTIFICATE-----\n",
    "API_KEY": "envfile-value-0a1b2c",
}


class Watcher(threading.Thread):
    """Reads every file below the repo, over and over, while a command runs: what it saw."""

    def __init__(self, root: Path, needles: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.root, self.needles = root, needles
        self.stop = threading.Event()
        self.seen: list[str] = []
        self.rounds = 0

    def run(self) -> None:
        while not self.stop.is_set():
            for folder, _, names in os.walk(self.root):
                for name in names:
                    path = Path(folder) / name
                    try:
                        data = path.read_bytes()
                    except OSError:
                        continue  # gone between the listing and the read
                    if any(needle in data for needle in self.needles):
                        self.seen.append(str(path.relative_to(self.root)))
            self.rounds += 1


@pytest.mark.parametrize("engine", ENGINES)
def test_add_encrypts_from_memory_and_the_engine_applies_it(
    pristine: Callable[[str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    cluster, namespace = ("dev-eu-1", "team-a") if engine == "flux" else ("hub", "argocd")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "cert.pem").write_text(SECRET_VALUES["cert.pem"])
    (inputs / "app.env").write_text(f"# comment\n\nAPI_KEY={SECRET_VALUES['API_KEY']}\n")
    needles = [v.encode() for v in SECRET_VALUES.values()]
    needles += [base64.b64encode(v.encode()) for v in SECRET_VALUES.values()]
    watcher = Watcher(repo, needles)
    watcher.start()
    done = run_cli(
        ["secrets", "add", "db-creds", "--cluster", cluster, "--namespace", namespace,
         "--from-literal", f"password={SECRET_VALUES['password']}",
         "--from-literal", f"dsn={SECRET_VALUES['dsn']}",
         "--from-file", f"cert.pem={inputs / 'cert.pem'}",
         "--from-env-file", inputs / "app.env", "--repo", repo, "--commit"],
        cwd=tmp_path, home=tmp_path / "h",
        env=cli_env(tmp_path / "h", GITOPS_SCAFFOLD_TEST_WRITE_DELAY="0.2"),
    )  # fmt: skip
    watcher.stop.set()
    watcher.join()
    assert done.returncode == 0, done.stderr
    assert watcher.rounds > 3 and watcher.seen == []  # no file in the repo held a value
    for value in SECRET_VALUES.values():
        assert value not in done.stdout + done.stderr
    relative = f"clusters/{cluster}/secrets/db-creds.sops.yaml"
    secret = yaml.safe_load(decrypt_file(repo / relative, keys / f"{cluster}.agekey"))
    assert secret["stringData"] == SECRET_VALUES
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("db-creds", namespace)
    assert opens(repo / relative, keys / "admin.agekey")
    other = "prod-eu-1"
    assert not opens(repo / relative, keys / f"{other}.agekey")
    assert git(repo, "status", "--porcelain") == ""
    if engine == "flux":
        # Listed where the spoke's infra-configs (with SOPS decryption) applies it.
        built = subprocess.run(
            ["kubectl", "kustomize", str(repo / "clusters/dev-eu-1/infrastructure/configs")],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        found = [
            d for d in yaml.safe_load_all(built)
            if d and d["kind"] == "Secret" and d["metadata"]["name"] == "db-creds"
        ]  # fmt: skip
        assert len(found) == 1 and "sops" in found[0]
        sync = yaml.safe_load_all((repo / "clusters/hub/spokes/dev-eu-1/sync.yaml").read_text())
        configs = next(d for d in sync if d["metadata"]["name"] == "infra-configs")
        assert configs["spec"]["path"] == "./clusters/dev-eu-1/infrastructure/configs"
        assert configs["spec"]["decryption"]["provider"] == "sops"
    report = validate(str(repo))
    assert report.ok, [f.message for f in report.findings]


@pytest.mark.parametrize("engine", ENGINES)
def test_add_refuses_bad_input_and_changes_nothing(
    pristine: Callable[[str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, _ = copy_of(pristine(engine), tmp_path)
    cluster, namespace = ("dev-eu-1", "team-a") if engine == "flux" else ("hub", "argocd")
    existing = "cluster-secrets" if engine == "flux" else "cluster"
    before = snapshot(repo)
    value = "--from-literal=password=do-not-show-me"
    cases = [
        (["x", "--cluster", cluster, "--namespace", "nope", value], "has no namespace 'nope'"),
        (["x", "--cluster", "nope", "--namespace", namespace, value], "cluster nope is not in"),
        (["Bad_Name", "--cluster", cluster, "--namespace", namespace, value], "DNS-1123"),
        ([existing, "--cluster", cluster, "--namespace", namespace, value], "already exists"),
        (["x", "--cluster", cluster, "--namespace", namespace], "pass the values with"),
        (["x", "--cluster", cluster, "--namespace", namespace, "--from-literal", "novalue"],
         "expected KEY=VALUE"),
        (["x", "--cluster", cluster, "--namespace", namespace, value, value], "given twice"),
        (["x", "--cluster", cluster, "--namespace", namespace, "--from-literal=b@d=do-not-show-me"],
         "not a valid Secret key"),
        (["x", "--cluster", cluster, "--namespace", namespace, "--from-file", "k=/nonexistent"],
         "does not exist"),
    ]  # fmt: skip
    if engine == "argocd":
        cases.append(
            (["x", "--cluster", "dev-eu-1", "--namespace", "team-a", value], "secrets seal x")
        )
    for args, message in cases:
        done = run_cli(["secrets", "add", *args, "--repo", repo], cwd=tmp_path, home=tmp_path / "h")
        assert done.returncode == 2, (args, done.stderr)
        line = one_error_line(done.stderr)
        assert message in line, line
        assert "do-not-show-me" not in line
    assert snapshot(repo) == before


# ---------------------------------------------------------------------------------- seal


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey, Path]:
    """A Sealed Secrets controller's key pair, as the controller makes it: a self-signed
    certificate of an RSA key (2048 bits here, to be quick)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = tmp_path_factory.mktemp("controller") / "cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, path


def unseal(key: rsa.RSAPrivateKey, document: dict[str, Any]) -> dict[str, bytes]:
    """What the controller does (Unseal + HybridDecrypt): the label from the SealedSecret's
    own metadata and scope annotations, RSA-OAEP(SHA-256) for the session key, AES-256-GCM
    with a zero nonce for the value."""
    meta = document["metadata"]
    annotations = meta.get("annotations") or {}
    if annotations.get("sealedsecrets.bitnami.com/cluster-wide") == "true":
        label = b""
    elif annotations.get("sealedsecrets.bitnami.com/namespace-wide") == "true":
        label = meta["namespace"].encode()
    else:
        label = f"{meta['namespace']}/{meta['name']}".encode()
    found = {}
    for name, value in document["spec"]["encryptedData"].items():
        data = base64.b64decode(value)
        (length,) = struct.unpack(">H", data[:2])
        session = key.decrypt(
            data[2 : 2 + length],
            padding.OAEP(
                mgf=padding.MGF1(algorithm=hashes.SHA256()),
                algorithm=hashes.SHA256(),
                label=label or None,
            ),
        )
        assert len(session) == 32
        found[name] = AESGCM(session).decrypt(bytes(12), data[2 + length :], None)
    return found


SEALED_SCHEMA = SCHEMAS / "bitnami.com" / "sealedsecret_v1alpha1.json"


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_seal_writes_a_sealed_secret_the_controller_opens(
    controller: tuple[rsa.RSAPrivateKey, Path], scope: str, tmp_path: Path
) -> None:
    key, cert = controller
    (tmp_path / "tls.key").write_bytes(b"\x00\x01binary-value\xff")
    done = run_cli(
        ["secrets", "seal", "app-credentials", "--namespace", "team-a", "--cert", cert,
         "--from-literal", "password=sealed-pl41ntext",
         "--from-file", f"tls.key={tmp_path / 'tls.key'}",
         "--scope", scope],
        cwd=tmp_path, home=tmp_path / "h",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sealed-pl41ntext" not in done.stdout
    document = yaml.safe_load(done.stdout)
    jsonschema.validate(document, json.loads(SEALED_SCHEMA.read_text()))
    assert document["metadata"] == document["spec"]["template"]["metadata"]
    assert unseal(key, document) == {
        "password": b"sealed-pl41ntext",
        "tls.key": b"\x00\x01binary-value\xff",
    }
    moved = copy.deepcopy(document)
    moved["metadata"]["namespace"] = "team-b"  # another namespace
    renamed = copy.deepcopy(document)
    renamed["metadata"]["name"] = "other"
    if scope == "strict":
        for wrong in (moved, renamed):
            with pytest.raises(ValueError):  # the OAEP label does not match: no session key
                unseal(key, wrong)
    elif scope == "namespace-wide":
        assert unseal(key, renamed)["password"] == b"sealed-pl41ntext"
        with pytest.raises(ValueError):
            unseal(key, moved)
    else:
        assert unseal(key, moved)["password"] == b"sealed-pl41ntext"


def test_seal_for_a_cluster_uses_the_certificate_the_repo_records(
    pristine: Callable[[str], GeneratedRepo],
    controller: tuple[rsa.RSAPrivateKey, Path],
    tmp_path: Path,
) -> None:
    repo, _ = copy_of(pristine("flux"), tmp_path)
    args = ["secrets", "seal", "app-credentials", "--namespace", "team-a", "--cluster",
            "dev-eu-1", "--from-literal", "password=x1-secret", "--repo", repo]  # fmt: skip
    missing = run_cli(args, cwd=tmp_path, home=tmp_path / "h")
    assert missing.returncode == 2
    line = one_error_line(missing.stderr)
    assert "clusters/dev-eu-1/sealed-secrets/cert.pem" in line and "--cert" in line
    target = repo / "clusters/dev-eu-1/sealed-secrets/cert.pem"
    target.parent.mkdir()
    shutil.copy(controller[1], target)
    stub = repo / "tenants/team-a/examples/sealed-secret.yaml"
    done = run_cli([*args, "--output", stub], cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 0, done.stderr
    assert "with cryptography" in done.stdout
    document = yaml.safe_load(stub.read_text())
    assert unseal(controller[0], document) == {"password": b"x1-secret"}
    report = validate(str(repo), only=["schema", "secrets"])
    assert report.ok, [f.message for f in report.findings]
    again = run_cli([*args, "--output", stub], cwd=tmp_path, home=tmp_path / "h")
    assert again.returncode == 0, again.stderr  # the same SealedSecret, sealed again
    other = run_cli([*args, "--output", repo / "platform.yaml"], cwd=tmp_path, home=tmp_path / "h")
    assert other.returncode == 2
    assert "holds something else" in one_error_line(other.stderr)


def test_seal_uses_kubeseal_when_it_is_on_path(
    controller: tuple[rsa.RSAPrivateKey, Path], tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "kubeseal"
    # A stand-in that records its arguments and stdin and answers like kubeseal.
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {tmp_path}/args\n'
        f"cat > {tmp_path}/stdin\n"
        "printf 'apiVersion: bitnami.com/v1alpha1\\nkind: SealedSecret\\n'\n"
    )
    fake.chmod(0o755)
    home = tmp_path / "h"
    env = cli_env(home)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    done = run_cli(
        ["secrets", "seal", "db", "--namespace", "team-a", "--cert", controller[1],
         "--from-literal", "password=via-kubeseal", "--scope", "namespace-wide"],
        cwd=tmp_path, home=home, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"
    assert (tmp_path / "args").read_text().split() == [
        "--cert", str(controller[1]), "--scope", "namespace-wide", "--format", "yaml",
    ]  # fmt: skip
    secret = yaml.safe_load((tmp_path / "stdin").read_text())
    assert base64.b64decode(secret["data"]["password"]) == b"via-kubeseal"


def test_seal_refuses_bad_input(controller: tuple[rsa.RSAPrivateKey, Path], tmp_path: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    cases = [
        (["--cert", str(not_pem)], "holds no PEM certificate"),
        (["--cert", str(tmp_path / "none.pem")], "does not exist"),
        (["--cert", str(controller[1]), "--scope", "wide"], "invalid choice"),
    ]
    for args, message in cases:
        done = run_cli(
            ["secrets", "seal", "db", "--namespace", "team-a", *args,
             "--from-literal", "password=never-shown"],
            cwd=tmp_path, home=tmp_path / "h",
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        line = one_error_line(done.stderr)
        assert message in line and "never-shown" not in line
    with pytest.raises(UsageError, match="DNS-1123"):
        seal_secret("db", namespace="Team_A", values={"a": b"b"}, cert=controller[1])
    with pytest.raises(UsageError, match="one of --cert"):
        seal_secret("db", namespace="team-a", values={"a": b"b"})


# ------------------------------------------------------------------------ docs/secrets.md


@pytest.mark.parametrize("engine", ENGINES)
def test_the_secrets_doc_holds_the_commands_the_tool_prints(
    pristine: Callable[[str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine(engine), tmp_path)
    doc = (repo / "docs" / "secrets.md").read_text()
    assert "[docs/secrets.md](docs/secrets.md)" in (repo / "README.md").read_text()
    for heading in (
        "## Which mechanism for which secret",
        "## What each key protects",
        "## Rotate a key",
        "## When a key is lost",
    ):
        assert heading in doc
    assert (
        "gitops-scaffold secrets rotate --cluster dev-eu-1 --keys-dir ../acme-platform.keys" in doc
    )
    assert "gitops-scaffold secrets rotate --admin" in doc
    done = rotate(repo, cluster="dev-eu-1", keys_dir=keys)
    if engine == "flux":
        # The runbook's kubectl commands are the ones rotate prints, but for the paths.
        printed = [
            line.strip().replace(f"{keys}/", "../acme-platform.keys/").replace("'", "")
            for line in done.next_steps
            if line.startswith("  kubectl")
        ]
        assert len(printed) == 2
        for command in printed:
            assert command in doc
    else:
        assert "scripts/bootstrap.sh --keys-dir ../acme-platform.keys" in doc
        assert "sops-age" not in doc


def test_day2_commands_keep_an_added_secret_listed(
    pristine: Callable[[str], GeneratedRepo], tmp_path: Path
) -> None:
    repo, keys = copy_of(pristine("flux"), tmp_path)
    added = add_secret(
        repo, "db-creds", cluster="dev-eu-1", namespace="team-a", values={"password": b"pw-1"}
    )
    listing = repo / "clusters/dev-eu-1/secrets/kustomization.yaml"
    assert "db-creds.sops.yaml" in yaml.safe_load(listing.read_text())["resources"]
    add_tenant(repo, "team-c", clusters=["dev-eu-1"])
    remove_tenant(repo, "team-c")
    assert "db-creds.sops.yaml" in yaml.safe_load(listing.read_text())["resources"]
    entry = next(e for e in list_secrets(repo) if e.path == added.path)
    assert (entry.cluster, entry.namespace, entry.name) == ("dev-eu-1", "team-a", "db-creds")
    rotate(repo, cluster="dev-eu-1", keys_dir=keys)  # rotated like every file of the rule
    secret = yaml.safe_load(decrypt_file(repo / added.path, keys / "dev-eu-1.agekey"))
    assert secret["stringData"] == {"password": "pw-1"}


# --------------------------------------------------------------- External Secrets with Vault

VAULT = {"server": "https://vault.example.com:8200", "mount": "kv", "role": "eso"}


def eso_schema(kind: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / "external-secrets.io" / f"{kind}_v1.json").read_text()))


@pytest.mark.parametrize("engine", ENGINES)
def test_vault_answers_give_every_cluster_a_store_and_every_tenant_an_example(
    engine: str, tmp_path: Path
) -> None:
    platform = load_answers({**DEFAULT_ANSWERS, "engine": engine, "secrets": {"vault": VAULT}})
    repo = new(platform, tmp_path / "out", tmp_path / "keys").repo_dir
    assert yaml.safe_load((repo / "platform.yaml").read_text())["secrets"]["vault"] == VAULT
    stores: dict[str, dict[str, Any]] = {}
    if engine == "flux":
        text = (repo / "infrastructure/configs/cluster-secret-store.yaml").read_text()
        for cluster in ("hub", "dev-eu-1", "prod-eu-1"):  # as Flux substitutes it per cluster
            stores[cluster] = yaml.safe_load(text.replace("${cluster_name}", cluster))
    else:
        for cluster in ("hub", "dev-eu-1", "prod-eu-1"):
            values = yaml.safe_load(
                (repo / f"values/external-secrets/clusters/{cluster}.yaml").read_text()
            )
            (stores[cluster],) = values["extraObjects"]
    for cluster, store in stores.items():
        jsonschema.validate(store, eso_schema("clustersecretstore"))
        vault = store["spec"]["provider"]["vault"]
        assert (vault["server"], vault["path"], vault["version"]) == (VAULT["server"], "kv", "v2")
        assert vault["auth"]["kubernetes"]["mountPath"] == f"kubernetes-{cluster}"
        assert vault["auth"]["kubernetes"]["role"] == "eso"
        assert store["metadata"]["name"] == "platform"
    for tenant in ("team-a", "team-b"):
        example = yaml.safe_load(
            (repo / f"tenants/{tenant}/examples/external-secret.yaml").read_text()
        )
        jsonschema.validate(example, eso_schema("externalsecret"))
        assert example["spec"]["refreshInterval"] == "1h"
        assert example["spec"]["secretStoreRef"] == {
            "kind": "ClusterSecretStore",
            "name": "platform",
        }
        assert example["metadata"]["namespace"] == tenant
    assert "reads Vault at https://vault.example.com:8200" in (repo / "README.md").read_text()
    report = validate(str(repo))
    assert report.ok, [f.message for f in report.findings]
    listed = {e.path: e for e in list_secrets(repo)}
    assert listed["tenants/team-a/examples/external-secret.yaml"].detail == (
        "ClusterSecretStore/platform, refresh 1h"
    )


def test_without_vault_nothing_changes_and_bad_vault_answers_are_refused() -> None:
    default = load_answers(DEFAULT_ANSWERS)
    assert "vault" not in dump_answers(default)["secrets"]
    with_vault = load_answers(
        {**DEFAULT_ANSWERS, "secrets": {"vault": {"server": VAULT["server"]}}}
    )
    assert with_vault.secrets.vault == Vault(VAULT["server"], "secret", "external-secrets")
    assert load_answers(dump_answers(with_vault)) == with_vault
    cases = [
        ({"server": "http://vault:8200"}, "secrets.vault.server"),
        ({"server": "https://vault/$(id)"}, "secrets.vault.server"),
        ({}, "secrets.vault.server"),
        ({"server": VAULT["server"], "mount": "kv/../x y"}, "secrets.vault.mount"),
        ({"server": VAULT["server"], "role": "a b"}, "secrets.vault.role"),
        ({"server": VAULT["server"], "token": "s.xyz"}, "secrets.vault.token"),
    ]
    for vault, field in cases:
        with pytest.raises(AnswersError, match=re.escape(field)):
            load_answers({**DEFAULT_ANSWERS, "secrets": {"vault": vault}})
    with pytest.raises(AnswersError, match=re.escape("needs secrets.external_secrets: true")):
        load_answers({**DEFAULT_ANSWERS, "secrets": {"external_secrets": False, "vault": VAULT}})
