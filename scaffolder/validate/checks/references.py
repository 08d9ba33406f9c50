"""Check 4: cross-references. What Flux and Argo CD objects name must exist.

Objects are taken as applied (built, so kustomize's namespaces count). Some objects are made
by the bootstrap rather than committed, and count as existing when a shell script in the repo
makes them:

- `flux bootstrap` in a script: the flux-system GitRepository and Kustomization;
- `kubectl create secret generic|tls|docker-registry NAME`: a Secret NAME, where NAME is
  literal or a variable the script assigns a literal (``readonly SOPS_SECRET="sops-age"``).
  That is how a decryption secretRef to the SOPS age key is recognised as expected.

"This repo" is the URL of platform.yaml's git_url (and git's origin): Flux paths are checked
for sources with that URL, Argo CD paths for sources whose repoURL is that URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scaffolder.engines import expected_paths
from scaffolder.model import PLATFORM_FILE
from scaffolder.validate.checks import CheckContext, ObjectChecks
from scaffolder.validate.findings import Finding
from scaffolder.validate.gitops import (
    FLUX_NAMESPACE,
    FieldPath,
    SourceId,
    application_sources,
    application_spec,
    applicationset_generators,
    flux_sources,
    is_argo,
    is_flux_kustomization,
    is_helm_release,
    is_templated,
    repo_key,
    repo_path,
    source_ref,
    this_repo_sources,
    this_repo_urls,
)
from scaffolder.validate.repo import KubeObject, Repo

_CREATE_SECRET = re.compile(r"create\s+secret\s+(?:generic|tls|docker-registry)\s+(\S+)")
_ASSIGNMENT = re.compile(
    r"^\s*(?:(?:readonly|local|export|declare(?:\s+-\w+)?)\s+)?([A-Za-z_]\w*)="
    r"([\"']?)([\w.-]+)\2\s*(?:#.*)?$",
    re.MULTILINE,
)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")


def bootstrap_secrets(repo: Repo) -> set[str]:
    """Names of the Secrets the repo's shell scripts create.

    The name may be literal or a variable the script assigns a literal value to
    (``readonly SOPS_SECRET="sops-age"`` ... ``create secret generic "${SOPS_SECRET}"``).
    """
    names: set[str] = set()
    for _, text in repo.shell_scripts():
        variables = {m.group(1): m.group(3) for m in _ASSIGNMENT.finditer(text)}
        for match in _CREATE_SECRET.finditer(text.replace("\\\n", " ")):
            name = _expand(match.group(1).strip("\"'"), variables)
            if name is not None:
                names.add(name)
    return names


def _expand(token: str, variables: dict[str, str]) -> str | None:
    """``token`` with its shell variables replaced; None when one is not known."""
    expanded = _VARIABLE.sub(lambda v: variables.get(v.group(1), "$"), token)
    return None if "$" in expanded else expanded


def _bootstrap_objects(repo: Repo) -> set[SourceId]:
    """What `flux bootstrap` makes when a script runs it."""
    if any("flux bootstrap" in text for _, text in repo.shell_scripts()):
        return {
            SourceId("GitRepository", FLUX_NAMESPACE, FLUX_NAMESPACE),
            SourceId("Kustomization", FLUX_NAMESPACE, FLUX_NAMESPACE),
        }
    return set()


class _Flux(ObjectChecks):
    def __init__(self, ctx: CheckContext, objects: list[KubeObject]) -> None:
        repo = ctx.repo
        super().__init__(repo, objects)
        self.ctx = ctx
        bootstrapped = _bootstrap_objects(repo)
        self.sources = set(flux_sources(objects)) | bootstrapped
        self.repo_sources = this_repo_sources(repo, objects)
        self.kustomizations = {
            (o.namespace, o.name) for o in objects if is_flux_kustomization(o)
        } | {(s.namespace, s.name) for s in bootstrapped if s.kind == "Kustomization"}
        self.releases = {(o.namespace, o.name) for o in objects if is_helm_release(o)}
        self.secrets = {(o.namespace, o.name) for o in objects if o.kind == "Secret"}
        self.script_secrets = bootstrap_secrets(repo)

    def check(self) -> Iterator[Finding]:
        for obj in self.objects:
            if is_flux_kustomization(obj):
                yield from self.source(obj, ("spec", "sourceRef"), "sourceRef")
                yield from self.path(obj)
                yield from self.depends_on(obj, self.kustomizations)
                yield from self.decryption(obj)
            elif is_helm_release(obj):
                chart_ref = ("spec", "chart", "spec", "sourceRef")
                yield from self.source(obj, chart_ref, "chart sourceRef")
                yield from self.source(obj, ("spec", "chartRef"), "chartRef")
                yield from self.depends_on(obj, self.releases)

    def source(self, obj: KubeObject, field: tuple[str, ...], what: str) -> Iterator[Finding]:
        ref: Any = obj.body
        for step in field:
            ref = ref.get(step) if isinstance(ref, dict) else None
        target = source_ref(obj, ref)
        if target is None:
            return
        name = f"{what} {target.kind} {target.namespace}/{target.name}"
        if target.namespace != obj.namespace:
            yield self.at(
                obj,
                "refs/flux-source",
                f"{name} is in another namespace "
                "(cross-namespace references are refused under lockdown)",
                field,
            )
        elif target not in self.sources and not self.ctx.may_define(target.name):
            yield self.at(obj, "refs/flux-source", f"{name} does not exist", field)

    def path(self, obj: KubeObject) -> Iterator[Finding]:
        target = source_ref(obj, obj.spec.get("sourceRef"))
        if target is None or target not in self.repo_sources:
            return
        raw = obj.spec.get("path")
        path = repo_path(raw)
        if path.startswith("..") or not self.repo.is_dir(path):
            yield self.at(
                obj, "refs/flux-path", f"path {raw!r} does not exist in this repo", ("spec", "path")
            )

    def depends_on(self, obj: KubeObject, known: set[tuple[str, str]]) -> Iterator[Finding]:
        for index, entry in enumerate(obj.spec.get("dependsOn") or []):
            if not isinstance(entry, dict) or not entry.get("name"):
                continue
            namespace = str(entry.get("namespace") or obj.namespace)
            name = str(entry["name"])
            if (namespace, name) not in known and not self.ctx.may_define(name):
                yield self.at(
                    obj,
                    "refs/flux-depends-on",
                    f"dependsOn {obj.kind} {namespace}/{entry['name']} does not exist",
                    ("spec", "dependsOn", index),
                )

    def decryption(self, obj: KubeObject) -> Iterator[Finding]:
        decryption = obj.spec.get("decryption")
        ref = decryption.get("secretRef") if isinstance(decryption, dict) else None
        if not isinstance(ref, dict) or not ref.get("name"):
            return
        name = str(ref["name"])
        if (obj.namespace, name) in self.secrets or name in self.script_secrets:
            return
        if self.ctx.may_define(name):
            return
        yield self.at(
            obj,
            "refs/flux-decryption",
            f"decryption secretRef {obj.namespace}/{name} is neither committed nor "
            f"created by a bootstrap script (`kubectl create secret generic {name}`)",
            ("spec", "decryption", "secretRef"),
        )


class _Argo(ObjectChecks):
    def __init__(self, ctx: CheckContext, objects: list[KubeObject]) -> None:
        super().__init__(ctx.repo, objects)
        self.ctx = ctx
        self.urls = this_repo_urls(ctx.repo)
        self.projects = {o.name for o in objects if is_argo(o, "AppProject")} | {"default"}

    def check(self) -> Iterator[Finding]:
        for obj in self.objects:
            if is_argo(obj, "Application") or is_argo(obj, "ApplicationSet"):
                yield from self.project(obj)
                yield from self.paths(obj)
                yield from self.generators(obj)

    def project(self, obj: KubeObject) -> Iterator[Finding]:
        where, spec = application_spec(obj)
        name = spec.get("project")
        if (
            isinstance(name, str)
            and not is_templated(name)
            and name not in self.projects
            and not self.ctx.may_define(name)
        ):
            yield self.at(
                obj, "refs/argocd-project", f"project {name!r} does not exist", (*where, "project")
            )

    def is_this_repo(self, url: Any) -> bool:
        return isinstance(url, str) and repo_key(url) in self.urls

    def paths(self, obj: KubeObject) -> Iterator[Finding]:
        for where, source in application_sources(obj):
            raw = source.get("path")
            if raw is None or is_templated(raw) or not self.is_this_repo(source.get("repoURL")):
                continue
            path = repo_path(raw)
            if path.startswith("..") or not self.repo.is_dir(path):
                yield self.at(
                    obj, "refs/argocd-path", f"source path {raw!r} does not exist", (*where, "path")
                )

    def generators(self, obj: KubeObject) -> Iterator[Finding]:
        for where, generator in applicationset_generators(obj):
            git = generator.get("git")
            if not isinstance(git, dict) or not self.is_this_repo(git.get("repoURL")):
                continue
            for kind in ("directories", "files"):
                for number, entry in enumerate(git.get(kind) or []):
                    if isinstance(entry, dict) and not entry.get("exclude"):
                        yield from self.glob(
                            obj, entry.get("path"), kind, (*where, "git", kind, number)
                        )

    def glob(self, obj: KubeObject, pattern: Any, kind: str, where: FieldPath) -> Iterator[Finding]:
        if not isinstance(pattern, str) or is_templated(pattern):
            return
        path = repo_path(pattern)
        wanted = Path.is_dir if kind == "directories" else Path.is_file
        matches = (
            []
            if path.startswith("..")
            else [
                p
                for p in self.repo.root.glob(path)
                if wanted(p) and ".git" not in p.relative_to(self.repo.root).parts
            ]
        )
        if not matches:
            yield self.at(
                obj,
                "refs/argocd-path",
                f"git generator {kind} path {pattern!r} matches nothing in this repo",
                where,
            )


def _line_naming(text: str, name: str) -> int | None:
    match = re.search(rf"^\s*-?\s*name:\s*['\"]?{re.escape(name)}['\"]?\s*$", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _platform(repo: Repo) -> Iterator[Finding]:
    if repo.platform_problem:
        yield Finding("refs/platform-invalid", PLATFORM_FILE, None, repo.platform_problem)
        return
    platform = repo.platform
    if platform is None:
        return
    text = repo.files[PLATFORM_FILE].text
    for path in expected_paths(platform):
        if not repo.path(path).exists():
            name = path.rstrip("/").split("/")[1] if "/" in path else path
            yield Finding(
                "refs/platform-missing",
                PLATFORM_FILE,
                _line_naming(text, name),
                f"{path} is missing for {name}",
            )
    named = {
        "clusters": {c.name for c in platform.clusters},
        "tenants": {t.name for t in platform.tenants},
    }
    for parent, names in named.items():
        folder = repo.path(parent)
        if not folder.is_dir():
            continue
        for child in sorted(p for p in folder.iterdir() if p.is_dir()):
            if child.name not in names:
                singular = parent.rstrip("s")
                yield Finding(
                    "refs/platform-orphan",
                    f"{parent}/{child.name}",
                    None,
                    f"not a {singular} in {PLATFORM_FILE}: add it there or remove the folder",
                )


def check_references(ctx: CheckContext) -> list[Finding]:
    objects = list(ctx.objects())
    return [
        *_Flux(ctx, objects).check(),
        *_Argo(ctx, objects).check(),
        *_platform(ctx.repo),
    ]
