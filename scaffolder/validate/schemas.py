"""Strict JSON-schema validation of Kubernetes documents, offline.

Core kinds use the upstream Kubernetes schemas that the kubernetes-validate package ships
(strict variants: unknown fields are errors). Custom resources use schemas laid out as
``<group>/<kind>_<version>.json`` (kubeconform's convention) in one or more folders.
Validators are built once per kind and cached: thousands of documents validate in seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DEFAULT_KUBERNETES_VERSION = "1.33"
_K8S_DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"


class UnknownKind(Exception):
    """No schema is known for this apiVersion/kind."""


@dataclass(frozen=True)
class SchemaProblem:
    path: str  # JSON path inside the document, e.g. spec.interval
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _kubernetes_schema_dir(version: str) -> Path:
    import kubernetes_validate

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    wanted = tuple(int(p) for p in version.lstrip("v").split(".")[:2])
    available = []
    for folder in root.iterdir():
        match = re.match(r"^v(\d+)\.(\d+)\.\d+-local-strict$", folder.name)
        if match:
            available.append(((int(match[1]), int(match[2])), folder))
    candidates = sorted(v for v in available if v[0] <= wanted)
    if not candidates:
        raise ValueError(f"no Kubernetes schemas for {version}")
    return candidates[-1][1]


@lru_cache(maxsize=4)
def _kubernetes_registry(schema_dir: Path) -> Registry:
    definitions = json.loads((schema_dir / "_definitions.json").read_text(encoding="utf-8"))
    resource = Resource.from_contents(definitions, default_specification=DRAFT202012)
    return Registry().with_resource(_K8S_DEFINITIONS_URI, resource)


def _group_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


class SchemaStore:
    """Finds and caches a validator per (apiVersion, kind)."""

    def __init__(
        self,
        crd_locations: Iterable[Path] = (),
        kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    ) -> None:
        self.crd_locations = [Path(p) for p in crd_locations]
        self.kubernetes_dir = _kubernetes_schema_dir(kubernetes_version)
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}

    def _crd_schema(self, group: str, version: str, kind: str) -> dict[str, Any] | None:
        name = f"{kind.lower()}_{version}.json"
        for location in self.crd_locations:
            candidate = location / group / name
            if candidate.is_file():
                loaded: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
                return loaded
        return None

    def _core_schema(self, group: str, version: str, kind: str) -> dict[str, Any] | None:
        short_group = group.split(".", 1)[0]
        suffix = f"-{short_group}-{version}" if group else f"-{version}"
        candidate = self.kubernetes_dir / f"{kind.lower()}{suffix}.json"
        if candidate.is_file():
            loaded: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            return loaded
        return None

    def validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator:
        key = (api_version, kind)
        if key not in self._validators:
            group, version = _group_version(api_version)
            is_core = group == "" or group.endswith(".k8s.io") or "." not in group
            schema = self._core_schema(group, version, kind) if is_core else None
            registry = _kubernetes_registry(self.kubernetes_dir)
            if schema is None:
                schema = self._crd_schema(group, version, kind)
                registry = Registry()
            if schema is None:
                raise UnknownKind(f"no schema for {kind} {api_version}")
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
            self._validators[key] = cls(schema, registry=registry)
        return self._validators[key]

    def problems(self, document: dict[str, Any]) -> list[SchemaProblem]:
        """Schema problems of one document; raises UnknownKind when no schema exists."""
        api_version = document.get("apiVersion")
        kind = document.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return [SchemaProblem("", "missing apiVersion or kind")]
        body = {k: v for k, v in document.items() if k != "sops"}  # SOPS metadata is fine
        found = []
        for error in self.validator(api_version, kind).iter_errors(body):
            path = ".".join(str(p) for p in error.absolute_path)
            found.append(SchemaProblem(path, _short(error)))
        return sorted(found, key=lambda p: (p.path, p.message))


def _short(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field")
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."
