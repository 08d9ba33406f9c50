"""Time `gitops-scaffold new --no-input` end to end: the real CLI in a subprocess.

    python benchmarks/bench_new.py [--runs N] [--engine flux|argocd|both] [--profile]

Each run is a fresh process (imports, rendering, age keys, every sops call, git) writing into
its own temporary folder, with an empty $HOME. Prints min / median / max wall time per
engine. The target: under 2 s on a 2-core machine. --profile adds `python -X importtime`'s
ten slowest imports and a cProfile summary of one run per engine.
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

TARGET_SECONDS = 2.0
ENGINES = ("flux", "argocd")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SOPS_"))}
    env["HOME"] = str(home)
    return env


def _new(engine: str, root: Path, python_flags: list[str]) -> subprocess.CompletedProcess[str]:
    home = root / "home"
    home.mkdir()
    argv = [sys.executable, *python_flags, "-m", "scaffolder", "new", "--no-input"]
    argv += ["--engine", engine, "--output-dir", str(root / "out")]
    done = subprocess.run(argv, env=_env(home), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"gitops-scaffold new failed ({engine}): {done.stderr.strip()}")
    return done


def time_runs(engine: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-new-") as tmp:
            start = time.perf_counter()
            _new(engine, Path(tmp), [])
            times.append(time.perf_counter() - start)
    return times


def profile(engine: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-new-") as tmp:
        done = _new(engine, Path(tmp), ["-X", "importtime"])
        imports = []
        for line in done.stderr.splitlines():
            if line.startswith("import time:") and "|" in line:
                _, cumulative, name = line.removeprefix("import time:").split("|")
                if cumulative.strip().isdigit():
                    imports.append((int(cumulative), name.rstrip()))
        print(f"  slowest imports ({engine}, cumulative):")
        for micros, name in sorted(imports, reverse=True)[:10]:
            print(f"    {micros / 1000:7.1f} ms {name}")
    with tempfile.TemporaryDirectory(prefix="bench-new-") as tmp:
        stats = Path(tmp) / "new.prof"
        _new(engine, Path(tmp), ["-m", "cProfile", "-o", str(stats)])
        import pstats

        print(f"  cProfile ({engine}), by cumulative time:")
        pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", choices=[*ENGINES, "both"], default="both")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    engines = ENGINES if args.engine == "both" else (args.engine,)

    slow = False
    print(f"gitops-scaffold new --no-input, {args.runs} runs per engine, {os.cpu_count()} CPUs")
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="bench-new-") as warmup:
            _new(engine, Path(warmup), [])  # not timed: fills the page cache
        times = time_runs(engine, args.runs)
        worst = max(times)
        slow |= statistics.median(times) > TARGET_SECONDS
        print(
            f"  {engine:7} min {min(times):.2f} s  median {statistics.median(times):.2f} s  "
            f"max {worst:.2f} s  (target < {TARGET_SECONDS:.0f} s)"
        )
        if args.profile:
            profile(engine)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
