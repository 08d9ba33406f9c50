"""The pipeline of every command that changes an existing repo (add/remove tenant or cluster).

1. The answers change (``answers_file``): the new platform.yaml text and the new model.
2. The template units the change can affect are rendered for the old and the new answers,
   with the files derived from the whole model: what this tool wrote before, and what it
   writes now. No other file is ever touched.
3. The plan compares them with the disk: a file this tool wrote and nobody edited since is
   rewritten or deleted; a hand-edited one is left alone and reported (``--force``
   overrides); an encrypted file is never rewritten (its values are the user's) and is only
   deleted when git holds it as it is.
4. New SOPS files are encrypted from memory (the plaintext never exists in the repo).
5. Everything lands through ``landing.land``, in one ``Transaction`` with the record of
   written files and the pristine record: all of it, or the repo as it was. New keys are
   written last, and `--commit` makes one commit of exactly the changed paths.
"""

from __future__ import annotations

import functools
import gc
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ParamSpec, TypeVar

from scaffolder import keys, pristine, sops, written
from scaffolder.context import changed_tenant_views
from scaffolder.generate import SOPS_CONFIG, Units, render_units
from scaffolder.kubeconfig import Credentials
from scaffolder.landing import land
from scaffolder.model import PLATFORM_FILE, Platform
from scaffolder.render import File, Files, Renderer

_P = ParamSpec("_P")
_R = TypeVar("_R")


