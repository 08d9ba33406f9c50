"""`gitops-scaffold add-tenant` and `remove-tenant`: one tenant in or out of an existing repo.

Adding a tenant needs no private key: the new tenant's files and the derived files are
rendered from platform.yaml and the public keys in .sops.yaml (``scaffolder/day2.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scaffolder import day2
from scaffolder.answers_file import Append, Remove
from scaffolder.errors import UsageError
from scaffolder.generate import Units
from scaffolder.model import PLATFORM_FILE, Platform
from scaffolder.repo_state import public_keys, read_answers


@day2.long_lived
def add_tenant(
    repo_dir: Path,
    name: str,
    *,
    clusters: Sequence[str] | None = None,
    repo_url: str | None = None,
    path: str | None = None,
    sso_group: str | None = None,
    canary: bool = False,
    force: bool = False,
    commit: bool = False,
) -> day2.Result:
    """Add tenant ``name`` (on ``clusters``, default every spoke) to the repo at ``repo_dir``;
    ``canary``: with the sample canary app (the platform's progressive_delivery is canary)."""
    repo_dir = repo_dir.absolute()
    current = read_answers(repo_dir)
    old = current.platform
    if any(t.name == name for t in old.tenants):
        raise UsageError(f"tenant {name} is already in {PLATFORM_FILE}; nothing was changed")
    if canary and old.progressive_delivery != "canary":
        raise UsageError(
            f"--canary needs progressive_delivery: canary in {PLATFORM_FILE} (it is "
            f"{old.progressive_delivery}); nothing was changed"
        )
    entry: dict[str, Any] = {"name": name}
    optional = {"clusters": list(clusters) if clusters else None, "repo_url": repo_url,
                "path": path, "sso_group": sso_group}  # fmt: skip
    entry.update({key: value for key, value in optional.items() if value})
    if canary:
        entry["canary"] = True
    answers, new = current.edited([Append(("tenants",), entry)])
    return _apply(repo_dir, old, new, answers, f"Add tenant {name}", force, commit)


@day2.long_lived
def remove_tenant(
    repo_dir: Path, name: str, *, force: bool = False, commit: bool = False
) -> day2.Result:
    """Remove tenant ``name`` and the files this tool wrote for it (hand edits stay)."""
    repo_dir = repo_dir.absolute()
    current = read_answers(repo_dir)
    old = current.platform
    if not any(t.name == name for t in old.tenants):
        raise UsageError(f"tenant {name} is not in {PLATFORM_FILE}; nothing was changed")
    answers, new = current.edited([Remove(("tenants", current.index_of("tenants", name) or 0))])
    return _apply(repo_dir, old, new, answers, f"Remove tenant {name}", force, commit)


def _apply(
    repo_dir: Path, old: Platform, new: Platform, answers: str, message: str,
    force: bool, commit: bool,
) -> day2.Result:  # fmt: skip
    tenants = day2.changed_tenants(old, new)
    units = Units(clusters=day2.affected_clusters(old, new, tenants=tenants), tenants=tenants)
    change = day2.Change(
        repo_dir, old, new, answers, units, public_keys(repo_dir, old),
        message=f"{message} (gitops-scaffold)",
    )  # fmt: skip
    return day2.apply(change, force=force, commit=commit)
