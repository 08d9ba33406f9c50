"""Check 5: secret hygiene. No private key, no readable Secret, SOPS files for the right keys.

A Secret counts as encrypted when its document carries SOPS metadata and every value under
data/stringData is a SOPS ciphertext (``ENC[...]``): a file that was decrypted and
committed, or encrypted with a rule that left the values alone, is plaintext.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from scaffolder.validate.checks import CheckContext
from scaffolder.validate.documents import comment_start, line_of
from scaffolder.validate.findings import Finding
from scaffolder.validate.repo import CreationRule, Repo

_PRIVATE_KEYS = (
    ("an age private key", re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{58}")),
    (
        "a PEM private key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----\s*\n"
            r"(?:[A-Za-z0-9-]+:[^\n]*\n)*\s*[A-Za-z0-9+/=]{16,}"
        ),
    ),
)
_SECRET_FIELDS = ("data", "stringData")


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _private_keys(repo: Repo) -> Iterator[Finding]:
    texts: list[tuple[str, str | None]] = [(s.relative, s.text) for s in repo.files.values()]
    texts += [(relative, repo.text(relative)) for relative in repo.text_files]
    for relative, text in texts:
        if text is None:
            continue  # binary files hold no PEM or age text
        for what, pattern in _PRIVATE_KEYS:
            for match in pattern.finditer(text):
                yield Finding(
                    "secrets/private-key",
                    relative,
                    _line_at(text, match.start()),
                    f"{what} is committed: remove it from the repo and its history, and "
                    "rotate it (private keys belong outside the repo)",
                )


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def is_encrypted_secret(body: dict[str, Any]) -> bool:
    values = [v for f in _SECRET_FIELDS for v in _leaves(body.get(f) or {})]
    return isinstance(body.get("sops"), dict) and all(
        isinstance(v, str) and v.startswith("ENC[") for v in values
    )


def _is_secret(body: Any) -> bool:
    return isinstance(body, dict) and (body.get("kind"), body.get("apiVersion")) == ("Secret", "v1")


def _rule_for(repo: Repo, relative: str) -> CreationRule | None:
    """The rule sops applies to a path: the first that matches."""
    return next((r for r in repo.creation_rules if r.covers(relative)), None)


def _plaintext_secrets(repo: Repo) -> Iterator[Finding]:
    for source in repo.files.values():
        for doc in source.documents:
            body = doc.body
            if not _is_secret(body) or not any(body.get(f) for f in _SECRET_FIELDS):
                continue
            if is_encrypted_secret(body):
                continue
            meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            name = (
                f"{meta.get('namespace')}/{meta.get('name')}"
                if meta.get("namespace")
                else (str(meta.get("name", "?")))
            )
            field = next(f for f in _SECRET_FIELDS if body.get(f))
            rule = _rule_for(repo, source.relative)
            advice = (
                f".sops.yaml creation rule {rule.index + 1} covers this file: encrypt it with "
                f"`sops encrypt --in-place {source.relative}`"
                if rule
                else "no .sops.yaml creation rule covers this file: move it where one does "
                "and encrypt it, or use a SealedSecret or an ExternalSecret"
            )
            yield Finding(
                "secrets/plaintext-secret",
                source.relative,
                line_of(source.text, doc.line, [field]),
                f"Secret {name}: {field} is readable; {advice}",
            )


def _generator_secrets(repo: Repo) -> Iterator[Finding]:
    for folder, config in repo.kustomizations.items():
        kfile = repo.kustomization_file(folder)
        for name in config.secret_literals:
            yield Finding(
                "secrets/plaintext-secret",
                kfile,
                None,
                f"secretGenerator {name} has literals: secret values are readable in git",
            )
        for entry in config.secret_inputs:
            path = config.resolve(entry)
            if repo.key(path) is None:
                continue  # never read: a build/outside-repo finding
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "sops" not in text or "ENC[" not in text:
                yield Finding(
                    "secrets/plaintext-secret",
                    repo.rel(path),
                    None,
                    f"read by a secretGenerator in {kfile} but not SOPS-encrypted",
                )


def _recipients(repo: Repo) -> Iterator[Finding]:
    for source in repo.files.values():
        rule = _rule_for(repo, source.relative)
        if rule is None or not rule.recipients:
            continue
        for doc in source.documents:
            sops = doc.body.get("sops") if isinstance(doc.body, dict) else None
            if not isinstance(sops, dict):
                continue
            used = {
                str(entry.get("recipient", "")).strip()
                for entry in sops.get("age") or []
                if isinstance(entry, dict)
            }
            if used == set(rule.recipients):
                continue
            missing = sorted(rule.recipients - used)
            extra = sorted(used - rule.recipients)
            parts = [
                f"{len(missing)} missing" if missing else "",
                f"{len(extra)} extra" if extra else "",
            ]
            yield Finding(
                "secrets/sops-recipients",
                source.relative,
                line_of(source.text, doc.line, ["sops", "age"]),
                f"encrypted for other age keys than .sops.yaml creation rule {rule.index + 1} "
                f"names ({', '.join(p for p in parts if p)}): run `sops updatekeys "
                f"{source.relative}`",
            )


# The marker of a value still to fill in. The generated bootstraps refuse a decrypted Secret
# whose plaintext holds it anywhere, and `sops decrypt` keeps comments (sops' YAML store):
# a comment that says REPLACE- makes the file refused forever, whatever its values become.
PLACEHOLDER = "REPLACE-"


def _comment(line: str) -> str:
    """The YAML comment of a line: a # at its start or after a blank, outside quotes."""
    start = comment_start(line)
    return "" if start < 0 else line[start:]


def _placeholder_comments(repo: Repo) -> Iterator[Finding]:
    for source in repo.files.values():
        if PLACEHOLDER not in source.text:
            continue
        if not any(isinstance(d.body, dict) and "sops" in d.body for d in source.documents):
            continue
        for number, line in enumerate(source.text.splitlines(), 1):
            if PLACEHOLDER in _comment(line):
                yield Finding(
                    "secrets/placeholder-comment",
                    source.relative,
                    number,
                    f"a comment of this SOPS file says {PLACEHOLDER!r}: it survives `sops "
                    f"decrypt`, so a bootstrap that refuses placeholders refuses this file even "
                    f"once its values are filled in; reword the comment",
                )


def check_secrets(ctx: CheckContext) -> list[Finding]:
    repo = ctx.repo
    return [
        *_private_keys(repo),
        *_plaintext_secrets(repo),
        *_generator_secrets(repo),
        *_recipients(repo),
        *_placeholder_comments(repo),
    ]
