"""Where the cookiecutter template lives: inside the wheel, or at the root of a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def template_root() -> Path:
    """The folder holding cookiecutter.json, hooks/ and templates/."""
    bundled = _PACKAGE_DIR / "_template"
    if (bundled / "cookiecutter.json").is_file():
        return bundled
    return _PACKAGE_DIR.parent


def shared_templates_dir() -> Path:
    """Jinja includes shared by the root template and every sub-template."""
    return template_root() / "templates"


def subtemplate(engine: str, part: str) -> str:
    """The cookiecutter `directory` of an engine's sub-template (base, cluster, tenant)."""
    return f"templates/{engine}/{part}"
