"""`gitops-scaffold secrets list`, `secrets add` and `secrets seal`.

`list`: every secret of a platform repo, never a value.

A secret is a SOPS file (``*.sops.yaml``), a SealedSecret or an ExternalSecret. For each, the
list says where it is, which cluster's rule (or controller) it belongs to, its namespace and
name, who can open it (the age recipients, named after the keys of ``.sops.yaml``) and when
sops last wrote it. Only metadata is read: values are never looked at, let alone printed.

`add`: a new Secret for one cluster, encrypted by sops from stdin (the plaintext exists only
in this process's memory and the pipe to sops), written where the engine applies it with
decryption (Flux: listed in the cluster's secrets kustomization, which its infra-configs
Kustomization applies with SOPS decryption; Argo CD: the hub's secrets folder, which
scripts/bootstrap.sh decrypts and applies).

`seal`: a SealedSecret for one cluster's Sealed Secrets controller (``scaffolder.sealing``),
from its certificate: `--cert`, or the one the repo records in
``clusters/<cluster>/sealed-secrets/cert.pem``.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaffolder import keys, sops
from scaffolder.context import addon_views
from scaffolder.errors import UsageError, shown
from scaffolder.files import read_regular_file, write_atomic
from scaffolder.generate import SOPS_CONFIG
from scaffolder.landing import Landed, land
from scaffolder.model import Platform
from scaffolder.quoting import is_plain_string
from scaffolder.repo_state import read_platform
from scaffolder.tools import find_sops

SEALED_API_GROUP = "bitnami.com/"
EXTERNAL_API_GROUP = "external-secrets.io/"
_SKIPPED_FOLDERS = {".git", "node_modules", ".venv"}


@dataclass(frozen=True)
class Recipient:
    key: str  # a cluster name, "admin", or "unknown"
    public_key: str


@dataclass(frozen=True)
class SecretEntry:
    path: str
    mechanism: str  # sops | sealed | external
    kind: str
    name: str
    namespace: str
    cluster: str  # the cluster whose key (or controller) opens it; "" when unknown
    recipients: list[Recipient] = field(default_factory=list)
    last_rotated: str = ""  # sops' lastmodified
    state: str = "ok"  # ok | placeholder | NOT ENCRYPTED | no rule
    detail: str = ""  # sealed: the scope; external: the store it reads


def _yaml_files(repo_dir: Path) -> Iterator[str]:
    for folder, subfolders, files in os.walk(repo_dir):
        subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED_FOLDERS)
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")) and name != SOPS_CONFIG:
                yield (Path(folder) / name).relative_to(repo_dir).as_posix()


def _documents(text: str) -> list[dict[Any, Any]]:
    try:
        loaded = list(yaml.load_all(text, Loader=sops._SafeLoader))
    except yaml.YAMLError:
        return []
    return [doc for doc in loaded if isinstance(doc, dict)]


def _metadata(document: Mapping[Any, Any]) -> Mapping[Any, Any]:
    meta = document.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _cluster_of_path(relative: str, platform: Platform) -> str:
    """The cluster a file belongs to by where it is: clusters/<c>/..., or the clusters a tenant
    is placed on for tenants/<t>/... ("" elsewhere)."""
    parts = relative.split("/")
    if len(parts) > 2 and parts[0] == "clusters":
        return parts[1] if any(c.name == parts[1] for c in platform.clusters) else ""
    if len(parts) > 2 and parts[0] == "tenants":
        tenant = next((t for t in platform.tenants if t.name == parts[1]), None)
        return ",".join(platform.placement(tenant)) if tenant else ""
    return ""


def key_names(repo_dir: Path) -> dict[str, str]:
    """public key -> key name ("admin" or a cluster), from .sops.yaml."""
    try:
        text = (repo_dir / SOPS_CONFIG).read_text(encoding="utf-8")
    except OSError:
        return {}
    names: dict[str, str] = {}
    for cluster, pair in sops.read_recipients(text).items():
        if pair:
            names[pair[0]] = cluster
        for other in pair[1:]:
            names.setdefault(other, keys.ADMIN_KEY)
    return names


def _sops_entry(
    relative: str, text: str, platform: Platform, names: Mapping[str, str],
    rules: list[tuple[Any, list[str]]],
) -> SecretEntry:  # fmt: skip
    documents = _documents(text)
    document = documents[0] if documents else {}
    meta = _metadata(document)
    metadata = sops.metadata_of(text)
    rule = next((recipients for pattern, recipients in rules if pattern.search(relative)), None)
    cluster = next((names[r] for r in rule or () if names.get(r) not in (None, keys.ADMIN_KEY)), "")
    recipients = [Recipient(names.get(r, "unknown"), r) for r in sops.recipients_of(text)]
    if metadata is None:
        state = "NOT ENCRYPTED"
    elif rule is None:
        state = "no rule"
    else:
        state = "ok"
    last = str(metadata.get("lastmodified", "")) if metadata else ""
    return SecretEntry(
        relative, "sops", str(document.get("kind", "")), str(meta.get("name", "")),
        str(meta.get("namespace", "")), cluster or _cluster_of_path(relative, platform),
        recipients, last, state,
    )  # fmt: skip


def _sealed_scope(document: Mapping[Any, Any]) -> str:
    annotations = _metadata(document).get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    if str(annotations.get("sealedsecrets.bitnami.com/cluster-wide", "")) == "true":
        return "cluster-wide"
    if str(annotations.get("sealedsecrets.bitnami.com/namespace-wide", "")) == "true":
        return "namespace-wide"
    return "strict"


def _other_entry(relative: str, document: Mapping[Any, Any], platform: Platform) -> SecretEntry:
    meta = _metadata(document)
    kind = str(document.get("kind", ""))
    cluster = _cluster_of_path(relative, platform)
    spec = document.get("spec") if isinstance(document.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    if kind == "SealedSecret":
        encrypted = spec.get("encryptedData")
        values = encrypted.values() if isinstance(encrypted, dict) else ()
        placeholder = any(str(v).startswith("REPLACE-") for v in values)
        return SecretEntry(
            relative, "sealed", kind, str(meta.get("name", "")), str(meta.get("namespace", "")),
            cluster, state="placeholder" if placeholder else "ok",
            detail=f"scope {_sealed_scope(document)}",
        )  # fmt: skip
    store = spec.get("secretStoreRef")
    store = store if isinstance(store, dict) else {}
    detail = f"{store.get('kind', 'SecretStore')}/{store.get('name', '')}"
    if spec.get("refreshInterval"):
        detail += f", refresh {spec['refreshInterval']}"
    return SecretEntry(
        relative, "external", kind, str(meta.get("name", "")), str(meta.get("namespace", "")),
        cluster, detail=detail,
    )  # fmt: skip


def list_secrets(repo_dir: Path) -> list[SecretEntry]:
    """Every secret of the repo at ``repo_dir``, sorted by path."""
    repo_dir = repo_dir.absolute()
    platform = read_platform(repo_dir)
    names = key_names(repo_dir)
    try:
        rules = sops.read_rules((repo_dir / SOPS_CONFIG).read_text(encoding="utf-8"))
    except OSError:
        rules = []
    found: list[SecretEntry] = []
    for relative in _yaml_files(repo_dir):
        try:
            text = (repo_dir / relative).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if sops.is_sops_file(relative):
            found.append(_sops_entry(relative, text, platform, names, rules))
            continue
        if "SealedSecret" not in text and "ExternalSecret" not in text:
            continue  # most files: no parse needed
        for document in _documents(text):
            api = str(document.get("apiVersion", ""))
            kind = document.get("kind")
            if (kind == "SealedSecret" and api.startswith(SEALED_API_GROUP)) or (
                kind in ("ExternalSecret", "ClusterExternalSecret")
                and api.startswith(EXTERNAL_API_GROUP)
            ):
                found.append(_other_entry(relative, document, platform))
    return found


# ---------------------------------------------------------------------------------- add

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A name YAML reads as a number, boolean or null (``1e3``, ``null``) would change type where
# Flux substitutes variables into the text of built objects: refused as cluster names are.
_RETYPED = (
    "reads as a number, boolean or null in YAML, so it would change type in a built manifest "
    "(add a letter, e.g. 'db-1e3')"
)
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_SECRET_BYTES = 1024 * 1024  # what the Kubernetes API accepts for one Secret


@dataclass(frozen=True)
class Added:
    repo_dir: Path
    path: str  # the encrypted Secret
    listed_in: str | None  # the kustomization that lists it (Flux); None: bootstrap applies it
    applied_by: str
    data_keys: list[str]  # the Secret's data keys (never its values)
    committed: bool
    recovered: bool
    name: str
    namespace: str
    cluster: str

    @property
    def written(self) -> list[str]:
        return sorted([self.path, *([self.listed_in] if self.listed_in else [])])


def _key(where: str, key: str) -> str:
    if not _DATA_KEY.match(key):
        raise UsageError(
            f"{where}: the key {shown(key)} is not a valid Secret key "
            "(letters, digits, '-', '_', '.'); nothing was changed"
        )
    return key


def collect_values(
    literals: Sequence[str] = (), files: Sequence[str] = (), env_file: Path | None = None
) -> dict[str, bytes]:
    """The Secret's data from the options, as kubectl create secret reads them. An error
    names the option and the key, never a value."""
    values: dict[str, bytes] = {}

    def put(where: str, key: str, value: bytes) -> None:
        if key in values:
            raise UsageError(f"{where}: the key {key} is given twice; nothing was changed")
        values[_key(where, key)] = value

    for item in literals:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UsageError("--from-literal: expected KEY=VALUE; nothing was changed")
        put("--from-literal", key, value.encode("utf-8"))
    for item in files:
        key, equals, path = item.partition("=")
        if not equals:
            key, path = Path(item).name, item
        if not key or not path:
            raise UsageError("--from-file: expected KEY=PATH or PATH; nothing was changed")
        data = read_regular_file(Path(path), path, MAX_SECRET_BYTES + 1, "a file of values")
        put("--from-file", key, data)
    if env_file is not None:
        raw = read_regular_file(env_file, str(env_file), MAX_SECRET_BYTES + 1, "an env file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{env_file} is not UTF-8 text; nothing was changed") from None
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            key, equals, value = line.lstrip().partition("=")
            if not equals:
                raise UsageError(f"{env_file}:{number}: expected KEY=VALUE; nothing was changed")
            put(f"{env_file}:{number}", key.strip(), value.encode("utf-8"))
    if not values:
        raise UsageError(
            "pass the values with --from-literal, --from-file or --from-env-file; "
            "nothing was changed"
        )
    if sum(len(v) for v in values.values()) > MAX_SECRET_BYTES:
        raise UsageError("the values exceed 1 MiB, the most one Secret holds; nothing was changed")
    return values


def namespaces_of(platform: Platform, cluster: str) -> set[str]:
    """The namespaces the repo gives ``cluster``: the tenants placed on it and the platform's
    (its addons; Flux: platform-system on every cluster, and flux-system plus one per spoke on
    the hub; Argo CD: argocd on the hub)."""
    found = {a["namespace"] for a in addon_views(platform) if a["enabled"]}
    found |= {t.name for t in platform.tenants_on(cluster)}
    hub = cluster == platform.hub.name
    if platform.engine == "flux":
        found.add("platform-system")
        if hub:
            found |= {"flux-system", *(s.name for s in platform.spokes)}
    elif hub:
        found.add("argocd")
    return found


def _manifest(
    platform: Platform, relative: str, name: str, namespace: str, values: Mapping[str, bytes]
) -> str:
    """The plain Secret, in memory only: text values under stringData, others base64 under
    data."""
    text: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in values.items():
        try:
            text[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode("ascii")
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if platform.engine == "flux":
        # Flux must not substitute ${...} inside secret values.
        metadata["annotations"] = {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}
    manifest: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque",
    }  # fmt: skip
    if text:
        manifest["stringData"] = text
    if binary:
        manifest["data"] = binary
    header = (
        "# Added by `gitops-scaffold secrets add`, encrypted with SOPS. Edit in place with\n"
        f"#   sops edit {relative}\n"
    )
    return header + yaml.safe_dump(
        manifest, sort_keys=False, default_flow_style=False, width=1 << 20
    )


def _listed(kustomization: str, entry: str, relative: str) -> str:
    """``kustomization`` with ``entry`` appended to its ``resources`` block list (comments and
    layout kept; read back to check)."""
    lines = kustomization.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "resources:"), None)
    if start is None:
        raise UsageError(
            f"{relative} has no 'resources:' list to add {entry} to: add it yourself; "
            "nothing was changed"
        )
    end = start + 1
    indent = "  "
    while end < len(lines) and lines[end].lstrip().startswith("- "):
        indent = lines[end][: len(lines[end]) - len(lines[end].lstrip())]
        end += 1
    if end > start + 1 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, f"{indent}- {entry}\n")
    result = "".join(lines)
    before = yaml.safe_load(kustomization) or {}
    after = yaml.safe_load(result) or {}
    if after.get("resources") != [*(before.get("resources") or []), entry]:
        raise UsageError(f"cannot add {entry} to {relative}: add it yourself; nothing was changed")
    return result


def add_secret(
    repo_dir: Path,
    name: str,
    *,
    cluster: str,
    namespace: str,
    values: Mapping[str, bytes],
    commit: bool = False,
) -> Added:
    """Add Secret ``namespace/name`` for ``cluster``, encrypted by sops from memory (its
    plaintext never exists in the repo), where the engine applies it with decryption."""
    repo_dir = repo_dir.absolute()
    platform = read_platform(repo_dir)
    if not _NAME.match(name) or len(name) > 63:
        raise UsageError(
            f"secret name {shown(name)} is not a DNS-1123 label (lowercase letters, digits, '-'; "
            "at most 63); nothing was changed"
        )
    if not is_plain_string(name):
        raise UsageError(f"secret name {shown(name)} {_RETYPED}; nothing was changed")
    if not any(c.name == cluster for c in platform.clusters):
        raise UsageError(f"cluster {cluster} is not in platform.yaml; nothing was changed")
    if platform.engine != "flux" and cluster != platform.hub.name:
        raise UsageError(
            f"with Argo CD, SOPS secrets are applied to the hub only (scripts/bootstrap.sh): "
            f"for a secret on {cluster}, seal it with `gitops-scaffold secrets seal {name} "
            f"--namespace {namespace} --cluster {cluster} ...`; nothing was changed"
        )
    known = namespaces_of(platform, cluster)
    if namespace not in known:
        raise UsageError(
            f"cluster {cluster} has no namespace {shown(namespace)} in this repo (it has: "
            f"{', '.join(sorted(known))}); nothing was changed"
        )
    folder = f"clusters/{cluster}/secrets"
    relative = f"{folder}/{name}{sops.SOPS_SUFFIX}"
    taken = [
        e.path
        for e in list_secrets(repo_dir)
        if e.path == relative
        or (
            e.kind == "Secret"
            and e.cluster == cluster
            and (e.name, e.namespace) == (name, namespace)
        )
    ]
    if taken:
        raise UsageError(
            f"secret {namespace}/{name} of {cluster} already exists ({taken[0]}): edit it with "
            "sops edit, or pick another name; nothing was changed"
        )
    content: dict[str, str] = {}
    listed_in = None
    if platform.engine == "flux":
        listed_in = f"{folder}/kustomization.yaml"
        try:
            kustomization = (repo_dir / listed_in).read_text(encoding="utf-8")
        except OSError:
            raise UsageError(f"{listed_in} is missing: restore it from git first") from None
        content[listed_in] = _listed(kustomization, f"{name}{sops.SOPS_SUFFIX}", listed_in)
        applied_by = (
            f"Flux Kustomization infra-configs of {cluster} (SOPS decryption with {cluster}'s key)"
        )
    else:
        applied_by = "scripts/bootstrap.sh (decrypted on your machine, applied server-side)"
    plaintext = _manifest(platform, relative, name, namespace, values)
    encrypted = sops.encrypt_text(
        relative, plaintext, repo_dir / SOPS_CONFIG, find_sops(), repo_dir
    )
    del plaintext
    content[relative] = encrypted
    # Neither file is as this tool generates it (the kustomization now lists the user's
    # Secret): neither record takes them, so the day-2 commands and `update` treat the entry
    # as the user's edit.
    landed: Landed[None] = land(
        repo_dir, {p: (t.encode("utf-8"), False) for p, t in content.items()},
        fingerprinted={}, generated=None,
        message=f"Add secret {namespace}/{name} for {cluster} (gitops-scaffold)",
        commit=commit, point="add",
    )  # fmt: skip
    return Added(
        repo_dir, relative, listed_in, applied_by, sorted(values), landed.committed,
        landed.recovered, name, namespace, cluster,
    )  # fmt: skip


# ---------------------------------------------------------------------------------- seal

CERT_FILE = "sealed-secrets/cert.pem"  # below clusters/<cluster>/: the controller's certificate
MAX_CERT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Sealed:
    text: str  # the SealedSecret (sealed: safe to print and commit)
    cert: Path
    via: str  # kubeseal | cryptography
    output: Path | None
    name: str
    namespace: str
    scope: str
    data_keys: list[str]  # the sealed data keys (never their values)


def cert_of(repo_dir: Path, cluster: str) -> Path:
    """The certificate the repo records for ``cluster``'s Sealed Secrets controller."""
    repo_dir = repo_dir.absolute()
    platform = read_platform(repo_dir)
    if not any(c.name == cluster for c in platform.clusters):
        raise UsageError(f"cluster {cluster} is not in platform.yaml")
    relative = f"clusters/{cluster}/{CERT_FILE}"
    if not (repo_dir / relative).is_file():
        raise UsageError(
            f"the repo records no Sealed Secrets certificate for {cluster} ({relative}): "
            f"fetch it with `kubeseal --context {cluster} --controller-namespace sealed-secrets "
            f"--controller-name sealed-secrets-controller --fetch-cert > {relative}` and "
            "commit it, or pass --cert PEM"
        )
    return repo_dir / relative


