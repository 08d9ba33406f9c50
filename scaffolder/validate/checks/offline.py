"""Builds stay offline and inside the repo: what kustomize is never asked to build.

kustomize fetches whatever a kustomization names remotely: resources, bases and components
(git clones), patches, generator files, crds, openapi schemas, and the paths inside the
builtin generator and transformer configs it runs. A pull request must not make a CI runner
send requests (SSRF), nor read files outside the checkout. So, before any build:

- every remote entry is a build/remote-resource finding, every path that resolves outside
  the repo (absolute, ``..`` beyond the root, a symbolic link out) a build/outside-repo
  finding, at the file and line that names it;
- no kustomization whose build would reach such an entry is built: neither it, nor any
  that includes it, however deep. Their objects are still checked as written, and the
  kustomizations they include that are clean are built on their own.

kustomize also runs in an environment that refuses the network (kustomize.py), but that
cannot stop a request to the runner's own loopback address: this static check is the guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from scaffolder.validate.documents import line_of
from scaffolder.validate.findings import Finding
from scaffolder.validate.kustomize import (
    Entry,
    KustomizationConfig,
    Role,
    flux_manifests,
    has_kustomization,
    mask_credentials,
    plugin_entries,
)
from scaffolder.validate.repo import Location, Repo

REMOTE_CHECK = "build/remote-resource"
OUTSIDE_CHECK = "build/outside-repo"
_NOT_BUILT = "this kustomization is not built, nor any that includes it"
_NOT_BUILT_PLUGIN = "the kustomizations that run it are not built, nor any that includes them"
_SHOWN_LENGTH = 200
# Entries kustomize builds as kustomizations of their own when they name a folder.
_BUILT_ROLES = (Role.RESOURCE, Role.COMPONENT, Role.PLUGIN)

Coverage = Callable[[str], Iterable[str]]  # the source files a build of a folder reads


def _shown(entry: Entry) -> str:
    text = mask_credentials(entry.value)
    return repr(text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 3] + "...")


class BuildGuard:
    """Which builds would fetch or read outside the repo, and the findings that say why."""

    def __init__(self, repo: Repo, coverage: Coverage) -> None:
        self.repo = repo
        self.coverage = coverage
        self._findings: set[Finding] = set()
        self._blocked: dict[str, bool] = {}  # kustomization folder -> not to be built
        self._generated_blocked: dict[str, bool] = {}  # Flux path without a kustomization
        self._keys: dict[tuple[Path, str], str | None] = {}

    def findings(self) -> list[Finding]:
        """Every kustomization's own findings, and those met while deciding what to build."""
        for folder in self.repo.kustomizations:
            self.blocked(folder)
        return sorted(self._findings, key=lambda f: f.sort_key)

    # ---------------------------------------------------------------- kustomizations

    def blocked(self, folder: str, visiting: frozenset[str] = frozenset()) -> bool:
        """Would building ``folder`` fetch, or read outside the repo, directly or through
        the kustomizations it builds?"""
        if folder in self._blocked:
            return self._blocked[folder]
        if folder in visiting:  # a cycle: kustomize refuses it
            return False
        config = self.repo.kustomization(folder)
        if config is None:
            return False
        own = self._own_problems(folder, config)
        included = [self.blocked(child, visiting | {folder}) for child in self._builds(config)]
        self._blocked[folder] = own or any(included)
        return self._blocked[folder]

    def _builds(self, config: KustomizationConfig) -> list[str]:
        """The repo folders with a kustomization that a build of ``config`` builds too."""
        keys = self._local_keys(config, *_BUILT_ROLES)
        return [key for key in keys if self._has_kustomization(key)]

    def _has_kustomization(self, key: str) -> bool:
        if key in self.repo.kustomizations:
            return True
        return key not in self.repo.files and has_kustomization(self.repo.path(key))

    def _plugin_files(self, config: KustomizationConfig) -> list[str]:
        """The files kustomize reads plugin configs from for ``config``: those its
        generators, transformers and validators name, and those the folders they name list."""
        found: list[str] = []
        for key in self._local_keys(config, Role.PLUGIN):
            found += self.coverage(key) if self.repo.is_dir(key) else [key]
        return found

    def _local_keys(self, config: KustomizationConfig, *roles: Role) -> list[str]:
        """Where the local entries with these roles really are in the repo (outside: left out)."""
        keys = (self._key(config, path) for path in config.local(*roles))
        return [key for key in keys if key is not None]

    def _key(self, config: KustomizationConfig, path: str) -> str | None:
        """Where ``path``, relative to ``config``, really is in the repo (memoised)."""
        if (config.folder, path) not in self._keys:
            self._keys[(config.folder, path)] = self.repo.key(config.resolve(path))
        return self._keys[(config.folder, path)]

    def _own_problems(self, folder: str, config: KustomizationConfig) -> bool:
        """Report the entries a build of ``folder`` reads (its own, and those of the plugin
        configs it runs) that are remote or outside the repo; True when there is one."""
        found = [
            self._finding(file, line, entry, problem, then)
            for file, line, entry, then in self._read_entries(folder, config)
            if (problem := self._problem(config, entry)) is not None
        ]
        self._findings.update(found)
        return bool(found)

    def _read_entries(
        self, folder: str, config: KustomizationConfig
    ) -> Iterator[tuple[str, int, Entry, str]]:
        """(file, line of its document, entry, what is not built) for every entry a build of
        ``folder`` reads. Plugin configs' paths are relative to ``folder`` too."""
        kfile = self.repo.kustomization_file(folder)
        source = self.repo.source(kfile)
        line = source.documents[0].line if source and source.documents else 1
        yield from ((kfile, line, entry, _NOT_BUILT) for entry in config.entries)
        for plugin_file in self._plugin_files(config):
            source = self.repo.source(plugin_file)
            for document in source.documents if source else ():
                for entry in plugin_entries(document.body):
                    yield plugin_file, document.line, entry, _NOT_BUILT_PLUGIN

    def _problem(self, config: KustomizationConfig, entry: Entry) -> tuple[str, str] | None:
        """(check, what is wrong) when kustomize would fetch ``entry`` or read it outside."""
        if entry.remote:
            return REMOTE_CHECK, "is remote: kustomize would fetch it, validate never does"
        if entry.local and self._key(config, entry.path) is None:
            return OUTSIDE_CHECK, "is outside the repository"
        return None

    def _finding(
        self, file: str, document_line: int, entry: Entry, problem: tuple[str, str], then: str
    ) -> Finding:
        check, what = problem
        source = self.repo.source(file)
        line = line_of(source.text, document_line, entry.field) if source else None
        return Finding(check, file, line, f"{entry.where}: {_shown(entry)} {what}; {then}")

    # ---------------------------------------------------------------- Flux paths

    def generated_blocked(self, folder: str, referrer: Location) -> bool:
        """Would Flux's build of a path without a kustomization (every manifest below it)
        read outside the repo, or build a kustomization that is blocked?"""
        if folder not in self._generated_blocked:
            entries = flux_manifests(self.repo.path(folder))
            outside = [p for p in entries if self.repo.key(p) is None]
            for path in outside:
                self._findings.add(self._outside_link(folder, path, referrer))
            children = [self.repo.key(p) for p in entries if p.is_dir()]
            blocked = [self.blocked(child) for child in children if child is not None]
            self._generated_blocked[folder] = bool(outside) or any(blocked)
        return self._generated_blocked[folder]

    def _outside_link(self, folder: str, path: Path, referrer: Location) -> Finding:
        return Finding(
            OUTSIDE_CHECK,
            referrer.file,
            referrer.line,
            f"path {folder}: {self.repo.rel(path)} is a symbolic link out of the repository; "
            "the path is not built",
        )
