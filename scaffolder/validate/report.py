"""Formatting a Report: a grouped human report (rich) and stable JSON for CI."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from scaffolder.validate.findings import Report

JSON_VERSION = 1


def to_json_data(report: Report) -> dict[str, Any]:
    """Stable: sorted findings, fixed keys, nothing that depends on timing or --jobs."""
    return {
        "version": JSON_VERSION,
        "path": report.path,
        "checks": list(report.categories),
        "findings": [
            {"check": f.check, "file": f.file, "line": f.line, "message": f.message}
            for f in report.findings
        ],
        "summary": {
            "ok": report.ok,
            "findings": len(report.findings),
            "files_with_findings": len(report.files_with_findings()),
            "by_check": report.counts(),
            "files": report.summary.files,
            "documents": report.summary.documents,
            "objects": report.summary.objects,
        },
        "notes": list(report.notes),
    }


def to_json(report: Report) -> str:
    return json.dumps(to_json_data(report), indent=2, sort_keys=False) + "\n"


def print_text(report: Report, console: Console) -> None:
    """Findings grouped by file, then one summary line with counts and elapsed time."""
    for file, group in groupby(report.findings, key=lambda f: f.file):
        findings = list(group)
        console.print(Text(file, style="bold underline"))
        for finding in findings:
            where = f"{finding.line:>5}" if finding.line else "     "
            console.print(
                f"  [dim]{where}[/]  [cyan]{finding.check:<32}[/] {escape(finding.message)}",
                soft_wrap=True,
                highlight=False,
            )
        console.print()
    for note in report.notes:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False, soft_wrap=True)
    summary = report.summary
    scope = (
        f"{_count(summary.files, 'file')}, {_count(summary.objects, 'object')}, "
        f"{_count(summary.builds, 'kustomize run')} in {summary.elapsed:.1f}s"
    )
    if report.ok:
        console.print(f"[bold green]✓ no findings[/] ({scope})", highlight=False, soft_wrap=True)
        return
    counts = ", ".join(f"{check} {n}" for check, n in report.counts().items())
    console.print(
        f"[bold red]✗ {_count(len(report.findings), 'finding')} in "
        f"{_count(len(report.files_with_findings()), 'file')}[/] ({counts}; {scope})",
        highlight=False,
        soft_wrap=True,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
