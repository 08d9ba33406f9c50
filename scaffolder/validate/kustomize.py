"""Running `kustomize build` (or `kubectl kustomize`) and reading kustomization files."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from scaffolder.errors import ToolMissingError
from scaffolder.validate.documents import load_all

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUSTOMIZE_CONFIG_GROUP = "kustomize.config.k8s.io"
# Flux builds with no load restrictions; kustomize and Argo CD keep the default.
LOAD_RESTRICTIONS_NONE = "LoadRestrictionsNone"


@lru_cache(maxsize=1)
def kustomize_command() -> tuple[str, ...]:
    """`kustomize build` if kustomize is installed, else `kubectl kustomize`."""
    kustomize = shutil.which("kustomize")
    if kustomize:
        return (kustomize, "build")
    kubectl = shutil.which("kubectl")
    if kubectl:
        return (kubectl, "kustomize")
    raise ToolMissingError(
        "neither kustomize nor kubectl is on PATH: install one to build kustomizations"
    )


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    ok: bool
    output: str  # the rendered YAML when ok, else the error text


def has_kustomization(folder: Path) -> bool:
    return kustomization_file(folder) is not None


def kustomization_file(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


@lru_cache(maxsize=1)
def _environment() -> dict[str, str]:
    """kustomize allocates a lot and exits soon: a garbage collector that only runs near a
    memory limit saves a quarter of its CPU time. Settings the user made are kept, except
    those that would let kustomize reach the network."""
    env = dict(os.environ)
    if "GOGC" not in env and "GOMEMLIMIT" not in env:
        env.update({"GOGC": "off", "GOMEMLIMIT": "512MiB"})
    env.update(_offline_environment())
    return env


def _offline_environment() -> dict[str, str]:
    """Settings under which kustomize, and the git it runs for remote bases, refuse the network.

    Only a second layer: Go never sends a request for a loopback address (127.0.0.1,
    localhost, ::1) through a proxy, whatever NO_PROXY says, so a URL naming the runner itself
    would still be fetched. The real guard is static: a kustomization that names a remote
    entry is never given to kustomize (checks/offline.py).
    """
    proxy = f"http://127.0.0.1:{_refusing_port().getsockname()[1]}"
    proxies = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
    return {
        **dict.fromkeys(proxies, proxy),
        "NO_PROXY": "",
        "no_proxy": "",
        "GIT_ALLOW_PROTOCOL": "",  # no transport at all, file:// included
        "GIT_TERMINAL_PROMPT": "0",
    }


@lru_cache(maxsize=1)
def _refusing_port() -> socket.socket:
    """A loopback port that refuses every connection: bound, never listened on, and held until
    the process exits, so no other program can start listening on it meanwhile."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    atexit.register(held.close)
    return held


def _run(argv: Sequence[str], folder: Path) -> BuildResult:
    done = subprocess.run(
        list(argv), capture_output=True, text=True, check=False, env=_environment()
    )
    if done.returncode == 0:
        return BuildResult(folder, True, done.stdout)
    return BuildResult(folder, False, error_text(done.stderr or done.stdout))


def _build_argv(target: Path | str, load_restrictor: str | None) -> list[str]:
    options = ("--load-restrictor", load_restrictor) if load_restrictor else ()
    return [*kustomize_command(), *options, str(target)]


def _write_kustomization(folder: str, resources: list[str], **extra: Any) -> None:
    """A generated kustomization.yaml in a temporary ``folder`` (never in the repo)."""
    body = {
        "apiVersion": f"{KUSTOMIZE_CONFIG_GROUP}/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        **extra,
    }
    Path(folder, "kustomization.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")


def build(folder: Path, load_restrictor: str | None = None) -> BuildResult:
    return _run(_build_argv(folder, load_restrictor), folder)


def build_generated(folder: Path, entries: Iterable[Path]) -> BuildResult:
    """Build ``folder`` as Flux does when it has no kustomization file: every manifest in it.

    The generated kustomization lives in a temporary folder, never in the repo.
    """
    with tempfile.TemporaryDirectory(prefix="gitops-scaffold-kustomize-") as tmp:
        _write_kustomization(tmp, [os.path.relpath(entry, tmp) for entry in entries])
        return _run(_build_argv(tmp, LOAD_RESTRICTIONS_NONE), folder)


def build_in_namespace(
    folder: Path, namespace: str, load_restrictor: str | None = None
) -> BuildResult:
    """``folder`` built as a kustomization that includes it and sets ``namespace`` builds it:
    kustomize's own namespace transformer applied to its objects."""
    with tempfile.TemporaryDirectory(prefix="gitops-scaffold-kustomize-") as tmp:
        _write_kustomization(tmp, [os.path.relpath(folder, tmp)], namespace=namespace)
        return _run(_build_argv(tmp, load_restrictor), folder)


