"""The command line: parses options, calls one command function, turns errors into one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from scaffolder import __version__
from scaffolder.errors import ScaffoldError, UsageError
from scaffolder.model import ENGINES, Platform, default_platform, read_answers_file, with_engine


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gitops-scaffold", description=__doc__)
    parser.add_argument("--version", action="version", version=f"gitops-scaffold {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    new = commands.add_parser("new", help="generate a new platform repository")
    new.add_argument("--config", type=Path, metavar="FILE", help="answers file (platform.yaml)")
    new.add_argument("--no-input", action="store_true", help="ask nothing; use defaults")
    new.add_argument("--output-dir", type=Path, default=Path("."), metavar="DIR")
    new.add_argument("--keys-dir", type=Path, metavar="KDIR", help="default: DIR/<repo>.keys")
    new.add_argument("--engine", choices=ENGINES)
    new.add_argument("--force", action="store_true", help="replace an existing repo folder")

    validate = commands.add_parser("validate", help="check a platform repository (offline)")
    validate.add_argument("path", nargs="?", default=".", metavar="PATH", help="default: .")
    validate.add_argument(
        "--schema-location",
        action="append",
        metavar="LOC",
        dest="schema_locations",
        help="folder or URL template of CRD schemas (repeatable): 'default' = the bundled ones "
        "(offline, used when none is given), 'catalog' = the public CRDs catalog (fetched)",
    )
    validate.add_argument(
        "--kubernetes-version", metavar="X.Y", help="core schemas of this version (default: 1.33)"
    )
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.add_argument("--jobs", type=int, metavar="N", help="parallel builds (default: CPUs)")
    validate.add_argument(
        "--only",
        action="append",
        metavar="CHECK",
        help="run only these checks: build, schema, refs, secrets, tenancy, flux, argocd, rbac, "
        "scripts (repeatable or comma-separated; YAML syntax is always checked)",
    )
    return parser


def _answers(args: argparse.Namespace) -> Platform:
    if args.config is not None:
        return with_engine(read_answers_file(args.config), args.engine)
    if args.no_input:
        return with_engine(default_platform(), args.engine)
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask questions on: pass --no-input or --config FILE")
    from scaffolder.prompts import ask_answers

    return ask_answers(engine=args.engine)


def _cmd_new(args: argparse.Namespace) -> int:
    from scaffolder.commands.new import new
    from scaffolder.summary import new_summary

    platform = _answers(args)
    result = new(platform, args.output_dir, args.keys_dir, force=args.force)
    print(new_summary(platform, result))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from scaffolder.commands.validate import validate
    from scaffolder.validate.report import print_text, to_json

    only = [c.strip() for value in args.only or () for c in value.split(",") if c.strip()]
    report = validate(
        args.path,
        schema_locations=args.schema_locations,
        kubernetes_version=args.kubernetes_version,
        jobs=args.jobs,
        only=only or None,
    )
    if args.format == "json":
        sys.stdout.write(to_json(report))
    else:
        from rich.console import Console

        print_text(report, Console())
    return 0 if report.ok else 1


_COMMANDS = {"new": _cmd_new, "validate": _cmd_validate}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except ScaffoldError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
