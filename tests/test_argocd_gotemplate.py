"""A strict evaluator for the Go-template subset the Argo CD templates use, for the tests.

The ApplicationSet controller renders `text/template` with sprig's functions and
`missingkey=error`. What this evaluator implements, with Go's semantics:

- field chains (`.a.b`): a missing map key is an error (missingkey=error);
- `index m k`: the value, or the zero value when the key is missing (never an error, whatever
  missingkey says); indexing nothing (nil) is an error; lists take integer indexes;
- pipelines (`a | f b` calls `f b a`), parenthesised pipelines, string literals (Go's
  interpreted strings; the templates write them as JSON strings), true/false and integers;
- sprig: default, dict, list, has, ternary, eq, ne, not.

Anything else is refused, so a template that starts using more fails these tests loudly
instead of being half-emulated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<field>(?:\.[A-Za-z_]\w*)+)'
    r"|(?P<int>-?[0-9]+)|(?P<ident>[A-Za-z_]\w*)|(?P<punct>[()|]))"
)


class GoTemplateError(Exception):
    """What the ApplicationSet controller would report as a render error."""


def _empty(value: Any) -> bool:
    return value is None or value is False or value in ("", 0) or value == {} or value == []


def _index(container: Any, *keys: Any) -> Any:
    for key in keys:
        if container is None:
            raise GoTemplateError("index of untyped nil")
        if isinstance(container, dict):
            container = container.get(key, _zero(container))
        elif isinstance(container, list):
            if not isinstance(key, int) or not 0 <= key < len(container):
                raise GoTemplateError(f"index out of range: {key}")
            container = container[key]
        else:
            raise GoTemplateError(f"can't index item of type {type(container).__name__}")
    return container


def _zero(mapping: dict[str, Any]) -> Any:
    """The zero value of a map's element type: "" for Kubernetes labels and annotations
    (map[string]string), nil for the generators' map[string]any."""
    return "" if mapping and all(isinstance(v, str) for v in mapping.values()) else None


def _eq(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        raise GoTemplateError(f"incompatible types for comparison: {a!r} {b!r}")
    return bool(a == b)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "index": _index,
    "default": lambda default, given=None: default if _empty(given) else given,
    "dict": lambda: {},
    "list": lambda *items: list(items),
    "has": lambda needle, haystack: needle in (haystack or []),
    "ternary": lambda yes, no, condition: yes if condition else no,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "not": lambda value: _empty(value),
}


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    expression = expression.rstrip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise GoTemplateError(f"cannot parse {expression[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, expression: str, params: dict[str, Any]) -> None:
        self.tokens = _tokens(expression)
        self.position = 0
        self.params = params

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def pipeline(self) -> Any:
        value = self.command(None, first=True)
        while self.peek() == ("punct", "|"):
            self.take()
            value = self.command(value, first=False)
        return value

    def command(self, piped: Any, first: bool) -> Any:
        head = self.peek()
        if head is None:
            raise GoTemplateError("missing command")
        if head[0] == "ident" and head[1] not in ("true", "false"):
            self.take()
            if head[1] not in FUNCTIONS:
                raise GoTemplateError(f'function "{head[1]}" not defined')
            args = []
            while (token := self.peek()) is not None and token not in (
                ("punct", "|"),
                ("punct", ")"),
            ):
                args.append(self.argument())
            if not first:
                args.append(piped)
            return FUNCTIONS[head[1]](*args)
        if not first:
            raise GoTemplateError(f"non-function {head[1]!r} in a pipeline")
        value = self.argument()
        if (token := self.peek()) is not None and token not in (("punct", "|"), ("punct", ")")):
            raise GoTemplateError(f"can't give argument to non-function {value!r}")
        return value

    def argument(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return json.loads(text)
        if kind == "int":
            return int(text)
        if kind == "field":
            return self.field(text)
        if kind == "ident":
            if text in ("true", "false"):
                return text == "true"
            if text not in FUNCTIONS:
                raise GoTemplateError(f'function "{text}" not defined')
            return FUNCTIONS[text]()  # a niladic function used as an argument is called
        if text == "(":
            value = self.pipeline()
            if self.take() != ("punct", ")"):
                raise GoTemplateError("unclosed parenthesis")
            return value
        raise GoTemplateError(f"unexpected {text!r}")

    def field(self, chain: str) -> Any:
        value: Any = self.params
        for part in chain[1:].split("."):
            if not isinstance(value, dict):
                raise GoTemplateError(f"can't evaluate field {part} in {type(value).__name__}")
            if part not in value:
                raise GoTemplateError(f'map has no entry for key "{part}" ({chain})')
            value = value[part]
        return value


def evaluate(expression: str, params: dict[str, Any]) -> Any:
    """The value of one action's pipeline."""
    parser = _Parser(expression, params)
    value = parser.pipeline()
    if parser.peek() is not None:
        raise GoTemplateError(f"unexpected {parser.peek()} in {expression!r}")
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    return str(value)


def render(text: str, params: dict[str, Any]) -> str:
    """Every action of ``text`` replaced by its value, as Go prints it."""
    return ACTION.sub(lambda m: _text(evaluate(m.group(1), params)), text)


def actions(value: Any) -> list[str]:
    """Every action in a string, or in the strings of nested dicts and lists."""
    if isinstance(value, str):
        return ACTION.findall(value)
    if isinstance(value, dict):
        return [a for item in value.values() for a in actions(item)]
    if isinstance(value, list):
        return [a for item in value for a in actions(item)]
    return []


# ----------------------------------------------------------------------- the evaluator's own tests


def test_the_evaluator_keeps_go_semantics() -> None:
    """missingkey=error on fields, zero values from index, pipelines, sprig defaults."""
    import pytest

    params = {"name": "c1", "metadata": {"labels": {"env": "dev"}}}
    assert render("{{ .name }}-x", params) == "c1-x"
    with pytest.raises(GoTemplateError, match="no entry"):
        render("{{ .metadata.annotations.x }}", params)
    # index never fails on a missing key; indexing nil does
    assert evaluate('index .metadata "annotations"', params) is None
    with pytest.raises(GoTemplateError, match="nil"):
        evaluate('index (index .metadata "annotations") "x"', params)
    expression = 'index (index .metadata "annotations" | default (dict)) "x" | default "d"'
    assert evaluate(expression, params) == "d"
    annotated = {"metadata": {"annotations": {"x": "v"}, "labels": {}}}
    assert evaluate(expression, annotated) == "v"
    assert evaluate('index (index .metadata "annotations") "y"', annotated) == ""
    assert render('{{ eq ("false" | default "true") "true" }}', {}) == "false"
    assert evaluate('ternary "a" "b" (has .metadata.labels.env (list "prod"))', params) == "b"
    with pytest.raises(GoTemplateError, match="not defined"):
        evaluate("env HOME", {})
    assert evaluate("index .p.segments 1", {"p": {"segments": ["deploy", "api"]}}) == "api"
