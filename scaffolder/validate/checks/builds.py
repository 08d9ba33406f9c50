"""Check 2: every kustomization builds; Flux paths without one build as Flux builds them.

kustomize is the slow part of a run, so it runs as little as it can:

- only entry points are built: folders no other kustomization includes, and the folders
  Flux Kustomizations point at. A folder included by a parent that builds is known to build;
  when an entry point fails, the kustomizations it includes are built to name the broken one;
- entry points that read no file in common share one kustomize run (a process start costs
  ~70 ms; 200 tenant folders take a handful of runs), split back per folder afterwards;
- runs go in parallel (--jobs), and each output is parsed on the thread that waited for it.
"""

from __future__ import annotations

import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import yaml

from scaffolder.validate.checks import CheckContext
from scaffolder.validate.checks.offline import BuildGuard
from scaffolder.validate.documents import is_kubernetes_object, line_of, load_all
from scaffolder.validate.findings import Finding
from scaffolder.validate.gitops import flux_repo_paths, this_repo_sources
from scaffolder.validate.kustomize import (
    LOAD_RESTRICTIONS_NONE,
    BuildResult,
    build,
    build_generated,
    build_together,
    flux_manifests,
)
from scaffolder.validate.repo import KubeObject, Location, Repo
from scaffolder.validate.substitution import (
    VARIABLE_NAME,
    SourceIndex,
    Variables,
    invalid_names,
    postbuild_variables,
    substitute_documents,
)

CHECK = "build/kustomize"
SUBSTITUTE_CHECK = "build/substitute"
_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*\n", re.MULTILINE)


@dataclass(frozen=True)
class BuildUnit:
    folder: str  # repo-relative
    flux_generated: bool = False  # a Flux path without a kustomization file
    referrer: Location | None = None  # the Flux Kustomization that points here


def _kustomization_children(repo: Repo, folder: str) -> list[str]:
    config = repo.kustomizations.get(folder)
    if config is None:
        return []
    return [
        child
        for child in (repo.rel(p) for p in config.children())
        if child in repo.kustomizations and child != folder
    ]


def _entry_points(repo: Repo) -> list[BuildUnit]:
    included = {c for folder in repo.kustomizations for c in _kustomization_children(repo, folder)}
    units = [BuildUnit(f) for f in sorted(repo.kustomizations) if f not in included]
    objects = list(repo.source_objects())
    sources = this_repo_sources(repo, objects)
    seen = {u.folder for u in units}
    for obj, path in sorted(flux_repo_paths(objects, sources), key=lambda p: p[0].location.file):
        if path in seen or path.startswith("..") or not repo.is_dir(path):
            continue  # a missing path is a refs finding
        seen.add(path)
        if path in repo.kustomizations:
            units.append(BuildUnit(path))
        else:
            units.append(BuildUnit(path, flux_generated=True, referrer=obj.location))
    return units


def _included_units(repo: Repo, unit: BuildUnit) -> list[BuildUnit]:
    """The kustomizations a build of ``unit`` includes."""
    if unit.flux_generated:
        entries = flux_manifests(repo.path(unit.folder))
        folders = [repo.rel(p) for p in entries if p.is_dir()]
    else:
        folders = _kustomization_children(repo, unit.folder)
    return [BuildUnit(f) for f in folders if f in repo.kustomizations]


def _allowed(guard: BuildGuard, unit: BuildUnit) -> bool:
    """May kustomize build ``unit``: nothing fetched, nothing read outside the repo?"""
    if unit.flux_generated:
        return not guard.generated_blocked(
            unit.folder, unit.referrer or Location(unit.folder, None)
        )
    return not guard.blocked(unit.folder)


def _buildable(repo: Repo, guard: BuildGuard, units: list[BuildUnit]) -> list[BuildUnit]:
    """``units`` the guard allows; in place of each of the others, the kustomizations it
    includes (those that are clean build on their own, so their objects are still checked)."""
    found: list[BuildUnit] = []
    seen: set[str] = set()
    pending = list(units)
    while pending:
        unit = pending.pop(0)
        if unit.folder in seen:
            continue
        seen.add(unit.folder)
        if _allowed(guard, unit):
            found.append(unit)
        else:
            pending += _included_units(repo, unit)
    return found


