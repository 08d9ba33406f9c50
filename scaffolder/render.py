"""The one renderer: template folders into a repo, answers as data, in a Jinja sandbox.

The templates are ordinary cookiecutter template folders: the root skeleton
(``{{cookiecutter.repo_name}}/`` beside ``cookiecutter.json``) and one unit per engine part
(``templates/<engine>/<unit>/{{cookiecutter.repo_dir}}/``, each with its ``cookiecutter.json``).
File names read as the paths they produce; which files a unit writes for given answers is
decided in one place, the ``_when`` table of the unit's ``cookiecutter.json`` (template path
of a file or folder -> Jinja expression).

Rendering is done here, not by cookiecutter, for three reasons:

- answers are data: templates get them as variables, and nothing a user typed is ever
  compiled as a template (cookiecutter renders every context value as one);
- every value written into a file goes through the quoting function of the file's language
  (``quoting.py``), chosen by the template's name: ``*.yaml`` and macro libraries named
  ``*.yaml.j2`` write YAML scalars, ``*.sh``/``*.sh.j2`` shell words, anything else text.
  Macro results and literal template text are written as they are (autoescape semantics:
  a macro's output is markup, a value is not);
- one sandboxed environment per process compiles each template once, whatever the number
  of clusters and tenants.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
    pass_context,
)
from jinja2.bccache import Bucket, BytecodeCache, FileSystemBytecodeCache
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from scaffolder import quoting
from scaffolder.context import platform_view, root_context, sops_view
from scaffolder.errors import ScaffoldError
from scaffolder.model import Cluster, Platform, Tenant
from scaffolder.paths import ROOT_SKELETON, UNIT_DIR, template_root, templates_dir, unit_folder

_QUOTERS: dict[str, Callable[[object], str]] = {
    "yaml": quoting.yaml_scalar,
    "shell": quoting.shell_word,
    "text": quoting.text,
}


@lru_cache(maxsize=1024)
def language(template_name: str | None) -> str:
    """The language a template writes, from its name (``x.yaml``, ``lib.yaml.j2``, ``x.sh``)."""
    name = (template_name or "").removesuffix(".j2")
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith(".sh"):
        return "shell"
    return "text"


@pass_context
def _as_data(context: Context, value: object) -> Markup:
    """The output filter of every ``{{ ... }}``: values quoted, macro output kept."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, Undefined):
        # A missing variable raises (StrictUndefined) and names itself; what is left is an
        # inline `x if cond` without else, which writes nothing.
        return Markup(str(value))
    return Markup(_QUOTERS[language(context.name)](value))


def _go(expression: str) -> str:
    """A Go-template action (Argo CD ApplicationSets) as part of a value: quoted with it."""
    return "{{ " + expression + " }}"


def _go_text(expression: str) -> Markup:
    """A Go-template action written as it is, for text that Argo CD templates before it is
    YAML (an ApplicationSet's templatePatch). Template-authored expressions only."""
    return Markup(_go(quoting.check_printable(expression)))


def _comment(value: object) -> Markup:
    """A value inside a comment line (YAML ``#``, shell ``#``): prose, one line, unquoted.

    Only for comment lines: tests/test_templates.py checks that it is used nowhere else.
    """
    return Markup(quoting.text(value))


@pass_context
def _wrapped(context: Context, value: object, column: int, indent: int) -> Markup:
    """A YAML value that starts at ``column`` of its line, wrapped at 100 columns with its
    next lines at ``indent``, as the files derived from the whole answers always were
    (``quoting.yaml_scalar_wrapped``)."""
    if language(context.name) != "yaml":
        raise quoting.UnsafeValueError(f"| wrapped writes YAML, not into {context.name}")
    return Markup(quoting.yaml_scalar_wrapped(value, column, indent))


def _image_policy_marker(policy: str) -> Markup:
    """Flux's image setter marker, a JSON object in a YAML comment."""
    return Markup(json.dumps({"$imagepolicy": f"flux-system:{quoting.check_printable(policy)}"}))


