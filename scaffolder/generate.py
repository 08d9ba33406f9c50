"""What a platform repo holds for given answers, and writing a new one.

``repo_files`` is the whole repo as files (the template units, .sops.yaml among the root's,
plus platform.yaml), in memory: `new` writes it into a staging folder; the day-2 commands
compare the units a change affects with what is on disk (``scaffolder/day2.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import scaffolder
from scaffolder import git, keys, pristine, sops, written
from scaffolder.files import write_new_tree
from scaffolder.model import PLATFORM_FILE, Platform, answers_yaml
from scaffolder.render import File, Files, Renderer

SOPS_CONFIG = ".sops.yaml"


@dataclass(frozen=True)
class GeneratedRepo:
    repo_dir: Path
    keys_dir: Path
    keys: dict[str, keys.AgeKey]
    encrypted: list[str]
    # SOPS files that still hold placeholder values, to fill in before bootstrapping
    placeholders: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file written (repo-relative)


PLACEHOLDER_VALUE = "REPLACE-"  # how every template writes a value the user must fill in


def placeholder_files(files: Files) -> list[str]:
    """The SOPS files among ``files`` (in plaintext) that hold a placeholder value."""
    return sorted(
        path
        for path, file in files.items()
        if sops.is_sops_file(path) and PLACEHOLDER_VALUE in file.content
    )


def default_keys_dir(output_dir: Path, repo_name: str) -> Path:
    return output_dir / f"{repo_name}.keys"


def key_names(platform: Platform) -> list[str]:
    """The age keys a platform needs: one per cluster, then the admin key."""
    return [c.name for c in platform.clusters] + [keys.ADMIN_KEY]


@dataclass(frozen=True)
class Units:
    """Which template units to render: the whole repo, or the parts a change affects (the
    root, .sops.yaml among its files, and the base are always rendered)."""

    clusters: Iterable[str] | None = None  # None: every cluster
    tenants: Iterable[str] | None = None  # None: every tenant


def render_units(platform: Platform, renderer: Renderer, units: Units = Units()) -> Files:
    files: Files = {**renderer.root(), **renderer.base()}
    clusters = set(units.clusters) if units.clusters is not None else None
    for cluster in platform.clusters:
        if clusters is None or cluster.name in clusters:
            files.update(renderer.cluster(cluster))
    tenants = set(units.tenants) if units.tenants is not None else None
    for tenant in platform.tenants:
        if tenants is None or tenant.name in tenants:
            files.update(renderer.tenant(tenant))
    return files


def repo_files(platform: Platform, public_keys: Mapping[str, str]) -> Files:
    """Every file of a new repo for these answers (SOPS files still in plaintext): the units
    (.sops.yaml with ``public_keys`` among the root's) and platform.yaml."""
    files = render_units(platform, Renderer(platform, public_keys))
    files[PLATFORM_FILE] = File(answers_yaml(platform))
    return files


class BuiltRepo(NamedTuple):
    files: list[str]  # every file written, .git aside
    encrypted: list[str]  # the files sops encrypted
    placeholders: list[str]  # those of them that hold placeholders


def build_repo(platform: Platform, repo_dir: Path, public_keys: Mapping[str, str]) -> BuiltRepo:
    """Write a whole new repo into the new folder ``repo_dir``: files, SOPS files encrypted
    from memory (their plaintext never touches the disk), one commit (and the first of the
    pristine record, ``scaffolder/pristine.py``).

    sops runs (in parallel processes) while the plain files are written.
    """
    files = repo_files(platform, public_keys)
    content = {path: (f.content.encode("utf-8"), f.executable) for path, f in files.items()}
    plaintexts = {path: file.content for path, file in files.items() if sops.is_sops_file(path)}
    for path in plaintexts:
        del content[path]
    sops_config = content.pop(SOPS_CONFIG)
    write_new_tree(repo_dir, {SOPS_CONFIG: sops_config})
    with ThreadPoolExecutor(max_workers=1) as background:
        encrypting = background.submit(
            sops.encrypt_texts, plaintexts, repo_dir / SOPS_CONFIG, cwd=repo_dir
        )
        write_new_tree(repo_dir, content)
        encrypted = encrypting.result()
    ciphertexts = {path: (text.encode("utf-8"), False) for path, text in encrypted.items()}
    write_new_tree(repo_dir, ciphertexts)
    content.update(ciphertexts)
    content[SOPS_CONFIG] = sops_config
    git.init(repo_dir, platform.git_branch)
    record = written.updated(written.empty(), {path: data for path, (data, _) in content.items()})
    write_new_tree(repo_dir, {path: (data, False) for path, data in record.items() if data})
    plain = {path: entry for path, entry in content.items() if path not in encrypted}
    del plain[PLATFORM_FILE]
    fingerprints = {path: pristine.plaintext_fingerprint(text) for path, text in plaintexts.items()}
    git.commit_new_tree(
        repo_dir, platform.git_branch, content,
        f"Initial {platform.engine} hub-spoke platform generated by gitops-scaffold",
        also=[pristine.new_commit(plain, fingerprints, scaffolder.__version__)],
    )  # fmt: skip
    return BuiltRepo(sorted(content), sorted(encrypted), placeholder_files(files))
