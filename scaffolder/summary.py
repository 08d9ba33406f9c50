"""What `new` prints when it is done: where things are and what to do next."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from scaffolder.generate import GeneratedRepo
from scaffolder.model import Platform
from scaffolder.quoting import shell_word

if TYPE_CHECKING:
    from scaffolder.commands.update import CheckResult, UpdateResult
    from scaffolder.day2 import Result


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
            "",
            "Next steps:",
            f"  cd {shell_word(repo)}",
            f"  git remote add origin {shell_word(platform.git_url)}",
            f"  git push -u origin {shell_word(platform.git_branch)}",
            "  git push origin gitops-scaffold/pristine   # the record `update` merges from",
            f"  scripts/bootstrap.sh --keys-dir {keys_arg} --dry-run   # see every command",
            *_token_hint(platform),
            f"  scripts/bootstrap.sh --keys-dir {keys_arg}",
        ]
    )


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
        lines.append("An interrupted earlier command was rolled back first.")
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
        lines.append("An interrupted earlier command was rolled back first.")
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