def long_lived(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """A day-2 command runs without passes of Python's cyclic garbage collector.

    It reads platform.yaml into objects that live until it ends (1000 tenants: some hundred
    thousand), and each pass over the oldest generation walks every one of them again, to
    free nothing: a cost that grows with the tenants the command leaves alone (at 50 clusters
    and 1000 tenants, more than rendering the new tenant). Reference counting still frees
    what goes out of use as the command runs; the collector is as it was when it returns."""

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return command(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return run


@dataclass(frozen=True)
class LeftAlone:
    path: str
    reason: str


@dataclass
class Plan:
    writes: Files = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    left_alone: list[LeftAlone] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    """What a day-2 command did to the repo (and to the keys folder)."""

    repo_dir: Path
    written: list[str]
    deleted: list[str]
    left_alone: list[LeftAlone]
    keys: dict[str, keys.AgeKey]
    committed: bool
    recovered: bool  # an earlier, interrupted command was rolled back first


@dataclass(frozen=True)
class Change:
    """One change of the answers, ready to be applied to a repo."""

    repo_dir: Path
    old: Platform
    new: Platform
    answers_text: str  # the new platform.yaml
    units: Units
    old_keys: Mapping[str, str]  # public keys before the change
    new_keys: Mapping[str, keys.NewKey] = field(default_factory=dict)
    keys_dir: Path | None = None
    # a new cluster's credentials, written into its SOPS files (encrypted from memory)
    credentials: Mapping[str, Credentials] = field(default_factory=dict)
    message: str = ""


def changed_tenants(old: Platform, new: Platform) -> set[str]:
    """Tenants whose rendered files may differ: added, removed, or whose view changed (e.g.
    a tenant on every spoke when a spoke comes or goes)."""
    return changed_tenant_views(old, new)


def files_of(
    platform: Platform, units: Units, public_keys: Mapping[str, str],
    wanted: Callable[[str], bool] | None = None,
    credentials: Mapping[str, Credentials] | None = None,
) -> Files:  # fmt: skip
    views = {name: c.view() for name, c in (credentials or {}).items()}
    return render_units(platform, Renderer(platform, public_keys, wanted, views), units)


def _on_disk(repo_dir: Path, relative: str) -> str | None:
    try:
        return (repo_dir / relative).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, UnicodeDecodeError):
        return None


def plan(repo_dir: Path, old: Files, new: Files, record: Mapping[str, str], *, force: bool) -> Plan:
    """What to write, delete and leave alone. ``old`` is what this tool wrote for the old
    answers; a file of it that is not rendered is one the ``record`` knows to be unedited."""
    result = Plan()
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        current = _on_disk(repo_dir, path)
        if after is not None and current == after.content:
            continue  # already as it should be
        if sops.is_sops_file(path):
            _plan_encrypted(repo_dir, path, before, after, current, record, result)
        elif after is None:
            if current is None:
                continue
            if _as_written(before, current) or force:
                result.deletes.append(path)
            else:
                result.left_alone.append(LeftAlone(path, "edited by hand: not deleted"))
        elif current is None or _as_written(before, current) or force:
            result.writes[path] = after
        elif current != after.content:
            reason = "edited by hand: not rewritten" if before else "not written by this tool"
            result.left_alone.append(LeftAlone(path, reason))
    return result


def _as_written(before: File | None, current: str) -> bool:
    """Whether the disk holds what this tool wrote (an unrendered file: the record says so)."""
    return before is not None and (not before.rendered or current == before.content)


def _plan_encrypted(
    repo_dir: Path, path: str, before: File | None, after: File | None, current: str | None,
    record: Mapping[str, str], result: Plan,
) -> None:  # fmt: skip
    if after is not None and current is None:
        result.writes[path] = after
    elif after is None and current is not None:
        if written.deletable(repo_dir, path, record):
            result.deletes.append(path)  # an untouched placeholder, or git holds it as it is
        else:
            result.left_alone.append(
                LeftAlone(path, "encrypted, filled in and not committed: delete it yourself")
            )
    elif after is not None and before is not None:
        result.left_alone.append(
            LeftAlone(path, "encrypted: its values are yours; the template changed, see the README")
        )


def apply(change: Change, *, force: bool = False, commit: bool = False) -> Result:
    new_public = {**change.old_keys, **{n: k.public for n, k in change.new_keys.items()}}
    new_public = {n: k for n, k in new_public.items() if n == keys.ADMIN_KEY or _has(change.new, n)}
    new_files = files_of(change.new, change.units, new_public, credentials=change.credentials)
    # What this tool wrote before matters only where the disk differs from what it writes
    # now, or for files it no longer writes: only those are rendered for the old answers.
    # A plain file the record shows unedited needs no old content either.
    record = written.read(change.repo_dir)
    stale = {p for p, f in new_files.items() if _on_disk(change.repo_dir, p) != f.content}

    def wanted(path: str) -> bool:
        if path in new_files and path not in stale:
            return False
        return sops.is_sops_file(path) or not written.unchanged(change.repo_dir, path, record)

    old_files = files_of(change.old, change.units, change.old_keys, wanted)
    steps = plan(change.repo_dir, old_files, new_files, record, force=force)
    content = encrypted_content(change.repo_dir, steps.writes, new_files[SOPS_CONFIG].content)
    content[PLATFORM_FILE] = (change.answers_text.encode("utf-8"), False)
    # What is written now, and what is already as this tool writes it (which completes the
    # record of a clone that had none).
    fingerprints = {p: f.content.encode("utf-8") for p, f in new_files.items() if p not in stale}
    fingerprints.update({path: data for path, (data, _) in content.items()})
    new_keys = (
        keys.written_until_failure(change.keys_dir, change.new_keys)
        if change.new_keys and change.keys_dir
        else None
    )
    landed = land(
        change.repo_dir, content, deletes=steps.deletes, fingerprinted=fingerprints,
        generated=_generated(change, old_files, new_files, steps, new_public),
        message=change.message, commit=commit, point="day2", outside=new_keys,
        outside_point="keys",
    )  # fmt: skip
    return Result(
        change.repo_dir,
        landed.written,
        steps.deletes,
        steps.left_alone,
        landed.outside or {},
        commit,
        landed.recovered,
    )


def _generated(
    change: Change, old_files: Files, new_files: Files, steps: Plan, new_public: Mapping[str, str]
) -> pristine.Change:
    """The changed files for the pristine branch (``scaffolder/pristine.py``), as this version
    generates them; a file left alone keeps what was generated for it before, so `update`
    merges the change into the hand edit later."""
    kept = {item.path for item in steps.left_alone}
    generated = pristine.change_of(
        {path: file for path, file in new_files.items() if path not in kept},
        removed=[path for path in old_files if path not in new_files and path not in kept],
    )
    if change.credentials and generated.fingerprints:  # the placeholders, never credentials
        bare = files_of(change.new, change.units, new_public, wanted=sops.is_sops_file)
        fingerprints = {
            p: pristine.plaintext_fingerprint(bare[p].content) for p in generated.fingerprints
        }
        generated = replace(generated, fingerprints=fingerprints)
    return generated


def _has(platform: Platform, cluster: str) -> bool:
    return any(c.name == cluster for c in platform.clusters)


def encrypted_content(
    repo_dir: Path, writes: Files, sops_config: str
) -> dict[str, tuple[bytes, bool]]:
    """Every file to write, as bytes; SOPS files encrypted from memory with the new rules."""
    pending = {path: file for path, file in writes.items() if sops.is_sops_file(path)}
    content = {
        path: (file.content.encode("utf-8"), file.executable)
        for path, file in writes.items()
        if path not in pending
    }
    if pending:
        with tempfile.TemporaryDirectory(prefix="gitops-scaffold-sops-") as tmp:
            config = Path(tmp) / SOPS_CONFIG
            config.write_text(sops_config, encoding="utf-8")
            encrypted = sops.encrypt_texts(
                {path: file.content for path, file in pending.items()}, config, cwd=repo_dir
            )
        content.update({path: (text.encode("utf-8"), False) for path, text in encrypted.items()})
    return content


def affected_clusters(*platforms: Platform, tenants: Iterable[str]) -> set[str]:
    """The clusters the given tenants are placed on, in any of the platforms."""
    names = set(tenants)
    return {
        cluster
        for platform in platforms
        for tenant in platform.tenants
        if tenant.name in names
        for cluster in platform.placement(tenant)
    }
