"""Argo CD: files derived from the whole model."""

from __future__ import annotations

from scaffolder.model import Platform


def derived_files(platform: Platform) -> dict[str, str]:
    return {}
