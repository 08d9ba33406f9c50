"""`gitops-scaffold validate`: offline, strict checks of a platform repo.

Offline unless asked: no kustomization that names a remote entry is built, and schemas
are fetched only for ``--schema-location catalog`` or a URL template.

``validate(path, ...)`` is the Python API and returns a Report; the CLI only formats it.
Order: read every file once (YAML syntax), build the kustomizations (in parallel), then
schemas, cross-references, secret hygiene, tenant isolation, the Flux and Argo CD rules, RBAC
and the repo's scripts over what was read and built.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path

from scaffolder.errors import ScaffoldError, ToolMissingError, UsageError
from scaffolder.model import PLATFORM_FILE, parse_answers_text
from scaffolder.validate.checks import CheckContext
from scaffolder.validate.checks.argocd_rules import check_argocd
from scaffolder.validate.checks.builds import check_builds
from scaffolder.validate.checks.flux_rules import check_flux
from scaffolder.validate.checks.rbac import check_rbac
from scaffolder.validate.checks.references import check_references
from scaffolder.validate.checks.schema import SchemaProblems, check_schemas
from scaffolder.validate.checks.scripts import check_scripts
from scaffolder.validate.checks.secrets import check_secrets
from scaffolder.validate.checks.tenancy import check_tenancy
from scaffolder.validate.findings import CATEGORIES, Finding, Report, Summary, category
from scaffolder.validate.kustomize import kustomize_command
from scaffolder.validate.repo import Repo, load_repo
from scaffolder.validate.schemas import (
    DEFAULT_KUBERNETES_VERSION,
    DEFAULT_LOCATION,
    SchemaCache,
    SchemaLocationError,
    SchemaStore,
)

# What is still said when platform.yaml does not read (besides build, schema, secrets, scripts).
_WITHOUT_PLATFORM = {"yaml/syntax", "refs/platform-invalid"}

# The checks that run over what was read and built, in order, by category.
_CHECKS: dict[str, Callable[[CheckContext], list[Finding]]] = {
    "refs": check_references,
    "secrets": check_secrets,
    "tenancy": check_tenancy,
    "flux": check_flux,
    "argocd": check_argocd,
    "rbac": check_rbac,
    "scripts": check_scripts,
}

# The categories whose checks need the objects kustomize builds.
_NEEDS_BUILDS = {"build", "schema", "refs", "tenancy", "flux", "argocd", "rbac"}


def _syntax(repo: Repo) -> list[Finding]:
    return [
        Finding("yaml/syntax", s.relative, s.error.line, s.error.problem)
        for s in repo.files.values()
        if s.error is not None
    ]


def _categories(only: Iterable[str] | None) -> tuple[str, ...]:
    chosen = set(only or CATEGORIES)
    unknown = chosen - set(CATEGORIES)
    if unknown:
        raise UsageError(
            f"--only: unknown check {sorted(unknown)[0]!r} (choose from {', '.join(CATEGORIES)})"
        )
    chosen.add("yaml")  # every other check reads the parsed files
    return tuple(c for c in CATEGORIES if c in chosen)


def _schema_store(locations: Sequence[str] | None, kubernetes_version: str) -> SchemaStore:
    try:
        return SchemaStore(
            list(locations) if locations else [DEFAULT_LOCATION],
            kubernetes_version,
            cache=SchemaCache.default(),
        )
    except (SchemaLocationError, ValueError) as err:
        raise UsageError(str(err)) from None


def _check_schemas(
    ctx: CheckContext, store: SchemaStore, problems_of: SchemaProblems
) -> list[Finding]:
    """Schema findings; a schema location whose schemas turn out unusable is a usage error."""
    try:
        return check_schemas(ctx, store, problems_of)
    except SchemaLocationError as err:
        raise UsageError(str(err)) from None


def platform_root(start: Path) -> Path | None:
    """The folder holding platform.yaml: ``start`` or the nearest one above it, never above
    the root of the git work tree ``start`` is in."""
    folder = start.absolute()
    for candidate in (folder, *folder.parents):
        if (candidate / PLATFORM_FILE).is_file():
            return start if candidate == folder else candidate
        if (candidate / ".git").exists():
            return None
    return None


def _require_answers(root: Path) -> None:
    """An empty platform.yaml (nothing but comments, say) is refused: every platform check
    would be skipped, or run against made-up defaults."""
    try:
        answers = parse_answers_text(
            (root / PLATFORM_FILE).read_text(encoding="utf-8"), PLATFORM_FILE
        )
    except (OSError, UnicodeDecodeError, ScaffoldError):
        return  # reported as a finding (refs/platform-invalid) by the checks
    if answers is None:
        raise UsageError(
            f"{root / PLATFORM_FILE} is empty: restore it (git checkout -- {PLATFORM_FILE}); "
            "the platform checks need its clusters and tenants"
        )


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """A large repo is a few million small objects, nearly all alive until the report: the
    cycle collector would walk them over and over (a tenth of the CPU time at 50 clusters and
    1000 tenants). It runs less often meanwhile."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@_fewer_collections()
