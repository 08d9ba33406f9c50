"""Argo CD rules: what Argo CD 3.5 does with a repo whose manifests are valid.

One check per class of mistake the reviews of generated repos found; each comment names the
upstream behaviour it encodes. Objects are taken as applied (``ctx.objects()``).
"""

from __future__ import annotations

import fnmatch
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from scaffolder.validate.checks import CheckContext, ObjectChecks
from scaffolder.validate.checks.rbac import RBAC_GROUP
from scaffolder.validate.checks.tenancy import TenantMap
from scaffolder.validate.documents import line_of
from scaffolder.validate.findings import Finding
from scaffolder.validate.gitops import (
    ARGOCD_NAMESPACE,
    FieldPath,
    application_sources,
    application_spec,
    applicationset_generators,
    is_argo,
    repo_key,
    repo_path,
    this_repo_urls,
)
from scaffolder.validate.repo import KubeObject, Repo

CLUSTER_SECRET = "argocd.argoproj.io/secret-type"
# The label of a cluster Secret that carries the cluster's name (gitops-scaffold's cluster
# Secret contract): a selector on it picks named clusters, any other selects by property.
CLUSTER_NAME_LABEL = "cluster_name"
RBAC_KINDS = ("Role", "RoleBinding")
IMPERSONATION_KEY = "application.sync.impersonation.enabled"
ARGOCD_CHART = "argo-cd"
_GLOB = re.compile(r"[*?\[]")
_EXPRESSION = re.compile(r"\{\{-?(.*?)-?\}\}", re.DOTALL)
_FIELD_ACCESS = re.compile(r"\.metadata\.(labels|annotations)\.([A-Za-z_][A-Za-z0-9_]*)")


# --------------------------------------------------------------------------- name patterns
# What a Go template (or fasttemplate) expression in an Application name can render to. The
# cluster generator's `name` is a cluster name: a DNS label here ([a-z0-9-], no dot), as the
# platform's answers model requires. Path segments hold anything but "/", label values
# [A-Za-z0-9._-]; any other expression is taken to render anything.


def _dns(c: str) -> bool:
    return c.isascii() and (c.isdigit() or ("a" <= c <= "z") or c == "-")


def _label(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "-_.")


def _segment(c: str) -> bool:
    return c != "/"


def _anything(c: str) -> bool:
    return True


@dataclass(frozen=True)
class _Hole:
    accepts: Callable[[str], bool]
    minimum: int  # 0 or 1 characters


_Token = str | _Hole  # a literal character, or an expression's value


def _hole(expression: str) -> _Hole:
    text = " ".join(expression.split())
    fields = text.replace("index ", "").lstrip(".")
    if re.fullmatch(r"\.?(name|nameNormalized)", text):
        return _Hole(_dns, 1)
    if re.fullmatch(r"\.?path\.(basename|basenameNormalized)|(index )?\.?path\.segments \d+", text):
        return _Hole(_segment, 1)
    if re.fullmatch(r"\.?path\[\d+\]", text):
        return _Hole(_segment, 1)
    if fields.startswith("metadata.labels"):
        return _Hole(_label, 0)
    return _Hole(_anything, 0)


