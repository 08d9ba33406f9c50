"""What each command prints when it is done: where things are and what to do next.

Every command that writes or inspects a repo reports through one ``Report``: its summary
(``text``), what ``--verbose`` adds (``details``: every path written or deleted) and what
``--format json`` prints (``data``). The JSON of every command uses the same names for the
same things (README, "Output"):

- ``repo``: the repo's absolute path;
- ``written`` / ``deleted``: repo-relative paths the command wrote / deleted;
- ``left_alone``: ``[{path, reason}]``, files it did not touch that are yours to check;
- ``keys``: ``{key name: path}`` of the private age key files it wrote (paths only);
- ``keys_dir``: the folder of the private keys;
- ``encrypted``: repo-relative paths of the files sops encrypted (again);
- ``committed`` / ``recovered``: whether it made a commit / first rolled back an
  interrupted earlier command.

No report ever holds a secret: no private key, no value of a Secret (its data keys only).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaffolder.commands.new import NewPlan
from scaffolder.generate import SOPS_CONFIG, GeneratedRepo
from scaffolder.model import Platform, default_git_url
from scaffolder.quoting import shell_word

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from scaffolder.commands.freeze import FrozenEnv
    from scaffolder.commands.rotate import Rotation
    from scaffolder.commands.secrets import Added, Sealed, SecretEntry
    from scaffolder.commands.update import CheckResult, UpdateResult
    from scaffolder.commands.workshop import WorkshopResult
    from scaffolder.day2 import Result


# Said by every command that changes a repo when it first rolled back an interrupted one.
RECOVERED = "An interrupted earlier command was rolled back first."


@dataclass(frozen=True)
class Report:
    """What a command prints: ``text`` (its summary; nothing with --quiet), ``details``
    (added by --verbose) and ``data`` (--format json instead of both)."""

    text: str
    data: dict[str, Any]
    details: list[str] = field(default_factory=list)
    # text is the command's result itself (a manifest for stdout), not a message about it:
    # it is printed even with --quiet, and --verbose's details go to stderr beside it
    document: bool = False


def path_lines(written: Iterable[str] = (), deleted: Iterable[str] = ()) -> list[str]:
    """``--verbose``: every path a command wrote or deleted, one a line."""
    return [f"  wrote {p}" for p in written] + [f"  deleted {p}" for p in deleted]


def _left_alone(items: Iterable[Any]) -> list[dict[str, str]]:
    return [{"path": item.path, "reason": item.reason} for item in items]


def _review(repo_dir: Path, committed: bool) -> list[str]:
    if committed:
        return []
    return [
        f"Review with: git -C {shell_word(str(repo_dir))} status; "
        "then commit (or pass --commit next time)."
    ]


def _shown(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` when it lies below it, else absolute."""
    relative = os.path.relpath(path, start)
    return str(path) if relative.startswith("..") else relative


def new_summary(platform: Platform, result: GeneratedRepo, cwd: Path | None = None) -> str:
    cwd = (cwd or Path.cwd()).resolve()
    repo = _shown(result.repo_dir, cwd)
    keys = _shown(result.keys_dir, cwd)
    # The bootstrap commands run inside the repo: the keys folder as seen from there.
    keys_from_repo = os.path.relpath(result.keys_dir, result.repo_dir)
    spokes = ", ".join(c.name for c in platform.spokes)
    tenants = ", ".join(t.name for t in platform.tenants) or "none"
    # The next steps are commands to paste: every value in them is one quoted shell word.
    keys_arg = shell_word(keys_from_repo)
    return "\n".join(
        [
            f"Created {repo} ({platform.engine}): hub {platform.hub.name}; spokes {spokes}; "
            f"tenants {tenants}.",
            f"Private age keys: {keys}/ (one per cluster + admin; mode 0600, never commit them).",
            f"{len(result.encrypted)} secrets encrypted with sops; "
            "platform.yaml holds the answers.",
            *_example_url_warning(platform),
            "",
            "Next steps:",
            f"  cd {shell_word(repo)}",
            *_fill_in(result.placeholders, keys_from_repo),
            f"  git remote add origin {shell_word(platform.git_url)}",
            f"  git push -u origin {shell_word(platform.git_branch)}",
            "  git push origin gitops-scaffold/pristine   # the record `update` merges from",
            f"  scripts/bootstrap.sh --keys-dir {keys_arg} --dry-run   # see every command",
            *_token_hint(platform),
            f"  scripts/bootstrap.sh --keys-dir {keys_arg}",
        ]
    )


