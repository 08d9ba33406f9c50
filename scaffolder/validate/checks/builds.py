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
import uuid
from collections import Counter
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
    build_in_namespace,
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
# kustomize's time grows faster than the folders of one run (measured on a 20-cluster,
# 200-tenant repo: 44 runs of up to 125 folders 15.4 s, runs of at most 15 folders 10.1 s,
# 8 folders 11.2 s): past this many, another process start is cheaper.
MAX_BATCH = 15
SUBSTITUTE_CHECK = "build/substitute"
_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*\n", re.MULTILINE)


@dataclass(frozen=True)
class BuildUnit:
    folder: str  # repo-relative
    flux_generated: bool = False  # a Flux path without a kustomization file
    referrer: Location | None = None  # the Flux Kustomization that points here
    # Built under this namespace (kustomize's namespace transformer): a part of a namespaced
    # aggregation, see _split_aggregations.
    namespace: str | None = None

    @property
    def key(self) -> str:
        """One build of a folder: as it is, or under a namespace."""
        return self.folder if self.namespace is None else f"{self.folder} in {self.namespace}"


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
    """The folders to build: those no kustomization includes, and Flux paths."""
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


# A kustomization with nothing but these keys only gathers others: its build is theirs put
# together, once kustomize has checked that no object comes twice. Argo CD's hub lists every
# tenant in one, a Flux spoke's tenant-sync every tenant on it (200 tenants: one kustomize run
# of 2.4 s and 500 MB; their own builds, batched, take a fraction of that), and each spoke's
# infrastructure/configs gathers the one shared base and its own secrets: built as its parts
# (a part that several gather is built once) and its output put together from theirs.
#
# With `namespace` too (a Flux spoke's tenant-sync), kustomize's namespace transformer sets
# that namespace on each object on its own (kustomize api/builtins NamespaceTransformer: per
# resource, cluster-scoped kinds skipped, then a check that no two objects now share an id).
# Each part is built once under a stand-in namespace, a random name no file contains, and each
# aggregation's copy gets its own namespace where kustomize wrote the stand-in: a tenant placed
# on 49 spokes is built once, not 49 times. The id check is made on the renamed objects.
_AGGREGATION_KEYS = frozenset({"apiVersion", "kind", "resources", "namespace"})
# A namespace kustomize writes as a plain YAML scalar, as it writes the stand-in.
_PLAIN_NAMESPACE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
STAND_IN_NAMESPACE = f"gitops-scaffold-validate-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class _Split:
    children: list[str]
    namespace: str | None  # the aggregation's namespace (its parts built under the stand-in)

    def part(self, child: str) -> BuildUnit:
        return BuildUnit(child, namespace=STAND_IN_NAMESPACE if self.namespace else None)


def _aggregated(repo: Repo, folder: str) -> _Split | None:
    """The kustomizations a many-part aggregation includes, else None."""
    config = repo.kustomizations.get(folder)
    source = repo.files.get(repo.kustomization_file(folder))
    if config is None or source is None or not source.documents:
        return None
    body = source.documents[0].body
    if not isinstance(body, dict) or not set(body) <= _AGGREGATION_KEYS:
        return None
    namespace = body.get("namespace")
    if namespace is not None and not (
        isinstance(namespace, str)
        and _PLAIN_NAMESPACE.fullmatch(namespace)
        and namespace not in _YAML_WORDS
    ):
        return None
    if any(not entry.local for entry in config.entries):
        return None
    children = [repo.rel(child) for child in config.children()]
    if not children or len(set(children)) != len(children):
        return None
    if not all(child in repo.kustomizations for child in children):
        return None
    return _Split(children, namespace)


def _split_aggregations(
    repo: Repo, units: list[BuildUnit]
) -> tuple[list[BuildUnit], dict[str, _Split]]:
    """``units`` with each large aggregation replaced by the kustomizations it gathers (its
    own output is put together from theirs, see ``_assembled``); which were split into what.
    The parts of a namespaced aggregation are built under the stand-in, as they are."""
    split: dict[str, _Split] = {}
    found: dict[str, BuildUnit] = {}
    pending = list(units)
    while pending:
        unit = pending.pop(0)
        if unit.key in found or unit.key in split:
            continue
        aggregation = None
        if not unit.flux_generated and unit.namespace is None:
            aggregation = _aggregated(repo, unit.folder)
        if aggregation is None:
            found[unit.key] = unit
        else:
            split[unit.key] = aggregation
            pending += [aggregation.part(child) for child in aggregation.children]
    return list(found.values()), split


