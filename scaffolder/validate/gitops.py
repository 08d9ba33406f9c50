"""What Flux and Argo CD objects point at: sources, paths in this repo, projects."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scaffolder.validate.repo import KubeObject, Repo

FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
FLUX_HELM_GROUP = "helm.toolkit.fluxcd.io"
FLUX_SOURCE_GROUP = "source.toolkit.fluxcd.io"
ARGO_GROUP = "argoproj.io"
FLUX_NAMESPACE = "flux-system"
# The controllers' own ServiceAccounts, in the namespace Flux is installed in (flux2
# manifests/rbac): they exist wherever a Flux Kustomization is reconciled.
FLUX_CONTROLLERS = (
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-reflector-controller",
    "image-automation-controller",
)
ARGOCD_NAMESPACE = "argocd"


def is_flux_kustomization(obj: KubeObject) -> bool:
    return obj.group == FLUX_KUSTOMIZE_GROUP and obj.kind == "Kustomization"


def is_helm_release(obj: KubeObject) -> bool:
    return obj.group == FLUX_HELM_GROUP and obj.kind == "HelmRelease"


def is_argo(obj: KubeObject, kind: str) -> bool:
    return obj.group == ARGO_GROUP and obj.kind == kind


def repo_key(url: str) -> str:
    """A Git URL reduced to host/path, so https, ssh:// and scp forms compare equal."""
    text = url.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
        authority, _, path = text.partition("/")
        host = authority.rsplit("@", 1)[-1].split(":", 1)[0]
    else:  # scp form: user@host:path
        host, _, path = text.rsplit("@", 1)[-1].partition(":")
    return f"{host}/{path.strip('/').removesuffix('.git')}"


def _git_origin(repo: Repo) -> str | None:
    config = repo.root / ".git" / "config"
    try:
        text = config.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r'\[remote "origin"\][^\[]*?url\s*=\s*(\S+)', text)
    return match.group(1) if match else None


def this_repo_urls(repo: Repo) -> set[str]:
    """Keys of the URLs this repo is known by: platform.yaml's git_url and git's origin."""
    urls = set()
    if repo.platform is not None:
        urls.add(repo_key(repo.platform.git_url))
    origin = _git_origin(repo)
    if origin:
        urls.add(repo_key(origin))
    return urls


@dataclass(frozen=True)
class SourceId:
    kind: str
    namespace: str
    name: str


def source_id(obj: KubeObject) -> SourceId:
    return SourceId(obj.kind, obj.namespace, obj.name)


def flux_sources(objects: Iterable[KubeObject]) -> dict[SourceId, KubeObject]:
    return {
        source_id(o): o
        for o in objects
        if o.group in (FLUX_SOURCE_GROUP, "source.extensions.fluxcd.io")
    }


def this_repo_sources(repo: Repo, objects: Iterable[KubeObject]) -> set[SourceId]:
    """The Flux sources that serve this repo: GitRepositories with its URL.

    Without a known URL, `flux bootstrap`'s convention: flux-system/flux-system.
    """
    urls = this_repo_urls(repo)
    found = set()
    for obj in objects:
        if obj.group != FLUX_SOURCE_GROUP or obj.kind != "GitRepository":
            continue
        url = obj.spec.get("url")
        if isinstance(url, str) and repo_key(url) in urls:
            found.add(source_id(obj))
    if not urls:
        found.add(SourceId("GitRepository", FLUX_NAMESPACE, FLUX_NAMESPACE))
    return found


def source_ref(obj: KubeObject, ref: Any) -> SourceId | None:
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
        return None
    namespace = ref.get("namespace") or obj.namespace
    return SourceId(str(ref.get("kind", "")), str(namespace), ref["name"])


def repo_path(path: Any) -> str:
    """A path inside the repo as Flux and Argo CD read it ('./a/b/', 'a/b' -> 'a/b')."""
    text = str(path or "").strip() or "."
    return posixpath.normpath(text.lstrip("/"))


def flux_repo_paths(
    objects: Iterable[KubeObject], sources: set[SourceId]
) -> Iterator[tuple[KubeObject, str]]:
    """(Flux Kustomization, path) for every Kustomization that reads this repo."""
    for obj in objects:
        if not is_flux_kustomization(obj):
            continue
        ref = source_ref(obj, obj.spec.get("sourceRef"))
        if ref is not None and ref in sources:
            yield obj, repo_path(obj.spec.get("path"))


FieldPath = tuple[str | int, ...]


def application_spec(obj: KubeObject) -> tuple[FieldPath, dict[str, Any]]:
    """The Application spec: its own, or an ApplicationSet's template spec."""
    if obj.kind != "ApplicationSet":
        return ("spec",), obj.spec
    template = obj.spec.get("template")
    inner = template.get("spec") if isinstance(template, dict) else None
    return ("spec", "template", "spec"), inner if isinstance(inner, dict) else {}


def application_sources(obj: KubeObject) -> list[tuple[FieldPath, dict[str, Any]]]:
    """(field path, source) for spec.source and spec.sources[]."""
    where, spec = application_spec(obj)
    found: list[tuple[FieldPath, dict[str, Any]]] = []
    if isinstance(spec.get("source"), dict):
        found.append(((*where, "source"), spec["source"]))
    for index, source in enumerate(spec.get("sources") or []):
        if isinstance(source, dict):
            found.append(((*where, "sources", index), source))
    return found


def applicationset_generators(obj: KubeObject) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
    """(field path, generator) for every generator of an ApplicationSet, those nested in
    matrix and merge generators included."""
    yield from _generators(obj.spec.get("generators"), ("spec", "generators"))


def _generators(value: Any, where: FieldPath) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
    for index, generator in enumerate(value if isinstance(value, list) else []):
        if not isinstance(generator, dict):
            continue
        yield (*where, index), generator
        for nested in ("matrix", "merge"):
            inner = generator.get(nested)
            if isinstance(inner, dict):
                yield from _generators(
                    inner.get("generators"), (*where, index, nested, "generators")
                )


def is_templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value