def _load_restrictor(repo: Repo) -> str | None:
    engine = repo.platform.engine if repo.platform else None
    if engine == "flux" or (
        engine is None and any(o.group.endswith("toolkit.fluxcd.io") for o in repo.source_objects())
    ):
        return LOAD_RESTRICTIONS_NONE
    return None


class _Coverage:
    """Source files a build of a folder reads as resources (memoised per folder)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.memo: dict[str, frozenset[str]] = {}

    def __call__(self, folder: str, visiting: frozenset[str] = frozenset()) -> frozenset[str]:
        if folder in self.memo:
            return self.memo[folder]
        if folder in visiting:  # a cycle: kustomize has reported it
            return frozenset()
        visiting = visiting | {folder}
        repo = self.repo
        config = repo.kustomizations.get(folder)
        files: set[str] = set()
        if config is None:  # a Flux-generated build
            for entry in flux_manifests(repo.path(folder)):
                rel = repo.rel(entry)
                files |= self(rel, visiting) if entry.is_dir() else {rel}
        else:
            for child in config.children():
                rel = repo.rel(child)
                if rel in repo.kustomizations:
                    files |= self(rel, visiting)
                elif child.is_file():
                    files.add(rel)
        self.memo[folder] = frozenset(files)
        return self.memo[folder]


@dataclass(frozen=True)
class _Built:
    unit: BuildUnit
    result: BuildResult
    bodies: list[Any]  # the parsed output when the build succeeded


class _Builder:
    def __init__(self, ctx: CheckContext, coverage: _Coverage, guard: BuildGuard) -> None:
        self.ctx = ctx
        self.repo = ctx.repo
        self.coverage = coverage
        self.guard = guard
        self.restrictor = _load_restrictor(ctx.repo)
        self.findings: list[Finding] = []
        self.succeeded: list[_Built] = []
        self.outcome: dict[str, bool] = {}  # folder -> built
        self.runs = 0
        self._lock = threading.Lock()
        self.broken = frozenset(rel for rel, f in ctx.repo.files.items() if f.error is not None)
        # Files validate would not read (an alias bomb, a link out of the repo, a huge file):
        # kustomize is not given them either (bounded time and memory; nothing outside read).
        self.unsafe = frozenset(
            rel for rel, f in ctx.repo.files.items() if f.error is not None and f.error.unsafe
        )

    def count_run(self) -> None:
        with self._lock:
            self.runs += 1

    def built(self, unit: BuildUnit, result: BuildResult) -> _Built:
        """Parse a successful output (on the worker thread that ran the build)."""
        if not result.ok:
            return _Built(unit, result, [])
        try:
            return _Built(unit, result, load_all(result.output))
        except yaml.YAMLError as err:
            return _Built(unit, BuildResult(result.folder, False, f"unreadable output: {err}"), [])

    def run(self, unit: BuildUnit) -> _Built:
        path = self.repo.path(unit.folder)
        if self.unsafe and self.reads_any(unit, self.unsafe):
            return _Built(unit, BuildResult(path, False, "reads a file validate refuses"), [])
        self.count_run()
        if unit.flux_generated:
            return self.built(unit, build_generated(path, flux_manifests(path)))
        return self.built(unit, build(path, self.restrictor))

    def run_batch(self, batch: list[BuildUnit]) -> list[_Built]:
        if len(batch) > 1 and not (
            self.unsafe and any(self.reads_any(u, self.unsafe) for u in batch)
        ):
            self.count_run()
            outputs = build_together([self.repo.path(u.folder) for u in batch], self.restrictor)
            if outputs is not None:
                return [
                    self.built(u, BuildResult(self.repo.path(u.folder), True, out))
                    for u, out in zip(batch, outputs, strict=True)
                ]
        return [self.run(u) for u in batch]

    def batches(self, units: list[BuildUnit]) -> list[list[BuildUnit]]:
        """Units that read no file in common go into one kustomize run (their objects will
        not clash); small enough batches that every worker gets some."""
        limit = max(1, math.ceil(len(units) / (2 * self.ctx.jobs)))
        batches: list[tuple[list[BuildUnit], set[str]]] = []
        for unit in sorted(units, key=lambda u: (-len(self.coverage(u.folder)), u.folder)):
            files = self.coverage(unit.folder)
            if unit.flux_generated:
                batches.append(([unit], set(files)))
                continue
            for members, used in batches:
                if (
                    len(members) < limit
                    and not members[0].flux_generated
                    and used.isdisjoint(files)
                ):
                    members.append(unit)
                    used |= files
                    break
            else:
                batches.append(([unit], set(files)))
        return [members for members, _ in batches]

    def run_all(self, units: list[BuildUnit]) -> list[_Built]:
        batches = self.batches(units)
        if self.ctx.jobs <= 1 or len(batches) <= 1:
            return [b for batch in batches for b in self.run_batch(batch)]
        with ThreadPoolExecutor(max_workers=min(self.ctx.jobs, len(batches))) as pool:
            return [b for done in pool.map(self.run_batch, batches) for b in done]

    def build(self, units: list[BuildUnit]) -> None:
        """Build ``units``; narrow failures down to the folders they include.

        Never a unit the guard blocks: kustomize would fetch, or read outside the repo.
        """
        units = list(
            {
                u.folder: u
                for u in units
                if u.folder not in self.outcome and _allowed(self.guard, u)
            }.values()
        )
        parents: list[tuple[BuildUnit, BuildResult, list[str]]] = []
        for built in self.run_all(units):
            unit, result = built.unit, built.result
            self.outcome[unit.folder] = result.ok
            if result.ok:
                self.succeeded.append(built)
                continue
            children = _kustomization_children(self.repo, unit.folder)
            if children and not unit.flux_generated:
                parents.append((unit, result, children))
            else:
                self.report(unit, result)
        if parents:
            self.build([BuildUnit(c) for _, _, children in parents for c in children])
        for unit, result, children in parents:
            if all(self.outcome.get(c, True) for c in children):  # the parent itself is broken
                self.report(unit, result)

    def report(self, unit: BuildUnit, result: BuildResult) -> None:
        if self.follows_from_broken_yaml(unit):
            return  # one mistake, one finding: the yaml/syntax one names it
        message = self.clean(result.output)
        if unit.flux_generated and unit.referrer is not None:
            self.findings.append(
                Finding(
                    CHECK,
                    unit.referrer.file,
                    unit.referrer.line,
                    f"path {unit.folder} has no kustomization file; built as Flux builds it "
                    f"(every manifest below it), it fails: {message}",
                )
            )
            return
        kfile = self.repo.kustomization_file(unit.folder)
        missing = _missing_entry(result.output)
        line = None
        if missing is not None:
            message = f"{missing!r} does not exist"
            line = self.entry_line(kfile, missing)
        self.findings.append(Finding(CHECK, kfile, line, message))

    def follows_from_broken_yaml(self, unit: BuildUnit) -> bool:
        """Whether the build reads a file (or a kustomization) that does not parse."""
        return self.reads_any(unit, self.broken)

    def reads_any(self, unit: BuildUnit, broken: frozenset[str]) -> bool:
        """Whether the build reads one of ``broken`` (a file or a kustomization)."""
        if not broken:
            return False
        if self.coverage(unit.folder) & broken:
            return True
        pending, seen = [unit.folder], set()
        while pending:
            folder = pending.pop()
            if folder in seen:
                continue
            seen.add(folder)
            if self.repo.kustomization_file(folder) in broken:
                return True
            config = self.repo.kustomizations.get(folder)
            if config is None:
                continue
            if {self.repo.rel(config.resolve(e)) for e in config.inputs} & broken:
                return True
            pending += [self.repo.rel(c) for c in config.children() if c.is_dir()]
        return False

    def entry_line(self, kfile: str, entry: str) -> int | None:
        source = self.repo.files.get(kfile)
        if source is None or not source.documents:
            return None
        body = source.documents[0].body
        for key in ("resources", "components", "bases"):
            values = body.get(key) if isinstance(body, dict) else None
            if isinstance(values, list) and entry in values:
                return line_of(source.text, source.documents[0].line, [key, values.index(entry)])
        return None

    def clean(self, text: str) -> str:
        """kustomize's message with repo paths made relative, cut to a readable length."""
        for root in {str(self.repo.root.resolve()), str(self.repo.root.absolute())}:
            text = text.replace(root + "/", "").replace(root, ".")
        return text if len(text) <= 400 else text[:397] + "..."