def _renamed(value: Any, namespace: str) -> Any:
    """``value`` with the stand-in namespace, wherever kustomize wrote it, made ``namespace``.
    What holds no stand-in is shared, not copied (the copies of 1000 tenants on 50 spokes)."""
    if isinstance(value, str):
        return namespace if value == STAND_IN_NAMESPACE else value
    if isinstance(value, dict):
        renamed = {key: _renamed(item, namespace) for key, item in value.items()}
        return value if all(renamed[k] is v for k, v in value.items()) else renamed
    if isinstance(value, list):
        items = [_renamed(item, namespace) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _object_key(body: Any) -> tuple[str, str, str, str] | None:
    if not is_kubernetes_object(body):
        return None
    meta = body.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    group = str(body["apiVersion"]).rpartition("/")[0]
    return group, str(body["kind"]), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _assembled(
    repo: Repo, split: dict[str, _Split], built: dict[str, _Built]
) -> tuple[list[_Built], list[Finding]]:
    """The build of each split aggregation whose parts all built: their outputs in order, as
    kustomize prints them, unless an object comes from two parts (kustomize refuses the build
    then: that is the finding)."""
    made: dict[str, _Built | None] = {}
    findings: list[Finding] = []

    def assemble(folder: str) -> _Built | None:
        if folder not in split:
            return built.get(folder)
        if folder in made:
            return made[folder]
        made[folder] = None  # a cycle: kustomize reports it on the parts
        aggregation = split[folder]
        parts = [assemble(aggregation.part(child).key) for child in aggregation.children]
        if any(part is None for part in parts):
            return None
        ready = [part for part in parts if part is not None]
        namespace = aggregation.namespace
        renamed = [
            [_renamed(b, namespace) for b in p.bodies] if namespace else p.bodies for p in ready
        ]
        seen: dict[tuple[str, str, str, str], str] = {}
        for part, bodies in zip(ready, renamed, strict=True):
            for body in bodies:
                key = _object_key(body)
                if key is None:
                    continue
                if key in seen and seen[key] != part.unit.folder:
                    findings.append(
                        Finding(
                            CHECK,
                            repo.kustomization_file(folder),
                            None,
                            f"may not add resource with an already registered id: {key[1]} "
                            f"{key[2] or '(no namespace)'}/{key[3]} comes from both {seen[key]} "
                            f"and {part.unit.folder}",
                        )
                    )
                    return None
                seen.setdefault(key, part.unit.folder)
        result = _Built(
            BuildUnit(folder),
            BuildResult(repo.path(folder), True, ""),
            [body for bodies in renamed for body in bodies],
            tuple((part, namespace) for part in ready),
        )
        made[folder] = result
        return result

    for folder in split:
        assemble(folder)
    return [b for b in made.values() if b is not None], findings


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


# Kinds kustomize knows to be cluster-scoped (its namespace transformer leaves them alone),
# and the cluster-scoped kinds of the controllers this tool installs: a namespace set by a
# kustomization does not tell two copies of one apart.
_CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass", "RuntimeClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "CSIDriver", "CSINode",
    "VolumeAttachment", "Node", "ComponentStatus", "CertificateSigningRequest",
    "FlowSchema", "PriorityLevelConfiguration", "PodSecurityPolicy",
    "ClusterIssuer", "ClusterSecretStore", "ClusterExternalSecret", "ClusterPolicy",
})  # fmt: skip


@dataclass
class _Batch:
    units: list[BuildUnit]
    ids: set[tuple[str, str, str, str]]  # of the objects its members build


