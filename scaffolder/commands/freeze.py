"""`gitops-scaffold freeze` / `unfreeze`: a change freeze of one env, for both engines.

The freeze lives in platform.yaml (``freezes: [{env, until, reason, manual_sync}]``), the one
source of truth; the engine's files follow from it through the day-2 pipeline
(``scaffolder/day2.py``): Argo CD gets a deny sync window on every AppProject with
applications on the env's clusters (``argocd.sync_windows``), Flux gets the component
``clusters/<spoke>/freeze`` that sets ``spec.suspend: true`` on what applies to the env's
spokes. ``freezes`` is written last in platform.yaml and dropped with the last freeze, so
freeze then unfreeze leaves the repo byte for byte as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffolder import day2
from scaffolder.answers_file import Append, Drop, Edit, Remove
from scaffolder.errors import AnswersError, UsageError
from scaffolder.generate import Units
from scaffolder.model import (
    PLATFORM_FILE,
    Freeze,
    Platform,
    check_freeze_env,
    check_reason,
    check_until,
)
from scaffolder.repo_state import public_keys, read_answers, read_platform


@dataclass(frozen=True)
class FrozenEnv:
    """A freeze as ``freeze --list`` shows it: the env, its clusters and what platform.yaml says."""

    freeze: Freeze
    clusters: tuple[str, ...]


def _check_env(platform: Platform, env: str) -> None:
    try:
        check_freeze_env("--env", platform, env)
    except AnswersError as err:
        raise UsageError(f"{err}; nothing was changed") from None


@day2.long_lived
def freeze(
    repo_dir: Path,
    env: str,
    *,
    until: str = "",
    reason: str = "",
    manual_sync: bool = False,
    force: bool = False,
    commit: bool = False,
) -> day2.Result:
    """Freeze ``env``: nothing is synced to its clusters until ``unfreeze``."""
    repo_dir = repo_dir.absolute()
    current = read_answers(repo_dir)
    old = current.platform
    _check_env(old, env)
    if old.freeze_of(env) is not None:
        raise UsageError(f"env {env} is already frozen; nothing was changed")
    entry: dict[str, Any] = {"env": env}
    try:
        if until:
            entry["until"] = check_until("--until", until)
        if reason:
            entry["reason"] = check_reason("--reason", reason)
    except AnswersError as err:
        raise UsageError(f"{err}; nothing was changed") from None
    if manual_sync:
        entry["manual_sync"] = True
    answers, new = current.edited([Append(("freezes",), entry)])
    return _apply(repo_dir, old, new, answers, env, f"Freeze env {env}", force, commit)


@day2.long_lived
def unfreeze(repo_dir: Path, env: str, *, force: bool = False, commit: bool = False) -> day2.Result:
    """Lift the freeze of ``env``: the repo is as it was before ``freeze``."""
    repo_dir = repo_dir.absolute()
    current = read_answers(repo_dir)
    old = current.platform
    if env not in {c.env for c in old.clusters}:
        _check_env(old, env)
    if old.freeze_of(env) is None:
        raise UsageError(f"env {env} is not frozen ({PLATFORM_FILE} freezes); nothing was changed")
    index = [f.env for f in old.freezes].index(env)
    edit: Edit = Drop("freezes") if len(old.freezes) == 1 else Remove(("freezes", index))
    answers, new = current.edited([edit])
    return _apply(repo_dir, old, new, answers, env, f"Unfreeze env {env}", force, commit)


def list_freezes(repo_dir: Path) -> list[FrozenEnv]:
    """The frozen envs of the repo, as platform.yaml records them."""
    platform = read_platform(repo_dir.absolute())
    return [
        FrozenEnv(f, tuple(c.name for c in platform.clusters if c.env == f.env))
        for f in platform.freezes
    ]


def _apply(
    repo_dir: Path, old: Platform, new: Platform, answers: str, env: str, message: str,
    force: bool, commit: bool,
) -> day2.Result:  # fmt: skip
    clusters = {c.name for c in old.clusters if c.env == env}
    units = Units(clusters=clusters, tenants=day2.changed_tenants(old, new))
    change = day2.Change(
        repo_dir, old, new, answers, units, public_keys(repo_dir, old),
        message=f"{message} (gitops-scaffold)",
    )  # fmt: skip
    return day2.apply(change, force=force, commit=commit)
