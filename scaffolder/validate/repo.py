"""One read of a platform repo: every file once, parsed once, indexed for the checks."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from scaffolder.errors import ScaffoldError, shown
from scaffolder.model import PLATFORM_FILE, Platform, load_answers, parse_answers_text
from scaffolder.validate.documents import (
    YAML_SUFFIXES,
    Document,
    YamlSyntaxError,
    is_kubernetes_object,
    load_text,
)
from scaffolder.validate.findings import relative
from scaffolder.validate.kustomize import (
    KUSTOMIZATION_FILES,
    KUSTOMIZE_CONFIG_GROUP,
    KustomizationConfig,
    kustomization_file,
    read_kustomization,
)

TENANT_LABEL = "gitops-scaffold.io/tenant"
SOPS_CONFIG = ".sops.yaml"
_SKIPPED_DIRS = {".git"}
_MAX_TEXT_BYTES = 5 * 1024 * 1024
# No Kubernetes object comes near this (the API server takes requests of about 3 MiB); a larger
# YAML file is not read, so validate's time and memory stay bounded.
MAX_YAML_BYTES = 16 * 1024 * 1024


@dataclass
class SourceFile:
    relative: str  # repo-relative, POSIX
    path: Path
    text: str
    documents: list[Document] = field(default_factory=list)
    error: YamlSyntaxError | None = None


@dataclass(frozen=True)
class Location:
    file: str
    line: int | None


@dataclass(frozen=True)
class KubeObject:
    """One Kubernetes object: from a source file, or from a build (``unit`` set)."""

    body: dict[str, Any]
    location: Location
    unit: str | None = None  # the build it came from, repo-relative folder
    # Set when Flux's postBuild substitution made this copy: the Kustomization that did it,
    # and the fields whose whole value is a variable of unknown value (left as written).
    substituted_by: str | None = None
    unresolved: frozenset[tuple[str | int, ...]] = frozenset()
    # Variables the substitution used without a default that nothing defines ("" in Flux).
    undefined: frozenset[str] = frozenset()

    @cached_property  # asked for millions of times in a large repo
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @cached_property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @cached_property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @cached_property
    def metadata(self) -> dict[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True)
class CreationRule:
    """One .sops.yaml creation rule: which paths, for which age recipients."""

    index: int
    path_regex: re.Pattern[str] | None
    recipients: frozenset[str]

    def covers(self, relative_path: str) -> bool:
        return self.path_regex is None or bool(self.path_regex.search(relative_path))


@dataclass
class Repo:
    root: Path
    files: dict[str, SourceFile]  # every YAML file
    text_files: list[str]  # every other file small enough to scan for keys
    kustomizations: dict[str, KustomizationConfig]  # by repo-relative folder
    platform: Platform | None
    platform_problem: str | None
    creation_rules: list[CreationRule]
    kustomize_inputs: set[str]  # files kustomize reads as patches, generator input, ...
    _source_objects: list[KubeObject] | None = field(default=None, repr=False)
    _texts: dict[str, str | None] = field(default_factory=dict, repr=False)
    _unlisted: dict[str, SourceFile | None] = field(default_factory=dict, repr=False)
    _reals: dict[str, str] = field(default_factory=dict, repr=False)

    def path(self, relative_path: str) -> Path:
        return self.root / relative_path

    def key(self, path: Path) -> str | None:
        """The repo-relative path that ``path`` really is (symbolic links followed, as
        kustomize follows them); None when it is outside the repo."""
        root = self._real(os.path.abspath(self.root))
        real = self._real(os.path.normpath(os.path.abspath(path)))
        if real == root:
            return "."
        if not real.startswith(root + os.sep):
            return None
        text = real[len(root) + 1 :]
        return text.replace(os.sep, "/") if os.sep != "/" else text

    def _real(self, path: str) -> str:
        """os.path.realpath of a normalised absolute path, memoised per folder: the paths
        kustomizations name share a few folders, and realpath checks every component."""
        if path not in self._reals:
            parent, name = os.path.split(path)
            if not name:  # the file system root
                self._reals[path] = path
            else:
                joined = os.path.join(self._real(parent), name)
                self._reals[path] = os.path.realpath(joined) if os.path.islink(joined) else joined
        return self._reals[path]

    def source(self, relative_path: str) -> SourceFile | None:
        """A YAML file as parsed: one read with the repo, else read now (a file kustomize reads
        that is not listed: another suffix, git-ignored, in a submodule); None when missing."""
        if relative_path in self.files:
            return self.files[relative_path]
        if relative_path not in self._unlisted:
            path = self.path(relative_path)
            small = path.is_file() and path.stat().st_size <= _MAX_TEXT_BYTES
            self._unlisted[relative_path] = _read_source(self.root, path) if small else None
        return self._unlisted[relative_path]

    def kustomization(self, folder: str) -> KustomizationConfig | None:
        """The kustomization of a repo folder, listed or not (see ``source``)."""
        if folder in self.kustomizations:
            return self.kustomizations[folder]
        found = kustomization_file(self.path(folder))
        source = self.source(self.rel(found)) if found else None
        if source is None or not source.documents:
            return None
        return read_kustomization(self.path(folder), source.documents[0].body)

    def text(self, relative_path: str) -> str | None:
        """One of ``text_files``, read once (None when unreadable or not UTF-8: binary)."""
        if relative_path not in self._texts:
            try:
                self._texts[relative_path] = self.path(relative_path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                self._texts[relative_path] = None
        return self._texts[relative_path]

    def shell_scripts(self) -> Iterator[tuple[str, str]]:
        """(relative path, text) of every readable ``*.sh`` file."""
        for relative_path in self.text_files:
            if relative_path.endswith(".sh"):
                text = self.text(relative_path)
                if text is not None:
                    yield relative_path, text

    def rel(self, path: Path) -> str:
        return relative(self.root, path)

    def is_dir(self, relative_path: str) -> bool:
        return self.path(relative_path).is_dir()

    def kustomization_file(self, folder: str) -> str:
        """The kustomization file of a repo folder (the folder itself when it has none)."""
        found = kustomization_file(self.path(folder))
        return self.rel(found) if found else folder

    @property
    def documents(self) -> int:
        return sum(len(f.documents) for f in self.files.values())

    def source_objects(self) -> list[KubeObject]:
        """Every Kubernetes object in a source file, kustomize's own files excluded."""
        if self._source_objects is None:
            self._source_objects = [
                KubeObject(doc.body, Location(source.relative, doc.line))
                for source in self.files.values()
                if is_manifest_file(self, source)
                for doc in source.documents
                if is_kubernetes_object(doc.body) and not is_kustomize_config(doc.body)
            ]
        return self._source_objects

    @property
    def tenants(self) -> set[str]:
        """Tenant names: platform.yaml's, else every value of the tenant label."""
        if self.platform is not None:
            return {t.name for t in self.platform.tenants}
        found = set()
        for obj in self.source_objects():
            value = obj.labels.get(TENANT_LABEL)
            if isinstance(value, str) and value:
                found.add(value)
        return found

    def tenant_sso_groups(self) -> set[str]:
        if self.platform is None:
            return set()
        return {self.platform.tenant_sso_group(t) for t in self.platform.tenants}


