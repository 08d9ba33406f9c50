"""Where the cookiecutter template lives: inside the wheel, or at the root of a checkout."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent

# The root skeleton's folder beside cookiecutter.json (the design card's project shape).
ROOT_SKELETON = "{{cookiecutter.repo_name}}"
# The root folder of every engine unit (templates/<engine>/<part>/).
UNIT_DIR = "{{cookiecutter.repo_dir}}"
# Tests only: render with another copy of the template (a folder laid out as a checkout's
# root: cookiecutter.json, the root skeleton, templates/), e.g. "version B" of the templates
# for `update`. Its templates are compiled as templates: point it only at a copy you trust.
TEMPLATE_ROOT_VARIABLE = "GITOPS_SCAFFOLD_TEMPLATE_ROOT"


def template_root() -> Path:
    """The folder holding cookiecutter.json, hooks/, templates/ and the root skeleton."""
    configured = os.environ.get(TEMPLATE_ROOT_VARIABLE)
    if configured:
        return Path(configured).resolve()
    bundled = _PACKAGE_DIR / "_template"
    if (bundled / "cookiecutter.json").is_file():
        return bundled
    return _PACKAGE_DIR.parent


def templates_dir() -> Path:
    """The engine units (``<engine>/<unit>/``) and the macro libraries they share."""
    return template_root() / "templates"


def unit_folder(engine: str, part: str) -> str:
    """The cookiecutter template folder of an engine unit (base, cluster, tenant)."""
    return f"templates/{engine}/{part}"