def _fill_in(placeholders: list[str], keys_from_repo: str) -> list[str]:
    """The commands that fill in each placeholder value (bootstrap.sh refuses them)."""
    if not placeholders:
        return []
    admin_key = shell_word(os.path.join(keys_from_repo, "admin.agekey"))
    lines = [
        f"  # fill in the {len(placeholders)} encrypted files that hold REPLACE-... "
        "placeholders (bootstrap.sh refuses them); the admin key opens every file:",
        f"  export SOPS_AGE_KEY_FILE={admin_key}",
    ]
    return lines + [f"  sops edit {shell_word(path)}" for path in placeholders]


def _example_url_warning(platform: Platform) -> list[str]:
    if platform.git_url != default_git_url(platform.repo_name):
        return []
    return [
        f"Note: git_url is the example {platform.git_url}, written into many files: generate "
        "again with --set git_url=<your repository> (or edit platform.yaml and pass --config)."
    ]


def _token_hint(platform: Platform) -> list[str]:
    """flux bootstrap over https pushes with a token: from GIT_PASSWORD (or its prompt)."""
    if platform.engine != "flux" or not platform.git_url.startswith("https://"):
        return []
    return ["  # https: export GIT_PASSWORD=<a token that may push> first (else flux asks)"]


def _headline(done: str, committed: bool, recovered: bool) -> list[str]:
    """The first lines of a repo-changing command's summary: what it did, and whether an
    interrupted command was rolled back first."""
    return [done + (", committed." if committed else "."), *([RECOVERED] if recovered else [])]


def day2_summary(what: str, result: Result) -> str:
    """What a day-2 command did, what it left alone and why, and what comes next."""
    repo = result.repo_dir.name
    lines = _headline(
        f"{what} in {repo}: {len(result.written)} files written, {len(result.deleted)} deleted",
        result.committed,
        result.recovered,
    )
    for key in result.keys.values():
        lines.append(f"New private age key: {key.path} (mode 0600, never commit it).")
    if result.left_alone:
        lines.append("Left alone (yours to check):")
        lines += [f"  {item.path}: {item.reason}" for item in result.left_alone]
    lines += _review(result.repo_dir, result.committed)
    return "\n".join(lines)


def _key_paths(keys: dict[str, Any]) -> dict[str, str]:
    return {name: str(key.path) for name, key in sorted(keys.items())}


def new_data(platform: Platform, result: GeneratedRepo) -> dict[str, Any]:
    """What ``new --format json`` prints: where everything went, what is left to fill in."""
    return {
        "repo": str(result.repo_dir),
        "engine": platform.engine,
        "written": result.files,
        "keys_dir": str(result.keys_dir),
        "keys": _key_paths(result.keys),
        "encrypted": result.encrypted,
        "placeholders": result.placeholders,
        "example_git_url": platform.git_url == default_git_url(platform.repo_name),
        "committed": True,
    }


def new_report(platform: Platform, result: GeneratedRepo) -> Report:
    keys = [f"  key {key.path}" for _, key in sorted(result.keys.items())]
    return Report(
        new_summary(platform, result), new_data(platform, result),
        path_lines(result.files) + keys,
    )  # fmt: skip


def plan_report(plan: NewPlan) -> Report:
    action = "replace" if plan.replaces else "create"
    text = (
        f"Would {action} {plan.repo_dir} with {len(plan.files)} files (and its git history); "
        f"{len(plan.new_keys)} new private keys in {plan.keys_dir}"
        + (f", {len(plan.reused_keys)} reused" if plan.reused_keys else "")
        + ". Nothing was written."
    )
    details = [f"  {path}" for path in plan.files]
    details += [f"  {path} (new key, mode 0600)" for path in plan.new_keys]
    return Report(text, plan_data(plan), details)