def is_kustomize_config(body: Any) -> bool:
    return isinstance(body, dict) and str(body.get("apiVersion", "")).startswith(
        f"{KUSTOMIZE_CONFIG_GROUP}/"
    )


def is_manifest_file(repo: Repo, source: SourceFile) -> bool:
    """A file whose documents are applied as they are, not read by kustomize as input."""
    name = source.relative.rsplit("/", 1)[-1]
    return name not in KUSTOMIZATION_FILES and source.relative not in repo.kustomize_inputs


def _walk(root: Path) -> Iterator[Path]:
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        here = Path(current)
        yield from (here / d for d in dirs if (here / d).is_symlink())  # never walked into
        for name in sorted(files):
            yield here / name


def link_problem(root: Path, path: Path) -> str | None:
    """What is wrong with ``path`` as a symbolic link of the repo at ``root``: it leads out of
    the repository (Argo CD refuses such a repo; Flux would read what is there), in a loop,
    or to nothing. None for a link inside the repo, or no link."""
    if not path.is_symlink():
        return None
    target = shown(os.readlink(path))
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as err:  # RuntimeError: a loop, before Python 3.13
        if isinstance(err, RuntimeError) or err.errno == errno.ELOOP:
            return f"a symbolic link in a loop ({target}): not followed"
        return f"a symbolic link to nothing ({target}): not followed"
    if not resolved.is_relative_to(root.resolve()):
        return f"a symbolic link out of the repository ({target}): not followed"
    if resolved.is_dir() and path.parent.resolve().is_relative_to(resolved):
        return f"a symbolic link in a loop ({target}, a folder that holds it): not followed"
    return None


