"""An existing platform repo as the day-2 commands see it: its answers and its public keys.

Nothing here needs a private key: the public keys are read back from `.sops.yaml`.
"""

from __future__ import annotations

from pathlib import Path

from scaffolder import keys, sops
from scaffolder.answers_file import AnswersText
from scaffolder.errors import ScaffoldError, UsageError
from scaffolder.generate import SOPS_CONFIG
from scaffolder.model import PLATFORM_FILE, Platform


def read_answers(repo_dir: Path) -> AnswersText:
    """The platform.yaml of the repo at ``repo_dir``; a folder that is not one is refused."""
    path = repo_dir / PLATFORM_FILE
    if not repo_dir.is_dir():
        raise UsageError(f"--repo: {repo_dir} is not a folder")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"{repo_dir} is not a gitops-scaffold platform repo (no {PLATFORM_FILE}); "
            "pass --repo PATH or run the command in the repo"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {path}: {getattr(err, 'strerror', err)}") from None
    return AnswersText(text, str(path))


def read_platform(repo_dir: Path) -> Platform:
    """The answers of the repo at ``repo_dir``."""
    return read_answers(repo_dir).platform


def is_platform_repo(path: Path) -> bool:
    try:
        read_platform(path)
    except ScaffoldError:
        return False
    return True


def public_keys(repo_dir: Path, platform: Platform) -> dict[str, str]:
    """Every cluster's public key and the admin's, from the repo's .sops.yaml."""
    path = repo_dir / SOPS_CONFIG
    try:
        recipients = sops.read_recipients(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    found: dict[str, str] = {}
    for cluster in platform.clusters:
        pair = recipients.get(cluster.name)
        if not pair or len(pair) != 2:
            raise UsageError(
                f"{path} has no rule for cluster {cluster.name} (cluster key + admin key): "
                "it is derived from platform.yaml; restore it from git"
            )
        found[cluster.name], admin = pair
        if found.setdefault(keys.ADMIN_KEY, admin) != admin:
            raise UsageError(f"{path}: the rules name different admin keys")
    return found
