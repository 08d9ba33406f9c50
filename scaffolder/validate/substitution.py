"""Flux's postBuild variable substitution, as kustomize-controller does it.

After kustomize builds a Flux Kustomization's path, Flux replaces the ``${...}`` expressions
in the YAML of every object with the Kustomization's variables (``substituteFrom``
ConfigMaps and Secrets in order, then ``substitute`` over them), unless the object is
labelled or annotated ``kustomize.toolkit.fluxcd.io/substitute: disabled``, and only when
there is at least one variable. The grammar is Flux's envsubst (a fork of drone/envsubst):

- only ``${...}`` is an expression (``$var`` stays text); ``$$`` is a literal ``$``;
- ``${v:=w}``, ``${v:-w}``, ``${v=w}``, ``${v:?w}``, ``${v:+w}`` all give v when it is not
  empty, else w; ``${#v}``, ``${v^}``, ``${v^^}``, ``${v,}``, ``${v,,}``, ``${v:pos:len}``,
  ``${v/a/b}``, ``${v//a/b}``, ``${v/#a/b}``, ``${v/%a/b}``, ``${v#glob}``, ``${v##glob}``,
  ``${v%glob}``, ``${v%%glob}`` as in bash;
- a variable nobody defines is empty (Flux's default; strict mode is an opt-in flag).

Substitution works on the YAML text, so ``"${replicas}"`` stays a string while an unquoted
``${replicas}`` becomes what its value parses as ("3": the integer 3).

A variable validate cannot know the value of (a key of a SOPS-encrypted Secret; anything a
ConfigMap or Secret that is not in the repo may hold) substitutes to a marker; after parsing,
a field whose whole value is one marker is *unresolved* and keeps its expression as text.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from scaffolder.validate.repo import KubeObject

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
VARIABLE_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")  # Flux refuses other variable names

_OPEN = "\ue000"  # marker around an expression whose value is not known
_CLOSE = "\ue001"
_MARKED = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}")
_DEFAULT_OPS = ("=", ":=", ":-", ":?", ":+")

FieldPath = tuple[str | int, ...]


class SubstitutionError(ValueError):
    """Text Flux's envsubst refuses (Flux then fails the whole Kustomization).

    ``expression`` is the refused text as written, from its ``${`` to the end of its line at
    most, once known.
    """

    def __init__(self, problem: str, expression: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.expression = expression


@dataclass(frozen=True)
class Variables:
    """What a Flux Kustomization substitutes: known values, and names set to unknown values."""

    values: Mapping[str, str] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()
    any_unknown: bool = False  # a source outside the repo may set any other variable

    @property
    def active(self) -> bool:
        return bool(self.values or self.unknown or self.any_unknown)

    def lookup(self, name: str) -> str | None:
        """The value of ``name``; None when it is not known; "" when nothing sets it."""
        if name in self.values:
            return self.values[name]
        if name in self.unknown or self.any_unknown:
            return None
        return ""


def _glob(pattern: str) -> re.Pattern[str]:
    """Go's path.Match pattern as a regex ('*' and '?' do not match '/')."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def _trim_prefix(value: str, pattern: str, longest: bool) -> str:
    regex = _glob(pattern)
    ends = range(len(value), -1, -1) if longest else range(len(value) + 1)
    for end in ends:
        if end and regex.fullmatch(value[:end]):
            return value[end:]
    return value


def _substring(value: str, args: list[str]) -> str:
    try:
        position = int(args[0])
    except ValueError:
        return value
    if position < 0:
        position = max(0, len(value) + position)
    if len(args) == 1:
        return value[position:]
    try:
        length = int(args[1])
    except ValueError:
        return value
    if length < 0:
        end = len(value) + length
        return value[position:end] if end >= position else ""
    return value[position : position + length]


def _replace(value: str, op: str, args: list[str]) -> str:
    if op in ("/", "//"):
        count = 1 if op == "/" else -1
        return value.replace(args[0], args[1] if len(args) > 1 else "", count)
    if len(args) != 2:
        return value
    if op == "/#":
        return args[1] + value[len(args[0]) :] if value.startswith(args[0]) else value
    return value[: len(value) - len(args[0])] + args[1] if value.endswith(args[0]) else value


def _apply(op: str, value: str, args: list[str]) -> str:
    if op in _DEFAULT_OPS or op == "":
        return "".join(args) if value == "" and args else value
    if op == "len":
        return str(len(value.encode()))
    casing: dict[str, Callable[[str], str]] = {
        "^": lambda s: s[:1].upper() + s[1:],
        "^^": str.upper,
        ",": lambda s: s[:1].lower() + s[1:],
        ",,": str.lower,
    }
    if op in casing:
        return casing[op](value)
    if op == ":":
        return _substring(value, args)
    if op.startswith("/"):
        return _replace(value, op, args)
    if op in ("#", "##"):
        return _trim_prefix(value, args[0], op == "##") if args else value
    if op in ("%", "%%") and args:
        return _trim_prefix(value[::-1], args[0][::-1], op == "%%")[::-1]
    return value


class _Parser:
    def __init__(self, text: str, variables: Variables, undefined: set[str] | None = None) -> None:
        self.text = text
        self.variables = variables
        # names used without a default that nothing defines (Flux substitutes "" for them)
        self.undefined = undefined if undefined is not None else set()
        self.nested = 0

    def char(self, at: int) -> str:
        return self.text[at : at + 1]

    def name(self, at: int) -> tuple[str, int]:
        end = at
        while end < len(self.text) and (self.text[end].isalnum() or self.text[end] == "_"):
            end += 1
        return self.text[at:end], end

    def word(self, at: int, stops: str, escapes: bool) -> tuple[str | None, int]:
        """Text up to one of ``stops`` (not consumed), nested expressions evaluated."""
        parts: list[str] = []
        unknown = False
        while at < len(self.text) and self.text[at] not in stops:
            pair = self.text[at : at + 2]
            if pair == "${":
                self.nested += 1  # an argument (a default, a pattern): may never be used
                value, at = self.expression(at + 2)
                self.nested -= 1
                unknown = unknown or value is None
                parts.append(value or "")
            elif escapes and pair in ("$$", "\\\\", "\\/"):
                parts.append(pair[1])
                at += 2
            else:
                parts.append(self.text[at])
                at += 1
        if at >= len(self.text):
            raise SubstitutionError("missing closing brace")
        return (None if unknown else "".join(parts)), at

    def close(self, at: int) -> int:
        if self.char(at) != "}":
            raise SubstitutionError("bad substitution")
        return at + 1

    def expression(self, at: int) -> tuple[str | None, int]:
        """The value of the expression after ``${`` at ``at`` (None: not known), and its end."""
        if self.char(at) == "#":
            name, at = self.name(at + 1)
            if not name:
                raise SubstitutionError("bad substitution")
            return self.evaluate(name, "len", []), self.close(at)
        name, at = self.name(at)
        if not name:
            raise SubstitutionError("unable to parse variable name")
        char = self.char(at)
        args: list[str | None] = []
        if char == "}":
            return self.evaluate(name, "", []), at + 1
        if self.text[at : at + 2] in _DEFAULT_OPS or char == "=":
            op = "=" if char == "=" else self.text[at : at + 2]
            arg, at = self.word(at + len(op), "}", escapes=False)
            args.append(arg)
        elif char == ":":
            op = ":"
            arg, at = self.word(at + 1, ":}", escapes=False)
            args.append(arg)
            if self.char(at) == ":":
                arg, at = self.word(at + 1, "}", escapes=False)
                args.append(arg)
        elif char in ",^":
            op = self.text[at : at + 2] if self.char(at + 1) in (",", "^") else char
            at += len(op)
        elif char == "/":
            op = self.text[at : at + 2] if self.char(at + 1) in ("/", "#", "%") else "/"
            pattern, at = self.word(at + len(op), "/", escapes=True)
            args.append(pattern)
            at += 1
            if self.char(at) != "}":
                replacement, at = self.word(at, "}", escapes=True)
                args.append(replacement)
        elif char in "#%":
            op = char * 2 if self.char(at + 1) == char else char
            arg, at = self.word(at + len(op), "}", escapes=False)
            args.append(arg)
        elif char:
            raise SubstitutionError(
                f"the name {name!r} is followed by {char!r}, neither '}}' nor an operator"
            )
        else:
            raise SubstitutionError("missing closing brace")
        if any(a is None for a in args):
            return None, self.close(at)
        return self.evaluate(name, op, [a or "" for a in args]), self.close(at)

    def evaluate(self, name: str, op: str, args: list[str]) -> str | None:
        value = self.variables.lookup(name)
        if (
            value == ""
            and not self.nested
            and op not in _DEFAULT_OPS
            and name not in self.variables.values
        ):
            self.undefined.add(name)
        return None if value is None else _apply(op, value, args)

    def written(self, start: int) -> str:
        """The expression at ``start`` as written: to its closing brace, within its line."""
        line_end = self.text.find("\n", start)
        line = self.text[start : line_end if line_end >= 0 else len(self.text)]
        depth = 0
        for at, char in enumerate(line):
            depth += {"{": 1, "}": -1}.get(char, 0)
            if char == "}" and depth <= 0:
                return line[: at + 1]
        return line

    def run(self) -> str:
        out: list[str] = []
        at = 0
        while True:
            dollar = self.text.find("$", at)
            if dollar < 0:
                out.append(self.text[at:])
                return "".join(out)
            out.append(self.text[at:dollar])
            follower = self.char(dollar + 1)
            if follower == "$":
                out.append("$")
                at = dollar + 2
            elif follower == "{":
                try:
                    value, at = self.expression(dollar + 2)
                except SubstitutionError as err:
                    if not err.expression:
                        err.expression = self.written(dollar)
                    raise
                if value is None:
                    value = f"{_OPEN}{self.text[dollar:at]}{_CLOSE}"
                out.append(value)
            else:
                out.append("$")
                at = dollar + 1


def envsubst(text: str, variables: Variables, undefined: set[str] | None = None) -> str:
    """``text`` with Flux's substitution applied; expressions of unknown value are marked.

    The names of variables used without a default (``${v:=w}``) that nothing defines are
    added to ``undefined``: Flux substitutes "" for them.
    Raises SubstitutionError where Flux's envsubst fails.
    """
    if "$" not in text:
        return text
    return _Parser(text, variables, undefined).run()


def substitution_disabled(body: Any) -> bool:
    meta = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        return False
    return any(
        isinstance(found, dict) and found.get(SUBSTITUTE_KEY) == "disabled"
        for found in (meta.get("labels"), meta.get("annotations"))
    )


@dataclass(frozen=True)
class Substituted:
    body: Any
    unresolved: frozenset[FieldPath] = frozenset()  # fields whose whole value is not known
    undefined: frozenset[str] = frozenset()  # variables used without a default, defined nowhere


def _unmark(value: Any, path: FieldPath, unresolved: set[FieldPath]) -> Any:
    """``value`` with its markers turned back into the expressions; whole-value ones noted."""
    if isinstance(value, str):
        if _OPEN not in value:
            return value
        whole = _MARKED.fullmatch(value)
        if whole:
            unresolved.add(path)
        return _MARKED.sub(lambda m: m.group(1), value)
    if isinstance(value, dict):
        return {
            _unmark(k, path, set()): _unmark(v, (*path, str(k)), unresolved)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_unmark(v, (*path, i), unresolved) for i, v in enumerate(value)]
    return value


def _resolved(parsed: Any, text: str, undefined: frozenset[str]) -> Substituted:
    if _OPEN not in text:
        return Substituted(parsed, undefined=undefined)
    unresolved: set[FieldPath] = set()
    parsed = _unmark(parsed, (), unresolved)
    return Substituted(parsed, frozenset(unresolved), undefined)


def substitute_documents(
    documents: Sequence[tuple[str, Any]],
    variables: Variables,
    load_stream: Callable[[str], list[Any]],
) -> list[Substituted | Exception]:
    """Built documents (YAML text, parsed body) as Flux applies them, in order.

    A document Flux cannot substitute gives its SubstitutionError, or the YAML error of its
    substituted text. The documents that change are parsed together: one parse, not one each.
    """
    results: list[Substituted | Exception] = []
    changed: list[tuple[int, str]] = []
    undefined: dict[int, frozenset[str]] = {}
    for index, (text, body) in enumerate(documents):
        results.append(Substituted(body))
        if not variables.active or "$" not in text or substitution_disabled(body):
            continue
        names: set[str] = set()
        try:
            result = envsubst(text, variables, names)
        except SubstitutionError as err:
            results[index] = err
            continue
        undefined[index] = frozenset(names)
        if result != text:
            changed.append((index, result if result.endswith("\n") else result + "\n"))
    if not changed:
        return results
    try:
        bodies: list[Any] | None = load_stream("---\n".join(text for _, text in changed))
    except yaml.YAMLError:
        bodies = None
    if bodies is None or len(bodies) != len(changed):  # find which one breaks, or is empty
        bodies = []
        for _, text in changed:
            try:
                bodies.append((load_stream(text) or [None])[0])
            except yaml.YAMLError as err:
                bodies.append(err)
    for (index, text), parsed in zip(changed, bodies, strict=True):
        results[index] = (
            parsed
            if isinstance(parsed, Exception)
            else _resolved(parsed, text, undefined.get(index, frozenset()))
        )
    return results


def substitute_document(
    text: str, body: Any, variables: Variables, load: Callable[[str], Any]
) -> Substituted:
    """One built document (its YAML ``text`` and parsed ``body``) as Flux applies it.

    Raises SubstitutionError, or load's error when the substituted text is not YAML.
    """
    (result,) = substitute_documents([(text, body)], variables, lambda t: [load(t)])
    if isinstance(result, Exception):
        raise result
    return result


def _data(body: dict[str, Any], key: str) -> dict[str, Any]:
    data = body.get(key)
    return data if isinstance(data, dict) else {}


def _source_values(obj: KubeObject) -> tuple[dict[str, str], set[str]]:
    """(known values, keys of unknown value) a ConfigMap or Secret gives to substitution."""
    if obj.kind == "ConfigMap":
        return {str(k): str(v) for k, v in _data(obj.body, "data").items()}, set()
    if "sops" in obj.body:  # encrypted: the keys are readable, the values are not
        return {}, {str(k) for key in ("data", "stringData") for k in _data(obj.body, key)}
    known: dict[str, str] = {}
    unknown: set[str] = set()
    for key, value in _data(obj.body, "data").items():
        try:
            known[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            unknown.add(str(key))
    known.update({str(k): str(v) for k, v in _data(obj.body, "stringData").items()})
    return known, unknown


class SourceIndex:
    """The ConfigMaps and Secrets substituteFrom may name, by kind and name."""

    def __init__(self, objects: Iterable[KubeObject]) -> None:
        self._by_name: dict[tuple[str, str], list[KubeObject]] = {}
        for obj in objects:
            if obj.api_version == "v1" and obj.kind in ("ConfigMap", "Secret"):
                self._by_name.setdefault((obj.kind, obj.name), []).append(obj)

    def find(self, kind: str, namespace: str, name: str) -> KubeObject | None:
        found = self._by_name.get((kind, name), [])
        matching = [o for o in found if o.namespace == namespace] if namespace else found
        return matching[0] if matching else None


def postbuild_variables(kustomization: KubeObject, sources: SourceIndex) -> Variables | None:
    """What a Flux Kustomization substitutes; None when it substitutes nothing.

    substituteFrom sources are read in order from the repo (Flux reads them from the
    Kustomization's namespace); one that is not in the repo may set any variable. The
    inline ``substitute`` values win; one that is itself an expression (filled in by the
    Kustomization that applies this one) counts as unknown.
    """
    post = kustomization.spec.get("postBuild")
    if not isinstance(post, dict):
        return None
    values: dict[str, str | None] = {}
    any_unknown = False
    references = post.get("substituteFrom")
    for reference in references if isinstance(references, list) else []:
        if not isinstance(reference, dict) or reference.get("kind") not in (
            "ConfigMap",
            "Secret",
        ):
            continue
        found = sources.find(
            str(reference["kind"]), kustomization.namespace, str(reference.get("name", ""))
        )
        if found is None:
            any_unknown = True
            continue
        known, unknown = _source_values(found)
        values.update(dict.fromkeys(unknown))
        values.update({k: v.replace("\n", "") for k, v in known.items()})
    inline = post.get("substitute")
    for key, value in (inline if isinstance(inline, dict) else {}).items():
        text = "" if value is None else str(value)
        values[str(key)] = None if "${" in text else text.replace("\n", "")
    variables = Variables(
        {k: v for k, v in values.items() if v is not None},
        frozenset(k for k, v in values.items() if v is None),
        any_unknown,
    )
    return variables if variables.active else None


def invalid_names(variables: Variables) -> list[str]:
    """Variable names Flux refuses (it then fails the Kustomization)."""
    return sorted(n for n in (*variables.values, *variables.unknown) if not VARIABLE_NAME.match(n))
