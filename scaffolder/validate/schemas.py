"""Strict JSON-schema validation of Kubernetes documents, offline unless asked otherwise.

Core kinds use the upstream Kubernetes schemas that the kubernetes-validate package ships
(strict variants: unknown fields are errors). Custom resources use schemas found through
schema locations, in kubeconform's conventions:

- a folder laid out as ``<group>/<kind>_<version>.json`` (the CRDs-catalog layout);
- a path or URL template with kubeconform's placeholders (``{{.Group}}``,
  ``{{.ResourceKind}}``, ``{{.ResourceAPIVersion}}``, ``{{.KindSuffix}}``,
  ``{{.NormalizedKubernetesVersion}}``, ``{{.StrictSuffix}}``) or the short forms
  ``{group}``, ``{kind}``, ``{version}``;
- ``default`` (used when none is given): the schemas bundled with gitops-scaffold, no network;
- ``catalog``: the public CRDs catalog, fetched over HTTPS.

Nothing is fetched unless asked for: only ``catalog`` and URL templates reach the network.
A custom resource with no schema offline is an unknown kind whose message says how to ask
for the catalog. Fetched schemas are kept in an on-disk cache (``$GITOPS_SCAFFOLD_CACHE``,
else ``$XDG_CACHE_HOME/gitops-scaffold/schemas``, else ``~/.cache/gitops-scaffold/schemas``),
so a second run asks the network nothing. Validators are built once per kind and cached:
thousands of documents validate in seconds.

A location that cannot be used (an unknown placeholder, a folder that is missing or
unreadable, a schema file that is not a JSON schema) is a SchemaLocationError.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

DEFAULT_KUBERNETES_VERSION = "1.33"
DEFAULT_LOCATION = "default"
CATALOG_LOCATION = "catalog"
CRDS_CATALOG = (
    "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/"
    "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
)
BUNDLED_SCHEMAS = Path(__file__).resolve().parent / "crd_schemas"
CACHE_ENV = "GITOPS_SCAFFOLD_CACHE"
_K8S_DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
_MISSING_TTL = 24 * 3600  # a schema the catalog does not have is asked for again after a day
_FETCH_TIMEOUT = 10.0
_URL_SCHEMES = ("https://", "http://", "file://")
_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}|\{(group|kind|version)\}")
# What jsonschema raises on a schema (from a --schema-location) that is not a usable one: a
# $ref to another document (never fetched), a keyword of the wrong type. Checking each schema
# against the metaschema first would cost 0.2 s per kind.
_BROKEN_SCHEMA = (
    Unresolvable,
    jsonschema.exceptions.UnknownType,
    TypeError,
    AttributeError,
    re.error,
)
OFFLINE_HINT = (
    f"not in the schemas at hand; to fetch it from the public CRDs catalog, add "
    f"--schema-location {CATALOG_LOCATION} (with --schema-location {DEFAULT_LOCATION} to keep "
    "the bundled ones)"
)


class UnknownKind(Exception):
    """No schema is known for this apiVersion/kind."""

    def __init__(
        self, api_version: str, kind: str, known_versions: Iterable[str] = (), note: str = ""
    ) -> None:
        self.api_version = api_version
        self.kind = kind
        self.known_versions = sorted(set(known_versions))
        self.note = note
        message = f"no schema for {kind} {api_version}"
        if self.known_versions:
            message += f" (schemas exist for {', '.join(self.known_versions)})"
        if note:
            message += f"; {note}"
        super().__init__(message)


class SchemaLocationError(ValueError):
    """A --schema-location that cannot be used."""


@dataclass(frozen=True)
class SchemaProblem:
    path: str  # JSON path inside the document, e.g. spec.interval
    message: str
    path_parts: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class KindRef:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# --------------------------------------------------------------------------- locations


class SchemaSource(Protocol):
    def describe(self) -> str: ...

    def load(self, ref: KindRef) -> dict[str, Any] | None: ...

    def known_api_versions(self, group: str, kind: str) -> list[str]: ...


@lru_cache(maxsize=256)
def _read_json(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _read_schema(path: Path, location: str) -> dict[str, Any] | None:
    """The schema in ``path`` (None when there is none); a file that is there but is not a
    JSON object is a SchemaLocationError."""
    if not path.is_file():
        return None
    try:
        schema = _read_json(path)
    except (OSError, ValueError) as err:
        raise SchemaLocationError(f"--schema-location {location}: {path}: {err}") from None
    if not isinstance(schema, dict):
        raise SchemaLocationError(f"--schema-location {location}: {path}: not a JSON schema")
    return schema


class FolderSource:
    """A folder laid out as ``<group>/<kind>_<version>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def load(self, ref: KindRef) -> dict[str, Any] | None:
        candidate = self.root / ref.group / f"{ref.kind.lower()}_{ref.version}.json"
        return _read_schema(candidate, self.describe())

    def known_api_versions(self, group: str, kind: str) -> list[str]:
        prefix = f"{kind.lower()}_"
        folder = self.root / group
        if not folder.is_dir():
            return []
        return [
            f"{group}/{p.stem[len(prefix) :]}"
            for p in folder.glob(f"{prefix}*.json")
            if p.is_file()
        ]


