"""Shell scripts of the repo (the bootstrap): how they hand secrets to the tools they run.

Scripts are read as text: continuation lines are joined, comments dropped, and each logical
line is judged on its own, so a finding points at the line where the command starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from scaffolder.validate.checks import CheckContext
from scaffolder.validate.documents import comment_start
from scaffolder.validate.findings import Finding

_PIPE = re.compile(r"""(?<![|'"])\|(?![|])|'\|'|"\|\"""")
_DRY_RUN_CLIENT = re.compile(r"--dry-run(?:=|\s+)client\b")
_CREATE_SECRET = re.compile(r"\bcreate\s+secret\b")
_KUBECTL_APPLY = re.compile(r"\bkubectl\b.*\bapply\b")
_FUNCTION = re.compile(r"^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)\s*\{?\s*$")
_FLUX_BOOTSTRAP = re.compile(r"\bflux\s+bootstrap\b")
_BOOTSTRAP_ARRAY = re.compile(r"\b([A-Za-z_]\w*)\+?=\(\s*flux\s+bootstrap\b")
_PASSWORD_FLAG = re.compile(r"""(?:^|[\s('"])(--password(?:[=\s'"]|$)|-p(?:[=\s'"]|[^\s'"-]))""")


@dataclass(frozen=True)
class _Line:
    number: int  # where the logical line starts
    text: str  # continuation lines joined, comment dropped


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a # outside quotes, after a blank)."""
    start = comment_start(line)
    return line if start < 0 else line[:start]


def logical_lines(text: str) -> list[_Line]:
    found: list[_Line] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        line = _strip_comment(raw)
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        found.append(_Line(start, " ".join(p.strip() for p in parts)))
        parts = []
    if parts:
        found.append(_Line(start, " ".join(p.strip() for p in parts)))
    return found


def _functions(lines: list[_Line]) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of each shell function (a closing `}` alone ends it)."""
    found = []
    current: tuple[str, int] | None = None
    for line in lines:
        match = _FUNCTION.match(line.text)
        if match and current is None:
            current = (match.group(1), line.number)
        elif current is not None and line.text.strip() == "}":
            found.append((current[0], current[1], line.number))
            current = None
    return found


# -- scripts/client-side-secret -----------------------------------------------------------
# `kubectl create secret ... --dry-run=client -o yaml | kubectl apply -f -` applies
# client-side: kubectl stores the whole object, data included (an age private key, a
# token), in the kubectl.kubernetes.io/last-applied-configuration annotation, which
# `kubectl describe` and every reader of metadata print (review F11). `apply --server-side`
# keeps no such copy.


def _client_side_secrets(lines: list[_Line]) -> Iterator[tuple[int, str]]:
    functions = _functions(lines)
    joined = " ".join(line.text for line in lines)
    for line in lines:
        if not _DRY_RUN_CLIENT.search(line.text):
            continue
        pieces = _PIPE.split(line.text, maxsplit=1)
        if len(pieces) != 2:
            continue
        left, right = pieces
        if not _DRY_RUN_CLIENT.search(left) or not _KUBECTL_APPLY.search(right):
            continue
        if "--server-side" in right:
            continue
        creates = bool(_CREATE_SECRET.search(left))
        via = ""
        if not creates and "$@" in left:
            for name, first, last in functions:
                if first <= line.number <= last and re.search(
                    rf"(?:^|[\s;&|(]){re.escape(name)}\s+create\s+secret\b", joined
                ):
                    creates, via = True, f" (function {name}, called with `create secret`)"
        if creates:
            yield line.number, via


# -- scripts/password-flag ------------------------------------------------------------------
# `flux bootstrap git --password=...` puts the Git token on the command line: `ps`, shell
# history and a dry run's output show it. flux2 cmd/flux/bootstrap_git.go reads it from
# GIT_PASSWORD when the flag is absent, or prompts for it (review F20). The command may be
# spelled out, or kept in an array (`cmd=(flux bootstrap git ...)`, `cmd+=(...)`,
# `"${cmd[@]}" --password=...`).


def _password_flags(lines: list[_Line]) -> Iterator[int]:
    arrays = {m.group(1) for line in lines for m in _BOOTSTRAP_ARRAY.finditer(line.text)}
    uses = [_FLUX_BOOTSTRAP] + [
        re.compile(rf"\$\{{{re.escape(name)}\[[@*]\]\}}|\b{re.escape(name)}\+=\(")
        for name in sorted(arrays)
    ]
    for line in lines:
        starts = [m.start() for use in uses for m in use.finditer(line.text)]
        if starts and _PASSWORD_FLAG.search(line.text[min(starts) :]):
            yield line.number


def check_scripts(ctx: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    for relative, text in ctx.repo.shell_scripts():
        lines = logical_lines(text)
        for number, via in _client_side_secrets(lines):
            findings.append(
                Finding(
                    "scripts/client-side-secret",
                    relative,
                    number,
                    f"a Secret made with --dry-run=client is piped into a client-side `kubectl "
                    f"apply`{via}: kubectl copies it, values included, into the "
                    "last-applied-configuration annotation; use `kubectl apply --server-side`",
                )
            )
        for number in _password_flags(lines):
            findings.append(
                Finding(
                    "scripts/password-flag",
                    relative,
                    number,
                    "the Git password goes to `flux bootstrap` as a flag: ps, the shell history "
                    "and a dry run show it; export GIT_PASSWORD instead (flux bootstrap reads "
                    "it, or prompts)",
                )
            )
    return findings
