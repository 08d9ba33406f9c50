"""SOPS: reading the .sops.yaml rules back, and encryption through the real sops binary.

The rules themselves are written by the root skeleton's ``.sops.yaml`` template."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from scaffolder.tools import find_sops, run

SOPS_SUFFIX = ".sops.yaml"
# libyaml's loader when PyYAML has it: .sops.yaml and encrypted files are read on every command.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RULE_PATH = re.compile(r"^\(\^\|/\)clusters/(?P<cluster>[a-z0-9-]+)/\.\*\\\.sops\\\.yaml\$$")


def read_recipients(text: str) -> dict[str, list[str]]:
    """The recipients of each cluster's rule in a .sops.yaml as the root template writes it:
    cluster name -> [cluster public key, admin public key]. Other rules are ignored."""
    data = yaml.load(text, Loader=_SafeLoader) or {}
    found: dict[str, list[str]] = {}
    rules = data.get("creation_rules") if isinstance(data, dict) else None
    for rule in rules if isinstance(rules, list) else []:
        match = (
            _RULE_PATH.match(str(rule.get("path_regex", ""))) if isinstance(rule, dict) else None
        )
        if match:
            found[match["cluster"]] = [r.strip() for r in str(rule.get("age", "")).split(",")]
    return found


def _metadata(text: str) -> dict[Any, Any] | None:
    """The ``sops`` mapping of an encrypted file (None: not YAML, or not encrypted)."""
    try:
        data = yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError:
        return None
    metadata = data.get("sops") if isinstance(data, dict) else None
    return metadata if isinstance(metadata, dict) else None


def metadata_of(text: str) -> dict[Any, Any] | None:
    """The ``sops`` mapping of an encrypted file (recipients, lastmodified, mac), or None."""
    return _metadata(text)


def recipients_of(text: str) -> list[str]:
    """The age recipients (public keys) an encrypted file's data key is wrapped for."""
    metadata = _metadata(text) or {}
    entries = metadata.get("age")
    if not isinstance(entries, list):
        return []
    return [
        str(entry["recipient"]).strip()
        for entry in entries
        if isinstance(entry, dict) and entry.get("recipient")
    ]


def read_rules(text: str) -> list[tuple[re.Pattern[str], list[str]]]:
    """Every creation rule of a .sops.yaml, in order (sops uses the first that matches a
    path): its compiled ``path_regex`` and its age recipients. Rules without either are left
    out."""
    data = yaml.safe_load(text) or {}
    rules = data.get("creation_rules") if isinstance(data, dict) else None
    found = []
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict) or not rule.get("path_regex") or not rule.get("age"):
            continue
        try:
            pattern = re.compile(str(rule["path_regex"]))
        except re.error:
            continue
        found.append((pattern, [r.strip() for r in str(rule["age"]).split(",") if r.strip()]))
    return found


def mac_of(text: str) -> str | None:
    """The MAC sops keeps for an encrypted file: it changes whenever a value is edited."""
    metadata = _metadata(text)
    mac = metadata.get("mac") if metadata is not None else None
    return mac if isinstance(mac, str) else None


def is_encrypted(text: str) -> bool:
    return _metadata(text) is not None


def _sops_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env.update(extra or {})
    return env


def is_sops_file(relative: str) -> bool:
    """A file the pipeline encrypts: ``*.sops.yaml`` (the rules file excepted)."""
    return relative.endswith(SOPS_SUFFIX) and relative.rsplit("/", 1)[-1] != ".sops.yaml"


def encrypt_text(relative: str, plaintext: str, config: Path, sops: str, cwd: Path) -> str:
    """The ciphertext of ``plaintext`` for the file ``relative``, encrypted from memory
    (stdin) with the rule of ``config`` that matches that path."""
    return run(
        [
            sops, "--config", str(config), "encrypt", "--filename-override", relative,
            "--input-type", "yaml", "--output-type", "yaml",
        ],
        cwd=cwd,
        input_text=plaintext,
        env=_sops_env(),
        what=f"sops encrypt {relative}",
    )  # fmt: skip


def encrypt_texts(texts: Mapping[str, str], config: Path, *, cwd: Path) -> dict[str, str]:
    """Every plaintext of ``texts`` (path -> text) encrypted, in parallel."""
    if not texts:
        return {}
    sops = find_sops()
    with ThreadPoolExecutor(max_workers=min(8, len(texts))) as pool:
        results = pool.map(lambda r: encrypt_text(r, texts[r], config, sops, cwd), list(texts))
        return dict(zip(list(texts), results, strict=True))


def find_sops_files(repo_dir: Path) -> list[str]:
    return sorted(
        str(p.relative_to(repo_dir))
        for p in repo_dir.rglob(f"*{SOPS_SUFFIX}")
        if p.name != ".sops.yaml" and ".git" not in p.relative_to(repo_dir).parts
    )


def decrypt_file(path: Path, key_file: Path) -> str:
    """Decrypt with one age key file only: the same call the bootstrap scripts make (tests use
    it to prove which keys open which files)."""
    return run(
        [find_sops(), "decrypt", "--input-type", "yaml", "--output-type", "yaml", str(path)],
        env=_sops_env({"SOPS_AGE_KEY_FILE": str(key_file)}),
        what=f"sops decrypt {path.name}",
    )


def rotate_text(
    relative: str, ciphertext: str, *, add: str, remove: str, key_file: Path, sops: str
) -> str:
    """``sops rotate`` of one encrypted file, from memory to memory: a new data key, every
    value encrypted again with it, the recipient ``remove`` replaced by ``add``. The data
    key is opened with ``key_file`` alone; no plaintext is written anywhere."""
    return run(
        [
            sops, "rotate", "--input-type", "yaml", "--output-type", "yaml",
            "--filename-override", relative, "--add-age", add, "--rm-age", remove, "/dev/stdin",
        ],
        input_text=ciphertext,
        env=_sops_env({"SOPS_AGE_KEY_FILE": str(key_file)}),
        what=f"sops rotate {relative}",
    )  # fmt: skip