def _replaceable(path: Path, name: str, namespace: str) -> bool:
    """An existing output file may be replaced when it holds this very SealedSecret (sealed
    again) or a SealedSecret placeholder (the per-tenant stub)."""
    try:
        documents = _documents(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
    if len(documents) != 1 or documents[0].get("kind") != "SealedSecret":
        return False
    document = documents[0]
    meta = _metadata(document)
    if (meta.get("name"), meta.get("namespace")) == (name, namespace):
        return True
    spec = document.get("spec")
    data = spec.get("encryptedData") if isinstance(spec, dict) else None
    return isinstance(data, dict) and all(str(v).startswith("REPLACE-") for v in data.values())


def seal_secret(
    name: str,
    *,
    namespace: str,
    values: Mapping[str, bytes],
    scope: str = "strict",
    cert: Path | None = None,
    cluster: str | None = None,
    repo_dir: Path = Path("."),
    output: Path | None = None,
) -> Sealed:
    """A SealedSecret ``namespace/name`` of ``values`` for one controller's certificate."""
    from scaffolder import sealing

    if (cert is None) == (cluster is None):
        raise UsageError("secrets seal: pass one of --cert PEM or --cluster C")
    for what, value in (("secret name", name), ("namespace", namespace)):
        if not _NAME.match(value) or len(value) > 63:
            raise UsageError(f"{what} {shown(value)} is not a DNS-1123 label; nothing was written")
        if not is_plain_string(value):
            raise UsageError(f"{what} {shown(value)} {_RETYPED}; nothing was written")
    if scope not in sealing.SCOPES:
        raise UsageError(f"--scope: one of {', '.join(sealing.SCOPES)}")
    cert_path = cert if cert is not None else cert_of(repo_dir, str(cluster))
    pem = read_regular_file(cert_path, str(cert_path), MAX_CERT_BYTES, "a PEM certificate")
    if output is not None and output.exists() and not _replaceable(output, name, namespace):
        raise UsageError(
            f"{output} exists and holds something else than SealedSecret {namespace}/{name} or "
            "a placeholder: pick another --output; nothing was written"
        )
    tool = sealing.kubeseal()
    if tool:
        text = sealing.seal_with_kubeseal(
            tool, values, name=name, namespace=namespace, scope=scope, cert=cert_path
        )
    else:
        text = sealing.seal_values(
            values, name=name, namespace=namespace, scope=scope, cert_pem=pem,
            source=str(cert_path),
        )  # fmt: skip
    if output is not None:
        write_atomic(output, text)
    via = "kubeseal" if tool else "cryptography"
    return Sealed(text, cert_path, via, output, name, namespace, scope, sorted(values))
