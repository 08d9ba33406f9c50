"""Values as data: every answer written into a generated file goes through one of these.

Templates never splice a value into YAML or shell code as text. The renderer's output filter
(``render.py``) passes each value through the function for the file's language:

- ``yaml_scalar``: a YAML scalar that reads back as the same string under YAML 1.1 (PyYAML,
  go-yaml v2 behind sigs.k8s.io/yaml) and YAML 1.2 (go-yaml v3 behind kustomize/kyaml): plain
  when that is unambiguous (``team-a``, ``https://github.com/acme/p.git``), else double-quoted
  (``"123"``, ``"null"``, ``"on"``, ``"./deploy"``, ``"a: b"``, ``"#alerts"``);
- ``shell_word``: one single-quoted shell word.

Neither accepts a control character: a newline could end a comment or a document, and no
answer needs one (the model refuses them; this is the second line of defence).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

import yaml

# Characters that never start or end YAML syntax in a plain scalar: no spaces (': ', ' #'),
# quotes, brackets, braces, '&', '*', '!', '|', '>', '%', '`', ',' or '?'; ':' only inside.
_PLAIN = re.compile(r"^[A-Za-z0-9_./$][A-Za-z0-9_./@+=$-]*(:[A-Za-z0-9_./@+=$-]+)*$")
# What YAML 1.2's core schema (go-yaml v3) reads as something other than a string; YAML 1.1
# is asked of PyYAML's resolver below.
_YAML12_NOT_STRING = re.compile(
    r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|true|True|TRUE|false|False|FALSE|null|Null|NULL|~)$"
)
# go-yaml v2 (sigs.k8s.io/yaml, which the API server's YAML decoding uses) also reads these as
# booleans; PyYAML does not.
_GO_YAML_V2_BOOLS = frozenset({"y", "Y", "n", "N"})
_STR_TAG = "tag:yaml.org,2002:str"
# Characters YAML does not allow unescaped (C1 controls, surrogates, U+FFFE, U+FFFF).
_NOT_YAML_PRINTABLE = re.compile("[\x80-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_YAML11 = yaml.resolver.Resolver()
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class UnsafeValueError(ValueError):
    """A value that cannot be written as data in this language."""


def check_printable(value: str) -> str:
    if _CONTROL.search(value):
        raise UnsafeValueError(f"{value[:60]!r}: a control character cannot be written here")
    return value


def yaml_scalar(value: object) -> str:
    """``value`` as a YAML scalar: strings keep their type and text, whatever they hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise UnsafeValueError(f"{type(value).__name__} {value!r} is not a YAML scalar")
    return _yaml_string(value)


@lru_cache(maxsize=1 << 16)
def _yaml_string(value: str) -> str:
    """A string as a YAML scalar (cached: a large platform writes each name many times)."""
    check_printable(value)
    if is_plain_string(value):
        return value
    # A JSON string is a YAML double-quoted scalar; what YAML cannot hold raw is escaped.
    return _NOT_YAML_PRINTABLE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False)
    )


def yaml_scalar_wrapped(value: object, column: int, indent: int, width: int = 100) -> str:
    """``yaml_scalar(value)`` for a scalar written at ``column`` of its line (where its
    opening quote goes), wrapped as PyYAML's emitter wraps a double-quoted scalar
    (``Emitter.write_double_quoted``): past ``width``, at a space, with an escaped line break,
    the next line at ``indent`` and its leading space escaped. The files derived from the
    whole answers keep the layout ``dump_yaml`` gave them; the value read back is the same."""
    quoted = yaml_scalar(value)
    if not quoted.startswith('"'):
        return quoted  # plain: no space, nothing to wrap
    text = str(value)
    out = ['"']
    current = column + 1  # the column of text[start]
    start = end = 0
    while end <= len(text):
        char = text[end] if end < len(text) else None
        escape = _escape(char) if char is not None else None
        if char is None or escape is not None:
            out.append(text[start:end])
            current += end - start
            start = end
            if escape is not None:
                out.append(escape)
                current += len(escape)
                start = end + 1
        breakable = char == " " or start >= end
        if 0 < end < len(text) - 1 and breakable and current + (end - start) > width:
            out.append(text[start:end] + "\\\n" + " " * indent)
            start = max(start, end)
            current = indent
            if text[start] == " ":
                out.append("\\")
                current += 1
        end += 1
    out.append('"')
    return "".join(out)


def _escape(char: str) -> str | None:
    """How ``yaml_scalar`` writes ``char`` inside double quotes, if not as it is."""
    if char in '"\\' or _NOT_YAML_PRINTABLE.match(char):
        return yaml_scalar(char)[1:-1]
    return None


def is_plain_string(value: str) -> bool:
    """Whether ``value`` written plain reads back as this string in YAML 1.1 and 1.2."""
    return (
        bool(_PLAIN.match(value))
        and not _YAML12_NOT_STRING.match(value)
        and value not in _GO_YAML_V2_BOOLS
        and _YAML11.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG  # type: ignore[no-untyped-call]
    )


class _Dumper(yaml.SafeDumper):
    """PyYAML output with the quoting rule of ``yaml_scalar``: a string is written plain only
    when YAML 1.1 and 1.2 both read it back as that string (PyYAML alone only asks 1.1, and
    writes ``1e3`` plain, which kustomize reads as a number); multi-line strings as blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        style: str | None = "|"
    else:
        style = None if is_plain_string(value) else '"'
    return dumper.represent_scalar(_STR_TAG, value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(*documents: object, width: int = 100) -> str:
    """YAML documents (dicts, lists, scalars) as ``answers_file`` writes platform.yaml edits
    (and as the derived files were laid out when Python wrote them)."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=width)


def shell_word(value: object) -> str:
    """``value`` as exactly one single-quoted shell word: never expanded, never split."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise UnsafeValueError(f"{type(value).__name__} {value!r} is not a shell word")
    return "'" + check_printable(value).replace("'", "'\\''") + "'"


def text(value: object) -> str:
    """Prose (Markdown, comments in plain text files): the value as written, one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, (str, int)):
        raise UnsafeValueError(f"{type(value).__name__} {value!r} is not text")
    return check_printable(str(value))
