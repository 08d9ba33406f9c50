"""The generated repo's version control: init and one initial commit."""

from __future__ import annotations

import os
from pathlib import Path

from scaffolder.errors import ToolFailedError
from scaffolder.tools import require, run

_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "gitops-scaffold",
    "GIT_AUTHOR_EMAIL": "gitops-scaffold@localhost",
    "GIT_COMMITTER_NAME": "gitops-scaffold",
    "GIT_COMMITTER_EMAIL": "gitops-scaffold@localhost",
}


def _identity_env(git: str, repo_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    try:
        run([git, "config", "user.email"], cwd=repo_dir)
    except ToolFailedError:  # no identity configured: commit as the tool
        for key, value in _FALLBACK_IDENTITY.items():
            env.setdefault(key, value)
    return env


def init_and_commit(repo_dir: Path, branch: str, message: str) -> None:
    git = require("git")
    run([git, "init", "--quiet", "--initial-branch", branch], cwd=repo_dir, what="git init")
    run([git, "add", "--all"], cwd=repo_dir, what="git add")
    run(
        [git, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message],
        cwd=repo_dir,
        env=_identity_env(git, repo_dir),
        what="git commit",
    )


def tracked_files(repo_dir: Path) -> list[str]:
    return run([require("git"), "ls-files", "-z"], cwd=repo_dir).split("\0")[:-1]
