"""`gitops-scaffold secrets list`: every secret of a platform repo, never a value.

A secret is a SOPS file (``*.sops.yaml``), a SealedSecret or an ExternalSecret. For each, the
list says where it is, which cluster's rule (or controller) it belongs to, its namespace and
name, who can open it (the age recipients, named after the keys of ``.sops.yaml``) and when
sops last wrote it. Only metadata is read: values are never looked at, let alone printed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaffolder import keys, sops
from scaffolder.generate import SOPS_CONFIG
from scaffolder.model import Platform
from scaffolder.repo_state import read_platform

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


def to_json(entries: list[SecretEntry]) -> str:
    return json.dumps({"secrets": [asdict(e) for e in entries]}, indent=2) + "\n"


def to_text(entries: list[SecretEntry]) -> str:
    if not entries:
        return "No secrets in this repo.\n"
    lines = []
    for entry in entries:
        where = f"{entry.namespace}/{entry.name}" if entry.namespace else entry.name or "-"
        line = f"{entry.path}  [{entry.mechanism}] {entry.kind} {where}"
        line += f"  cluster: {entry.cluster or '-'}"
        if entry.mechanism == "sops":
            opened = ", ".join(r.key for r in entry.recipients) or "nobody"
            line += f"  opened by: {opened}  last rotated: {entry.last_rotated or '-'}"
        if entry.detail:
            line += f"  ({entry.detail})"
        if entry.state != "ok":
            line += f"  !! {entry.state}"
        lines.append(line)
    counts = {m: sum(e.mechanism == m for e in entries) for m in ("sops", "sealed", "external")}
    lines.append(
        f"{len(entries)} secrets: {counts['sops']} sops, {counts['sealed']} sealed, "
        f"{counts['external']} external."
    )
    return "\n".join(lines) + "\n"
