"""A Jinja extension that lets every sub-template `{% include %}` the shared templates.

cookiecutter points its loader at the sub-template folder and its sibling `../templates`
only; sub-templates live deeper, so this extension adds the package's shared template
folder to the search path the first time a template is compiled.
"""

from __future__ import annotations

from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from jinja2.ext import Extension

from scaffolder.paths import shared_templates_dir


class _SharedLoader(ChoiceLoader):
    pass


class SharedTemplates(Extension):
    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        loader = self.environment.loader
        if loader is not None and not isinstance(loader, _SharedLoader):
            shared = FileSystemLoader(str(shared_templates_dir()))
            loaders: list[BaseLoader] = [loader, shared]
            self.environment.loader = _SharedLoader(loaders)
        return source
