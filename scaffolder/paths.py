"""Where the cookiecutter template lives: inside the wheel, or at the root of a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent

# The root skeleton's folder beside cookiecutter.json (the design card's project shape).
ROOT_SKELETON = "{{cookiecutter.repo_name}}"
# The root folder of every engine unit (templates/<engine>/<part>/).
UNIT_DIR = "{{cookiecutter.repo_dir}}"


def template_root() -> Path:
    """The folder holding cookiecutter.json, hooks/, templates/ and the root skeleton."""
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
