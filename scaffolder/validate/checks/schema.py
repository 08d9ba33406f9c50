"""Check 3: strict schema validation of every object, as written and as built.

An object counts when its document has both apiVersion and kind. Everything else (values
files, platform.yaml, .sops.yaml, CI and pre-commit configs) is configuration, not an
object. Kustomize's own files and the files it reads as patches or generator input are
checked through the builds that use them, not on their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from scaffolder.validate.checks import CheckContext
from scaffolder.validate.documents import Document, is_kubernetes_object, line_of
from scaffolder.validate.findings import Finding
from scaffolder.validate.repo import (
    KubeObject,
    Location,
    Repo,
    SourceFile,
    is_kustomize_config,
    is_manifest_file,
)
from scaffolder.validate.schemas import (
    SchemaLocationError,
    SchemaProblem,
    SchemaStore,
    UnknownKind,
)


def canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, default=str)


def _digest(body: Any) -> bytes:
    """The identity of an object's content, small enough to keep for 60 000 of them."""
    return hashlib.blake2b(canonical(body).encode("utf-8"), digest_size=16).digest()


def _unresolved(obj: KubeObject, path: tuple[Any, ...]) -> bool:
    """Is ``path`` in a field whose value is a variable of unknown value?"""
    return any(path[: len(field)] == field for field in obj.unresolved)


class SchemaProblems:
    """Schema problems per object, each distinct invalid body explained once.

    A body's problems are those of any body equal to it but for metadata.namespace, when its
    kind's schema takes any string there (``SchemaStore.takes_any_namespace``): the copies of
    one object that kustomize puts into many namespaces are validated once.
    """

    def __init__(self, store: SchemaStore) -> None:
        self.store = store
        self.known: dict[str, list[SchemaProblem] | UnknownKind] = {}

    def __call__(self, body: dict[str, Any]) -> list[SchemaProblem]:
        if self.store.is_valid(body):
            return []
        key = canonical(self._without_namespace(body))
        found = self.known.get(key)
        if found is None:
            try:
                found = self.store.problems(body)
            except UnknownKind as err:
                found = err
            self.known[key] = found
        if isinstance(found, UnknownKind):
            raise found
        return found

    def _without_namespace(self, body: dict[str, Any]) -> dict[str, Any]:
        metadata = body.get("metadata")
        if not (isinstance(metadata, dict) and isinstance(metadata.get("namespace"), str)):
            return body
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if not (isinstance(api_version, str) and isinstance(kind, str)):
            return body
        if not self.store.takes_any_namespace(api_version, kind):
            return body
        return {**body, "metadata": {**metadata, "namespace": ""}}

    def warm(self, repo: Repo) -> None:
        """Validate the objects as written ahead (the CLI does it while kustomize builds);
        a schema that cannot be used is reported by check_schemas."""
        with contextlib.suppress(SchemaLocationError):
            for _, doc in _written_objects(repo):
                with contextlib.suppress(UnknownKind):
                    self(doc.body)


def _written_objects(repo: Repo, skipped: set[str] | frozenset[str] = frozenset()) -> Iterator[
    tuple[SourceFile, Document]
]:  # fmt: skip
    """The objects of the manifests as written (kustomize's own files aside), but those of
    ``skipped`` files."""
    for source in repo.files.values():
        if not is_manifest_file(repo, source) or source.relative in skipped:
            continue
        for doc in source.documents:
            if is_kubernetes_object(doc.body) and not is_kustomize_config(doc.body):
                yield source, doc


def _validate(
    problems_of: SchemaProblems, obj: KubeObject
) -> list[tuple[str, str, tuple[Any, ...]]]:
    """(check, message, field path) for one object."""
    try:
        problems = problems_of(obj.body)
    except UnknownKind as err:
        check = "schema/unknown-api-version" if err.known_versions else "schema/unknown-kind"
        return [(check, str(err), ("apiVersion",))]
    return [
        ("schema/invalid", f"{obj.describe()}: {problem}", problem.path_parts)
        for problem in problems
        if not _unresolved(obj, problem.path_parts)
    ]


def _built_finding(
    ctx: CheckContext, obj: KubeObject, check: str, message: str, path: tuple[Any, ...]
) -> Finding:
    if obj.substituted_by is None:
        return Finding(
            check, obj.location.file, obj.location.line, f"as built from {obj.unit}: {message}"
        )
    # It stands for its source document, which is not checked as written: point at the field.
    line = obj.location.line
    source = ctx.repo.files.get(obj.location.file)
    if path and line is not None and source is not None:
        line = line_of(source.text, line, path)
    return Finding(
        check,
        obj.location.file,
        line,
        f"as built from {obj.unit} and substituted by {obj.substituted_by}: {message}",
    )


def _not_objects(ctx: CheckContext) -> list[Finding]:
    findings = []
    for source in ctx.repo.files.values():
        if not is_manifest_file(ctx.repo, source):
            continue
        for doc in source.documents:
            body = doc.body
            if not isinstance(body, dict) or "metadata" not in body:
                continue
            if ("apiVersion" in body) != ("kind" in body):
                missing = "kind" if "apiVersion" in body else "apiVersion"
                findings.append(
                    Finding(
                        "schema/not-an-object",
                        source.relative,
                        doc.line,
                        f"a manifest with metadata but no {missing}",
                    )
                )
    return findings


def check_schemas(
    ctx: CheckContext, store: SchemaStore, problems_of: SchemaProblems | None = None
) -> list[Finding]:
    findings = _not_objects(ctx)
    problems_of = problems_of or SchemaProblems(store)
    validated: set[bytes] = set()
    # Problems found in each source document, so a built copy (namespaced, labelled) that
    # shows the same problem is not reported once more per build.
    known: dict[tuple[str, int | None], set[tuple[str, tuple[Any, ...]]]] = {}
    # substituted-only files: checked as Flux applies them, below
    for source, doc in _written_objects(ctx.repo, ctx.substituted_only):
        validated.add(_digest(doc.body))
        obj = KubeObject(doc.body, Location(source.relative, doc.line))
        problems = _validate(problems_of, obj)
        known[(source.relative, doc.line)] = {(check, path) for check, _, path in problems}
        for check, message, path in problems:
            line = line_of(source.text, doc.line, path) if path else doc.line
            findings.append(Finding(check, source.relative, line, message))
    for obj in ctx.built:
        if obj.substituted_by is None and obj.location.file in ctx.substituted_only:
            continue  # a copy Flux does not apply: it applies the substituted ones
        key = _digest(obj.body)
        if key in validated:
            continue  # the same object as written: already checked
        validated.add(key)
        seen = known.setdefault((obj.location.file, obj.location.line), set())
        for check, message, path in _validate(problems_of, obj):
            if (check, path) not in seen:
                findings.append(_built_finding(ctx, obj, check, message, path))
                if obj.substituted_by is not None:  # once, not once per Kustomization
                    seen.add((check, path))
    ctx.validated = len(validated)
    return findings
