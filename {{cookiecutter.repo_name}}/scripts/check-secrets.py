#!/usr/bin/env python3
"""Refuse private keys and Kubernetes Secrets that sops has not encrypted.

pre-commit runs it on the files of each commit (see .pre-commit-config.yaml); by hand:
    scripts/check-secrets.py [FILE ...]      (no FILE: every file git tracks)
Exit 1 and one line per problem when something must not be committed.

A Secret counts as encrypted when its document has sops metadata and every value under
data/stringData is a sops ciphertext (ENC[...]). Standard library only: it runs before
anything is installed. `gitops-scaffold validate` applies the same rules to the whole repo.
"""

from __future__ import annotations

import re
import subprocess
import sys

PRIVATE_KEYS = (
    # "[-]": this file must not hold the key prefix itself, or secret scanners flag it.
    ("an age private key", re.compile(r"AGE-SECRET-KEY[-]1[0-9A-Z]{58}")),
    (
        "a PEM private key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----\s*\n"
            r"(?:[A-Za-z0-9-]+:[^\n]*\n)*\s*[A-Za-z0-9+/=]{16,}"
        ),
    ),
)
TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][\w.-]*)\s*:(?:\s+(.*?))?\s*$")
CHILD = re.compile(r"^(\s+)(?:\"[^\"]*\"|'[^']*'|[^\s:#][^:#]*?)\s*:(?:\s+(.*?))?\s*$")
DOCUMENT_START = re.compile(r"^---(?:\s.*)?$")


def scalar(value: str | None) -> str:
    text = re.sub(r"\s+#.*$", "", value or "").strip()
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"" else text


def documents(lines: list[str]) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each YAML document."""
    found: list[tuple[int, list[str]]] = [(1, [])]
    for number, line in enumerate(lines, start=1):
        if DOCUMENT_START.match(line):
            found.append((number + 1, []))
        else:
            found[-1][1].append(line)
    return found


def top_level(lines: list[str]) -> dict[str, tuple[int, str]]:
    keys: dict[str, tuple[int, str]] = {}
    for index, line in enumerate(lines):
        match = TOP_LEVEL_KEY.match(line)
        if match:
            keys.setdefault(match.group(1), (index, match.group(2) or ""))
    return keys


def values_of(lines: list[str], start: int, inline: str) -> tuple[bool, bool]:
    """(has values, has a readable value) for the mapping whose key is at lines[start]."""
    inline = scalar(inline)
    if inline in ("{}", "null", "~"):
        return False, False
    if inline.startswith("{"):
        values = [scalar(v) for v in re.findall(r":\s*([^,}]+)", inline[1:-1])]
        return True, not values or any(not v.startswith("ENC[") for v in values)
    if inline:
        return True, True
    has_values = readable = False
    indent = None
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            break
        width = len(line) - len(line.lstrip())
        indent = width if indent is None else indent
        if width != indent:
            continue  # inside a nested value: its entry was judged already
        has_values = True
        match = CHILD.match(line)
        if match is None or not scalar(match.group(2)).startswith("ENC["):
            readable = True  # plain values and block scalars: sops writes ENC[...] inline
    return has_values, readable


def plaintext_secrets(text: str) -> list[int]:
    """Line numbers of Secrets whose values are readable."""
    found = []
    for first_line, lines in documents(text.splitlines()):
        keys = top_level(lines)
        if scalar(keys.get("kind", (0, ""))[1]) != "Secret":
            continue
        if scalar(keys.get("apiVersion", (0, ""))[1]) != "v1":
            continue
        for field in ("data", "stringData"):
            if field in keys:
                index, inline = keys[field]
                has_values, readable = values_of(lines, index, inline)
                if has_values and (readable or "sops" not in keys):
                    found.append(first_line + index)
    return found


def problems(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return []  # binary or unreadable: holds no PEM or age text
    found = []
    for what, pattern in PRIVATE_KEYS:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path}:{line}: {what}: keep private keys out of the repo")
    if path.endswith((".yaml", ".yml")):
        for line in plaintext_secrets(text):
            found.append(
                f"{path}:{line}: Secret values are readable: encrypt the file with "
                f"`sops encrypt --in-place {path}` (or use a SealedSecret or an ExternalSecret)"
            )
    return found


def main(paths: list[str]) -> int:
    if not paths:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], capture_output=True, text=True, check=True
        )
        paths = [p for p in listed.stdout.split("\0") if p]
    found = [problem for path in paths for problem in problems(path)]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