class SchemaCache:
    """Schemas fetched from URLs, one file per URL; misses remembered for a day."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def default() -> SchemaCache:
        configured = os.environ.get(CACHE_ENV)
        if configured:
            return SchemaCache(Path(configured).expanduser())
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return SchemaCache(Path(base) / "gitops-scaffold" / "schemas")

    def _key(self, url: str) -> Path:
        return self.root / hashlib.sha256(url.encode()).hexdigest()[:40]

    def get(self, url: str) -> dict[str, Any] | bool | None:
        """The cached schema, False for a remembered miss, None when not cached."""
        key = self._key(url)
        found = key.with_suffix(".json")
        if found.is_file():
            try:
                return _read_json(found)
            except (OSError, ValueError):
                return None
        missing = key.with_suffix(".missing")
        if missing.is_file() and time.time() - missing.stat().st_mtime < _MISSING_TTL:
            return False
        return None

    def put(self, url: str, schema: dict[str, Any] | None) -> None:
        key = self._key(url)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if schema is None:
                key.with_suffix(".missing").write_text(url + "\n", encoding="utf-8")
                return
            partial = key.with_suffix(f".partial-{os.getpid()}")
            partial.write_text(json.dumps(schema), encoding="utf-8")
            os.replace(partial, key.with_suffix(".json"))
        except OSError:
            pass  # a read-only cache only costs speed


class TemplateSource:
    """A path or URL template with kubeconform's placeholders."""

    def __init__(self, template: str, kubernetes_version: str, cache: SchemaCache | None) -> None:
        self.template = template
        self.kubernetes_version = kubernetes_version
        self.cache = cache
        self.is_url = template.startswith(_URL_SCHEMES)
        self.unreachable = ""  # set after a network failure: no more tries this run
        self.render(KindRef("example.com", "v1", "Example"))  # unknown placeholders fail now

    def describe(self) -> str:
        return self.template

    def render(self, ref: KindRef) -> str:
        values = {
            "Group": ref.group,
            "ResourceKind": ref.kind.lower(),
            "ResourceAPIVersion": ref.version,
            "KindSuffix": f"-{ref.group.split('.')[0]}-{ref.version}"
            if ref.group
            else f"-{ref.version}",
            "NormalizedKubernetesVersion": f"v{self.kubernetes_version}.0",
            "StrictSuffix": "-strict",
            "group": ref.group,
            "kind": ref.kind.lower(),
            "version": ref.version,
        }

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in values:
                raise SchemaLocationError(
                    f"--schema-location {self.template}: unknown placeholder {match.group(0)}"
                )
            return values[name]

        return _PLACEHOLDER.sub(substitute, self.template)

    def load(self, ref: KindRef) -> dict[str, Any] | None:
        target = self.render(ref)
        if not self.is_url:
            return _read_schema(Path(target).expanduser(), self.template)
        cached = self.cache.get(target) if self.cache else None
        if cached is False:
            return None
        if isinstance(cached, dict):
            return cached
        if self.unreachable:
            return None
        return self._fetch(target)

    def _fetch(self, url: str) -> dict[str, Any] | None:
        request = urllib.request.Request(url, headers={"User-Agent": "gitops-scaffold"})
        try:
            with urllib.request.urlopen(request, timeout=_FETCH_TIMEOUT) as response:
                loaded = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            if err.code == 404:
                if self.cache:
                    self.cache.put(url, None)
                return None
            self.unreachable = f"{url}: HTTP {err.code}"
            return None
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, FileNotFoundError):  # file:// templates: a plain miss
                return None
            self.unreachable = f"{url.split('/')[2] or url} unreachable ({reason})"
            return None
        if not isinstance(loaded, dict):
            return None
        if self.cache:
            self.cache.put(url, loaded)
        return loaded

    def known_api_versions(self, group: str, kind: str) -> list[str]:
        return []