class _BestEffortCache(FileSystemBytecodeCache):
    """A cache that cannot be read or written (full disk, folder removed) only costs time."""

    def load_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> BytecodeCache | None:
    """Compiled templates kept between runs: compiling is most of a small command's time.

    Jinja's own cache folder for this user (made 0700 and checked to be the user's own, else
    none is used); entries are checked against the template source, and this file and the
    Jinja version name them, since both shape the compiled code.
    """
    digest = hashlib.sha256(Path(__file__).read_bytes() + jinja2.__version__.encode())
    try:
        return _BestEffortCache(pattern=f"__gitops_scaffold_{digest.hexdigest()[:16]}_%s")
    except (OSError, RuntimeError):  # no usable temp folder, or one that is not safe
        return None


def environment() -> SandboxedEnvironment:
    """The environment of the template in use (``paths.template_root``)."""
    return _environment(template_root())


@lru_cache(maxsize=2)
def _environment(root: Path) -> SandboxedEnvironment:
    skeleton = {ROOT_SKELETON: FileSystemLoader(str(root / ROOT_SKELETON))}
    env = SandboxedEnvironment(
        loader=ChoiceLoader([FileSystemLoader(str(root / "templates")), PrefixLoader(skeleton)]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=True,
        finalize=_as_data,
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
    )
    env.globals.update(go=_go, go_text=_go_text, image_policy_marker=_image_policy_marker)
    env.filters["comment"] = _comment
    env.filters["wrapped"] = _wrapped
    return env


# --------------------------------------------------------------------------- units


@dataclass(frozen=True)
class Unit:
    """One template folder: the files below its root and when each is written."""

    name: str  # loader name of the root folder, e.g. "flux/tenant/{{cookiecutter.repo_dir}}"
    files: tuple[str, ...]  # template paths below the root, POSIX, sorted
    when: tuple[tuple[str, str], ...]  # (template path of a file or folder, Jinja expression)
    executables: frozenset[str]  # the files that are executable templates (scripts)

    def conditions(self, file: str) -> list[str]:
        """The expressions that must all be true for ``file`` to be written."""
        return [expression for path, expression in self.when if _covers(path, file)]

    def executable(self, file: str) -> bool:
        """Executable templates (scripts) give executable files."""
        return file in self.executables


def _covers(path: str, file: str) -> bool:
    """Whether a ``_when`` path (a file or a folder) covers the template file ``file``."""
    return file == path or file.startswith(path.rstrip("/") + "/")


def _files_below(root: Path) -> tuple[str, ...]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for file in files:
            found.append(PurePosixPath(Path(folder, file).relative_to(root)).as_posix())
    return tuple(sorted(found))


def load_unit(engine: str | None, part: str) -> Unit:
    """The root skeleton (engine None) or ``templates/<engine>/<part>``."""
    return _load_unit(template_root(), engine, part)


@cache
def _load_unit(root: Path, engine: str | None, part: str) -> Unit:
    if engine is None:
        return read_unit(root, ROOT_SKELETON, ROOT_SKELETON)
    folder = root / unit_folder(engine, part)
    return read_unit(folder, UNIT_DIR, f"{engine}/{part}/{UNIT_DIR}")


def read_unit(folder: Path, root_name: str, loader_name: str) -> Unit:
    """A template folder: ``folder/cookiecutter.json`` and the files below ``root_name``."""
    config = json.loads((folder / "cookiecutter.json").read_text(encoding="utf-8"))
    root = folder / root_name
    files = _files_below(root)
    when = tuple(config.get("_when", {}).items())
    for path, _ in when:
        if not any(_covers(path, file) for file in files):
            raise ScaffoldError(f"{folder}/cookiecutter.json: _when names {path!r}, no such file")
    executables = frozenset(f for f in files if (root / f).stat().st_mode & stat.S_IXUSR)
    return Unit(loader_name, files, when, executables)


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class File:
    """A file as the templates write it (``*.sops.yaml``: the plaintext, before encryption)."""

    content: str
    executable: bool = False
    # False: only the path was worked out (a Renderer's ``wanted`` said its content is not
    # needed); ``content`` is empty then.
    rendered: bool = True


Files = dict[str, File]  # repo-relative POSIX path -> file


class Renderer:
    """Renders the units of one platform into files; the views are computed once.

    ``public_keys`` (key name -> age public key) are what the root's .sops.yaml names;
    without them the root leaves it out."""

    def __init__(
        self,
        platform: Platform,
        public_keys: Mapping[str, str] | None = None,
        wanted: Callable[[str], bool] | None = None,
        credentials: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.platform = platform
        self.public_keys = public_keys
        # A cluster's credentials (scaffolder/kubeconfig.py, cluster name -> view): written
        # into its SOPS files instead of placeholders.
        self._credentials = credentials or {}
        self._wanted = wanted  # whose content to render (default: every file's)
        self._view = platform_view(platform)
        self._clusters = {view["name"]: view for view in self._view["clusters"]}
        self._env = environment()
        self._compiled: dict[str, Any] = {}

    def root(self) -> Files:
        """The engine-neutral skeleton: CI workflow, .gitignore, pre-commit, check-secrets,
        .sops.yaml."""
        keys = self.public_keys
        sops = sops_view(self.platform, keys) if keys is not None else None
        return self._render(load_unit(None, "root"), {**root_context(self.platform), "_sops": sops})

    def base(self) -> Files:
        return self._unit("base", {})

    def cluster(self, cluster: Cluster) -> Files:
        return self._unit(
            "cluster",
            {
                "_cluster": self._clusters[cluster.name],
                "_credentials": self._credentials.get(cluster.name),
            },
        )

    def tenant(self, tenant: Tenant) -> Files:
        return self._unit("tenant", {"_tenant": self._view["tenants"].named(tenant.name)})

    def _unit(self, part: str, items: dict[str, Any]) -> Files:
        context = {"repo_dir": self.platform.repo_name, "_platform": self._view, **items}
        return self._render(load_unit(self.platform.engine, part), context)

    def _render(self, unit: Unit, context: dict[str, Any]) -> Files:
        variables = {"cookiecutter": context}
        rendered: Files = {}
        try:
            for file in unit.files:
                if not all(self._true(e, variables) for e in unit.conditions(file)):
                    continue
                path = self._path(file, variables)
                if self._wanted is not None and not self._wanted(path):
                    rendered[path] = File("", unit.executable(file), rendered=False)
                    continue
                template = self._env.get_template(f"{unit.name}/{file}")
                rendered[path] = File(template.render(variables), unit.executable(file))
        except (TemplateError, quoting.UnsafeValueError) as err:
            raise ScaffoldError(f"rendering {unit.name}/{file} failed: {err}") from err
        return rendered

    def _true(self, expression: str, variables: dict[str, Any]) -> bool:
        compiled = self._compiled.get(expression)
        if compiled is None:
            compiled = self._compiled[expression] = self._env.compile_expression(expression)
        return bool(compiled(**variables))

    def _path(self, file: str, variables: dict[str, Any]) -> str:
        """The output path of a template path: each segment rendered, none empty or special."""
        parts = []
        for segment in file.split("/"):
            if "{" not in segment:
                parts.append(segment)
                continue
            compiled = self._compiled.get(segment)
            if compiled is None:
                compiled = self._compiled[segment] = self._env.from_string(segment)
            part = compiled.render(variables)
            if part in ("", ".", "..") or "/" in part or "\0" in part:
                raise quoting.UnsafeValueError(f"{segment!r} renders as the path segment {part!r}")
            parts.append(part)
        return "/".join(parts)


def iter_template_sources() -> Iterator[tuple[str, str]]:
    """(loader name, source) of every template file, for checks over all of them."""
    for top, prefix in ((templates_dir(), ""), (template_root() / ROOT_SKELETON, ROOT_SKELETON)):
        for relative in _files_below(top):
            name = f"{prefix}/{relative}" if prefix else relative
            yield name, (top / relative).read_text(encoding="utf-8")