def validate(
    path: Path | str = ".",
    *,
    schema_locations: Sequence[str] | None = None,
    kubernetes_version: str | None = None,
    jobs: int | None = None,
    only: Iterable[str] | None = None,
    any_folder: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Check the platform repo at ``path`` (or the one it is in); raises UsageError when it
    cannot be checked. ``any_folder`` checks a folder without platform.yaml as a plain
    kustomize tree (tenants are then the values of the tenant label). ``progress`` is told
    each step as it starts (the CLI shows it on a terminal)."""
    step = progress or (lambda _: None)
    started = time.perf_counter()
    given = Path(path)
    if not given.exists():
        raise UsageError(f"{path}: no such folder")
    if not given.is_dir():
        raise UsageError(f"{path}: not a folder")
    notes: list[str] = []
    root = given
    if any_folder:
        found = None
    else:
        found = platform_root(given)
        if found is None:
            raise UsageError(
                f"{path} is not a gitops-scaffold platform repo (no {PLATFORM_FILE} in it or in "
                "a folder above it, up to its git root): pass the repo's folder, or --any-folder "
                "to check a plain kustomize tree"
            )
        _require_answers(found)
        if found.resolve() != given.resolve():
            root = found
            notes.append(f"checked the whole platform repo {found} (the folder of {PLATFORM_FILE})")
    categories = _categories(only)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise UsageError(f"--jobs: {jobs} must be at least 1")
    version = kubernetes_version or DEFAULT_KUBERNETES_VERSION
    store = _schema_store(schema_locations, version) if "schema" in categories else None
    needs_builds = not _NEEDS_BUILDS.isdisjoint(categories)
    if needs_builds:
        try:
            kustomize_command()
        except ToolMissingError as err:
            raise UsageError(f"{err} (or leave builds out: --only secrets)") from None

    step(f"reading {root}")
    repo = load_repo(root)
    ctx = CheckContext(repo, jobs)
    problems_of = SchemaProblems(store) if store is not None else None
    if problems_of is not None:
        ctx.meanwhile = partial(problems_of.warm, repo)
    findings = _syntax(repo)
    if needs_builds:
        step(f"building {len(repo.kustomizations)} kustomizations ({len(repo.files)} YAML files)")
    build_findings = check_builds(ctx) if needs_builds else []
    if "build" in categories:
        findings += build_findings
    step("checking schemas, references and rules")
    if store is not None and problems_of is not None:
        findings += _check_schemas(ctx, store, problems_of)
    for name, check in _CHECKS.items():
        if name in categories:
            findings += check(ctx)

    platform_file = repo.files.get(PLATFORM_FILE)
    if found is not None and repo.platform is None and platform_file is not None:
        # platform.yaml does not read: what the checks would say without its clusters and
        # tenants only follows from that (one mistake, one finding).
        findings = [f for f in findings if f.check in _WITHOUT_PLATFORM or category(f.check)
                    in ("build", "schema", "secrets", "scripts")]  # fmt: skip
        notes.append(
            f"{PLATFORM_FILE} cannot be read: the checks that need its clusters and tenants "
            "were skipped until it is fixed"
        )
    elif repo.platform is None and repo.platform_problem is None:
        notes.append(
            "no platform.yaml: platform checks skipped; tenants are the values of the "
            "gitops-scaffold.io/tenant label"
        )
    summary = Summary(
        files=len(repo.files) + len(repo.text_files),
        documents=repo.documents,
        objects=ctx.validated,
        builds=ctx.builds,
        elapsed=time.perf_counter() - started,
    )
    return Report(
        str(root if found is not None and root != given else path),
        categories,
        findings,
        summary,
        notes,
    )