def name_pattern(template: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    for match in _EXPRESSION.finditer(template):
        literal = template[at : match.start()]
        if match.group(0).startswith("{{-"):
            literal = literal.rstrip()
        tokens.extend(literal)
        tokens.append(_hole(match.group(1).strip()))
        at = match.end()
        if match.group(0).endswith("-}}"):
            rest = template[at:]
            at += len(rest) - len(rest.lstrip())
    tokens.extend(template[at:])
    return tokens


def _prefix(tokens: Sequence[_Token]) -> str:
    out = []
    for token in tokens:
        if not isinstance(token, str):
            break
        out.append(token)
    return "".join(out)


def _suffix(tokens: Sequence[_Token]) -> str:
    return _prefix(tokens[::-1])[::-1]


_State = tuple[int, int]  # (token index, characters of the current hole consumed, capped at 1)


def _closure(tokens: Sequence[_Token], states: set[_State]) -> frozenset[_State]:
    found = set(states)
    pending = list(states)
    while pending:
        index, used = pending.pop()
        if index < len(tokens):
            token = tokens[index]
            if isinstance(token, _Hole) and used >= token.minimum:
                nxt = (index + 1, 0)
                if nxt not in found:
                    found.add(nxt)
                    pending.append(nxt)
    return frozenset(found)


def _step(tokens: Sequence[_Token], states: frozenset[_State], char: str) -> frozenset[_State]:
    moved: set[_State] = set()
    for index, _ in states:
        if index >= len(tokens):
            continue
        token = tokens[index]
        if isinstance(token, str):
            if token == char:
                moved.add((index + 1, 0))
        elif token.accepts(char):
            moved.add((index, 1))
    return _closure(tokens, moved)


def common_name(a: Sequence[_Token], b: Sequence[_Token]) -> str | None:
    """A name both patterns can render, or None (breadth first: a shortest one)."""
    # letters first: the example name reads like a real one
    alphabet = sorted(
        {t for t in (*a, *b) if isinstance(t, str)} | set("a0-._A/~"),
        key=lambda c: (not c.islower(), not c.isalnum(), c),
    )
    start = (_closure(a, {(0, 0)}), _closure(b, {(0, 0)}))
    seen = {start}
    queue: deque[tuple[tuple[frozenset[_State], frozenset[_State]], str]] = deque([(start, "")])
    while queue:
        (left, right), text = queue.popleft()
        if (len(a), 0) in left and (len(b), 0) in right:
            return text
        for char in alphabet:
            pair = (_step(a, left, char), _step(b, right, char))
            if pair[0] and pair[1] and pair not in seen:
                seen.add(pair)
                queue.append((pair, text + char))
    return None


@dataclass(frozen=True)
class _Producer:
    obj: KubeObject
    namespace: str
    template: str
    tokens: tuple[_Token, ...]
    field: FieldPath

    @property
    def prefix(self) -> str:
        return _prefix(self.tokens)

    @property
    def suffix(self) -> str:
        return _suffix(self.tokens)

    def describe(self) -> str:
        if self.obj.kind == "ApplicationSet":
            return f"ApplicationSet {self.obj.name} ({self.template!r})"
        return f"Application {self.obj.name}"


def _collisions(producers: list[_Producer]) -> Iterator[tuple[_Producer, _Producer, str]]:
    """(producer, other, a name both can render) for every pair that can collide, once.

    Two names can be equal only if one literal prefix starts the other and one literal
    suffix ends the other; plain Applications of one name are one object.
    """
    by_prefix: dict[tuple[str, str], list[_Producer]] = {}
    for producer in producers:
        by_prefix.setdefault((producer.namespace, producer.prefix), []).append(producer)
    for producer in producers:
        prefix, suffix = producer.prefix, producer.suffix
        for length in range(len(prefix) + 1):
            for other in by_prefix.get((producer.namespace, prefix[:length]), []):
                if length == len(prefix) and id(other) <= id(producer):
                    continue  # itself, or the same pair seen from the other side
                if other.obj.kind == "Application" and producer.obj.kind == "Application":
                    continue
                theirs = other.suffix
                if not (suffix.endswith(theirs) or theirs.endswith(suffix)):
                    continue
                witness = common_name(producer.tokens, other.tokens)
                if witness is not None:
                    yield producer, other, witness


# --------------------------------------------------------------------------- helpers


def _matches(pattern: Any, value: str) -> bool:
    """Argo CD's glob.Match for destinations (a missing pattern matches nothing)."""
    return isinstance(pattern, str) and fnmatch.fnmatchcase(value, pattern)


def _strings(value: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _cluster_generators(obj: KubeObject) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
    for path, generator in applicationset_generators(obj):
        clusters = generator.get("clusters")
        if isinstance(clusters, dict):
            yield (*path, "clusters"), clusters


def _selector(generator: dict[str, Any]) -> dict[str, Any]:
    selector = generator.get("selector")
    return selector if isinstance(selector, dict) else {}


def _guaranteed_labels(selector: dict[str, Any]) -> set[str]:
    """Labels every cluster a selector picks carries."""
    labels = {str(k) for k in (selector.get("matchLabels") or {})}
    for expression in selector.get("matchExpressions") or []:
        if isinstance(expression, dict) and expression.get("operator") in ("In", "Exists"):
            labels.add(str(expression.get("key")))
    return labels


def _named_clusters(selector: dict[str, Any]) -> set[str] | None:
    """The cluster names a selector is limited to (by CLUSTER_NAME_LABEL); None: not limited."""
    names: set[str] | None = None
    value = (selector.get("matchLabels") or {}).get(CLUSTER_NAME_LABEL)
    if value is not None:
        names = {str(value)}
    for expression in selector.get("matchExpressions") or []:
        if (
            isinstance(expression, dict)
            and expression.get("key") == CLUSTER_NAME_LABEL
            and expression.get("operator") == "In"
        ):
            values = {str(v) for v in expression.get("values") or []}
            names = values if names is None else names & values
    return names


def _selects(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if str(labels.get(key)) != str(value) or key not in labels:
            return False
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, dict):
            continue
        key = str(expression.get("key"))
        values = {str(v) for v in expression.get("values") or []}
        operator = expression.get("operator")
        value = str(labels[key]) if key in labels else None
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
        if operator == "In" and value not in values:
            return False
        if operator == "NotIn" and value in values:
            return False
    return True


class _Argo(ObjectChecks):
    def __init__(self, repo: Repo, objects: list[KubeObject]) -> None:
        super().__init__(repo, objects)
        self.applications = [o for o in objects if is_argo(o, "Application")]
        self.sets = [o for o in objects if is_argo(o, "ApplicationSet")]
        self.projects: dict[str, KubeObject] = {}
        for obj in objects:
            if is_argo(obj, "AppProject"):
                self.projects.setdefault(obj.name, obj)
        self.tenants = TenantMap(repo, objects)
        self.values = ChartValues(repo, self.applications)
        self._destinations: dict[str, _Destinations] = {}

    def check(self) -> Iterator[Finding]:
        yield from self.name_collisions()
        yield from self.unimpersonated_projects()
        yield from self.default_project()
        yield from self.retries()
        yield from self.metadata_fields()
        yield from self.selectors()
        yield from self.config_map()

    # -- argocd/app-name-collision ---------------------------------------------------------
    # Application names are unique per namespace. An ApplicationSet creates or updates its
    # Applications with controllerutil.SetControllerReference, which fails when another
    # ApplicationSet owns the name (applicationset_controller.go createOrUpdateInCluster):
    # the first owner keeps it, the other goes ErrorOccurred (Degraded) and stops before
    # deleting its own stale Applications (review B1). A plain Application of the same name
    # is taken over.

    def producers(self) -> list[_Producer]:
        found: dict[tuple[str, str, str], _Producer] = {}
        for obj in self.sets:
            template = obj.spec.get("template")
            meta = template.get("metadata") if isinstance(template, dict) else None
            if not isinstance(meta, dict):
                continue
            name = meta.get("name")
            if not isinstance(name, str) or not name:
                continue
            namespace = str(meta.get("namespace") or obj.namespace or ARGOCD_NAMESPACE)
            found.setdefault(
                (namespace, obj.kind, obj.name),
                _Producer(
                    obj,
                    namespace,
                    name,
                    tuple(name_pattern(name)),
                    ("spec", "template", "metadata", "name"),
                ),
            )
        for obj in self.applications:
            namespace = obj.namespace or ARGOCD_NAMESPACE
            found.setdefault(
                (namespace, obj.kind, obj.name),
                _Producer(obj, namespace, obj.name, tuple(obj.name), ("metadata", "name")),
            )
        return list(found.values())

    def name_collisions(self) -> Iterator[Finding]:
        for producer, other, witness in _collisions(self.producers()):
            for mine, them in ((producer, other), (other, producer)):
                yield self.at(
                    mine.obj,
                    "argocd/app-name-collision",
                    f"Application name {mine.template!r} can equal the one of "
                    f"{them.describe()} ({them.obj.location.file}), e.g. {witness!r}: "
                    "whichever is created first keeps the name and the other "
                    "ApplicationSet fails; join name parts with a character no part "
                    "can hold, e.g. '.' between DNS-label names",
                    mine.field,
                )

    # -- argocd/project-unimpersonated-rbac ------------------------------------------------
    # Sync impersonation (app-sync-using-impersonation.md, util/settings/impersonation.go):
    # with application.sync.impersonation.enabled, a sync runs as the first
    # destinationServiceAccounts entry whose server and namespace globs match the
    # destination; otherwise Argo CD applies with its own (cluster-admin) credential. A
    # tenant project that permits Role or RoleBinding (AppProject.IsGroupKindPermitted: a nil
    # namespaceResourceWhitelist permits every namespaced kind but the blacklisted ones) lets
    # the tenant's repository bind itself any role: the API server's escalation check passes
    # because the applier may do everything (review S1).

    def unimpersonated_projects(self) -> Iterator[Finding]:
        enabled = self.values.impersonation_enabled(self.objects)
        for obj in self.projects.values():
            tenant = self.tenants.project_tenant(obj)
            if tenant is None:
                continue
            kinds = [k for k in RBAC_KINDS if _permits(obj.spec, RBAC_GROUP, k)]
            if not kinds:
                continue
            if enabled is False:
                yield self.at(
                    obj,
                    "argocd/project-unimpersonated-rbac",
                    f"tenant {tenant}'s project permits {' and '.join(kinds)} while sync "
                    f'impersonation is off ({IMPERSONATION_KEY} is not "true"): the tenant\'s '
                    "repository is applied with Argo CD's own credential and may bind itself "
                    "any role; blacklist them, or turn impersonation on",
                    ("spec",),
                )
                continue
            for index, destination in enumerate(obj.spec.get("destinations") or []):
                if not isinstance(destination, dict) or _impersonated(obj.spec, destination):
                    continue
                where = destination.get("name") or destination.get("server")
                now = (
                    "with impersonation on, syncs there fail (no account to impersonate), and "
                    "without it they would apply"
                    if enabled
                    else "syncs there apply"
                )
                yield self.at(
                    obj,
                    "argocd/project-unimpersonated-rbac",
                    f"tenant {tenant}'s project permits {' and '.join(kinds)}, and no "
                    f"destinationServiceAccounts entry covers destination {where} / namespace "
                    f"{destination.get('namespace')}: {now} with Argo CD's own credential, so "
                    "the tenant could bind itself any role; add an entry for the tenant's own "
                    "account, or blacklist them",
                    ("spec", "destinations", index),
                )

    # -- argocd/default-project-open -------------------------------------------------------
    # Argo CD creates the `default` AppProject when it is missing (server.go,
    # initializeDefaultProject) with sourceRepos ['*'], destinations
    # [{server: '*', namespace: '*'}] and clusterResourceWhitelist ['*/*']: any Application
    # without a project of its own, or any API token that may create Applications, deploys
    # anything anywhere (review S2).

    def default_project(self) -> Iterator[Finding]:
        if not (self.applications or self.sets or self.projects):
            return
        project = self.projects.get("default")
        if project is None:
            yield Finding(
                "argocd/default-project-open",
                ".",
                None,
                "no AppProject `default` is committed: Argo CD creates it open (every "
                "repository, every cluster and namespace, every kind); commit it locked: "
                "sourceRepos: [], destinations: [], namespaceResourceBlacklist: [{group: '*', "
                "kind: '*'}]",
            )
            return
        for field in ("sourceRepos", "destinations"):
            if project.spec.get(field):
                yield self.at(
                    project,
                    "argocd/default-project-open",
                    f"the `default` project has {field}: every Application that names no "
                    "project (and every token that may create one) gets them; leave it empty",
                    ("spec", field),
                )

    # -- argocd/retry-finite, argocd/retry-without-refresh ---------------------------------
    # An automated sync that failed is not retried for the same revision once its retries
    # are spent (controller/appcontroller.go autoSync: "Skipping auto-sync: failed previous
    # sync attempt ... and will not retry"); retry.limit is "the maximum number of attempts",
    # 0 or a missing retry means none, and a negative limit retries forever
    # (docs/user-guide/auto_sync.md). retry.refresh: "the latest revision should be used on
    # retry instead of the initial one" (Application CRD): unlimited retries without it keep
    # retrying the revision that failed, and a fix pushed meanwhile waits (review B3).

    def retries(self) -> Iterator[Finding]:
        for obj in (*self.applications, *self.sets):
            where, spec = application_spec(obj)
            policy = spec.get("syncPolicy")
            if not isinstance(policy, dict):
                continue
            retry = policy.get("retry")
            base = (*where, "syncPolicy")
            if not isinstance(retry, dict):
                if isinstance(policy.get("automated"), dict):
                    yield self.at(
                        obj,
                        "argocd/retry-finite",
                        "automated sync without retry: a sync that fails (a CRD or namespace "
                        "another Application brings not there yet) is never tried again on "
                        "this revision; set retry.limit: -1 with refresh: true",
                        (*base, "automated"),
                    )
                continue
            limit = retry.get("limit", 0)
            if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
                yield self.at(
                    obj,
                    "argocd/retry-finite",
                    f"retry.limit {limit}: once the retries are spent, a failed automated sync "
                    "is never tried again on this revision; a negative limit retries forever "
                    "(with refresh: true)",
                    (*base, "retry", "limit"),
                )
            elif isinstance(limit, int) and limit < 0 and retry.get("refresh") is not True:
                yield self.at(
                    obj,
                    "argocd/retry-without-refresh",
                    "unlimited retries without refresh: true retry the revision that failed, "
                    "forever; a fix pushed meanwhile is not picked up",
                    (*base, "retry"),
                )

    # -- argocd/optional-metadata-field ----------------------------------------------------
    # ApplicationSet Go templates with missingkey=error: a field access on a map key that is
    # absent (.metadata.annotations.x; .metadata.labels.x for a label the cluster selector
    # does not require) fails the render, and template.GenerateApplications returns the first
    # error for the whole ApplicationSet: it updates no cluster at all (review B2). `index`
    # returns the zero value for an absent key even under missingkey=error.

    def metadata_fields(self) -> Iterator[Finding]:
        for obj in self.sets:
            options = obj.spec.get("goTemplateOptions") or []
            if obj.spec.get("goTemplate") is not True or "missingkey=error" not in options:
                continue
            generators = list(_cluster_generators(obj))
            if not generators:
                continue
            guaranteed = set.intersection(
                *(_guaranteed_labels(_selector(g)) for _, g in generators)
            )
            for path, text in _strings(obj.spec, ("spec",)):
                if "metadata." not in text:
                    continue
                for expression in _EXPRESSION.finditer(text):
                    for access in _FIELD_ACCESS.finditer(expression.group(1)):
                        kind, key = access.groups()
                        if kind == "labels" and key in guaranteed:
                            continue
                        offset = expression.start() + access.start()
                        yield Finding(
                            "argocd/optional-metadata-field",
                            obj.location.file,
                            self.line_in(obj, path, text, offset),
                            f"{obj.describe()}: `.metadata.{kind}.{key}` fails the whole "
                            f"ApplicationSet (missingkey=error) for a cluster whose Secret has "
                            f"no {kind[:-1]} {key}"
                            + (
                                " (the cluster selector does not require it)"
                                if kind == "labels"
                                else ""
                            )
                            + f': read it with index, e.g. `index .metadata.{kind} "{key}" '
                            "| default ...`",
                        )

    def line_in(self, obj: KubeObject, path: FieldPath, text: str, offset: int) -> int | None:
        source = self.repo.files.get(obj.location.file)
        if source is None or obj.location.line is None:
            return obj.location.line
        line = line_of(source.text, obj.location.line, path)
        if "\n" in text.rstrip("\n"):  # a block scalar: its text starts on the next line
            line += 1 + text.count("\n", 0, offset)
        return line

    # -- argocd/selector-outside-project ---------------------------------------------------
    # The cluster generator selects cluster Secrets by label; the Application it renders must
    # still fit its AppProject's destinations (AppProject.IsDestinationPermitted: name or
    # server glob, and namespace glob), or the Application is refused ("application
    # destination ... is not permitted in project"). A selector that is not limited to named
    # clusters also picks clusters registered later, which a project listing named clusters
    # refuses (review W9).

    def selectors(self) -> Iterator[Finding]:
        clusters = self.cluster_secrets()
        for obj in self.sets:
            _, spec = application_spec(obj)
            project = self.projects.get(str(spec.get("project", "")))
            destination = spec.get("destination")
            if project is None or not isinstance(destination, dict):
                continue
            namespace = destination.get("namespace")
            namespace = namespace if isinstance(namespace, str) and "{{" not in namespace else None
            allowed = self.destinations(project)
            for path, generator in _cluster_generators(obj):
                selector = _selector(generator)
                names = _named_clusters(selector)
                if names is None:
                    if allowed.permits_any(namespace):
                        continue
                    refused = sorted(
                        n
                        for n, labels in clusters.items()
                        if _selects(selector, labels) and not allowed.permits(n, namespace)
                    )
                    detail = (
                        f"clusters {', '.join(refused)} of this repo match it and are refused"
                        if refused
                        else "a cluster registered later with matching labels is refused"
                    )
                    yield self.at(
                        obj,
                        "argocd/selector-outside-project",
                        f"selects clusters by label, not by name, but project {project.name} "
                        f"permits only the clusters it lists: {detail}; limit the selector to "
                        f"{CLUSTER_NAME_LABEL} In [the project's clusters], or let the project "
                        "permit every cluster",
                        (*path, "selector"),
                    )
                    continue
                refused = sorted(n for n in names if not allowed.permits(n, namespace))
                if refused:
                    yield self.at(
                        obj,
                        "argocd/selector-outside-project",
                        f"selects clusters {', '.join(refused)}, which project {project.name} "
                        f"does not permit{f' in namespace {namespace}' if namespace else ''}: "
                        "their Applications are refused",
                        (*path, "selector"),
                    )

    def destinations(self, project: KubeObject) -> _Destinations:
        if project.name not in self._destinations:
            self._destinations[project.name] = _Destinations(project.spec.get("destinations"))
        return self._destinations[project.name]

    def cluster_secrets(self) -> dict[str, dict[str, Any]]:
        """Cluster name (the CLUSTER_NAME_LABEL, else the Secret's name) -> labels."""
        found: dict[str, dict[str, Any]] = {}
        for obj in (*self.objects, *self.repo.source_objects()):
            if obj.kind != "Secret" or obj.labels.get(CLUSTER_SECRET) != "cluster":
                continue
            found.setdefault(str(obj.labels.get(CLUSTER_NAME_LABEL) or obj.name), obj.labels)
        return found

    # -- argocd/cm-two-owners --------------------------------------------------------------
    # The argo-cd chart renders argocd-cm unless configs.cm.create is false (charts/argo-cd
    # values.yaml: create: true; templates/argocd-configs/argocd-cm.yaml). A committed argocd-cm
    # besides it has two owners: each sync of one undoes the other's keys, and the chart's
    # Argo CD 3.x defaults (resource.exclusions, ignoreResourceUpdates, url) live only in the
    # chart's (review W1): put the keys under configs.cm instead.

    def config_map(self) -> Iterator[Finding]:
        if not self.values.charts:
            return
        create = self.values.setting(("configs", "cm", "create"))
        if create is False or (isinstance(create, str) and create.lower() == "false"):
            return
        for obj in self.objects:
            if obj.kind == "ConfigMap" and obj.api_version == "v1" and obj.name == "argocd-cm":
                yield self.at(
                    obj,
                    "argocd/cm-two-owners",
                    f"argocd-cm is committed here while the argo-cd chart "
                    f"({self.values.charts[0].location.file}) writes its own "
                    "(configs.cm.create is not false): the two overwrite each other; move these "
                    "keys under configs.cm in the chart's values",
                    ("metadata", "name"),
                )


def _permits(spec: dict[str, Any], group: str, kind: str) -> bool:
    """AppProject.IsGroupKindPermitted for a namespaced kind (Argo CD 3.x)."""

    def listed(entries: Any) -> bool:
        return any(
            isinstance(e, dict)
            and fnmatch.fnmatchcase(kind, str(e.get("kind", "")))
            and fnmatch.fnmatchcase(group, str(e.get("group", "")))
            for e in entries
        )

    whitelist = spec.get("namespaceResourceWhitelist")
    blacklist = spec.get("namespaceResourceBlacklist") or []
    allowed = whitelist is None or (bool(whitelist) and listed(whitelist))
    return allowed and not (blacklist and listed(blacklist))


def _impersonated(spec: dict[str, Any], destination: dict[str, Any]) -> bool:
    """Does a destinationServiceAccounts entry cover every Application of this destination?"""
    namespace = str(destination.get("namespace") or "")
    server = destination.get("server")
    for entry in spec.get("destinationServiceAccounts") or []:
        if not isinstance(entry, dict) or not str(entry.get("defaultServiceAccount", "")).strip():
            continue
        pattern = entry.get("server")
        if pattern != "*" and not (isinstance(server, str) and _matches(pattern, server)):
            continue
        entry_namespace = entry.get("namespace")
        if entry_namespace == "*" or (
            "*" not in namespace and "?" not in namespace and _matches(entry_namespace, namespace)
        ):
            return True
    return False


class _Destinations:
    """An AppProject's destinations, as AppProject.IsDestinationPermitted reads them for a
    cluster named in the generator (name glob, or server '*'; namespace glob)."""

    def __init__(self, entries: Any) -> None:
        self.exact: set[tuple[str, str]] = set()  # (name, namespace) without glob characters
        self.names: set[str] = set()
        self.patterns: list[dict[str, Any]] = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            name, namespace = entry.get("name"), entry.get("namespace")
            if (
                isinstance(name, str)
                and isinstance(namespace, str)
                and not _GLOB.search(name + namespace)
                and not entry.get("server")
            ):
                self.exact.add((name, namespace))
                self.names.add(name)
            else:
                self.patterns.append(entry)

    def permits(self, name: str, namespace: str | None) -> bool:
        if (name in self.names) if namespace is None else ((name, namespace) in self.exact):
            return True
        for entry in self.patterns:
            by_name = _matches(entry.get("name"), name)
            if (by_name or entry.get("server") == "*") and (
                namespace is None or _matches(entry.get("namespace"), namespace)
            ):
                return True
        return False

    def permits_any(self, namespace: str | None) -> bool:
        """Does a destination permit every cluster (name or server '*')?"""
        for entry in self.patterns:
            wildcard = entry.get("name") == "*" or entry.get("server") == "*"
            if wildcard and (namespace is None or _matches(entry.get("namespace"), namespace)):
                return True
        return False


class ChartValues:
    """The Helm values this repo gives the argo-cd chart, through its Applications."""

    def __init__(self, repo: Repo, applications: list[KubeObject]) -> None:
        self.repo = repo
        self.urls = this_repo_urls(repo)
        self.charts = [
            o
            for o in applications
            if any(s.get("chart") == ARGOCD_CHART for _, s in application_sources(o))
        ]
        self.layers = [layer for app in self.charts for layer in self.values_of(app)]

    def values_of(self, app: KubeObject) -> list[dict[str, Any]]:
        """The values documents of one Application, in Helm's order (later wins)."""
        sources = [s for _, s in application_sources(app)]
        refs = {
            str(s["ref"]): s
            for s in sources
            if isinstance(s.get("ref"), str) and repo_key(str(s.get("repoURL", ""))) in self.urls
        }
        layers: list[dict[str, Any]] = []
        for source in sources:
            if source.get("chart") != ARGOCD_CHART:
                continue
            helm = source.get("helm")
            if not isinstance(helm, dict):
                continue
            for entry in helm.get("valueFiles") or []:
                if not isinstance(entry, str) or not entry.startswith("$"):
                    continue
                ref, _, rest = entry[1:].partition("/")
                if ref not in refs:
                    continue
                document = self.repo.source(repo_path(rest))
                if document is not None and document.documents:
                    body = document.documents[0].body
                    if isinstance(body, dict):
                        layers.append(body)
            inline = helm.get("values")
            if isinstance(inline, str):
                try:
                    parsed = yaml.safe_load(inline)
                except yaml.YAMLError:
                    parsed = None
                if isinstance(parsed, dict):
                    layers.append(parsed)
            if isinstance(helm.get("valuesObject"), dict):
                layers.append(helm["valuesObject"])
        return layers

    def setting(self, path: tuple[str, ...]) -> Any:
        found: Any = None
        for layer in self.layers:
            value: Any = layer
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None:
                found = value
        return found

    def impersonation_enabled(self, objects: list[KubeObject]) -> bool | None:
        """Is sync impersonation on? None when this repo does not say."""
        value = self.setting(("configs", "cm", IMPERSONATION_KEY))
        for obj in objects:
            if obj.kind == "ConfigMap" and obj.name == "argocd-cm":
                data = obj.body.get("data")
                if isinstance(data, dict) and IMPERSONATION_KEY in data:
                    value = data[IMPERSONATION_KEY]
        if value is None:
            return None if not self.charts else False
        return str(value).strip().lower() == "true"


def check_argocd(ctx: CheckContext) -> list[Finding]:
    objects = list(ctx.objects())
    kinds = ("Application", "ApplicationSet", "AppProject")
    if not any(is_argo(o, kind) for o in objects for kind in kinds):
        return []
    return list(_Argo(ctx.repo, objects).check())
