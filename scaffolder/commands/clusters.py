"""`gitops-scaffold add-cluster` and `remove-cluster`: one spoke in or out of an existing repo.

A new spoke gets its own age key (written to the keys folder last, never over an existing
file: a key left there by an earlier spoke of that name is reused), its `.sops.yaml` rule and
its files. Removing a spoke keeps its private key: no key is ever deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaffolder import day2, keys
from scaffolder.answers_file import Append, Edit, Remove
from scaffolder.errors import UsageError
from scaffolder.generate import Units, default_keys_dir
from scaffolder.kubeconfig import Credentials, read_credentials
from scaffolder.model import PLATFORM_FILE, Platform
from scaffolder.repo_state import public_keys, read_answers


@day2.long_lived
def add_cluster(
    repo_dir: Path,
    name: str,
    *,
    env: str,
    region: str = "",
    keys_dir: Path | None = None,
    kubeconfig: Path | None = None,
    force: bool = False,
    commit: bool = False,
) -> day2.Result:
    """Add spoke ``name`` (env ``env``) to the repo at ``repo_dir``, with its own age key;
    with ``kubeconfig``, the hub's credentials for it go into its SOPS file, encrypted."""
    credentials = {name: read_credentials(kubeconfig)} if kubeconfig else {}
    repo_dir = repo_dir.absolute()
    current = read_answers(repo_dir)
    old = current.platform
    if any(c.name == name for c in old.clusters):
        raise UsageError(f"cluster {name} is already in {PLATFORM_FILE}; nothing was changed")
    entry: dict[str, Any] = {"name": name, "role": "spoke", "env": env}
    if region:
        entry["region"] = region
    answers, new = current.edited([Append(("clusters",), entry)])
    keys_dir = (keys_dir or default_keys_dir(repo_dir.parent, old.repo_name)).absolute()
    old_keys = public_keys(repo_dir, old)
    reused = keys.existing_keys([name], keys_dir)
    made = {} if reused else keys.new_keys([name])
    known = {**old_keys, **{n: k.public for n, k in reused.items()}}
    return _apply(
        repo_dir, old, new, answers, f"Add cluster {name}", force, commit,
        old_keys=known, new_keys=made, keys_dir=keys_dir, credentials=credentials,
    )  # fmt: skip


@day2.long_lived
def remove_cluster(
    repo_dir: Path, name: str, *, force: bool = False, commit: bool = False
) -> day2.Result:
    """Remove spoke ``name``. Refused while a tenant is placed only there, unless ``force``:
    then such tenants go too. The cluster's private key stays in the keys folder."""
    repo_dir = repo_dir.absolute()
    current = read_answers(repo_dir)
    old = current.platform
    if not any(c.name == name for c in old.clusters):
        raise UsageError(f"cluster {name} is not in {PLATFORM_FILE}; nothing was changed")
    if old.cluster(name).role == "hub":
        raise UsageError(f"cluster {name} is the hub; it cannot be removed")
    stranded = [t.name for t in old.tenants if t.clusters == (name,)]
    if stranded and not force:
        raise UsageError(
            f"tenant {stranded[0]} is placed only on {name}: move it first, or pass --force to "
            f"remove {'it' if len(stranded) == 1 else 'them'} ({', '.join(stranded)}) too; "
            "nothing was changed"
        )
    edits: list[Edit] = [Remove(("clusters", current.index_of("clusters", name) or 0))]
    tenants: list[Any] = current.data.get("tenants") or []
    for index, tenant in enumerate(tenants):
        placement = tenant.get("clusters") if isinstance(tenant, dict) else None
        if placement and name in placement:
            if len(placement) == 1:
                edits.append(Remove(("tenants", index)))
            else:
                edits.append(Remove(("tenants", index, "clusters", placement.index(name))))
    answers, new = current.edited(edits)
    return _apply(
        repo_dir, old, new, answers, f"Remove cluster {name}", force, commit,
        old_keys=public_keys(repo_dir, old),
    )  # fmt: skip


def _apply(
    repo_dir: Path, old: Platform, new: Platform, answers: str, message: str,
    force: bool, commit: bool, *, old_keys: dict[str, str],
    new_keys: dict[str, keys.NewKey] | None = None, keys_dir: Path | None = None,
    credentials: dict[str, Credentials] | None = None,
) -> day2.Result:  # fmt: skip
    tenants = day2.changed_tenants(old, new)
    change = day2.Change(
        repo_dir, old, new, answers, Units(tenants=tenants), old_keys,
        new_keys=new_keys or {}, keys_dir=keys_dir, credentials=credentials or {},
        message=f"{message} (gitops-scaffold)",
    )  # fmt: skip
    return day2.apply(change, force=force, commit=commit)