def _missing_entry(error: str) -> str | None:
    """The entry of a kustomization that names a file or folder that is not there."""
    if "no such file or directory" not in error:
        return None
    entries = re.findall(r"accumulating resources from '([^']+)'", error)
    return entries[0] if entries else None


def _source_index(repo: Repo) -> dict[tuple[str, str], list[KubeObject]]:
    index: dict[tuple[str, str], list[KubeObject]] = {}
    for obj in repo.source_objects():
        index.setdefault((obj.kind, obj.name), []).append(obj)
    return index


def _attribute(
    body: dict[str, object],
    unit: BuildUnit,
    repo: Repo,
    index: dict[tuple[str, str], list[KubeObject]],
    covered: frozenset[str],
) -> Location:
    """Where a built object comes from: the one source object with its kind and name."""
    meta = body.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    candidates = [
        o
        for o in index.get((str(body.get("kind", "")), str(meta.get("name", ""))), [])
        if o.location.file in covered
    ]
    namespace = meta.get("namespace") or ""
    exact = [o for o in candidates if o.namespace == namespace] or [
        o for o in candidates if not o.namespace
    ]
    if len(exact) == 1:
        return exact[0].location
    if len(candidates) == 1:
        return candidates[0].location
    return Location(repo.kustomization_file(unit.folder), None)


