"""Helpers shared by the engines' derived files."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from scaffolder.quoting import dump_yaml

DERIVED_HEADER = (
    "# Derived from platform.yaml by gitops-scaffold: regenerated when clusters or tenants\n"
    "# change. Edit platform.yaml, not this file.\n"
)


def kustomization(
    resources: Iterable[str], header: str = DERIVED_HEADER, *, namespace: str | None = None
) -> str:
    """A kustomization.yaml listing ``resources`` in order (all put in ``namespace`` if given)."""
    body: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if namespace is not None:
        body["namespace"] = namespace
    body["resources"] = list(resources)
    return header + dump_yaml(body)


def index_kustomization(
    folder: str, targets: Iterable[str], *, namespace: str | None = None
) -> dict[str, str]:
    """``{folder}/kustomization.yaml: content`` listing the repo paths ``targets``, each written
    relative to ``folder`` as kustomize needs."""
    resources = [posixpath.relpath(target, folder) for target in targets]
    return {f"{folder}/kustomization.yaml": kustomization(resources, namespace=namespace)}