def plan_data(plan: NewPlan) -> dict[str, Any]:
    return {
        "dry_run": True,
        "repo": str(plan.repo_dir),
        "replaces": plan.replaces,
        "keys_dir": str(plan.keys_dir),
        "files": plan.files,
        "new_keys": [str(p) for p in plan.new_keys],
        "reused_keys": [str(p) for p in plan.reused_keys],
        "placeholders": plan.placeholders,
    }


def day2_data(result: Result) -> dict[str, Any]:
    return {
        "repo": str(result.repo_dir),
        "written": result.written,
        "deleted": result.deleted,
        "left_alone": _left_alone(result.left_alone),
        "keys": _key_paths(result.keys),
        "committed": result.committed,
        "recovered": result.recovered,
    }


def day2_report(what: str, result: Result) -> Report:
    """add/remove-tenant, add/remove-cluster, freeze, unfreeze."""
    return Report(
        day2_summary(what, result), day2_data(result),
        path_lines(result.written, result.deleted),
    )  # fmt: skip


def rotation_report(done: Rotation) -> Report:
    written = sorted([*done.rotated, SOPS_CONFIG])
    data = {
        "repo": str(done.repo_dir),
        "rotated_key": done.name,
        "written": written,
        "encrypted": done.rotated,
        "keys": {done.name: str(done.key.path)},
        "old_key": None if done.kept is None else str(done.kept),
        "pruned": [str(p) for p in done.pruned],
        "committed": done.committed,
        "recovered": done.recovered,
        "next_steps": done.next_steps,
    }
    details = [*path_lines(written), f"  new key {done.key.path}"]
    details += [] if done.kept is None else [f"  kept the old key as {done.kept}"]
    details += [f"  deleted the old key {p}" for p in done.pruned]
    return Report(rotation_summary(done), data, details)


def rotation_summary(done: Rotation) -> str:
    """What `secrets rotate` did, and the commands that put the new key where it is used."""
    lines = _headline(
        f"Rotated the {done.name} age key in {done.repo_dir.name}: {len(done.rotated)} files "
        "encrypted again (new data keys), .sops.yaml updated",
        done.committed,
        done.recovered,
    )
    lines.append(f"New private age key: {done.key.path} (mode 0600, never commit it).")
    if done.kept is not None:
        lines.append(f"The old key is kept as {done.kept} until you rotate with --prune-old.")
    lines += [f"Deleted the old key {path} (--prune-old)." for path in done.pruned]
    lines += done.next_steps
    lines += _review(done.repo_dir, done.committed)
    return "\n".join(lines)


# --------------------------------------------------------------------------- secrets


def secrets_report(repo_dir: Path, entries: Sequence[SecretEntry]) -> Report:
    """`secrets list`: metadata only (never a value). --verbose adds each SOPS file's
    recipients with their public age keys."""
    data = {"repo": str(repo_dir.absolute()), "secrets": [asdict(e) for e in entries]}
    details = []
    for entry in entries:
        if entry.recipients:
            details.append(f"  {entry.path}:")
            details += [f"    {r.key}: {r.public_key}" for r in entry.recipients]
    if details:
        details.insert(0, "Recipients (public age keys):")
    return Report(_secrets_text(entries), data, details)


def _secrets_text(entries: Sequence[SecretEntry]) -> str:
    if not entries:
        return "No secrets in this repo."
    lines = []
    for entry in entries:
        where = f"{entry.namespace}/{entry.name}" if entry.namespace else entry.name or "-"
        line = f"{entry.path}  [{entry.mechanism}] {entry.kind} {where}"
        line += f"  cluster: {entry.cluster or '-'}"
        if entry.mechanism == "sops":
            opened = ", ".join(r.key for r in entry.recipients) or "nobody"
            line += f"  opened by: {opened}  last rotated: {entry.last_rotated or '-'}"
        if entry.detail:
            line += f"  ({entry.detail})"
        if entry.state != "ok":
            line += f"  !! {entry.state}"
        lines.append(line)
    counts = {m: sum(e.mechanism == m for e in entries) for m in ("sops", "sealed", "external")}
    lines.append(
        f"{len(entries)} secrets: {counts['sops']} sops, {counts['sealed']} sealed, "
        f"{counts['external']} external."
    )
    return "\n".join(lines)