@dataclass(frozen=True)
class _Built:
    unit: BuildUnit
    result: BuildResult
    bodies: list[Any]  # the parsed output when the build succeeded
    # An assembled build (see _assembled): its parts, each with the namespace its stand-in
    # becomes; its YAML text is theirs, made when asked for (a substitution needs it).
    parts: tuple[tuple[_Built, str | None], ...] = ()
    # The text of each document, kept only where Flux's substitution may change it (a "$"):
    # the others are "" (a 1000-tenant repo's builds print a few hundred megabytes).
    documents: tuple[str, ...] | None = None

    def texts(self) -> list[str]:
        """The YAML text of each document the build printed ("" for one without a "$")."""
        if self.documents is not None:
            return list(self.documents)
        if not self.parts:
            return [t for t in _DOCUMENT_SEPARATOR.split(self.result.output) if t.strip()]
        return [
            text.replace(STAND_IN_NAMESPACE, namespace) if namespace else text
            for part, namespace in self.parts
            for text in part.texts()
        ]


class _Builder:
    def __init__(self, ctx: CheckContext, coverage: _Coverage, guard: BuildGuard) -> None:
        self.ctx = ctx
        self.repo = ctx.repo
        self.coverage = coverage
        self.guard = guard
        self.restrictor = _load_restrictor(ctx.repo)
        self.findings: list[Finding] = []
        self.succeeded: list[_Built] = []
        self.outcome: dict[str, bool] = {}  # unit key -> built
        self.failed: list[BuildUnit] = []
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
            bodies = load_all(result.output)
        except yaml.YAMLError as err:
            return _Built(unit, BuildResult(result.folder, False, f"unreadable output: {err}"), [])
        texts = [t for t in _DOCUMENT_SEPARATOR.split(result.output) if t.strip()]
        if len(texts) != len(bodies):  # a document of comments only: kept whole (_documents)
            return _Built(unit, result, bodies)
        documents = tuple(text if "$" in text else "" for text in texts)
        return _Built(unit, BuildResult(result.folder, True, ""), bodies, documents=documents)

    def run(self, unit: BuildUnit) -> _Built:
        path = self.repo.path(unit.folder)
        if self.unsafe and self.reads_any(unit, self.unsafe):
            return _Built(unit, BuildResult(path, False, "reads a file validate refuses"), [])
        self.count_run()
        if unit.flux_generated:
            return self.built(unit, build_generated(path, flux_manifests(path)))
        if unit.namespace is not None:
            return self.built(unit, build_in_namespace(path, unit.namespace, self.restrictor))
        return self.built(unit, build(path, self.restrictor))

    def run_batch(self, batch: list[BuildUnit]) -> list[_Built]:
        if len(batch) > 1 and not (
            self.unsafe and any(self.reads_any(u, self.unsafe) for u in batch)
        ):
            self.count_run()
            outputs = build_together(
                [self.repo.path(u.folder) for u in batch], self.restrictor, batch[0].namespace
            )
            if outputs is not None:
                return [
                    self.built(u, BuildResult(self.repo.path(u.folder), True, out))
                    for u, out in zip(batch, outputs, strict=True)
                ]
        return [self.run(u) for u in batch]

    def batches(self, units: list[BuildUnit]) -> list[list[BuildUnit]]:
        """Units whose objects will not clash go into one kustomize run: no object of one
        has the kind, namespace and name of an object of another, as written (with the
        namespace the unit's kustomization sets). Should they clash after all (a name
        changed by a transformer), the run fails and they are built one by one. Small
        enough batches that every worker gets some."""
        limit = min(MAX_BATCH, max(1, math.ceil(len(units) / (2 * self.ctx.jobs))))
        ids = {unit.key: self._ids(unit) for unit in units}
        seen = Counter(i for unit_ids in ids.values() for i in unit_ids)
        # Units that share an object with another (each spoke's platform-system Namespace)
        # need runs apart: they go first, one per run, and the others fill the runs up.
        contested = {key for key, unit_ids in ids.items() if any(seen[i] > 1 for i in unit_ids)}
        batches: list[_Batch] = []
        for unit in sorted(
            units,
            key=lambda u: (u.key not in contested, -len(self.coverage(u.folder)), u.folder),
        ):
            batch = _Batch([unit], ids[unit.key])
            if unit.flux_generated:
                batches.append(batch)
                continue
            for members in batches:
                first = members.units[0]
                if (
                    len(members.units) < limit
                    and not first.flux_generated
                    and first.namespace == unit.namespace
                    and members.ids.isdisjoint(batch.ids)
                ):
                    members.units.append(unit)
                    members.ids |= batch.ids
                    break
            else:
                batches.append(batch)
        return [batch.units for batch in batches]

    def _ids(self, unit: BuildUnit) -> set[tuple[str, str, str, str]]:
        """The ids of the objects a unit builds, as far as its files tell (group, kind,
        namespace, name); a file that does not read gives an id no other unit has."""
        namespace = unit.namespace or self._own_namespace(unit)
        ids: set[tuple[str, str, str, str]] = set()
        for path in self.coverage(unit.folder):
            source = self.repo.files.get(path)
            if source is None or source.error is not None:
                ids.add(("", "", "", f"unreadable {path}"))
                continue
            for doc in source.documents:
                key = _object_key(doc.body)
                if key is None:
                    continue
                group, kind, written, name = key
                if kind.endswith("List"):
                    ids.add(("", "", "", f"list in {path}"))  # its items: told apart by kustomize
                elif namespace and kind not in _CLUSTER_SCOPED:
                    ids.add((group, kind, namespace, name))
                else:
                    ids.add((group, kind, written, name))
        return ids

    def _own_namespace(self, unit: BuildUnit) -> str | None:
        """The namespace a unit's own kustomization sets on its objects."""
        if unit.flux_generated:
            return None
        source = self.repo.files.get(self.repo.kustomization_file(unit.folder))
        body = source.documents[0].body if source and source.documents else None
        namespace = body.get("namespace") if isinstance(body, dict) else None
        return namespace if isinstance(namespace, str) and namespace else None

    def run_all(self, units: list[BuildUnit]) -> list[_Built]:
        batches = self.batches(units)
        if self.ctx.jobs <= 1 or len(batches) <= 1:
            return [b for batch in batches for b in self.run_batch(batch)]
        with ThreadPoolExecutor(max_workers=min(self.ctx.jobs, len(batches))) as pool:
            running = [pool.submit(self.run_batch, batch) for batch in batches]
            meanwhile, self.ctx.meanwhile = self.ctx.meanwhile, None
            if meanwhile is not None:
                meanwhile()  # while the runs wait for kustomize
            return [b for done in running for b in done.result()]

    def build(self, units: list[BuildUnit]) -> None:
        """Build ``units``; narrow failures down to the folders they include.

        Never a unit the guard blocks: kustomize would fetch, or read outside the repo.
        """
        units = list(
            {
                u.key: u for u in units if u.key not in self.outcome and _allowed(self.guard, u)
            }.values()
        )
        parents: list[tuple[BuildUnit, BuildResult, list[str]]] = []
        for built in self.run_all(units):
            unit, result = built.unit, built.result
            self.outcome[unit.key] = result.ok
            if not result.ok:
                self.failed.append(unit)
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
    texts = built.texts()
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
    entry_points = _entry_points(ctx.repo)
    units, split = _split_aggregations(ctx.repo, entry_points)
    builder.build(_buildable(ctx.repo, guard, units))
    ctx.builds = builder.runs
    index = _source_index(ctx.repo)
    assembled, findings = _assembled(ctx.repo, split, {b.unit.key: b for b in builder.succeeded})
    # Parts built to assemble an aggregation are its objects, not objects of their own, and
    # a part under the stand-in namespace never stands alone. The plain parts of one that
    # could not be put together (a part failed, two clash) are checked as their own builds.
    put_together = {b.unit.folder for b in assembled}
    parts = {
        split[folder].part(child).key for folder in put_together for child in split[folder].children
    } | {s.part(c).key for s in split.values() if s.namespace for c in s.children}
    parts -= {u.key for u in entry_points}
    succeeded = sorted(
        [b for b in builder.succeeded if b.unit.key not in parts] + assembled,
        key=lambda b: b.unit.folder,
    )
    ctx.built_units = {b.unit.folder for b in [*succeeded, *builder.succeeded]}
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
    failed = [unit.folder for unit in builder.failed]
    ctx.unbuilt = set().union(*(coverage(folder) for folder in failed)) - ctx.covered
    variants, flux_findings = _flux_variants(ctx)
    findings += flux_findings + guard.findings()
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
