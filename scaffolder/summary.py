"""What `new` prints when it is done: where things are and what to do next."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaffolder.commands.new import NewPlan
from scaffolder.generate import GeneratedRepo
from scaffolder.model import Platform, default_git_url
from scaffolder.quoting import shell_word

if TYPE_CHECKING:
    from scaffolder.commands.rotate import Rotation
    from scaffolder.commands.update import CheckResult, UpdateResult
    from scaffolder.day2 import Result


# Said by every command that changes a repo when it first rolled back an interrupted one.
RECOVERED = "An interrupted earlier command was rolled back first."


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


def day2_summary(what: str, result: Result) -> str:
    """What a day-2 command did, what it left alone and why, and what comes next."""
    repo = result.repo_dir.name
    lines = [
        f"{what} in {repo}: {len(result.written)} files written, "
        f"{len(result.deleted)} deleted" + (", committed." if result.committed else "."),
    ]
    if result.recovered:
        lines.append(RECOVERED)
    for key in result.keys.values():
        lines.append(f"New private age key: {key.path} (mode 0600, never commit it).")
    if result.left_alone:
        lines.append("Left alone (yours to check):")
        lines += [f"  {item.path}: {item.reason}" for item in result.left_alone]
    if not result.committed:
        lines.append(
            f"Review with: git -C {shell_word(str(result.repo_dir))} status; "
            "then commit (or pass --commit next time)."
        )
    return "\n".join(lines)


def new_data(platform: Platform, result: GeneratedRepo) -> dict[str, Any]:
    """What ``new --format json`` prints: where everything went, what is left to fill in."""
    return {
        "repo": str(result.repo_dir),
        "engine": platform.engine,
        "keys_dir": str(result.keys_dir),
        "keys": {name: str(key.path) for name, key in sorted(result.keys.items())},
        "encrypted": result.encrypted,
        "placeholders": result.placeholders,
        "example_git_url": platform.git_url == default_git_url(platform.repo_name),
    }


def plan_summary(plan: NewPlan, *, verbose: bool) -> str:
    action = "replace" if plan.replaces else "create"
    lines = [
        f"Would {action} {plan.repo_dir} with {len(plan.files)} files (and its git history); "
        f"{len(plan.new_keys)} new private keys in {plan.keys_dir}"
        + (f", {len(plan.reused_keys)} reused" if plan.reused_keys else "")
        + ". Nothing was written.",
    ]
    if verbose:
        lines += [f"  {path}" for path in plan.files]
        lines += [f"  {path} (new key, mode 0600)" for path in plan.new_keys]
    return "\n".join(lines)


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
        "left_alone": [{"path": i.path, "reason": i.reason} for i in result.left_alone],
        "keys": {name: str(key.path) for name, key in sorted(result.keys.items())},
        "committed": result.committed,
        "recovered": result.recovered,
    }


def day2_files(result: Result) -> list[str]:
    """``--verbose``: every path the command wrote or deleted."""
    return [f"  wrote {p}" for p in result.written] + [f"  deleted {p}" for p in result.deleted]


def rotation_summary(done: Rotation) -> str:
    """What `secrets rotate` did, and the commands that put the new key where it is used."""
    lines = [
        f"Rotated the {done.name} age key in {done.repo_dir.name}: {len(done.rotated)} files "
        "encrypted again (new data keys), .sops.yaml updated"
        + (", committed." if done.committed else "."),
    ]
    if done.recovered:
        lines.append(RECOVERED)
    lines.append(f"New private age key: {done.key.path} (mode 0600, never commit it).")
    if done.kept is not None:
        lines.append(f"The old key is kept as {done.kept} until you rotate with --prune-old.")
    lines += [f"Deleted the old key {path} (--prune-old)." for path in done.pruned]
    lines += done.next_steps
    if not done.committed:
        lines.append(
            f"Review with: git -C {shell_word(str(done.repo_dir))} status; "
            "then commit (or pass --commit next time)."
        )
    return "\n".join(lines)


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
