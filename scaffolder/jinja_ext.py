"""The Jinja extension every sub-template loads (``_extensions`` in its cookiecutter.json).

It does two things cookiecutter cannot be told to do:

- shared includes: cookiecutter points its loader at the sub-template folder and its
  sibling ``../templates`` only; sub-templates live deeper, so the package's shared template
  folder is added to the search path the first time a template is compiled;
- compile once: cookiecutter builds a new Jinja environment for every sub-template call
  (one per cluster and per tenant), so without a shared bytecode cache every template and
  macro library would be compiled again for each of them.
"""

from __future__ import annotations

from jinja2 import BaseLoader, BytecodeCache, ChoiceLoader, Environment, FileSystemLoader
from jinja2.bccache import Bucket
from jinja2.ext import Extension

from scaffolder.paths import shared_templates_dir


class _SharedLoader(ChoiceLoader):
    pass


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept for the life of the process; a changed source recompiles."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE_CACHE = _MemoryBytecodeCache()


class SharedTemplates(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.bytecode_cache = _BYTECODE_CACHE

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        loader = self.environment.loader
        if loader is not None and not isinstance(loader, _SharedLoader):
            shared = FileSystemLoader(str(shared_templates_dir()))
            loaders: list[BaseLoader] = [loader, shared]
            self.environment.loader = _SharedLoader(loaders)
        return source