def added_report(added: Added) -> Report:
    """`secrets add`: where the encrypted Secret went; its data keys, never a value."""
    lines = _headline(
        f"Added {added.path} in {added.repo_dir.name} (keys: {', '.join(added.data_keys)}; "
        "encrypted by sops from memory, no plaintext written)",
        added.committed,
        added.recovered,
    )
    if added.listed_in:
        lines.append(f"Listed in {added.listed_in}.")
    lines.append(f"Applied by {added.applied_by}.")
    lines += _review(added.repo_dir, added.committed)
    data = {
        "repo": str(added.repo_dir),
        "written": added.written,
        "encrypted": [added.path],
        "secret": {
            "path": added.path, "name": added.name, "namespace": added.namespace,
            "cluster": added.cluster, "data_keys": added.data_keys,
        },
        "listed_in": added.listed_in,
        "applied_by": added.applied_by,
        "committed": added.committed,
        "recovered": added.recovered,
    }  # fmt: skip
    return Report("\n".join(lines), data, path_lines(added.written))


def sealed_report(sealed: Sealed) -> Report:
    """`secrets seal`: the SealedSecret itself (stdout), or where it was written."""
    data = {
        "secret": {
            "name": sealed.name, "namespace": sealed.namespace, "data_keys": sealed.data_keys,
        },
        "scope": sealed.scope,
        "cert": str(sealed.cert),
        "via": sealed.via,
        "output": None if sealed.output is None else str(sealed.output),
        # sealed: only the controller holding the certificate's private key can open it
        "sealed_secret": sealed.text if sealed.output is None else None,
    }  # fmt: skip
    details = [
        f"  sealed {', '.join(sealed.data_keys)} for the certificate {sealed.cert} "
        f"(with {sealed.via}, scope {sealed.scope})"
    ]
    if sealed.output is None:
        return Report(sealed.text, data, details, document=True)
    text = (
        f"Sealed {sealed.namespace}/{sealed.name} ({sealed.scope}) into {sealed.output} "
        f"for the certificate {sealed.cert} (with {sealed.via})."
    )
    return Report(text, data, [f"  wrote {sealed.output}", *details])


# --------------------------------------------------------------------------- others


def workshop_report(result: WorkshopResult) -> Report:
    text = (
        f"Made {len(result.attendees)} workshop repos ({result.platform.engine}) in "
        f"{result.output_dir}: roster {result.roster.name}, handout {result.handout.name}."
    )
    data = {
        "output_dir": str(result.output_dir),
        "engine": result.platform.engine,
        "roster": str(result.roster),
        "handout": str(result.handout),
        "attendees": [
            {"attendee": a.name, "repo": str(a.repo_dir), "keys_dir": str(a.keys_dir)}
            for a in result.attendees
        ],
    }
    details = [f"  {a.name}: {a.repo_dir} (keys {a.keys_dir})" for a in result.attendees]
    return Report(text, data, details)


def freezes_report(repo_dir: Path, frozen: Sequence[FrozenEnv]) -> Report:
    """`freeze --list`."""
    lines = []
    for f in frozen:
        until = f" until {f.freeze.until}" if f.freeze.until else ""
        reason = f": {f.freeze.reason}" if f.freeze.reason else ""
        lines.append(f"{f.freeze.env} ({', '.join(f.clusters)}) frozen{until}{reason}")
    data = {
        "repo": str(repo_dir.absolute()),
        "freezes": [{**asdict(f.freeze), "clusters": list(f.clusters)} for f in frozen],
    }
    return Report("\n".join(lines) or "No env is frozen.", data)


def _from_to(old: str, new: str) -> str:
    if not old:
        return f"to gitops-scaffold {new} (the version that wrote it is not recorded)"
    return f"from gitops-scaffold {old} to {new}"


