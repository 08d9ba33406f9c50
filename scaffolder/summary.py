"""What `new` prints when it is done: where things are and what to do next."""

from __future__ import annotations

import os

from scaffolder.generate import GeneratedRepo
from scaffolder.model import Platform


def new_summary(platform: Platform, result: GeneratedRepo) -> str:
    repo = os.path.relpath(result.repo_dir)
    keys = os.path.relpath(result.keys_dir)
    spokes = ", ".join(c.name for c in platform.spokes)
    tenants = ", ".join(t.name for t in platform.tenants) or "none"
    return "\n".join(
        [
            f"Created {repo} ({platform.engine}): hub {platform.hub.name}; spokes {spokes}; "
            f"tenants {tenants}.",
            f"Private age keys: {keys}/ (mode 0600, never commit them).",
            f"{len(result.encrypted)} secrets encrypted with sops.",
            "",
            "Next steps:",
            f"  cd {repo}",
            f"  git remote add origin {platform.git_url} && git push -u origin {platform.git_branch}",
            f"  scripts/bootstrap.sh --keys-dir {keys} --dry-run   # see every command first",
            f"  scripts/bootstrap.sh --keys-dir {keys}",
        ]
    )
