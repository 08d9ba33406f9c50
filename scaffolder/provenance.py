"""Where the running gitops-scaffold was installed from, for the CI of the repos it generates.

pip records a direct installation in the distribution's ``direct_url.json`` (PEP 610): for
``pip install "gitops-scaffold @ git+https://host/org/repo.git@REF"`` that is the URL and
the commit REF resolved to. A generated repo's CI can install exactly that commit again,
from that URL, and never looks the name up on a package index (where anyone could publish
a package of that name). An installation from an index, a local folder, an archive or an
editable checkout records no such source: then there is none to give.

Standard library only; the answers model decides which sources it accepts
(``model.check_gitops_scaffold_source``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata

DISTRIBUTION = "gitops-scaffold"


def vcs_requirement(direct_url: Mapping[str, object]) -> str:
    """``git+URL@COMMIT`` for a PEP 610 record of a git installation, else ``""``.

    Only a whole repository at a resolved commit counts: a ``subdirectory`` install, another
    VCS or a record without ``commit_id`` gives ``""``.
    """
    vcs_info = direct_url.get("vcs_info")
    url = direct_url.get("url")
    if not isinstance(vcs_info, Mapping) or not isinstance(url, str):
        return ""
    commit = vcs_info.get("commit_id")
    if vcs_info.get("vcs") != "git" or not isinstance(commit, str) or "subdirectory" in direct_url:
        return ""
    return f"git+{url}@{commit}"


@lru_cache(maxsize=1)
def installed_vcs_requirement() -> str:
    """The running installation's ``git+URL@COMMIT`` (see ``vcs_requirement``), or ``""``."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return ""
    if not text:
        return ""
    try:
        record = json.loads(text)
    except ValueError:
        return ""
    return vcs_requirement(record) if isinstance(record, dict) else ""
