"""Pinned versions of everything the generated repos install. Bump them here only."""

from __future__ import annotations

VERSIONS: dict[str, str] = {
    "flux": "v2.9.0",
    "argocd": "v3.5.1",
    # Helm charts (chart versions, not app versions)
    "argocd_chart": "9.4.1",
    "sealed_secrets_chart": "2.18.0",
    "external_secrets_chart": "2.9.0",
}
