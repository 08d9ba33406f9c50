"""The entry point of the cookiecutter post-generate hook, so plain `cookiecutter <checkout>`
builds the same repo as `gitops-scaffold new` through the same pipeline.

This module imports only the standard library at the top: cookiecutter may run the hooks
with a Python that lacks gitops-scaffold's dependencies, and that deserves one line, not a
traceback.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Any


def _missing(error: ImportError, checkout: str | None = None) -> int:
    """One line naming the missing module and the install that works: this checkout (the
    package is not published on an index under its name)."""
    source = shlex.quote(checkout) if checkout else "<your gitops-scaffold checkout>"
    print(
        f"error: {sys.executable} lacks gitops-scaffold's dependencies (no module "
        f"{error.name!r}): {shlex.quote(sys.executable)} -m pip install {source} (the Python "
        "that runs cookiecutter), or use `gitops-scaffold new`",
        file=sys.stderr,
    )
    return 1


def post_generate(context: dict[str, Any], project_dir: Path) -> int:
    try:
        from scaffolder import keys
        from scaffolder.context import answers_from_root_context
        from scaffolder.errors import ScaffoldError
        from scaffolder.generate import build_repo, default_keys_dir, key_names
        from scaffolder.model import load_answers
    except ImportError as error:
        return _missing(error, context.get("_repo_dir"))
    try:
        platform = load_answers(answers_from_root_context(context))
        output_dir = Path(context["_output_dir"])
        keys_dir = Path(
            context.get("_keys_dir") or default_keys_dir(output_dir, platform.repo_name)
        ).absolute()
        clashing = keys.existing_keys(key_names(platform), keys_dir)
        if clashing:
            existing = keys_dir / keys.key_file_name(next(iter(clashing)))
            raise ScaffoldError(f"{existing} already exists; pass another _keys_dir")
        made = keys.new_keys(key_names(platform))
        build_repo(platform, project_dir.resolve(), {n: k.public for n, k in made.items()})
        keys.write_keys(keys_dir, made)  # last: cookiecutter removes the repo if this fails
    except (ScaffoldError, OSError, KeyboardInterrupt) as err:
        print(f"error: {err or 'interrupted'}", file=sys.stderr)
        return getattr(err, "exit_code", 1)
    print(f"Private age keys: {keys_dir} (keep them out of git)", file=sys.stderr)
    return 0


def add_tenant_from_cookiecutter(context: dict[str, Any], request_dir: Path) -> int:
    """`cookiecutter <checkout> --directory templates/<engine>/tenant`: the answers go to the
    same function as `gitops-scaffold add-tenant`; the request folder cookiecutter wrote
    outside the repo is removed once the tenant is in (on failure cookiecutter removes it)."""
    try:
        from scaffolder.commands.tenants import add_tenant
        from scaffolder.errors import ScaffoldError
        from scaffolder.summary import day2_summary
    except ImportError as error:
        return _missing(error, context.get("_repo_dir"))
    repo_dir = Path(context["_output_dir"], str(context["repo_dir"]))
    clusters = [c.strip() for c in str(context.get("clusters") or "").split(",") if c.strip()]
    try:
        result = add_tenant(
            repo_dir,
            str(context["tenant_name"]),
            clusters=clusters or None,
            repo_url=str(context.get("repo_url") or "") or None,
        )
    except ScaffoldError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was changed", file=sys.stderr)
        return 130
    print(day2_summary(f"Added tenant {context['tenant_name']}", result))
    shutil.rmtree(request_dir, ignore_errors=True)
    return 0
