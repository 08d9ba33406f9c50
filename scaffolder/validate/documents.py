"""Loading the YAML documents of a repo, with the line each document starts on.

Parsing follows what Kubernetes tooling accepts: duplicate keys are errors (kubectl and
kustomize refuse them) and unquoted dates stay strings (as they do in Kubernetes' YAML).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

YAML_SUFFIXES = (".yaml", ".yml")

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"


class _Unusual(Exception):
    """A node the direct construction leaves to PyYAML's constructor."""


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_DIRECT_SCALARS = frozenset({
    _STR, "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
})  # fmt: skip
_RESOLVED_LIMIT = 200_000


class _KubernetesLoader(_BaseLoader):  # type: ignore[misc]
    """Safe loading, strict about duplicate keys, dates kept as strings.

    A large repo is a million scalars: the plain ones' tags are remembered by text (PyYAML
    resolves a plain scalar from its text alone), and a document of plain maps, lists and
    core scalars is built directly, the same data PyYAML's constructor builds, in a third of
    the time. Anything else (aliases, merge keys, other tags, a duplicate key to report) goes
    through PyYAML's constructor.
    """

    _resolved: ClassVar[dict[str, str]] = {}  # shared by every loader of the run

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._containers: set[int] = set()  # the maps and lists of the document being built

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = self._resolved.get(value)
            if tag is None:
                if len(self._resolved) > _RESOLVED_LIMIT:
                    self._resolved.clear()
                tag = self._resolved[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)

    def construct_document(self, node: yaml.Node) -> Any:
        self._containers.clear()
        try:
            return self._direct_object(node)
        except (_Unusual, RecursionError):
            return super().construct_document(node)
        finally:
            self._containers.clear()

    def _direct_object(self, node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return sys.intern(node.value)
        if isinstance(node, yaml.CollectionNode):
            if id(node) in self._containers:
                raise _Unusual  # an alias: PyYAML shares the object, and bounds the expansion
            self._containers.add(id(node))
        if tag == _MAP and isinstance(node, yaml.MappingNode):
            mapping = {}
            for key_node, value_node in node.value:
                if key_node.tag not in _DIRECT_SCALARS or not isinstance(key_node, yaml.ScalarNode):
                    raise _Unusual  # a merge key, a complex key
                key = self._direct_object(key_node)
                if key in mapping:
                    raise _Unusual  # PyYAML's constructor reports the duplicate
                mapping[key] = self._direct_object(value_node)
            return mapping
        if tag == _SEQ and isinstance(node, yaml.SequenceNode):
            return [self._direct_object(item) for item in node.value]
        if tag in _DIRECT_SCALARS and isinstance(node, yaml.ScalarNode):
            return self.yaml_constructors[tag](self, node)
        raise _Unusual

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if any(key.tag == _MERGE for key, _ in node.value):
            _refuse_duplicates(self, node)  # before merges are flattened into the node
            merged: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return merged
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(mapping) < len(node.value):  # fewer keys than entries: a duplicate
            _refuse_duplicates(self, node)
        return mapping


def _refuse_duplicates(loader: Any, node: yaml.MappingNode) -> None:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable: the base constructor has reported it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)


def _shared_str(loader: Any, node: yaml.ScalarNode) -> str:
    """One string object per distinct text: a large repo repeats the same keys and values
    (apiVersion, metadata, labels, names) hundreds of thousands of times."""
    return sys.intern(loader.construct_scalar(node))


_KubernetesLoader.add_constructor("tag:yaml.org,2002:str", _shared_str)
_KubernetesLoader.add_constructor("tag:yaml.org,2002:timestamp", _shared_str)


@dataclass(frozen=True)
class Document:
    path: Path
    line: int  # 1-based line where the document starts
    body: Any


class YamlSyntaxError(Exception):
    """A file that does not parse; ``unsafe`` when it must not be read at all (an alias bomb,
    a link out of the repository, a huge file): then no build reads it either."""

    def __init__(self, path: Path, line: int, problem: str, *, unsafe: bool = False) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem
        self.unsafe = unsafe


def yaml_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in YAML_SUFFIXES and p.is_file() and ".git" not in p.relative_to(root).parts
    )


# How many nodes aliases may add to a document. A billion-laughs file of a few hundred bytes
# expands to 10^9 nodes: built, then dumped as JSON for the schema checks, it takes every byte of
# memory (review-adversarial M2). Kubernetes manifests rarely use aliases at all; go-yaml, which
# kubectl and kustomize use, refuses "excessive aliasing" too.
MAX_ALIAS_EXPANSION = 100_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expansion(root: yaml.Node) -> int | None:
    """Nodes that aliases add to the composed document ``root`` (an alias shares its anchor's
    node, so the tree is a graph); None when the document contains itself (``&a [*a]``)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                return None
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)] - len(sizes)


def load_text(text: str, path: Path) -> Iterator[Document]:
    loader = _KubernetesLoader(text)
    aliased = "*" in text and "&" in text  # no alias without an asterisk and an anchor
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if aliased:
                added = _expansion(node)
                if added is None or added > MAX_ALIAS_EXPANSION:
                    what = "contains itself" if added is None else f"adds {added:,} nodes"
                    raise YamlSyntaxError(
                        path,
                        node.start_mark.line + 1,
                        f"aliases expand this document without bound ({what}; at most "
                        f"{MAX_ALIAS_EXPANSION:,}): an alias bomb, not read",
                        unsafe=True,
                    )
            yield Document(path, node.start_mark.line + 1, loader.construct_document(node))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(path, line, str(getattr(err, "problem", err))) from None
    finally:
        loader.dispose()


def load_file(path: Path) -> list[Document]:
    return list(load_text(path.read_text(encoding="utf-8"), path))


def load_all(text: str) -> list[Any]:
    """Every document of a YAML stream (no line numbers): for tool output such as builds."""
    return [doc for doc in yaml.load_all(text, Loader=_KubernetesLoader) if doc is not None]


def is_kubernetes_object(body: Any) -> bool:
    return isinstance(body, dict) and "apiVersion" in body and "kind" in body


def line_of(text: str, document_line: int, field_path: Sequence[str | int]) -> int:
    """The line of ``field_path`` inside the document starting at ``document_line``.

    Walks the YAML node tree as far as the path exists, so a missing field points at its
    nearest existing parent. Used only when a finding is reported: loading stays fast.
    """
    loader = _KubernetesLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or node.start_mark.line + 1 != document_line:
                continue
            return _walk(node, field_path)
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return document_line


def _walk(node: yaml.Node, field_path: Sequence[str | int]) -> int:
    line: int = node.start_mark.line + 1
    for step in field_path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(step):
                    line = key_node.start_mark.line + 1
                    child = value_node
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            child = node.value[step]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def comment_start(line: str) -> int:
    """Where a line's trailing comment starts (a # at the start or after a blank, outside
    quotes; YAML and shell read it alike), -1 when it has none."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return index
    return -1
