"""Loading the YAML documents of a repo, with the line each document starts on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Document:
    path: Path
    line: int  # 1-based line where the document starts
    body: Any


class YamlSyntaxError(Exception):
    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


def yaml_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in YAML_SUFFIXES and p.is_file() and ".git" not in p.relative_to(root).parts
    )


def load_text(text: str, path: Path) -> Iterator[Document]:
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            yield Document(path, node.start_mark.line + 1, loader.construct_document(node))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(path, line, str(getattr(err, "problem", err))) from None
    finally:
        loader.dispose()


def load_file(path: Path) -> list[Document]:
    return list(load_text(path.read_text(encoding="utf-8"), path))


def is_kubernetes_object(body: Any) -> bool:
    return isinstance(body, dict) and "apiVersion" in body and "kind" in body
