"""`gitops-scaffold workshop`: one independent platform repo per attendee, in one command.

Each attendee repo is made by ``new`` (atomic: staged beside the target, moved into place when
complete, its own age keys in ``<repo>.keys``) from the workshop profile: a hub and one spoke
sized for two local kind clusters, one tenant with the sample app and a canary, and
``workshop: true``, so the templates add ``scripts/kind-up.sh``, ``scripts/kind-down.sh`` and
``docs/workshop/`` (the model flag: ``validate``, the day-2 commands and ``update`` know them
as files of the repo like any other).

The repos are made in worker processes (``--jobs``, default: one per CPU): rendering is
CPU-bound Python, so threads would share one core. Workers ignore SIGINT, SIGTERM and SIGHUP;
on Ctrl-C the main process cancels what has not started, lets what runs finish (each
``new`` is all or nothing) and stops: only complete attendee repos are left, and the roster
and the handout, written last, only by a run that made every repo.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scaffolder.commands.new import new
from scaffolder.errors import UsageError
from scaffolder.files import write_atomic
from scaffolder.generate import default_keys_dir
from scaffolder.model import (
    Platform,
    check_repo_name,
    dump_answers,
    load_answers,
    read_answers_file,
    sibling_repo_url,
    with_engine,
)

MAX_ATTENDEES = 500
ROSTER = "roster.csv"
HANDOUT = "instructor-handout.md"

# The workshop profile: a hub and one spoke for two kind clusters on a laptop, one tenant
# with small quotas, the sample app (image automation) and a canary; no notifications (no
# chat to post to) and no External Secrets (no Vault). `--config` replaces it.
WORKSHOP_ANSWERS: dict[str, Any] = {
    "repo_name": "workshop",
    "git_url": "https://github.com/gitops-workshop/workshop.git",
    "engine": "flux",
    "clusters": [
        {"name": "hub", "role": "hub", "env": "mgmt"},
        {"name": "spoke", "role": "spoke", "env": "prod"},
    ],
    "tenants": [
        {"name": "team-a", "canary": True, "quota": {"cpu": "2", "memory": "2Gi", "pods": 20}}
    ],
    "secrets": {"sealed_secrets": True, "external_secrets": False},
    "notifications": {"enabled": False},
    "progressive_delivery": "canary",
    "workshop": True,
}

# (exercise page, title, minutes): the agenda of the handout and of docs/workshop/README.md
AGENDA = (
    ("01-bootstrap", "Bootstrap: two kind clusters and the GitOps engine", 25),
    ("02-add-a-tenant", "Add a tenant", 10),
    ("03-encrypted-secret", "Add and read an encrypted secret", 10),
    ("04-drift", "Drift gets corrected", 10),
    ("05-freeze", "Freeze prod and watch a change wait", 15),
    ("06-image-update", "An image update", 15),
    ("07-canary", "A canary", 20),
)


@dataclass(frozen=True)
class Attendee:
    number: int
    name: str
    repo_dir: Path
    keys_dir: Path


@dataclass(frozen=True)
class WorkshopResult:
    output_dir: Path
    attendees: list[Attendee]
    roster: Path
    handout: Path
    platform: Platform  # the profile (the first attendee's answers)


def workshop_profile(config: Path | None = None, engine: str | None = None) -> Platform:
    """The answers every attendee repo starts from: ``config``'s, else the workshop profile;
    always with ``workshop: true``."""
    platform = read_answers_file(config) if config is not None else load_answers(WORKSHOP_ANSWERS)
    return with_engine(replace(platform, workshop=True), engine)


def attendee_platforms(profile: Platform, attendees: int, prefix: str) -> list[Platform]:
    """One platform per attendee: ``<prefix>-01`` …, each with its own repository URL."""
    if not 1 <= attendees <= MAX_ATTENDEES:
        raise UsageError(f"--attendees: {attendees} is not between 1 and {MAX_ATTENDEES}")
    width = max(2, len(str(attendees)))
    platforms = []
    for number in range(1, attendees + 1):
        name = check_repo_name("--prefix", f"{prefix}-{number:0{width}d}")
        git_url = sibling_repo_url(profile.git_url, name)
        # read back as an answers file would be: every rule of the model holds for each
        platforms.append(
            load_answers({**dump_answers(profile), "repo_name": name, "git_url": git_url})
        )
    return platforms


def workshop(
    attendees: int,
    *,
    output_dir: Path = Path("."),
    config: Path | None = None,
    engine: str | None = None,
    prefix: str | None = None,
    jobs: int | None = None,
    progress: Callable[[Attendee], None] | None = None,
) -> WorkshopResult:
    """Make ``attendees`` workshop repos in ``output_dir``, then the roster and the handout."""
    profile = workshop_profile(config, engine)
    platforms = attendee_platforms(profile, attendees, prefix or profile.repo_name)
    output_dir = output_dir.expanduser().absolute()
    _check_targets(output_dir, platforms)
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs: {jobs} must be 1 or more")
    workers = min(jobs or os.cpu_count() or 1, attendees)
    made = _make_all(platforms, output_dir, workers, progress)
    made.sort(key=lambda a: a.number)
    roster = output_dir / ROSTER
    handout = output_dir / HANDOUT
    write_atomic(roster, roster_csv(output_dir, made))
    write_atomic(handout, handout_markdown(platforms[0], made))
    return WorkshopResult(output_dir, made, roster, handout, platforms[0])


def _report(progress: Callable[[Attendee], None] | None, attendee: Attendee) -> None:
    if progress is not None:
        progress(attendee)


def _make(platform: Platform, output_dir: Path) -> Attendee:
    result = new(platform, output_dir)
    number = int(platform.repo_name.rsplit("-", 1)[1])
    return Attendee(number, platform.repo_name, result.repo_dir, result.keys_dir)


def _ignore_signals() -> None:  # pragma: no cover - runs in the worker processes
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _make_all(
    platforms: list[Platform],
    output_dir: Path,
    workers: int,
    progress: Callable[[Attendee], None] | None,
) -> list[Attendee]:
    made: list[Attendee] = []
    if workers == 1:
        for platform in platforms:
            made.append(_make(platform, output_dir))
            _report(progress, made[-1])
        return made
    context = multiprocessing.get_context("fork")
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_signals)
    futures: list[Future[Attendee]] = []
    try:
        futures = [executor.submit(_make, p, output_dir) for p in platforms]
        for future in futures:
            made.append(future.result())
            _report(progress, made[-1])
    except BaseException:
        # Ctrl-C, a signal or a failed attendee: nothing new starts; what runs finishes (each
        # repo is all or nothing), so only complete repos are left.
        for future in futures:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    return made


def _check_targets(output_dir: Path, platforms: list[Platform]) -> None:
    """Nothing is written over: every repo, keys folder, the roster and the handout are new."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"--output-dir: {output_dir} exists and is not a folder")
    for platform in platforms:
        for target in (
            output_dir / platform.repo_name,
            default_keys_dir(output_dir, platform.repo_name),
        ):
            if target.exists() or target.is_symlink():
                raise UsageError(
                    f"{target} already exists: choose another --output-dir or --prefix; "
                    "nothing was written"
                )
    for name in (ROSTER, HANDOUT):
        if (output_dir / name).exists():
            raise UsageError(
                f"{output_dir / name} already exists: choose another --output-dir; nothing was "
                "written"
            )


