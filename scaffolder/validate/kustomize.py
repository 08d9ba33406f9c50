"""Running `kustomize build` (or `kubectl kustomize`) and reading kustomization files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from scaffolder.errors import ToolMissingError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUSTOMIZE_CONFIG_GROUP = "kustomize.config.k8s.io"
# Flux builds with no load restrictions; kustomize and Argo CD keep the default.
LOAD_RESTRICTIONS_NONE = "LoadRestrictionsNone"
_REMOTE_PREFIXES = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com")


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
    memory limit saves a quarter of its CPU time. Settings the user made are kept."""
    env = dict(os.environ)
    if "GOGC" not in env and "GOMEMLIMIT" not in env:
        env.update({"GOGC": "off", "GOMEMLIMIT": "512MiB"})
    return env


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


def build_together(folders: Sequence[Path], load_restrictor: str | None = None) -> list[str] | None:
    """Build several kustomizations with one kustomize run: each run costs a process start.

    A generated kustomization lists them with a marker object before each, and keeps
    resources in that order (sortOptions fifo), so the output splits back per folder.
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
        _write_kustomization(tmp, resources, sortOptions={"order": "fifo"})
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


def error_text(stderr: str) -> str:
    """kustomize's error without kubectl's log prefix, on one line."""
    text = stderr.strip()
    match = re.search(r'err="(.*)"\s*$', text, re.DOTALL)
    if match:
        text = match.group(1).replace('\\"', '"').replace("\\n", " ")
    text = re.sub(r"^Error:\s*", "", text)
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


def is_remote(entry: str) -> bool:
    return entry.lower().startswith(_REMOTE_PREFIXES) or "://" in entry


@dataclass
class KustomizationConfig:
    """The parts of a kustomization file that name other files and folders."""

    folder: Path
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


def read_kustomization(folder: Path, body: Any) -> KustomizationConfig:
    config = KustomizationConfig(folder)
    if not isinstance(body, dict):
        return config
    for key in ("resources", "bases"):
        config.resources += [e for e in _strings(body.get(key)) if not is_remote(e)]
    config.components = [e for e in _strings(body.get("components")) if not is_remote(e)]
    namespace = body.get("namespace")
    config.namespace = namespace if isinstance(namespace, str) else None
    inputs: list[str] = []
    for patch in _list(body.get("patches")) + _list(body.get("patchesJson6902")):
        if isinstance(patch, dict) and isinstance(patch.get("path"), str):
            inputs.append(patch["path"])
    inputs += [e for e in _strings(body.get("patchesStrategicMerge")) if "\n" not in e]
    for key in ("crds", "configurations", "generators", "transformers", "validators"):
        inputs += [e for e in _strings(body.get(key)) if "\n" not in e]
    for replacement in _list(body.get("replacements")):
        if isinstance(replacement, dict) and isinstance(replacement.get("path"), str):
            inputs.append(replacement["path"])
    openapi = body.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        inputs.append(openapi["path"])
    for key in ("configMapGenerator", "secretGenerator"):
        for generator in _list(body.get(key)):
            if not isinstance(generator, dict):
                continue
            read = [entry.split("=", 1)[-1] for entry in _strings(generator.get("files"))]
            read += _strings(generator.get("envs"))
            if isinstance(generator.get("env"), str):
                read.append(generator["env"])
            inputs += read
            if key == "secretGenerator":
                config.secret_inputs += [e for e in read if not is_remote(e)]
                if generator.get("literals"):
                    config.secret_literals.append(str(generator.get("name", "?")))
    for chart in _list(body.get("helmCharts")):
        if isinstance(chart, dict) and isinstance(chart.get("valuesFile"), str):
            inputs.append(chart["valuesFile"])
    config.inputs = [e for e in inputs if not is_remote(e)]
    return config


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [v for v in _list(value) if isinstance(v, str)]
