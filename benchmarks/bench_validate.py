"""Time `gitops-scaffold validate` on generated repos of two sizes, with its peak memory.

    python benchmarks/bench_validate.py [--engine flux|argocd|both] [--sizes 20x200,50x1000]
                                        [--jobs N] [--keep DIR] [--baseline REV]

Per engine and size (clusters x tenants: a hub, the rest spokes, tenants spread over the
spokes: each on one or two, every tenth on all of them), the repo is generated, then the real
CLI validates it twice in a fresh process (the second run shows the steady state: schema cache
warm, files in the page cache): wall time, CPU time of the process and its kustomize children,
and peak RSS (the largest of the process and its children, from wait4). The issue's targets
(the trust issue): 20x200 <= 5 s, 50x1000 <= 25 s, peak RSS <= 300 MB, on a 2-core machine.
Exit 1 when a target is missed. The machine is shared: the load average is printed with the
figures; compare runs made together. ``--baseline REV`` validates the same repos, in the same
run, with the validate of commit REV of this checkout too (its own two runs, alternating with
this tree's), and prints both with the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffolder.commands.new import new
from scaffolder.model import load_answers

CHECKOUT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = {"20x200": 5.0, "50x1000": 25.0}
TARGET_RSS_MB = 300.0


@dataclass
class Measure:
    wall: float
    cpu: float
    rss_mb: float
    findings: int


@dataclass
class Run:
    engine: str
    size: str
    files: int
    now: Measure
    baseline: Measure | None


def answers(engine: str, clusters: int, tenant_count: int) -> dict[str, Any]:
    envs = ("dev", "staging", "prod")
    spoke_count = clusters - 1
    spokes = [
        {"name": f"spoke-{i:02d}", "role": "spoke", "env": envs[i % 3], "region": "eu-west-1"}
        for i in range(spoke_count)
    ]
    tenants: list[dict[str, Any]] = []
    for i in range(tenant_count):
        tenant: dict[str, Any] = {"name": f"team-{i:04d}"}
        if i % 10:  # every tenth tenant lives on every spoke
            placement = {i % spoke_count, (i * 7 + 3) % spoke_count} if i % 2 else {i % spoke_count}
            tenant["clusters"] = [spokes[j]["name"] for j in sorted(placement)]
        tenants.append(tenant)
    return {
        "repo_name": "bench-platform",
        "git_url": "https://github.com/acme/bench-platform.git",
        "engine": engine,
        "clusters": [{"name": "hub", "role": "hub", "env": "mgmt"}, *spokes],
        "tenants": tenants,
        "sync": {"manual_envs": ["prod"]},
    }


def validate_once(
    repo: Path, jobs: int | None, schemas: list[str], workdir: Path, checkout: Path = CHECKOUT
) -> Measure:
    """Wall s, CPU s (the process and its kustomize children) and peak RSS MB of one
    `validate` process (the code of ``checkout``), and its number of findings."""
    argv = [sys.executable, "-m", "scaffolder", "validate", str(repo), "--format", "json"]
    argv += [f"--jobs={jobs}"] if jobs else []
    for location in schemas:
        argv += ["--schema-location", location]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    output = workdir / "validate.json"
    with output.open("wb") as stdout:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"validate of {repo} failed (exit {os.waitstatus_to_exitcode(status)})")
    findings = len(json.loads(output.read_text())["findings"])
    return Measure(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, findings)


def bench(
    engine: str, size: str, workdir: Path, jobs: int | None, schemas: list[str],
    baseline: Path | None,
) -> Run:  # fmt: skip
    clusters, tenants = (int(n) for n in size.split("x"))
    target = workdir / f"{engine}-{size}"
    repo = new(load_answers(answers(engine, clusters, tenants)), target, target / "keys")
    files = sum(1 for p in repo.repo_dir.rglob("*") if p.is_file() and ".git" not in p.parts)
    checkouts = [CHECKOUT] if baseline is None else [CHECKOUT, baseline]
    for checkout in checkouts:  # first runs: caches filled
        validate_once(repo.repo_dir, jobs, schemas, workdir, checkout)
    measured = [validate_once(repo.repo_dir, jobs, schemas, workdir, c) for c in checkouts]
    return Run(engine, size, files, measured[0], measured[1] if baseline else None)


def exported(revision: str, folder: Path) -> Path:
    """The tree of ``revision`` of this checkout, written into ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(CHECKOUT), "archive", "--format=tar", revision],
        capture_output=True, check=True,
    )  # fmt: skip
    folder.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def _shown(measure: Measure | None) -> str:
    if measure is None:
        return ""
    return f"{measure.wall:6.2f} / {measure.cpu:6.2f} / {measure.rss_mb:4.0f}"


def report(runs: list[Run], baseline: str | None) -> bool:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    columns = (
        f"{'engine':8} {'size':8} {'files':>6} {'wall s / CPU s / RSS MB':>24} {'findings':>8}"
    )
    if baseline:
        columns += f"  {'baseline ' + baseline:>24} {'wall ratio':>10}"
    print(columns + "  target")
    ok = True
    for run in runs:
        now = run.now
        target = TARGET_SECONDS.get(run.size)
        met = (target is None or now.wall <= target) and now.rss_mb <= TARGET_RSS_MB
        ok = ok and met and now.findings == 0
        line = f"{run.engine:8} {run.size:8} {run.files:6d} {_shown(now):>24} {now.findings:8d}"
        if run.baseline is not None:
            line += f"  {_shown(run.baseline):>24} {now.wall / run.baseline.wall:10.2f}"
        shown = f"<= {target:.0f} s, <= {TARGET_RSS_MB:.0f} MB" if target else ""
        print(f"{line}  {shown} {'ok' if met else 'MISSED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("flux", "argocd", "both"), default="both")
    parser.add_argument("--sizes", default="20x200,50x1000")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--schema-location", action="append", dest="schemas", default=[])
    parser.add_argument("--keep", type=Path, help="generate here and keep it")
    parser.add_argument("--baseline", metavar="REV", help="also time the validate of REV")
    args = parser.parse_args()
    engines = ("flux", "argocd") if args.engine == "both" else (args.engine,)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        workdir = args.keep or Path(tmp)
        baseline = exported(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        runs = [
            bench(e, s, workdir, args.jobs, args.schemas, baseline) for s in sizes for e in engines
        ]
    return 0 if report(runs, args.baseline) else 1


if __name__ == "__main__":
    sys.exit(main())
