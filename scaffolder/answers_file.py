"""Editing platform.yaml in place: everything not edited stays byte for byte.

The day-2 commands change the answers only through this module. The file is parsed once
into nodes that know where they start and end in the text (the YAML composer's marks);
an edit is an entry appended to a list or an entry removed from one, so it replaces one
span of the text: the rest (comments, key order, quoting, blank lines, layout) is untouched,
which a parse-and-dump round trip cannot promise. The new entry is written by the same YAML
dumper as every generated file. The result must then read back, the strict way every
command reads an answers file, as exactly the answers the edit means; otherwise nothing is
written. Editing one list entry costs the same for 2 tenants as for 1000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import scaffolder
from scaffolder.errors import ScaffoldError, UsageError
from scaffolder.model import (
    PLATFORM_FILE,
    VERSION_FIELD,
    Platform,
    ReadEntries,
    answers_yaml,
    dump_answers,
    load_answers,
    parse_answers_document,
    parse_edited_answers_text,
)
from scaffolder.quoting import dump_yaml, yaml_scalar

Path_ = tuple[str | int, ...]  # keys and list indexes from the document's root


@dataclass(frozen=True)
class Append:
    """Append ``entry`` to the list at ``path`` (a top-level key of the answers)."""

    path: Path_
    entry: Any


@dataclass(frozen=True)
class Remove:
    """Remove the list entry at ``path``: ``("tenants", 2)``, ``("tenants", 0, "clusters", 1)``."""

    path: Path_


@dataclass(frozen=True)
class Drop:
    """Remove the top-level key ``key`` and its value (an optional section written last, like
    ``freezes``): the text is then as it was before that key was appended."""

    key: str


Edit = Append | Remove | Drop


class AnswersText:
    """platform.yaml's text, its data, the answers, and where each node sits in the text.

    The text is parsed once, the strict way every command reads an answers file.
    """

    def __init__(self, text: str, source: str = PLATFORM_FILE) -> None:
        # A last line without its newline gets one: an entry appended after it needs it.
        self.text = text if text.endswith("\n") or not text else text + "\n"
        text = self.text
        data, root = parse_answers_document(text, source)
        if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
            raise UsageError(f"{source}: the answers are not a mapping")
        self.platform: Platform = load_answers(data)
        self.data: dict[str, Any] = data
        self.root: yaml.MappingNode = root

    def index_of(self, key: str, name: str) -> int | None:
        """The index of the entry called ``name`` in the list ``key`` (clusters, tenants); a
        tenant may be written as its bare name."""
        for index, item in enumerate(self.data.get(key) or ()):
            if item == name or (isinstance(item, dict) and item.get("name") == name):
                return index
        return None

    def edited(self, edits: Sequence[Edit]) -> tuple[str, Platform]:
        """The new text and the answers it holds. Raises when they are not what ``edits``
        mean (nothing is written then).

        The new text is read back whole, the strict way every command reads it, and must
        give exactly the data the edits mean; that data shares the entries the edits left
        alone with ``self.data``, so the model reads only the entries that are new."""
        every_edit = [*edits, _SetVersion(scaffolder.__version__)]
        spans = sorted(
            (self._span(edit) for edit in every_edit), key=lambda span: span[0], reverse=True
        )
        expected = _apply_to_data(self.data, self.platform, every_edit)
        text = self.text
        for start, end, replacement in spans:
            text = text[:start] + replacement + text[end:]
        if parse_edited_answers_text(text, PLATFORM_FILE) != expected:
            raise ScaffoldError(
                f"{PLATFORM_FILE} could not be edited safely (an unusual layout?): edit it by "
                "hand, then run the command again; nothing was changed"
            )
        return text, load_answers(expected, ReadEntries.of(self.data, self.platform))

    # ------------------------------------------------------------------ spans

    def _span(self, edit: Edit | _SetVersion) -> tuple[int, int, str]:
        if isinstance(edit, _SetVersion):
            return self._version_span(edit.value)
        if isinstance(edit, Append):
            return self._append_span(edit)
        if isinstance(edit, Drop):
            return self._drop_span(edit.key)
        return self._remove_span(edit.path)

    def _node(self, path: Path_) -> yaml.Node | None:
        node: yaml.Node | None = self.root
        for step in path:
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                node = next((v for k, v in node.value if k.value == step), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                node = node.value[step] if step < len(node.value) else None
            else:
                return None
        return node

    def _append_span(self, edit: Append) -> tuple[int, int, str]:
        node = self._node(edit.path)
        if node is None:  # the list is implied (defaults): write it out, then the entry
            key = str(edit.path[-1])
            items = [*dump_answers(self.platform).get(key, []), edit.entry]
            block = dump_yaml({key: items})
            return len(self.text), len(self.text), block
        if not isinstance(node, yaml.SequenceNode):
            raise UsageError(f"{PLATFORM_FILE}: {'.'.join(map(str, edit.path))} is not a list")
        if node.flow_style or not node.value:
            return self._replace_flow(node, [*self._value(edit.path), edit.entry])
        indent = self._dash_column(node.value[0])
        entry = _indented(dump_yaml([edit.entry]), indent)
        end = self._line_end(_content_end(node.value[-1]))
        return end, end, entry

    def _drop_span(self, key: str) -> tuple[int, int, str]:
        for key_node, value in self.root.value:
            if key_node.value == key:
                start = self._line_start(key_node.start_mark.index)
                return start, self._line_end(_content_end(value)), ""
        raise UsageError(f"{PLATFORM_FILE}: no {key} to remove")

    def _remove_span(self, path: Path_) -> tuple[int, int, str]:
        sequence = self._node(path[:-1])
        index = int(path[-1])
        if not isinstance(sequence, yaml.SequenceNode) or index >= len(sequence.value):
            raise UsageError(f"{PLATFORM_FILE}: no entry at {'.'.join(map(str, path))}")
        if sequence.flow_style:
            values = [v for i, v in enumerate(self._value(path[:-1])) if i != index]
            return self._replace_flow(sequence, values)
        items = sequence.value
        start = self._line_start(self._dash_index(items[index]))
        if index + 1 < len(items):
            end = self._line_start(self._dash_index(items[index + 1]))
        else:
            end = self._line_end(_content_end(items[index]))
        if len(items) == 1:  # the list would be empty: write it as []
            return self._replace_flow(sequence, [])
        return start, end, ""

    def _replace_flow(self, node: yaml.SequenceNode, values: list[Any]) -> tuple[int, int, str]:
        """Write a list whose entries cannot be edited one by one as one flow sequence."""
        flow = yaml.safe_dump(values, default_flow_style=True, width=10**6).strip()
        start, end = node.start_mark.index, node.end_mark.index
        if not node.flow_style:  # a block list made empty: `key: []` on the key's line
            start = self.text.rindex(":", 0, self._dash_index(node.value[0])) + 1
            end = self._line_end(_content_end(node.value[-1])) - 1
            flow = f" {flow}"
        return start, end, flow

    def _version_span(self, value: str) -> tuple[int, int, str]:
        node = self._node((VERSION_FIELD,))
        if node is not None:
            return node.start_mark.index, node.end_mark.index, yaml_scalar(value)
        first = self.root.value[0][0] if self.root.value else None
        at = self._line_start(first.start_mark.index) if first is not None else len(self.text)
        return at, at, f"{VERSION_FIELD}: {yaml_scalar(value)}\n"

    def _value(self, path: Path_) -> list[Any]:
        value: Any = self.data
        for step in path:
            value = value[step]
        return list(value)

    def _dash_index(self, item: yaml.Node) -> int:
        return self.text.rindex("-", 0, item.start_mark.index)

    def _dash_column(self, item: yaml.Node) -> int:
        dash = self._dash_index(item)
        return dash - self._line_start(dash)

    def _line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def _line_end(self, index: int) -> int:
        """The index just after the newline ending the line that holds ``index - 1``."""
        newline = self.text.find("\n", max(index - 1, 0))
        return len(self.text) if newline < 0 else newline + 1


@dataclass(frozen=True)
class _SetVersion:
    value: str


def _content_end(node: yaml.Node) -> int:
    """Where a node's last character is: a block mapping's or sequence's own end mark lies at
    the next token, which may be lines (comments) further down."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _content_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _content_end(node.value[-1])
    return int(node.end_mark.index)