def build_together(
    folders: Sequence[Path], load_restrictor: str | None = None, namespace: str | None = None
) -> list[str] | None:
    """Build several kustomizations with one kustomize run: each run costs a process start.

    A generated kustomization lists them with a marker object before each, and keeps
    resources in that order (sortOptions fifo), so the output splits back per folder.
    With ``namespace``, it sets that namespace too (``build_in_namespace`` for each).
    Returns each folder's output, or None when the joint build fails (objects that clash
    between folders, an error in one of them, a kustomize without sortOptions): build them
    one by one then.
    """
    token = uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory(prefix="gitops-scaffold-kustomize-") as tmp:
        resources: list[str] = []
        for index, folder in enumerate(folders):
            marker = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"gitops-scaffold-{token}-{index}"},
            }
            Path(tmp, f"marker-{index}.yaml").write_text(yaml.safe_dump(marker), encoding="utf-8")
            resources += [f"marker-{index}.yaml", os.path.relpath(folder, tmp)]
        extra: dict[str, Any] = {"sortOptions": {"order": "fifo"}}
        if namespace is not None:
            extra["namespace"] = namespace
        _write_kustomization(tmp, resources, **extra)
        result = _run(_build_argv(tmp, load_restrictor), Path(tmp))
    if not result.ok:
        return None
    marker_name = re.compile(rf"^  name: gitops-scaffold-{token}-(\d+)$", re.MULTILINE)
    outputs: list[list[str]] = []
    for document in re.split(r"^---\n", result.output, flags=re.MULTILINE):
        found = marker_name.search(document)
        if found:
            if int(found.group(1)) != len(outputs):
                return None
            outputs.append([])
        elif outputs:
            outputs[-1].append(document)
    if len(outputs) != len(folders):
        return None
    return ["---\n".join(parts) for parts in outputs]


# kubectl's klog header: severity and date, time, thread id, file:line] (k8s.io/klog).
_KLOG_HEADER = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\]\s]+\] ", re.MULTILINE)
# klog's structured value: err="one line" or err=<\n\tmany lines\n >.
_KLOG_ERR = re.compile(r'err=(?:"(?P<quoted>.*)"|<(?P<block>.*)>)\s*$', re.DOTALL)


def error_text(stderr: str) -> str:
    """kustomize's error without kubectl's log prefix, on one line."""
    text = _KLOG_HEADER.sub("", stderr.strip())
    match = _KLOG_ERR.search(text)
    if match and match.group("quoted") is not None:
        text = match.group("quoted").replace('\\"', '"').replace("\\n", " ")
    elif match:
        text = match.group("block")
    text = re.sub(r'^(?:"command failed"\s*)?(?:Error:\s*)?', "", text.strip())
    text = re.sub(r"^map\[string\]interface \{\}\(nil\):\s*", "", text)
    return " ".join(text.split())


def kustomization_folders(root: Path) -> list[Path]:
    return sorted(
        p.parent
        for name in KUSTOMIZATION_FILES
        for p in root.rglob(name)
        if ".git" not in p.relative_to(root).parts
    )


def flux_manifests(folder: Path) -> list[Path]:
    """What Flux lists for a folder without a kustomization file.

    Every .yaml/.yml file below it, and each sub-folder that has a kustomization file (as
    one entry, not descended into): the rule of Flux's kustomization generator.
    """
    found: list[Path] = []
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        kept = []
        for name in sorted(dirs):
            if name == ".git":
                continue
            if has_kustomization(here / name):
                found.append(here / name)
            else:
                kept.append(name)
        dirs[:] = kept
        found += [here / f for f in sorted(files) if f.endswith((".yaml", ".yml"))]
    return sorted(found)