def roster_csv(output_dir: Path, attendees: list[Attendee]) -> str:
    """attendee, repo, keys: paths relative to the roster's folder (hand the folder out)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["attendee", "repo", "keys"])
    for attendee in attendees:
        writer.writerow(
            [
                attendee.name,
                attendee.repo_dir.relative_to(output_dir).as_posix(),
                attendee.keys_dir.relative_to(output_dir).as_posix(),
            ]
        )
    return buffer.getvalue()


def handout_markdown(platform: Platform, attendees: list[Attendee]) -> str:
    """The instructor's handout: the set-up, the agenda with timings, the answers."""
    engine = "Flux" if platform.engine == "flux" else "Argo CD"
    hub, spoke = platform.hub, platform.spokes[0]
    tenant = platform.tenants[0].name if platform.tenants else "team-a"
    total = sum(minutes for _, _, minutes in AGENDA)
    flux = platform.engine == "flux"
    decrypts = (
        "Flux on the hub decrypts it for the spoke"
        if flux
        else "on Argo CD only the hub key, through bootstrap.sh"
    )
    heals = "at the next reconcile of the Kustomization" if flux else "by self-heal"
    freezes = (
        "suspend: true on every Kustomization and HelmRelease that applies to the spoke"
        if flux
        else "a deny sync window on the projects of the env"
    )
    lines = [
        f"# Instructor handout: GitOps workshop with {engine}",
        "",
        f"{len(attendees)} attendee repos, one per attendee (`{ROSTER}`: attendee, repo, keys). "
        "Give each attendee their repo folder and its keys folder, side by side: the exercises "
        "find the keys at `../<repo>.keys`. The keys are private: hand them over like a password.",
        "",
        "## Before the day",
        "",
        f"- Each attendee needs an empty Git repository at their repo's `git_url` "
        f"(`{platform.git_url}` for the first) and a token that may push to it, or generate "
        "again with `--config` naming your organisation's URL.",
        f"- Laptops: docker (4 CPUs, 8 GB for two kind clusters), kind, kubectl, sops, git, "
        f"gitops-scaffold{', flux' if platform.engine == 'flux' else ', helm'}. "
        "`gitops-scaffold doctor` lists what is missing.",
        "- Every exercise has `# offline` blocks that need no cluster: attendees without "
        "docker can still follow along.",
        "",
        f"## Agenda ({total} minutes of exercises, plus a 10-minute introduction)",
        "",
        "| time | exercise | minutes |",
        "| --- | --- | --- |",
        "| 0:00 | Introduction: the GitOps loop, hub and spokes, the repo's layout | 10 |",
    ]
    clock = 10
    for page, title, minutes in AGENDA:
        lines.append(
            f"| {clock // 60}:{clock % 60:02d} | [{title}](docs/workshop/{page}.md) | {minutes} |"
        )
        clock += minutes
    lines += [
        "",
        "## Answers",
        "",
        f"1. **Bootstrap**: `scripts/kind-up.sh` writes the spoke's internal kubeconfig "
        f"(`https://{spoke.name}-control-plane:6443`, reachable from the hub over docker's "
        "`kind` network) into the repo with sops. Common trouble: the push fails (no token, "
        "wrong remote), bootstrap refuses a `REPLACE-` placeholder (fill the Git token with "
        "`sops edit`), docker out of memory (one attendee per laptop).",
        "2. **Add a tenant**: `add-tenant` writes the tenant's folder and regenerates the files "
        "that list tenants from `platform.yaml`; `validate` shows no findings. Question: why "
        "is nothing applied before the push? (the engine applies Git, not the laptop).",
        f"3. **Encrypted secret**: the value is not in the file; `sops --decrypt` with the "
        f"admin key shows it. Question: who else can decrypt it? (the key of the cluster the "
        f"file is for: `.sops.yaml`'s rule for `clusters/<cluster>/`; "
        f"{decrypts}).",
        f"4. **Drift**: the deleted Service comes back "
        f"({heals}). "
        "Question: what if the change is made in Git instead? (that is the change).",
        f"5. **Freeze**: `freeze --env {spoke.env}` is a reviewable change: "
        f"{freezes}; "
        "the replica change waits, `unfreeze` restores the repo byte for byte and the change "
        "lands. Question: why can the hub's env not be frozen? (the unfreeze could not arrive).",
        f"6. **Image update**: the automation's commit bumps `ghcr.io/stefanprodan/podinfo` "
        f"to the newest 6.x in `tenants/{tenant}/sample-app/deployment.yaml`; `git pull` "
        "shows it. Question: who reviews that commit? (nobody: narrow the policy for prod).",
        f"7. **Canary**: the canary of `{tenant}` shifts traffic step by step and promotes "
        "only while the analysis passes; a failing analysis rolls back without a Git change.",
        "",
        f"Hub `{hub.name}`, spoke `{spoke.name}` (env `{spoke.env}`), tenant `{tenant}`, "
        f"engine {engine}.",
        "",
    ]
    return "\n".join(lines)
