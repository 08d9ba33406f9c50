"""Time `gitops-scaffold secrets rotate` on a 20-cluster repo (the CLI, as a person runs it).

    python benchmarks/bench_secrets.py [--engine flux|argocd|both] [--runs N]

Generates the 20-cluster / 200-tenant repo of bench_validate.py per engine, then times, with
the real CLI in a subprocess (interpreter start included): rotating the hub's key (the
cluster with the most SOPS files: with Flux, each spoke's kubeconfig, Git credentials and
webhook address live under the hub), a spoke's key, and the admin key (every SOPS file of
the repo). Each is run N times (each run rotates the key again, with --prune-old) and the
median is printed with the CPU time it took (the CLI and its sops processes: what a busy
machine cannot inflate) and the load average. The target: under 3 s each on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_validate import answers
from scaffolder.commands.new import new
from scaffolder.model import load_answers
from scaffolder.sops import find_sops_files

TARGET = 3.0
CHECKOUT = Path(__file__).resolve().parent.parent


def rotate_once(repo: Path, keys: Path, which: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (the CLI and its sops processes) of one rotation."""
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "scaffolder", "secrets", "rotate", *which, "--repo", str(repo),
         "--keys-dir", str(keys), "--prune-old"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"rotate {' '.join(which)} failed: {done.stderr.strip()}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return elapsed, cpu


def bench(engine: str, workdir: Path, runs: int) -> bool:
    repo = new(load_answers(answers(engine)), workdir / engine, workdir / f"{engine}.keys")
    total = len(find_sops_files(repo.repo_dir))
    print(f"{engine}: {total} SOPS files in a 20-cluster repo")
    ok = True
    for label, which in (
        ("hub key", ["--cluster", "hub"]),
        ("spoke key", ["--cluster", "spoke-07"]),
        ("admin key", ["--admin"]),
    ):
        runs_done = [rotate_once(repo.repo_dir, repo.keys_dir, which) for _ in range(runs)]
        times = [wall for wall, _ in runs_done]
        median = statistics.median(times)
        cpu = statistics.median(c for _, c in runs_done)
        ok = ok and median <= TARGET
        print(
            f"  rotate {label:9}: median {median:.2f}s of {runs} (min {min(times):.2f}s), "
            f"CPU {cpu:.2f}s; load {os.getloadavg()[0]:.1f}"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=("flux", "argocd", "both"), default="both")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    engines = ("flux", "argocd") if args.engine == "both" else (args.engine,)
    with tempfile.TemporaryDirectory(prefix="bench-secrets-") as tmp:
        ok = all([bench(engine, Path(tmp), args.runs) for engine in engines])
    print(f"target: under {TARGET:.0f} s each: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
