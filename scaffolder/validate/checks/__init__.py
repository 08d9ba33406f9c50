"""The checks of `gitops-scaffold validate`, one module per category.

Each check reads a `CheckContext` (the repo read once, the objects the builds produced) and
returns findings; none of them prints or exits. Findings about an object point at the file
and line it is written at, even when the object was seen in a build's output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from scaffolder.validate.documents import line_of
from scaffolder.validate.findings import Finding
from scaffolder.validate.repo import KubeObject, Repo


@dataclass
class CheckContext:
    repo: Repo
    jobs: int
    built: list[KubeObject] = field(default_factory=list)  # objects kustomize produced
    covered: set[str] = field(default_factory=set)  # source files some successful build read
    built_units: set[str] = field(default_factory=set)  # folders whose build succeeded
    # source files applied only through Flux Kustomizations that substitute variables
    substituted_only: set[str] = field(default_factory=set)
    builds: int = 0  # kustomize runs
    validated: int = 0  # distinct objects validated against schemas
    # source files no successful build read that a failed build did: their objects are seen
    # as written, not as applied (a namespace missing, say)
    unbuilt: set[str] = field(default_factory=set)
    # Work for this thread while kustomize runs (once): the schemas of the objects as written.
    meanwhile: Callable[[], None] | None = None

    def may_define(self, name: str) -> bool:
        """Whether ``name`` is written in a file that does not parse or whose build failed:
        an object it names may be there, and the finding for that file is the one to fix."""
        word = re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])")
        files = self.repo.files
        return any(
            word.search(files[rel].text)
            for rel in (*self.unbuilt, *(r for r, f in files.items() if f.error is not None))
            if rel in files
        )

    def objects(self) -> Iterator[KubeObject]:
        """Objects as they are applied: built ones, plus source files no build covered."""
        yield from self.built
        for obj in self.repo.source_objects():
            if obj.location.file not in self.covered:
                yield obj


def finding_at(
    repo: Repo, obj: KubeObject, check: str, message: str, field: Sequence[str | int] = ()
) -> Finding:
    """A finding about one object, at the line of ``field`` where the object is written."""
    line = obj.location.line
    source = repo.files.get(obj.location.file)
    if field and line is not None and source is not None:
        line = line_of(source.text, line, field)
    return Finding(check, obj.location.file, line, f"{obj.describe()}: {message}")


class ObjectChecks:
    """Checks over the objects as applied, listed once; ``at`` puts a finding on one."""

    def __init__(self, repo: Repo, objects: list[KubeObject]) -> None:
        self.repo = repo
        self.objects = objects

    def at(
        self, obj: KubeObject, check: str, message: str, field: Sequence[str | int] = ()
    ) -> Finding:
        return finding_at(self.repo, obj, check, message, field)