@dataclass(frozen=True)
class _Variant:
    """One way Flux applies a path: as built, or substituted by a Kustomization."""

    kustomization: KubeObject
    variables: Variables | None  # None: applied as built


def _flux_variants(ctx: CheckContext) -> tuple[dict[str, list[_Variant]], list[Finding]]:
    """The ways each Flux path of this repo is applied, and the variable names Flux refuses."""
    objects = list(ctx.objects())
    index = SourceIndex(objects)
    variants: dict[str, dict[object, _Variant]] = {}
    findings: dict[tuple[str, int | None, str], Finding] = {}
    for obj, path in flux_repo_paths(objects, this_repo_sources(ctx.repo, objects)):
        variables = postbuild_variables(obj, index)
        key: object = None
        if variables is not None:
            key = (
                tuple(sorted(variables.values.items())),
                variables.unknown,
                variables.any_unknown,
            )
            for name in invalid_names(variables):
                message = (
                    f"{obj.describe()}: variable name {name!r} is invalid (Flux needs "
                    f"{VARIABLE_NAME.pattern}) and fails the substitution"
                )
                where = (obj.location.file, obj.location.line, message)
                findings[where] = Finding(SUBSTITUTE_CHECK, *where)
        variants.setdefault(path, {}).setdefault(key, _Variant(obj, variables))
    return {path: list(v.values()) for path, v in variants.items()}, list(findings.values())


def _documents(built: _Built) -> list[tuple[str, Any]]:
    """(YAML text, parsed body) of every document a build printed."""
    texts = [t for t in _DOCUMENT_SEPARATOR.split(built.result.output) if t.strip()]
    if len(texts) == len(built.bodies):
        return list(zip(texts, built.bodies, strict=True))
    return [(t, body) for t in texts for body in load_all(t)[:1]]


@dataclass(frozen=True)
class _Refused:
    """A document Flux cannot substitute: where, what and why (one finding, every applier)."""

    file: str
    line: int | None
    subject: str  # the object, and the expression when it is known
    problem: str


def _refused(repo: Repo, raw: KubeObject, error: Exception) -> _Refused:
    problem = getattr(error, "problem", None) or str(error)
    expression = getattr(error, "expression", "")
    line = raw.location.line
    subject = raw.describe()
    source = repo.files.get(raw.location.file)
    if expression and source is not None:
        subject += f": {expression}"
        lines = source.text.splitlines()
        first = (line or 1) - 1
        found = next((i for i in range(first, len(lines)) if expression in lines[i]), None)
        if found is None:
            found = next((i for i, text in enumerate(lines) if expression in text), None)
        line = found + 1 if found is not None else line
    return _Refused(raw.location.file, line, subject, problem)


