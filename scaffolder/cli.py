"""The command line: parses options, calls one command function, turns errors into one line."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from scaffolder import __version__
from scaffolder.errors import Interrupted, ScaffoldError, UsageError
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
    _day2_parsers(commands)
    _update_parsers(commands)
    return parser


def _update_parsers(commands: argparse._SubParsersAction[_Parser]) -> None:
    repo_help = "the platform repo (default: the current folder)"
    update = commands.add_parser(
        "update", help="merge what this version generates into a repo (hand edits kept)"
    )
    update.add_argument("--repo", type=Path, default=Path("."), metavar="PATH", help=repo_help)
    update.add_argument(
        "--dry-run", action="store_true", help="list the files that would change; change nothing"
    )
    update.add_argument(
        "--conflict", choices=("inline", "rej"), default="inline",
        help="a conflict as markers in the file (inline, default) or as <file>.rej beside it, "
        "the file keeping yours (rej)",
    )  # fmt: skip
    base_help = (
        "a revision holding the repo as gitops-scaffold generated it: the base when the repo "
        "has no branch gitops-scaffold/pristine (default: its first commit, made by new)"
    )
    update.add_argument("--base-from", metavar="REV", help=base_help)
    check = commands.add_parser(
        "check", help="exit 1 when update would change the repo (a newer version), else 0"
    )
    check.add_argument("--repo", type=Path, default=Path("."), metavar="PATH", help=repo_help)
    check.add_argument("--base-from", metavar="REV", help=base_help)


def _day2_parsers(commands: argparse._SubParsersAction[_Parser]) -> None:
    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--repo", type=Path, default=Path("."), metavar="PATH",
            help="the platform repo to change (default: the current folder)",
        )  # fmt: skip
        sub.add_argument(
            "--force", action="store_true",
            help="also rewrite or delete files this tool wrote that were edited by hand",
        )  # fmt: skip
        sub.add_argument(
            "--commit", action="store_true",
            help="make one commit of the change (default: leave it for review)",
        )  # fmt: skip

    add_tenant = commands.add_parser("add-tenant", help="add a tenant to an existing repo")
    add_tenant.add_argument("name", metavar="NAME")
    add_tenant.add_argument(
        "--clusters", metavar="A,B", help="spokes to place it on (default: every spoke)"
    )
    add_tenant.add_argument("--repo-url", metavar="URL", help="default: <name>-apps beside git_url")
    add_tenant.add_argument("--no-input", action="store_true", help="ask nothing")
    common(add_tenant)

    remove_tenant = commands.add_parser("remove-tenant", help="remove a tenant from a repo")
    remove_tenant.add_argument("name", metavar="NAME")
    common(remove_tenant)

    add_cluster = commands.add_parser("add-cluster", help="add a spoke cluster to a repo")
    add_cluster.add_argument("name", metavar="NAME")
    add_cluster.add_argument("--env", required=True, metavar="ENV")
    add_cluster.add_argument("--region", default="", metavar="R")
    add_cluster.add_argument(
        "--keys-dir", type=Path, metavar="KDIR",
        help="where the new age key goes (default: <repo>.keys beside the repo)",
    )  # fmt: skip
    add_cluster.add_argument(
        "--kubeconfig", type=Path, metavar="FILE",
        help="the hub's credentials for the spoke (embedded token or client certificate): "
        "encrypted into the repo with sops instead of a placeholder",
    )  # fmt: skip
    common(add_cluster)

    remove_cluster = commands.add_parser(
        "remove-cluster", help="remove a spoke cluster (its key stays in the keys folder)"
    )
    remove_cluster.add_argument("name", metavar="NAME")
    common(remove_cluster)


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


def _cmd_add_tenant(args: argparse.Namespace) -> int:
    from scaffolder.commands.tenants import add_tenant
    from scaffolder.summary import day2_summary

    clusters = [c.strip() for c in args.clusters.split(",") if c.strip()] if args.clusters else None
    repo_url = args.repo_url
    if not args.no_input and sys.stdin.isatty() and clusters is None:
        from scaffolder.prompts import ask_tenant_placement
        from scaffolder.repo_state import read_platform

        clusters = ask_tenant_placement(read_platform(args.repo.absolute()), args.name)
    result = add_tenant(
        args.repo, args.name, clusters=clusters, repo_url=repo_url,
        force=args.force, commit=args.commit,
    )  # fmt: skip
    print(day2_summary(f"Added tenant {args.name}", result))
    return 0


def _cmd_remove_tenant(args: argparse.Namespace) -> int:
    from scaffolder.commands.tenants import remove_tenant
    from scaffolder.summary import day2_summary

    result = remove_tenant(args.repo, args.name, force=args.force, commit=args.commit)
    print(day2_summary(f"Removed tenant {args.name}", result))
    return 0


def _cmd_add_cluster(args: argparse.Namespace) -> int:
    from scaffolder.commands.clusters import add_cluster
    from scaffolder.summary import day2_summary

    result = add_cluster(
        args.repo, args.name, env=args.env, region=args.region, keys_dir=args.keys_dir,
        kubeconfig=args.kubeconfig,
        force=args.force, commit=args.commit,
    )  # fmt: skip
    print(day2_summary(f"Added cluster {args.name}", result))
    return 0


def _cmd_remove_cluster(args: argparse.Namespace) -> int:
    from scaffolder.commands.clusters import remove_cluster
    from scaffolder.summary import day2_summary

    result = remove_cluster(args.repo, args.name, force=args.force, commit=args.commit)
    print(day2_summary(f"Removed cluster {args.name}", result))
    return 0


def _cmd_update(args: argparse.Namespace) -> int:
    from scaffolder.commands.update import update
    from scaffolder.summary import update_summary

    result = update(
        args.repo, dry_run=args.dry_run, conflict=args.conflict, base_from=args.base_from
    )
    print(update_summary(result))
    return 1 if result.conflicts else 0


def _cmd_check(args: argparse.Namespace) -> int:
    from scaffolder.commands.update import check
    from scaffolder.summary import check_summary

    result = check(args.repo, base_from=args.base_from)
    print(check_summary(result))
    return 0 if result.up_to_date else 1


_COMMANDS = {
    "new": _cmd_new,
    "validate": _cmd_validate,
    "add-tenant": _cmd_add_tenant,
    "remove-tenant": _cmd_remove_tenant,
    "add-cluster": _cmd_add_cluster,
    "remove-cluster": _cmd_remove_cluster,
    "update": _cmd_update,
    "check": _cmd_check,
}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    # SIGTERM (timeout, CI cancel, docker stop) and SIGHUP (a closed terminal) clean up as
    # Ctrl-C does: every command undoes what it started.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except ScaffoldError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:  # a full disk, a permission: every command undid what it started
        where = f": {err.filename}" if err.filename else ""
        print(f"error: {err.strerror or err}{where}; nothing was changed", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", signal.SIGINT)
        by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
        print(f"error: interrupted{by}; nothing was changed", file=sys.stderr)
        return 128 + signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
