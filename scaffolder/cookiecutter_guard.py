"""Plain `cookiecutter <checkout>` keeps answers as data, in a sandbox.

cookiecutter compiles every string of its context as a Jinja template before using it
(``cookiecutter.prompt.render_variable``), in an unsandboxed environment: an answer like
``{{ cycler.__init__.__globals__.os.popen('id').read() }}`` given as extra context would run.
The root ``cookiecutter.json`` loads this extension (``_extensions``) into every environment
cookiecutter builds, before anything is compiled, and it does two things there:

- the environment becomes a sandboxed one (cookiecutter offers no setting for it, so the
  instance's class is swapped for a sandboxed subclass of its own class);
- ``from_string`` compiles only the one template string this project's root template needs
  cookiecutter to render, the project folder name ``{{cookiecutter.repo_name}}``. Every other
  string handed to it (answers, defaults, hook scripts, the paths of files copied without
  rendering) comes back as itself: a constant template that outputs the string verbatim;
- rendering that folder name is the first thing cookiecutter does with the answers, so the
  answers model checks them there: a broken rule stops cookiecutter with one line before
  anything is written (cookiecutter prints a FailedHookException's message and exits 1).

The root skeleton's files are copied without rendering (``_copy_without_render``) except
``.cookiecutter-context.json``, which writes the answers as JSON for the post-generate hook;
the hook then builds the repo with gitops-scaffold's own renderer, exactly as `new` does.

The tenant units (``templates/<engine>/tenant``) are cookiecutter templates too, for
``cookiecutter <checkout> --directory templates/<engine>/tenant``: their folder name
``{{cookiecutter.repo_dir}}`` names the existing platform repo there (default: the current
folder). Rendering it checks that the folder is one and answers with a fresh request folder
outside the repo instead, so cookiecutter itself never writes into the repo: it writes the
answers there as JSON, and the unit's post-generate hook hands them to the same function as
`gitops-scaffold add-tenant` (``scaffolder.hooks.add_tenant_from_cookiecutter``).
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from cookiecutter.environment import StrictEnvironment
from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment, Template
from jinja2.ext import Extension
from jinja2.sandbox import SandboxedEnvironment, safe_range

from scaffolder.paths import ROOT_SKELETON, UNIT_DIR

# The only strings cookiecutter must render: the project folder names (root, units).
TEMPLATE_STRINGS = frozenset({ROOT_SKELETON, UNIT_DIR})
# Where a unit's request folder goes (outside the repo), the prefix of its name.
REQUEST_PREFIX = "gitops-scaffold-cookiecutter-"


class _ProjectFolderName(Template):
    """The project folder name: rendered once the answers are known, after checking them."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        from scaffolder.context import answers_from_root_context
        from scaffolder.errors import ScaffoldError
        from scaffolder.model import load_answers

        try:
            load_answers(answers_from_root_context(dict(*args, **kwargs)["cookiecutter"]))
        except ScaffoldError as err:
            raise FailedHookException(f"error: {err}") from None
        return super().render(*args, **kwargs)


class _RequestFolder(Template):
    """A unit's folder name: the existing repo is checked, a fresh folder outside it is used."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        from scaffolder.errors import ScaffoldError
        from scaffolder.model import PLATFORM_FILE
        from scaffolder.repo_state import read_platform

        context = dict(*args, **kwargs)["cookiecutter"]
        if "tenant_name" not in context:
            raise FailedHookException(
                "error: this template unit is rendered by gitops-scaffold itself; use "
                "gitops-scaffold add-cluster (or add-tenant) on the repo"
            )
        repo = Path(context["_output_dir"], str(context["repo_dir"]))
        if not (repo / PLATFORM_FILE).is_file():
            raise FailedHookException(
                f"error: {repo} is not a gitops-scaffold platform repo (no {PLATFORM_FILE}): "
                "run cookiecutter in the repo, or pass repo_dir=PATH"
            )
        try:
            read_platform(repo)
        except ScaffoldError as err:
            raise FailedHookException(f"error: {err}") from None
        return str(Path(tempfile.gettempdir(), REQUEST_PREFIX + secrets.token_hex(8)))


class _GuardedEnvironment(SandboxedEnvironment, StrictEnvironment):  # type: ignore[misc]
    def from_string(  # type: ignore[override]
        self,
        source: Any,
        globals: dict[str, Any] | None = None,
        template_class: type[Template] | None = None,
    ) -> Template:
        if isinstance(source, str) and source in TEMPLATE_STRINGS:
            folder = _ProjectFolderName if source == ROOT_SKELETON else _RequestFolder
            return super().from_string(source, globals, folder)
        return super().from_string("{{ verbatim }}", {"verbatim": source}, template_class)


class AnswersAreData(Extension):
    """Loaded by cookiecutter through ``_extensions`` in the root cookiecutter.json."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if isinstance(environment, StrictEnvironment) and not isinstance(
            environment, _GuardedEnvironment
        ):
            environment.__class__ = _GuardedEnvironment
            # What SandboxedEnvironment.__init__ sets on an instance.
            environment.globals["range"] = safe_range
            environment.binop_table = dict(_GuardedEnvironment.default_binop_table)
            environment.unop_table = dict(_GuardedEnvironment.default_unop_table)