def _refused_findings(refused: dict[_Refused, list[str]]) -> list[Finding]:
    findings = []
    for where, appliers in refused.items():
        by = appliers[0] if len(appliers) == 1 else f"{', '.join(appliers[:-1])} and {appliers[-1]}"
        findings.append(
            Finding(
                SUBSTITUTE_CHECK,
                where.file,
                where.line,
                f"{where.subject}: {where.problem}; Flux fails {by} on it (variable names "
                "are letters, digits and _; write $${ to keep ${ as text)",
            )
        )
    return findings


def _substituted(
    built: _Built,
    variant: _Variant,
    as_built: list[KubeObject],
    repo: Repo,
    refused: dict[_Refused, list[str]],
) -> list[KubeObject]:
    """The objects of a build as ``variant``'s Kustomization applies them.

    ``as_built`` are the same objects unsubstituted, in order: where each comes from.
    """
    assert variant.variables is not None
    applier = variant.kustomization.describe()
    documents = [(t, b) for t, b in _documents(built) if is_kubernetes_object(b)]
    if len(documents) != len(as_built):  # cannot be told apart: checked as built
        return as_built
    objects = []
    results = substitute_documents(documents, variant.variables, load_all)
    for raw, result in zip(as_built, results, strict=True):
        if isinstance(result, Exception):
            appliers = refused.setdefault(_refused(repo, raw, result), [])
            if applier not in appliers:
                appliers.append(applier)
        elif is_kubernetes_object(result.body):
            objects.append(
                KubeObject(
                    result.body,
                    raw.location,
                    raw.unit,
                    applier,
                    result.unresolved,
                    result.undefined,
                )
            )
    return objects


def check_builds(ctx: CheckContext) -> list[Finding]:
    """Build every entry point; fill ctx.built and ctx.covered; return build findings.

    The objects of a Flux path are taken as each Flux Kustomization applying it does:
    substituted when it has postBuild variables. Source files only such Kustomizations
    apply go into ctx.substituted_only: as written, they are not what is applied.
    """
    coverage = _Coverage(ctx.repo)
    guard = BuildGuard(ctx.repo, coverage)
    builder = _Builder(ctx, coverage, guard)
    builder.build(_buildable(ctx.repo, guard, _entry_points(ctx.repo)))
    ctx.builds = builder.runs
    index = _source_index(ctx.repo)
    succeeded = sorted(builder.succeeded, key=lambda b: b.unit.folder)
    ctx.built_units = {b.unit.folder for b in succeeded}
    for built in succeeded:
        covered = coverage(built.unit.folder)
        ctx.covered |= covered
        ctx.built += [
            KubeObject(
                body, _attribute(body, built.unit, ctx.repo, index, covered), built.unit.folder
            )
            for body in built.bodies
            if is_kubernetes_object(body)
        ]
    failed = [folder for folder, ok in builder.outcome.items() if not ok]
    ctx.unbuilt = set().union(*(coverage(folder) for folder in failed)) - ctx.covered
    variants, findings = _flux_variants(ctx)
    findings += guard.findings()
    if all(v.variables is None for vs in variants.values() for v in vs):
        return builder.findings + findings
    refused: dict[_Refused, list[str]] = {}
    as_built: dict[str | None, list[KubeObject]] = {}
    for obj in ctx.built:
        as_built.setdefault(obj.unit, []).append(obj)
    substituted_files: set[str] = set()
    as_built_files: set[str] = set()
    objects: list[KubeObject] = []
    for built in succeeded:
        folder = built.unit.folder
        covered = coverage(folder)
        if folder not in variants:  # not a Flux path: checked as built
            objects += as_built.get(folder, [])
            continue
        for variant in variants[folder]:
            if variant.variables is None:
                as_built_files |= covered
                objects += as_built.get(folder, [])
                continue
            substituted_files |= covered
            objects += _substituted(built, variant, as_built.get(folder, []), ctx.repo, refused)
    ctx.built = objects
    ctx.substituted_only = substituted_files - as_built_files
    return builder.findings + findings + _refused_findings(refused)