def update_summary(result: UpdateResult) -> str:
    """What update did (or would do); never a success line over a conflict."""
    repo = result.repo_dir.name
    versions = _from_to(result.old_version, result.new_version)
    lines = []
    if result.recovered:
        lines.append(RECOVERED)
    added = {path for path in result.written if not (result.repo_dir / path).exists()}
    if result.dry_run:
        changed = result.changed
        lines.append(
            f"Dry run: update of {repo} {versions} would change {len(changed)} files "
            "(nothing was written):"
            if changed
            else f"Dry run: update of {repo} {versions} would change no file."
        )
        for path in changed:
            kind = (
                "conflict" if path in result.conflicts
                else "delete" if path in result.deleted
                else "add" if path in added
                else "update"
            )  # fmt: skip
            lines.append(f"  {kind:<8} {path}")
        lines.append(f"Base: {result.base}.")
    elif result.conflicts:
        lines.append(
            f"Update of {repo} {versions}: {len(result.conflicts)} conflicts, "
            f"{len(result.written)} files written, {len(result.deleted)} deleted. Not done: "
            "resolve each conflict, then commit:"
        )
        rejects = {reject.removesuffix(".rej"): reject for reject in result.rejects}
        for path in result.conflicts:
            where = f" (your version kept; theirs in {rejects[path]})" if path in rejects else ""
            lines.append(f"  CONFLICT {path}{where}")
    elif not result.changed and result.old_version == result.new_version and not result.notes:
        lines.append(f"{repo} is up to date with gitops-scaffold {result.new_version}.")
    else:
        lines.append(
            f"Updated {repo} {versions}: {len(result.written)} files written, "
            f"{len(result.deleted)} deleted."
        )
    if result.notes:
        lines.append("Left alone (yours to check):")
        lines += [f"  {note.path}: {note.reason}" for note in result.notes]
    nothing = not result.changed and result.old_version == result.new_version
    if not result.dry_run and not nothing:
        lines.append(
            f"Review with: git -C {shell_word(str(result.repo_dir))} status; then commit "
            "(and push the branch gitops-scaffold/pristine with it)."
        )
    return "\n".join(lines)


def check_summary(result: CheckResult) -> str:
    repo = result.repo_dir.name
    recorded = f"gitops-scaffold {result.recorded}" if result.recorded else "an unrecorded version"
    if result.newer_recorded:
        return (
            f"{repo} was written by {recorded}, newer than this one ({result.running}): "
            "nothing to update."
        )
    if result.up_to_date:
        return f"{repo} is up to date with gitops-scaffold {result.running}."
    files = len(result.differing)
    return (
        f"Update available for {repo}: written by {recorded}, this is gitops-scaffold "
        f"{result.running} ({files} generated files differ from {result.base}); run "
        "`gitops-scaffold update`."
    )


def update_report(result: UpdateResult) -> Report:
    """`update`: a dry run lists each path in its text already; a real one with --verbose."""
    data = {
        "repo": str(result.repo_dir),
        "dry_run": result.dry_run,
        "recorded_version": result.old_version,
        "running_version": result.new_version,
        "base": result.base,
        "written": result.written,
        "deleted": result.deleted,
        "conflicts": result.conflicts,
        "rejects": result.rejects,
        "left_alone": _left_alone(result.notes),
        "recovered": result.recovered,
    }
    details = path_lines(result.written, result.deleted)
    details += [f"  conflict {p}" for p in result.conflicts]
    details += [f"  wrote {p}" for p in result.rejects]
    return Report(update_summary(result), data, [] if result.dry_run else details)


def check_report(result: CheckResult) -> Report:
    data = {
        "repo": str(result.repo_dir),
        "up_to_date": result.up_to_date,
        "recorded_version": result.recorded,
        "running_version": result.running,
        "newer_recorded": result.newer_recorded,
        "base": result.base,
        "differing": result.differing,
    }
    return Report(check_summary(result), data, [f"  differs {p}" for p in result.differing])
