"""Formatting a Report: a grouped human report (rich), stable JSON, and for CI SARIF 2.1.0
(code scanning) and GitHub Actions workflow commands (annotations on a pull request)."""

from __future__ import annotations

import json
import posixpath
from itertools import groupby
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from scaffolder import __version__
from scaffolder.validate.findings import CHECKS, Finding, Report

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


def _workspace_path(report: Report, finding: Finding) -> str:
    """A finding's file relative to where validate ran (CI tools resolve paths from there)."""
    if posixpath.isabs(report.path) or report.path in ("", "."):
        return finding.file
    return posixpath.normpath(posixpath.join(report.path, finding.file))


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def to_sarif(report: Report) -> str:
    """One SARIF 2.1.0 run: a rule per check id that fired, a result per finding (level error)."""
    rule_ids = sorted({f.check for f in report.findings})
    index = {rule: i for i, rule in enumerate(rule_ids)}
    results = []
    for finding in report.findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": _workspace_path(report, finding)}}
        if finding.line:
            location["region"] = {"startLine": finding.line}
        results.append(
            {
                "ruleId": finding.check,
                "ruleIndex": index[finding.check],
                "level": "error",
                "message": {"text": finding.message},
                "locations": [{"physicalLocation": location}],
            }
        )
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gitops-scaffold validate",
                        "version": __version__,
                        "rules": [
                            {"id": rule, "shortDescription": {"text": CHECKS[rule]}}
                            for rule in rule_ids
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(report: Report) -> str:
    """GitHub Actions ``::error`` workflow commands, one per finding, then a summary line."""
    lines = []
    for finding in report.findings:
        properties = [f"file={_escape_property(_workspace_path(report, finding))}"]
        if finding.line:
            properties.append(f"line={finding.line}")
        properties.append(f"title={_escape_property(finding.check)}")
        lines.append(f"::error {','.join(properties)}::{_escape_data(finding.message)}")
    for note in report.notes:
        lines.append(f"::notice::{_escape_data(note)}")
    total = len(report.findings)
    lines.append("no findings" if report.ok else f"{total} finding{'s' if total != 1 else ''}")
    return "\n".join(lines) + "\n"


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