# What kustomize (or the git and go-getter of older versions) reads from the network, as a
# whole entry or through kustomize's remote-target syntax. Stricter than kustomize on purpose:
# a local path that looks like one of these is refused too.
_REMOTE_START = re.compile(
    r"""^(?:
        [a-z][a-z0-9+.-]*://        # any URL: http(s), ssh, git, file, oci, s3, ...
      | [a-z0-9]+::                 # go-getter's forced getters: git::, s3::, hg::
      | gh:                         # kustomize's GitHub shorthand
      | [^/\s]*@[^/\s]*[:/]         # user@host:path, git@github.com/org/repo
      | (?:github\.com|gitlab\.com|bitbucket\.org)   # hosts read without a scheme
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# A query kustomize reads as clone options, or a `//` before a subfolder of a repository.
_REMOTE_ANYWHERE = re.compile(r"://|[?&](?:ref|version|timeout|submodules)=|//", re.IGNORECASE)
# Query parameters kustomize reads itself (shown as written); any other value may be a token.
_KUSTOMIZE_QUERY = frozenset({"ref", "version", "timeout", "submodules"})
_QUERY_PARAMETER = re.compile(r"([?&])([^=&#]*)=([^&#]*)")


def is_remote(entry: str) -> bool:
    """Would kustomize fetch ``entry`` (a URL, a git repository) rather than read a local path?"""
    return bool(_REMOTE_START.match(entry) or _REMOTE_ANYWHERE.search(entry))


def mask_credentials(entry: str) -> str:
    """``entry`` fit to be shown: user info of a URL and query values that may be tokens hidden."""
    scheme, separator, rest = entry.partition("://")
    authority, slash, tail = rest.partition("/")
    if separator and "@" in authority:
        entry = f"{scheme}://***@{authority.rsplit('@', 1)[1]}{slash}{tail}"
    elif not separator and ":" in entry.partition("@")[0] and "@" in entry:
        entry = "***@" + entry.partition("@")[2]  # user:password@host:path

    def value(match: re.Match[str]) -> str:
        kept = match.group(2).lower() in _KUSTOMIZE_QUERY
        return match.group(0) if kept else f"{match.group(1)}{match.group(2)}=***"

    return _QUERY_PARAMETER.sub(value, entry)


class Role(Enum):
    """What kustomize does with an entry of a kustomization."""

    RESOURCE = "resource"  # a manifest file, or a folder it builds (resources, bases)
    COMPONENT = "component"  # a folder it builds as a component
    PLUGIN = "plugin"  # generators, transformers, validators: a config file or a folder it builds
    INPUT = "input"  # a file it reads: patches, generator files, crds, openapi, ...
    SECRET_INPUT = "secret-input"  # a file a secretGenerator reads
    REPOSITORY = "repository"  # a Helm chart repository: never a local path


FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Entry:
    """One path or URL that a kustomization (or a builtin plugin config) names."""

    value: str  # as written
    field: FieldPath  # where it is written in its document, e.g. ("resources", 2)
    role: Role
    path: str  # what kustomize opens: the value, or the path of a ``key=path`` generator file
    inner: FieldPath = ()  # the field inside an inline plugin config written at ``field``

    @property
    def remote(self) -> bool:
        return is_remote(self.value) or is_remote(self.path)

    @property
    def local(self) -> bool:
        """A path in the file system: kustomize reads it from the disk."""
        return not self.remote and self.role is not Role.REPOSITORY

    @property
    def where(self) -> str:
        """The field as a reader finds it: resources[2], configMapGenerator[0].files[1]."""
        return _dotted(self.field) + (f" ({_dotted(self.inner)})" if self.inner else "")


@dataclass(frozen=True)
class _Field:
    role: Role
    steps: tuple[str, ...]  # keys, "*" for every item of a list
    key_value: bool = False  # written ``key=path`` (generator files)


def _fields(role: Role, *paths: str, key_value: bool = False) -> tuple[_Field, ...]:
    return tuple(_Field(role, tuple(path.split(".")), key_value) for path in paths)


_KUSTOMIZATION_FIELDS = (
    *_fields(Role.RESOURCE, "resources.*", "bases.*"),
    *_fields(Role.COMPONENT, "components.*"),
    *_fields(Role.PLUGIN, "generators.*", "transformers.*", "validators.*"),
    *_fields(
        Role.INPUT,
        "patches.*.path",
        "patchesJson6902.*.path",
        "patchesStrategicMerge.*",
        "replacements.*.path",
        "crds.*",
        "configurations.*",
        "openapi.path",
        "configMapGenerator.*.envs.*",
        "configMapGenerator.*.env",
        "helmCharts.*.valuesFile",
        "helmCharts.*.additionalValuesFiles.*",
        "helmGlobals.chartHome",
        "helmChartInflationGenerator.*.chartHome",
        "helmChartInflationGenerator.*.values",
    ),
    *_fields(Role.INPUT, "configMapGenerator.*.files.*", key_value=True),
    *_fields(Role.SECRET_INPUT, "secretGenerator.*.envs.*", "secretGenerator.*.env"),
    *_fields(Role.SECRET_INPUT, "secretGenerator.*.files.*", key_value=True),
    *_fields(Role.REPOSITORY, "helmCharts.*.repo", "helmChartInflationGenerator.*.chartRepoUrl"),
)
_GENERATOR_FIELDS = (
    *_fields(Role.INPUT, "envs.*", "env"),
    *_fields(Role.INPUT, "files.*", key_value=True),
)
# The builtin plugins kustomize runs from a generators/transformers/validators config (its
# apiVersion is "builtin"; any other is an external plugin, refused without plugin flags),
# and the fields they read files or URLs from.
_PLUGIN_FIELDS: dict[str, tuple[_Field, ...]] = {
    "ConfigMapGenerator": _GENERATOR_FIELDS,
    "SecretGenerator": _GENERATOR_FIELDS,
    "PatchTransformer": _fields(Role.INPUT, "path"),
    "PatchJson6902Transformer": _fields(Role.INPUT, "path"),
    "PatchStrategicMergeTransformer": _fields(Role.INPUT, "paths.*"),
    "ReplacementTransformer": _fields(Role.INPUT, "replacements.*.path"),
    "HelmChartInflationGenerator": (
        *_fields(Role.INPUT, "valuesFile", "additionalValuesFiles.*", "chartHome"),
        *_fields(Role.REPOSITORY, "repo"),
    ),
}


def _values(
    body: Any, steps: tuple[str, ...], at: FieldPath = ()
) -> Iterator[tuple[FieldPath, str]]:
    """(field path, string) for every string at ``steps`` in ``body``."""
    if not steps:
        if isinstance(body, str):
            yield at, body
        return
    step, rest = steps[0], steps[1:]
    if step == "*":
        for index, item in enumerate(_list(body)):
            yield from _values(item, rest, (*at, index))
    elif isinstance(body, dict) and step in body:
        yield from _values(body[step], rest, (*at, step))


def _entries(body: Any, fields: Iterable[_Field]) -> Iterator[Entry]:
    for spec in fields:
        for where, value in _values(body, spec.steps):
            if "\n" in value:  # inline content (a patch, a plugin config), not a path
                if spec.role is Role.PLUGIN:
                    yield from _inline_plugin_entries(value, where)
                continue
            path = value.split("=", 1)[-1] if spec.key_value else value
            yield Entry(value, where, spec.role, path)


def _inline_plugin_entries(text: str, where: FieldPath) -> Iterator[Entry]:
    """The entries of a plugin config written inline in a kustomization, at its field."""
    try:
        bodies = load_all(text)
    except yaml.YAMLError:
        return  # kustomize cannot read it either: the build fails, nothing is fetched
    for body in bodies:
        for entry in plugin_entries(body):
            yield replace(entry, field=where, inner=entry.field)


def plugin_entries(body: Any) -> list[Entry]:
    """The paths and URLs a builtin generator or transformer config reads.

    Paths are relative to the kustomization that runs the plugin. Any apiVersion counts (an
    older kustomize is less strict about it): reading more configs than kustomize runs costs
    nothing.
    """
    if not isinstance(body, dict):
        return []
    return list(_entries(body, _PLUGIN_FIELDS.get(str(body.get("kind")), ())))


@dataclass
class KustomizationConfig:
    """The parts of a kustomization file that name other files and folders."""

    folder: Path
    entries: list[Entry] = field(default_factory=list)  # every path and URL, remote ones too
    resources: list[str] = field(default_factory=list)  # files and folders, local only
    components: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # patches, generator files, ...
    namespace: str | None = None
    secret_literals: list[str] = field(default_factory=list)  # secretGenerators with literals
    secret_inputs: list[str] = field(default_factory=list)  # files secretGenerators read

    def resolve(self, entry: str) -> Path:
        return Path(os.path.normpath(self.folder / entry))

    def children(self) -> list[Path]:
        """Resolved local resources and components."""
        return [self.resolve(e) for e in (*self.resources, *self.components)]

    def local(self, *roles: Role) -> list[str]:
        """The local paths of the entries with these roles."""
        return [e.path for e in self.entries if e.local and e.role in roles]


def read_kustomization(folder: Path, body: Any) -> KustomizationConfig:
    config = KustomizationConfig(folder)
    if not isinstance(body, dict):
        return config
    config.entries = list(_entries(body, _KUSTOMIZATION_FIELDS))
    config.resources = config.local(Role.RESOURCE)
    config.components = config.local(Role.COMPONENT)
    config.inputs = config.local(Role.PLUGIN, Role.INPUT, Role.SECRET_INPUT)
    config.secret_inputs = config.local(Role.SECRET_INPUT)
    namespace = body.get("namespace")
    config.namespace = namespace if isinstance(namespace, str) else None
    config.secret_literals = [
        str(generator.get("name", "?"))
        for generator in _list(body.get("secretGenerator"))
        if isinstance(generator, dict) and generator.get("literals")
    ]
    return config


def _dotted(path: FieldPath) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
    return text


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