def repo_files(root: Path) -> list[Path]:
    """The files that are or would be committed: git's tracked and not-ignored files.

    Outside a git work tree (or without git), every file below root but .git/.
    """
    git = shutil.which("git")
    if git:
        done = subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            listed = sorted({root / p for p in done.stdout.split("\0") if p})
            return [p for p in listed if p.is_file() or p.is_symlink()]
    return list(_walk(root))


def _read_source(root: Path, path: Path) -> SourceFile:
    rel = relative(root, path)
    problem = link_problem(root, path)
    try:
        if problem is None and path.stat().st_size > MAX_YAML_BYTES:
            problem = f"larger than {MAX_YAML_BYTES >> 20} MiB: not read"
    except OSError:
        pass  # reported by the read below
    if problem is not None:
        return SourceFile(rel, path, "", error=YamlSyntaxError(path, 1, problem, unsafe=True))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return SourceFile(rel, path, "", error=YamlSyntaxError(path, 1, f"unreadable: {err}"))
    source = SourceFile(rel, path, text)
    try:
        source.documents = list(load_text(text, path))
    except YamlSyntaxError as err:
        source.error = err
    return source


def _load_platform(files: dict[str, SourceFile]) -> tuple[Platform | None, str | None]:
    """platform.yaml read as every command reads an answers file (YAML 1.2 types, no aliases)."""
    source = files.get(PLATFORM_FILE)
    if source is None or source.error is not None:
        return None, None
    try:
        answers = parse_answers_text(source.text, PLATFORM_FILE)
        if answers is None:
            return None, f"{PLATFORM_FILE} is empty"
        return load_answers(answers), None
    except ScaffoldError as err:
        return None, str(err)


def _creation_rules(files: dict[str, SourceFile]) -> list[CreationRule]:
    source = files.get(SOPS_CONFIG)
    if source is None or not source.documents:
        return []
    body = source.documents[0].body
    rules = body.get("creation_rules") if isinstance(body, dict) else None
    found = []
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        pattern = rule.get("path_regex")
        try:
            regex = re.compile(pattern) if isinstance(pattern, str) else None
        except re.error:
            regex = None
        age = rule.get("age") or ""
        keys = age if isinstance(age, list) else str(age).split(",")
        recipients = frozenset(k.strip() for k in keys if k and k.strip())
        found.append(CreationRule(index, regex, recipients))
    return found


def load_repo(root: Path) -> Repo:
    """Read every file of the repo once; YAML files are parsed, the others kept for scans."""
    paths = repo_files(root)
    # Helm chart templates are not YAML until Helm renders them: scanned as text only.
    helm_template_dirs = {
        relative(root, p.parent / "templates") for p in paths if p.name == "Chart.yaml"
    }
    files: dict[str, SourceFile] = {}
    text_files: list[str] = []
    for path in paths:
        rel = relative(root, path)
        problem = link_problem(root, path)
        if problem is not None:  # whatever the file: a link out of the repo is a finding
            error = YamlSyntaxError(path, 1, problem, unsafe=True)
            files[rel] = SourceFile(rel, path, "", error=error)
            continue
        if not path.is_file():
            continue  # a link to a folder of the repo: its files are listed where they are
        if path.suffix in YAML_SUFFIXES and not any(
            rel.startswith(folder + "/") for folder in helm_template_dirs
        ):
            files[rel] = _read_source(root, path)
        elif not path.is_symlink():
            try:
                if path.stat().st_size <= _MAX_TEXT_BYTES:
                    text_files.append(rel)
            except OSError:
                continue

    kustomizations: dict[str, KustomizationConfig] = {}
    inputs: set[str] = set()
    for source in files.values():
        name = source.path.name
        if name not in KUSTOMIZATION_FILES or not source.documents:
            continue
        config = read_kustomization(source.path.parent, source.documents[0].body)
        folder = relative(root, source.path.parent)
        kustomizations[folder] = config
        inputs.update(relative(root, config.resolve(entry)) for entry in config.inputs)
    platform, problem = _load_platform(files)
    return Repo(
        root=root,
        files=files,
        text_files=text_files,
        kustomizations=kustomizations,
        platform=platform,
        platform_problem=problem,
        creation_rules=_creation_rules(files),
        kustomize_inputs=inputs,
    )
