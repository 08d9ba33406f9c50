"""Editing platform.yaml in place: comments, key order and layout survive.

The day-2 commands change the answers through this module only: it parses the file with a
round-trip YAML library (ruamel.yaml), applies one structured edit (a tenant appended, a
cluster removed, ...) and writes it back. The result is then read again the strict way every
command reads an answers file (``model.parse_answers_text`` + ``load_answers``), so what lands
on disk is always a valid answers file that loads to the intended model.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from scaffolder import __version__
from scaffolder.errors import UsageError
from scaffolder.model import (
    PLATFORM_FILE,
    VERSION_FIELD,
    Platform,
    dump_answers,
    load_answers,
    parse_answers_text,
)

Edit = Callable[[CommentedMap], None]


def _yaml() -> YAML:
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = 100
    return handler


def edit_answers(text: str, platform: Platform, edit: Edit) -> tuple[str, Platform]:
    """``text`` (the current platform.yaml of ``platform``) with ``edit`` applied, and the
    answers it now holds. Lists the model fills in by default (clusters, tenants) are written
    out first, so an edit can extend them."""
    try:
        document = _yaml().load(text)
    except YAMLError as err:
        raise UsageError(f"{PLATFORM_FILE} cannot be edited: {err}") from None
    if not isinstance(document, CommentedMap):
        document = CommentedMap()
    answers = dump_answers(platform)
    for key in ("clusters", "tenants"):
        if key not in document:
            document[key] = CommentedSeq(answers[key])
    edit(document)
    _set_version(document)
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    edited = buffer.getvalue()
    return edited, load_answers(parse_answers_text(edited, PLATFORM_FILE) or {})


def _set_version(document: CommentedMap) -> None:
    """Record the version that wrote the repo last, as the first answer."""
    if VERSION_FIELD in document:
        document[VERSION_FIELD] = __version__
    else:
        document.insert(0, VERSION_FIELD, __version__)


def named(items: Any, name: str) -> int | None:
    """The index of the entry called ``name`` in a list of clusters or tenants (a tenant may
    be written as its bare name)."""
    for index, item in enumerate(items or ()):
        if item == name or (isinstance(item, dict) and item.get("name") == name):
            return index
    return None


def append_to(key: str, entry: dict[str, Any]) -> Edit:
    def edit(document: CommentedMap) -> None:
        document[key].append(CommentedMap(entry))

    return edit


def remove_from(key: str, name: str) -> Edit:
    def edit(document: CommentedMap) -> None:
        index = named(document[key], name)
        if index is not None:
            del document[key][index]

    return edit
