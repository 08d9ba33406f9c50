"""Time `gitops-scaffold validate` on a 20-cluster / 200-tenant generated repo.

    python benchmarks/bench_validate.py [--engine flux|argocd|both] [--jobs N] [--keep DIR]

Generates the repo (1 hub, 19 spokes, 200 tenants spread over the spokes: each on one or two
spokes, every tenth on all of them) into a temporary folder, then validates it twice (the
second run shows the steady state: schema cache warm, files in the page cache) and prints the
figures. The target: under 15 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scaffolder.commands.new import new
from scaffolder.commands.validate import validate
from scaffolder.model import load_answers

SPOKES = 19
TENANTS = 200


def answers(engine: str) -> dict[str, Any]:
    envs = ("dev", "staging", "prod")
    spokes = [
        {"name": f"spoke-{i:02d}", "role": "spoke", "env": envs[i % 3], "region": "eu-west-1"}
        for i in range(SPOKES)
    ]
    tenants: list[dict[str, Any]] = []
    for i in range(TENANTS):
        tenant: dict[str, Any] = {"name": f"team-{i:03d}"}
        if i % 10:  # every tenth tenant lives on every spoke
            placement = {i % SPOKES, (i * 7 + 3) % SPOKES} if i % 2 else {i % SPOKES}
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


def bench(engine: str, workdir: Path, jobs: int | None, schemas: list[str] | None) -> bool:
    started = time.perf_counter()
    repo = new(load_answers(answers(engine)), workdir / engine, workdir / f"{engine}.keys")
    generated = time.perf_counter() - started
    files = sum(1 for p in repo.repo_dir.rglob("*") if p.is_file() and ".git" not in p.parts)
    print(f"{engine}: generated {files} files in {generated:.1f}s")
    ok = True
    for attempt in ("first run", "second run"):
        before = os.times()
        report = validate(repo.repo_dir, schema_locations=schemas, jobs=jobs)
        after = os.times()
        cpu = sum(after[i] - before[i] for i in range(4))  # this process and kustomize
        s = report.summary
        print(
            f"{engine}: validate {attempt}: {s.elapsed:.2f}s wall, {cpu:.2f}s CPU  "
            f"({s.files} files, {s.documents} documents, {s.objects} objects validated, "
            f"{s.builds} kustomize builds, {len(report.findings)} findings)"
        )
        for finding in report.findings[:10]:
            print(f"    {finding.file}:{finding.line or ''} {finding.check} {finding.message}")
        ok = ok and s.elapsed < 15
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=("flux", "argocd", "both"), default="both")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--schema-location", action="append", dest="schemas")
    parser.add_argument("--keep", type=Path, help="generate here and keep it")
    args = parser.parse_args()
    engines = ("flux", "argocd") if args.engine == "both" else (args.engine,)
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        workdir = args.keep or Path(tmp)
        results = [bench(e, workdir, args.jobs, args.schemas) for e in engines]
    print("all under 15 s" if all(results) else "SLOWER than 15 s")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