def _indented(block: str, indent: int) -> str:
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in block.splitlines(True))


class _Owned:
    """Copies of the containers an edit changes, made once each: everything else of the
    result is ``data``'s own (unchanged entries stay the same objects, see ReadEntries)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.result = dict(data)
        self._copies = {id(self.result)}

    def child(self, parent: Any, step: str | int) -> Any:
        value = parent[step]
        if id(value) not in self._copies:
            value = dict(value) if isinstance(value, dict) else list(value)
            parent[step] = value
            self._copies.add(id(value))
        return value


def _apply_to_data(
    data: dict[str, Any], platform: Platform, edits: Sequence[Any]
) -> dict[str, Any]:
    """What the answers hold once ``edits`` are made, computed on plain data. ``data`` is
    not changed, and the result shares every container the edits do not change with it."""
    owned = _Owned(data)
    result = owned.result
    # Later entries first, and an entry's own lists before the entry: no removal shifts the
    # index of one still to come.
    removals = sorted((e.path for e in edits if isinstance(e, Remove)), reverse=True)
    for edit in edits:
        if isinstance(edit, Append):
            key = str(edit.path[0])
            if key not in result:  # the list is implied (defaults)
                result[key] = list(dump_answers(platform).get(key, []))
            owned.child(result, key).append(edit.entry)
        elif isinstance(edit, _SetVersion):
            result[VERSION_FIELD] = edit.value
        elif isinstance(edit, Drop):
            result.pop(edit.key, None)
    for path in removals:
        container: Any = result
        for step in path[:-1]:
            container = owned.child(container, step)
        del container[int(path[-1])]
    return result


def save_answers(platform: Platform, folder: Path | None = None) -> Path:
    """The answers as a ``--config``-ready file in ``folder`` (default: the current one),
    never over an existing file: ``<repo>.answers.yaml``, else ``<repo>.answers-2.yaml``, ..."""
    folder = folder if folder is not None else Path.cwd()
    text = answers_yaml(platform)
    number = 1
    while True:
        suffix = "" if number == 1 else f"-{number}"
        path = folder / f"{platform.repo_name}.answers{suffix}.yaml"
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
            return path
        except FileExistsError:
            number += 1