def parse_locations(
    locations: Iterable[str | Path],
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    cache: SchemaCache | None = None,
) -> list[SchemaSource]:
    """Schema sources for --schema-location values, in order."""
    return [_source(str(location), kubernetes_version, cache) for location in locations]


def _source(text: str, kubernetes_version: str, cache: SchemaCache | None) -> SchemaSource:
    if text == DEFAULT_LOCATION:
        return FolderSource(BUNDLED_SCHEMAS)
    if text == CATALOG_LOCATION:
        return TemplateSource(CRDS_CATALOG, kubernetes_version, cache)
    if _PLACEHOLDER.search(text):
        return TemplateSource(text, kubernetes_version, cache)
    if text.startswith(_URL_SCHEMES):
        template = text.rstrip("/") + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
        return TemplateSource(template, kubernetes_version, cache)
    return FolderSource(_folder(text))


def _folder(text: str) -> Path:
    folder = Path(text).expanduser()
    if not text.strip() or not folder.is_dir():
        raise SchemaLocationError(f"--schema-location {text}: no such folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise SchemaLocationError(f"--schema-location {text}: the folder cannot be read")
    return folder


# --------------------------------------------------------------------------- Kubernetes


def _kubernetes_schema_dir(version: str) -> Path:
    import kubernetes_validate

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    try:
        wanted = tuple(int(p) for p in version.lstrip("v").split(".")[:2])
    except ValueError:
        raise ValueError(f"Kubernetes version {version!r} is not X.Y") from None
    available = []
    for folder in root.iterdir():
        match = re.match(r"^v(\d+)\.(\d+)\.\d+-local-strict$", folder.name)
        if match:
            available.append(((int(match[1]), int(match[2])), folder))
    candidates = sorted(v for v in available if v[0] <= wanted)
    if not candidates:
        oldest = min(available)[0] if available else (0, 0)
        raise ValueError(
            f"no Kubernetes schemas for {version} (oldest available: {oldest[0]}.{oldest[1]})"
        )
    return candidates[-1][1]


@lru_cache(maxsize=4)
def _kubernetes_registry(schema_dir: Path) -> Registry:
    definitions = _read_json(schema_dir / "_definitions.json")
    resource: Resource[Any] = Resource.from_contents(definitions, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_K8S_DEFINITIONS_URI, resource)
    return registry


def _group_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def _is_core_group(group: str) -> bool:
    return group == "" or group.endswith(".k8s.io") or "." not in group


def _declares_kind(schema: dict[str, Any], ref: KindRef) -> bool:
    """Kubernetes ships schemas for parts too (DeploymentSpec): only whole kinds count."""
    for gvk in schema.get("x-kubernetes-group-version-kind") or ():
        if (
            gvk.get("kind") == ref.kind
            and gvk.get("version") == ref.version
            and (gvk.get("group", "") == ref.group)
        ):
            return True
    return False


class SchemaStore:
    """Finds and caches a validator per (apiVersion, kind)."""

    def __init__(
        self,
        crd_locations: Iterable[Path | str] = (),
        kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
        *,
        cache: SchemaCache | None = None,
    ) -> None:
        self.kubernetes_version = kubernetes_version
        self.kubernetes_dir = _kubernetes_schema_dir(kubernetes_version)
        self.sources = parse_locations(crd_locations, kubernetes_version, cache)
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        self._unknown: dict[tuple[str, str], UnknownKind] = {}
        self._any_namespace: dict[tuple[str, str], bool] = {}
        self._fast: dict[tuple[str, str], Any] = {}

    def _core_schema(self, ref: KindRef) -> dict[str, Any] | None:
        short_group = ref.group.split(".", 1)[0]
        suffix = f"-{short_group}-{ref.version}" if ref.group else f"-{ref.version}"
        candidate = self.kubernetes_dir / f"{ref.kind.lower()}{suffix}.json"
        if candidate.is_file():
            schema = _read_json(candidate)
            if _declares_kind(schema, ref):
                return schema
        return None

    def _core_api_versions(self, kind: str) -> list[str]:
        found = []
        for candidate in self.kubernetes_dir.glob(f"{kind.lower()}-*.json"):
            for gvk in _read_json(candidate).get("x-kubernetes-group-version-kind") or ():
                if gvk.get("kind") == kind:
                    group = gvk.get("group", "")
                    found.append(f"{group}/{gvk['version']}" if group else gvk["version"])
        return found

    def _unknown_kind(self, ref: KindRef, is_core: bool) -> UnknownKind:
        known: list[str] = []
        if is_core:
            known += self._core_api_versions(ref.kind)
        for source in self.sources:
            known += source.known_api_versions(ref.group, ref.kind)
        notes = [
            s.unreachable for s in self.sources if isinstance(s, TemplateSource) and s.unreachable
        ]
        if not is_core and not known and not self._asks_catalog():
            notes.append(OFFLINE_HINT)
        return UnknownKind(ref.api_version, ref.kind, known, "; ".join(notes))

    def _asks_catalog(self) -> bool:
        return any(
            isinstance(s, TemplateSource) and s.template == CRDS_CATALOG for s in self.sources
        )

    def validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator:
        key = (api_version, kind)
        if key in self._validators:
            return self._validators[key]
        if key in self._unknown:
            raise self._unknown[key]
        ref = KindRef(*_group_version(api_version), kind)
        is_core = _is_core_group(ref.group)
        schema = self._core_schema(ref) if is_core else None
        registry = _kubernetes_registry(self.kubernetes_dir)
        if schema is None:
            registry = Registry()
            for source in self.sources:
                schema = source.load(ref)
                if schema is not None:
                    break
        if schema is None:
            self._unknown[key] = self._unknown_kind(ref, is_core)
            raise self._unknown[key]
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        self._validators[key] = cls(schema, registry=registry)
        self._any_namespace[key] = _takes_any_namespace(schema, registry)
        self._fast[key] = _fast_validator(cls, schema, self.kubernetes_dir if is_core else None)
        return self._validators[key]

    def takes_any_namespace(self, api_version: str, kind: str) -> bool:
        """Whether the schema of this kind accepts every string as metadata.namespace and
        says nothing else of it: two objects that differ only there are valid alike (the
        Kubernetes schemas type it string or null; CRD schemas leave metadata open)."""
        try:
            self.validator(api_version, kind)
        except UnknownKind:
            return False
        return self._any_namespace[(api_version, kind)]

    def is_valid(self, document: dict[str, Any]) -> bool:
        """True when the compiled validator finds ``document`` valid (fast); False when it
        does not, or cannot tell: ``problems`` says what is wrong, if anything."""
        api_version, kind = document.get("apiVersion"), document.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return False
        try:
            self.validator(api_version, kind)
        except UnknownKind:
            return False
        fast = self._fast[(api_version, kind)]
        if fast is None:
            return False
        body = (
            {k: v for k, v in document.items() if k != "sops"} if "sops" in document else document
        )
        try:
            return bool(fast.is_valid(body))
        except Exception:  # a value it cannot take (an integer past 64 bits): jsonschema decides
            return False

    def problems(self, document: dict[str, Any]) -> list[SchemaProblem]:
        """Schema problems of one document; raises UnknownKind when no schema exists."""
        api_version = document.get("apiVersion")
        kind = document.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return [SchemaProblem("", "missing apiVersion or kind")]
        body = {k: v for k, v in document.items() if k != "sops"}  # SOPS metadata is fine
        validator = self.validator(api_version, kind)
        if self.is_valid(document):
            return []
        try:
            errors = list(validator.iter_errors(body))
        except _BROKEN_SCHEMA as err:
            raise SchemaLocationError(
                f"the schema of {kind} {api_version} cannot be used: {_short(str(err))}"
            ) from None
        found = [problem for error in errors for problem in _problems_of(error)]
        return sorted(set(found), key=lambda p: (p.path, p.message))


_ANNOTATIONS = frozenset({"description", "title", "$comment"})

# jsonschema_rs (compiled) answers "valid?" a hundred times faster than jsonschema: it is asked
# first, and jsonschema, whose errors the findings are written from, only for an invalid object.
# Same drafts, formats not asserted by either; tests/test_validate_rules.py checks that both
# agree on every object of generated repos and on the invalid ones of the suite.
_FAST_DRAFTS: dict[Any, Any] = {
    jsonschema.Draft4Validator: jsonschema_rs.Draft4Validator,
    jsonschema.Draft6Validator: jsonschema_rs.Draft6Validator,
    jsonschema.Draft7Validator: jsonschema_rs.Draft7Validator,
    jsonschema.Draft201909Validator: jsonschema_rs.Draft201909Validator,
    jsonschema.Draft202012Validator: jsonschema_rs.Draft202012Validator,
}


def _fast_validator(cls: Any, schema: dict[str, Any], kubernetes_dir: Path | None) -> Any:
    """The compiled twin of a jsonschema validator, or None (then jsonschema alone decides)."""
    fast_cls = _FAST_DRAFTS.get(cls)
    if fast_cls is None:
        return None
    try:
        if kubernetes_dir is None:
            return fast_cls(schema, validate_formats=False)
        registry = _fast_kubernetes_registry(kubernetes_dir)
        return fast_cls(schema, validate_formats=False, registry=registry)
    except Exception:
        return None


@lru_cache(maxsize=4)
def _fast_kubernetes_registry(schema_dir: Path) -> Any:
    return jsonschema_rs.Registry(
        [(_K8S_DEFINITIONS_URI, _read_json(schema_dir / "_definitions.json"))]
    )


def _takes_any_namespace(schema: dict[str, Any], registry: Registry) -> bool:
    metadata = (schema.get("properties") or {}).get("metadata")
    if not isinstance(metadata, dict):
        return False
    if "$ref" in metadata:
        if set(metadata) - _ANNOTATIONS - {"$ref"}:
            return False
        try:
            resolver = registry.resolver(base_uri=str(schema.get("$id", "")))
            metadata = resolver.lookup(metadata["$ref"]).contents
        except Unresolvable:
            return False
        if not isinstance(metadata, dict):
            return False
    properties = metadata.get("properties")
    if properties is None:  # an open mapping
        return set(metadata) - _ANNOTATIONS <= {"type", "x-kubernetes-preserve-unknown-fields"}
    namespace = properties.get("namespace") if isinstance(properties, dict) else None
    if not isinstance(namespace, dict) or set(namespace) - _ANNOTATIONS != {"type"}:
        return False
    kinds = namespace["type"]
    return kinds == "string" or (isinstance(kinds, list) and "string" in kinds)


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 200 else line[:197] + "..."


def _problems_of(error: jsonschema.ValidationError) -> list[SchemaProblem]:
    parts = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = schema.get("properties") or {}
        patterns = schema.get("patternProperties") or {}
        unknown = [
            key
            for key in error.instance
            if key not in known and not any(re.search(p, str(key)) for p in patterns)
        ]
        if unknown:
            return [
                SchemaProblem(_dotted((*parts, key)), f"unknown field {key!r}", (*parts, key))
                for key in unknown
            ]
    message = error.message
    shown = repr(error.instance)
    if message.startswith(shown) and len(shown) > 60:  # "'<long value>' is too long"
        message = shown[:57] + "..." + message[len(shown) :]
    if len(message) > 200:
        message = message[:197] + "..."
    return [SchemaProblem(_dotted(parts), message, parts)]


def _dotted(parts: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in parts)
