"""The command line: parses options, calls one command function, turns errors into one line.

(The help texts are in cli_text.py.)"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from scaffolder import __version__
from scaffolder import cli_text as text
from scaffolder.answers_file import save_answers
from scaffolder.completion import SHELLS
from scaffolder.errors import Interrupted, ScaffoldError, UsageError, shown
from scaffolder.model import (
    DEFAULT_ANSWERS,
    ENGINES,
    Platform,
    default_platform,
    load_answers,
    read_answers_data,
    read_answers_file,
    with_engine,
    with_overrides,
)
from scaffolder.quoting import shell_word

if TYPE_CHECKING:
    from scaffolder.commands.workshop import WorkshopResult
    from scaffolder.day2 import Result
    from scaffolder.summary import Report


class _Parser(argparse.ArgumentParser):
    _seen: Sequence[str] = ()  # the command line being parsed (set by main)

    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        # A value that starts with '-' (a name such as '-team') is read as an option, so
        # argparse reports a missing argument without the value: name it.
        known = set(self._option_string_actions)
        dashed = [a for a in self._seen if a.startswith("-") and a.split("=")[0] not in known]
        if dashed and ("required" in message or "expected one argument" in message):
            message += f" ({shown(dashed[0])} is not an option; a value cannot start with '-')"
        raise UsageError(f"{self.prog}: {message}")


def _command(
    commands: argparse._SubParsersAction[_Parser], name: str, summary: str, description: str,
    epilog: str,
) -> argparse.ArgumentParser:  # fmt: skip
    return commands.add_parser(
        name, help=summary, description=textwrap.fill(description, 88), epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip


def _output_options(
    sub: argparse.ArgumentParser, fields: str, verbose: str = "every file written or deleted"
) -> None:
    """--quiet, --verbose and --format text|json, the same on every command that writes or
    inspects a repo (printed by ``_emit``); ``fields`` names those of its JSON object."""
    loudness = sub.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but errors"
    )  # fmt: skip
    loudness.add_argument("-v", "--verbose", action="store_true", help=f"also list {verbose}")
    sub.add_argument(
        "--format", choices=("text", "json"), default="text",
        help=f"text (default), or json: one object {{{fields}}} (README: Output)",
    )  # fmt: skip


def _emit(args: argparse.Namespace, report: Report) -> None:
    """Print a command's report as --format, --quiet and --verbose ask (every command)."""
    if args.format == "json":
        _print_json(report.data)
        return
    if report.document:  # the result itself (a manifest): printed even with --quiet
        sys.stdout.write(report.text)
    elif not args.quiet:
        print(report.text)
    if args.verbose and report.details:
        print("\n".join(report.details), file=sys.stderr if report.document else sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gitops-scaffold", description=textwrap.fill(text.PRODUCT, 88),
        epilog=text.TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"gitops-scaffold {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )

    new = _command(commands, "new", "generate a new platform repository", text.NEW, text.NEW_EPILOG)
    new.add_argument(
        "--config", type=Path, metavar="FILE",
        help="the answers file to use (a platform.yaml; see the README's answers schema) "
        "instead of asking",
    )  # fmt: skip
    new.add_argument(
        "--no-input", action="store_true",
        help="ask nothing: use the defaults (or --config's answers)",
    )  # fmt: skip
    new.add_argument(
        "--output-dir", type=Path, default=Path("."), metavar="DIR",
        help="where the repo folder (named after repo_name) is made (default: .)",
    )  # fmt: skip
    new.add_argument(
        "--keys-dir", type=Path, metavar="KDIR",
        help="where the private age keys go, outside the repo (default: DIR/<repo>.keys)",
    )  # fmt: skip
    new.add_argument(
        "--engine", choices=ENGINES,
        help="the GitOps engine; overrides the answers' engine (default: flux)",
    )  # fmt: skip
    new.add_argument(
        "--force", action="store_true",
        help="replace an existing repo folder that gitops-scaffold generated; its age keys "
        "are kept and reused, never replaced",
    )  # fmt: skip
    new.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
        help="override one answer, with --no-input or --config (repeatable): "
        "--set git_url=git@host:org/platform.git --set secrets.sealed_secrets=false",
    )  # fmt: skip
    new.add_argument(
        "--dry-run", action="store_true",
        help="list what would be written (files, keys) and write nothing",
    )  # fmt: skip
    _output_options(new, text.JSON_NEW)

    workshop = _command(
        commands, "workshop", "one platform repo per workshop attendee, with exercises",
        text.WORKSHOP, text.WORKSHOP_EPILOG,
    )  # fmt: skip
    workshop.add_argument(
        "--attendees", type=int, required=True, metavar="N", help="how many attendee repos"
    )
    workshop.add_argument(
        "--engine", choices=ENGINES,
        help="the GitOps engine; overrides the profile's (default: flux)",
    )  # fmt: skip
    workshop.add_argument(
        "--output-dir", type=Path, default=Path("."), metavar="DIR",
        help="where the repos, their keys, the roster and the handout go (default: .)",
    )  # fmt: skip
    workshop.add_argument(
        "--config", type=Path, metavar="FILE",
        help="answers to use instead of the workshop profile (workshop: true is added)",
    )  # fmt: skip
    workshop.add_argument(
        "--prefix", metavar="NAME",
        help="repo names are NAME-01, NAME-02, ... (default: the answers' repo_name, workshop)",
    )  # fmt: skip
    workshop.add_argument(
        "--jobs", type=int, metavar="N",
        help="repos made at once, in worker processes (default: one per CPU)",
    )  # fmt: skip
    _output_options(workshop, text.JSON_WORKSHOP, "each attendee's repo and keys folder")

    validate = _command(
        commands, "validate", "check a platform repository (offline)", text.VALIDATE,
        text.VALIDATE_EPILOG,
    )  # fmt: skip
    validate.add_argument(
        "path", nargs="?", default=".", metavar="PATH",
        help="the repo, or any folder inside it (default: .)",
    )  # fmt: skip
    validate.add_argument(
        "--schema-location",
        action="append",
        metavar="LOC",
        dest="schema_locations",
        help="folder or URL template of CRD schemas (repeatable): 'default' = the bundled ones "
        "(offline, used when none is given), 'catalog' = the public CRDs catalog (fetched)",
    )
    validate.add_argument(
        "--kubernetes-version", metavar="X.Y",
        help="check core kinds against this Kubernetes version's schemas (default: 1.33)",
    )  # fmt: skip
    validate.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github"),
        default="text",
        help="text (default), json (stable, versioned), sarif (SARIF 2.1.0 for code scanning) "
        "or github (annotations on a pull request, from a GitHub Actions step)",
    )
    validate.add_argument(
        "--jobs", type=int, metavar="N", help="kustomize builds run in parallel (default: CPUs)"
    )
    validate.add_argument(
        "--any-folder",
        action="store_true",
        help="check a folder without platform.yaml as a plain kustomize tree (tenants are the "
        "values of the gitops-scaffold.io/tenant label)",
    )
    validate.add_argument(
        "--only",
        action="append",
        metavar="CHECK",
        help="run only these checks: build, schema, refs, secrets, tenancy, flux, argocd, rbac, "
        "scripts (repeatable or comma-separated; YAML syntax is always checked)",
    )
    _day2_parsers(commands)
    _update_parsers(commands)
    _secrets_parsers(commands)

    doctor = _command(
        commands, "doctor", "which external tools are installed, and what needs each",
        text.DOCTOR, text.DOCTOR_EPILOG,
    )  # fmt: skip
    doctor.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default) or json"
    )
    completion = _command(
        commands, "completion", "print a shell completion script", text.COMPLETION,
        text.COMPLETION_EPILOG,
    )  # fmt: skip
    completion.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    _command(commands, "version", "print the version", "Print gitops-scaffold's version.", "")
    return parser


def _secrets_parsers(commands: argparse._SubParsersAction[_Parser]) -> None:
    secrets = _command(
        commands, "secrets", "list, add, seal and rotate secrets", text.SECRETS,
        text.SECRETS_EPILOG,
    )  # fmt: skip
    actions = secrets.add_subparsers(
        dest="action", required=True, parser_class=_Parser, metavar="ACTION",
        help="list, add, seal or rotate (ACTION --help for its options)",
    )  # fmt: skip

    def repo(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--repo", type=Path, default=Path("."), metavar="PATH",
            help="the platform repo (default: the current folder)",
        )  # fmt: skip

    listing = actions.add_parser("list", help="every secret: mechanism, cluster, keys (no value)")
    repo(listing)
    _output_options(listing, text.JSON_SECRETS_LIST, "the public age key of every recipient")

    rotate = actions.add_parser("rotate", help="a new age key; its files encrypted again")
    which = rotate.add_mutually_exclusive_group(required=True)
    which.add_argument("--cluster", metavar="NAME", help="rotate this cluster's key")
    which.add_argument("--admin", action="store_true", help="rotate the admin key")
    repo(rotate)
    rotate.add_argument(
        "--keys-dir", type=Path, metavar="KDIR",
        help="the private age keys (default: <repo>.keys beside the repo)",
    )  # fmt: skip
    rotate.add_argument(
        "--prune-old", action="store_true",
        help="delete the old key (and one an earlier rotation kept) instead of keeping it "
        "as <name>.agekey.old",
    )  # fmt: skip
    rotate.add_argument("--commit", action="store_true", help="make one commit of the change")
    _output_options(rotate, text.JSON_ROTATE)

    add = actions.add_parser("add", help="a Secret for one cluster, encrypted by sops from memory")
    add.add_argument("name", metavar="NAME", help="the Secret's name")
    add.add_argument("--cluster", required=True, metavar="C", help="the cluster it is for")
    add.add_argument(
        "--namespace", required=True, metavar="NS", help="its namespace (one the cluster has)"
    )
    values(add, env_file=True)
    repo(add)
    add.add_argument("--commit", action="store_true", help="make one commit of the change")
    _output_options(add, text.JSON_ADD)

    seal = actions.add_parser("seal", help="a SealedSecret for one cluster's controller")
    seal.add_argument("name", metavar="NAME", help="the Secret's name")
    seal.add_argument("--namespace", required=True, metavar="NS", help="the Secret's namespace")
    cert = seal.add_mutually_exclusive_group(required=True)
    cert.add_argument("--cert", type=Path, metavar="PEM", help="the controller's certificate")
    cert.add_argument(
        "--cluster", metavar="C", help="the certificate the repo records for C "
        "(clusters/C/sealed-secrets/cert.pem)",
    )  # fmt: skip
    values(seal, env_file=False)
    seal.add_argument(
        "--scope", choices=("strict", "namespace-wide", "cluster-wide"), default="strict",
        help="where the sealed value may be unsealed: this name and namespace (strict, the "
        "default), any name in the namespace, or anywhere",
    )  # fmt: skip
    repo(seal)
    seal.add_argument(
        "--output", type=Path, metavar="FILE",
        help="write it there (default: print it); replaces the same SealedSecret or a stub",
    )  # fmt: skip
    _output_options(seal, text.JSON_SEAL, "the data keys and the certificate (on stderr)")


def values(sub: argparse.ArgumentParser, *, env_file: bool) -> None:
    sub.add_argument(
        "--from-literal",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a value given on the command line (repeatable)",
    )
    sub.add_argument(
        "--from-file", action="append", default=[], metavar="KEY=PATH",
        help="a value read from a file (repeatable; PATH alone: the key is its name)",
    )  # fmt: skip
    if env_file:
        sub.add_argument("--from-env-file", type=Path, metavar="PATH", help="KEY=VALUE lines")


def _update_parsers(commands: argparse._SubParsersAction[_Parser]) -> None:
    repo_help = "the platform repo (default: the current folder)"
    update = _command(
        commands, "update", "merge what this version generates into a repo (hand edits kept)",
        text.UPDATE, text.UPDATE_EPILOG,
    )  # fmt: skip
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
    _output_options(update, text.JSON_UPDATE, "every file written, deleted or in conflict")
    check = _command(
        commands, "check", "exit 1 when update would change the repo (a newer version), else 0",
        text.CHECK, text.CHECK_EPILOG,
    )  # fmt: skip
    check.add_argument("--repo", type=Path, default=Path("."), metavar="PATH", help=repo_help)
    check.add_argument("--base-from", metavar="REV", help=base_help)
    _output_options(check, text.JSON_CHECK, "every generated file that differs")


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
        _output_options(sub, text.JSON_DAY2)

    add_tenant = _command(
        commands, "add-tenant", "add a tenant to an existing repo", text.ADD_TENANT,
        text.ADD_TENANT_EXAMPLES + text.DAY2_EPILOG,
    )  # fmt: skip
    add_tenant.add_argument("name", metavar="NAME", help="the tenant (a DNS label: team-c)")
    add_tenant.add_argument(
        "--clusters", metavar="A,B", help="spokes to place it on (default: every spoke)"
    )
    add_tenant.add_argument(
        "--repo-url", metavar="URL",
        help="the tenant's own Git repository (default: <name>-apps beside the platform's git_url)",
    )  # fmt: skip
    add_tenant.add_argument(
        "--no-input", action="store_true",
        help="ask nothing: without --clusters, place it on every spoke",
    )  # fmt: skip
    add_tenant.add_argument(
        "--canary", action="store_true",
        help="give it the sample canary app (needs progressive_delivery: canary)",
    )  # fmt: skip
    common(add_tenant)

    remove_tenant = _command(
        commands, "remove-tenant", "remove a tenant from a repo", text.REMOVE_TENANT,
        text.REMOVE_TENANT_EXAMPLES + text.DAY2_EPILOG,
    )  # fmt: skip
    remove_tenant.add_argument("name", metavar="NAME", help="a tenant of platform.yaml")
    common(remove_tenant)

    add_cluster = _command(
        commands, "add-cluster", "add a spoke cluster to a repo", text.ADD_CLUSTER,
        text.ADD_CLUSTER_EXAMPLES + text.DAY2_EPILOG,
    )  # fmt: skip
    add_cluster.add_argument("name", metavar="NAME", help="the cluster (a DNS label: prod-us-1)")
    add_cluster.add_argument(
        "--env", required=True, metavar="ENV",
        help="its environment (dev, staging, prod or your own): which overlays it gets",
    )  # fmt: skip
    add_cluster.add_argument(
        "--region", default="", metavar="R", help="its region, as a label (optional)"
    )
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

    remove_cluster = _command(
        commands, "remove-cluster", "remove a spoke cluster (its key stays in the keys folder)",
        text.REMOVE_CLUSTER, text.REMOVE_CLUSTER_EXAMPLES + text.DAY2_EPILOG,
    )  # fmt: skip
    remove_cluster.add_argument("name", metavar="NAME", help="a spoke of platform.yaml")
    common(remove_cluster)

    freeze = _command(
        commands, "freeze", "freeze an env: nothing syncs to its clusters until unfreeze",
        text.FREEZE, text.FREEZE_EXAMPLES + text.DAY2_EPILOG,
    )  # fmt: skip
    freeze.add_argument(
        "--env", metavar="ENV", help="the env to freeze (a spoke's env of platform.yaml: prod)"
    )
    freeze.add_argument(
        "--until", default="", metavar="ISO-8601",
        help="when the freeze is meant to end (recorded and shown; unfreeze lifts it)",
    )  # fmt: skip
    freeze.add_argument(
        "--reason", default="", metavar="TEXT", help="why (recorded in the manifests, shown)"
    )
    freeze.add_argument(
        "--manual-sync", action="store_true",
        help="Argo CD: let a manual sync through the freeze's deny window (default: none)",
    )  # fmt: skip
    freeze.add_argument(
        "--list", action="store_true", help="list the frozen envs and change nothing"
    )
    common(freeze)

    unfreeze = _command(
        commands, "unfreeze", "lift the freeze of an env", text.UNFREEZE,
        text.UNFREEZE_EXAMPLES + text.DAY2_EPILOG,
    )  # fmt: skip
    unfreeze.add_argument("--env", required=True, metavar="ENV", help="the frozen env")
    common(unfreeze)


def _answers(args: argparse.Namespace) -> Platform:
    if args.settings:
        if args.config is None and not args.no_input:
            raise UsageError("--set needs --no-input or --config: the questions ask every value")
        data = (
            read_answers_data(args.config)
            if args.config is not None
            else {k: v for k, v in DEFAULT_ANSWERS.items() if k != "git_url"}  # from repo_name
        )
        return with_engine(load_answers(with_overrides(data, args.settings)), args.engine)
    if args.config is not None:
        return with_engine(read_answers_file(args.config), args.engine)
    if args.no_input:
        return with_engine(default_platform(), args.engine)
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask questions on: pass --no-input or --config FILE")
    from scaffolder.prompts import Cancelled, ask_answers

    try:
        return ask_answers(
            engine=args.engine, output_dir=args.output_dir.expanduser(), force=args.force
        )
    except Cancelled as cancelled:
        saved = save_answers(cancelled.platform)
        raise ScaffoldError(
            f"cancelled: nothing was written; your answers are in {saved} "
            f"(gitops-scaffold new --config {shell_word(str(saved))})"
        ) from None


def _print_json(data: object) -> None:
    import json

    print(json.dumps(data, indent=2))


def _cmd_new(args: argparse.Namespace) -> int:
    platform = _answers(args)
    asked = args.config is None and not args.no_input
    try:
        return _write_new(args, platform)
    except (ScaffoldError, KeyboardInterrupt, OSError) as err:
        if asked:  # twenty answers are not lost to a failure after the questions
            try:
                saved = save_answers(platform)
            except OSError:
                raise err from None
            _note_saved_answers(err, saved)
        raise


def _note_saved_answers(err: BaseException, saved: Path) -> None:
    again = f"your answers are in {saved} (gitops-scaffold new --config {shell_word(str(saved))})"
    if isinstance(err, ScaffoldError):
        err.args = (f"{err}; {again}",)
    else:
        print(f"note: {again}", file=sys.stderr)


def _write_new(args: argparse.Namespace, platform: Platform) -> int:
    from scaffolder import summary
    from scaffolder.commands.new import new, plan_new

    if args.dry_run:
        plan = plan_new(platform, args.output_dir, args.keys_dir, force=args.force)
        _emit(args, summary.plan_report(plan))
        return 0
    result = new(platform, args.output_dir, args.keys_dir, force=args.force)
    _emit(args, summary.new_report(platform, result))
    return 0


def _report_day2(args: argparse.Namespace, what: str, result: Result) -> int:
    from scaffolder.summary import day2_report

    _emit(args, day2_report(what, result))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from scaffolder.commands.validate import validate
    from scaffolder.validate import report as formats

    only = [c.strip() for value in args.only or () for c in value.split(",") if c.strip()]
    errors = Console(stderr=True)
    # Progress on a terminal only: a spinner naming the step (logs of CI runs stay clean).
    with errors.status("validate: starting", spinner="dots") as status:
        report = validate(
            args.path,
            schema_locations=args.schema_locations,
            kubernetes_version=args.kubernetes_version,
            jobs=args.jobs,
            only=only or None,
            any_folder=args.any_folder,
            progress=lambda text: status.update(f"validate: {text}"),
        )
    if args.format == "text":
        formats.print_text(report, Console())
    else:
        writers = {"json": formats.to_json, "sarif": formats.to_sarif, "github": formats.to_github}
        sys.stdout.write(writers[args.format](report))
    return 0 if report.ok else 1


def _cmd_add_tenant(args: argparse.Namespace) -> int:
    from scaffolder.commands.tenants import add_tenant

    clusters = [c.strip() for c in args.clusters.split(",") if c.strip()] if args.clusters else None
    repo_url = args.repo_url
    if not args.no_input and sys.stdin.isatty() and clusters is None:
        from scaffolder.prompts import ask_tenant_placement
        from scaffolder.repo_state import read_platform

        clusters = ask_tenant_placement(read_platform(args.repo.absolute()), args.name)
    result = add_tenant(
        args.repo, args.name, clusters=clusters, repo_url=repo_url, canary=args.canary,
        force=args.force, commit=args.commit,
    )  # fmt: skip
    return _report_day2(args, f"Added tenant {args.name}", result)


def _cmd_remove_tenant(args: argparse.Namespace) -> int:
    from scaffolder.commands.tenants import remove_tenant

    result = remove_tenant(args.repo, args.name, force=args.force, commit=args.commit)
    return _report_day2(args, f"Removed tenant {args.name}", result)


def _cmd_add_cluster(args: argparse.Namespace) -> int:
    from scaffolder.commands.clusters import add_cluster

    result = add_cluster(
        args.repo, args.name, env=args.env, region=args.region, keys_dir=args.keys_dir,
        kubeconfig=args.kubeconfig,
        force=args.force, commit=args.commit,
    )  # fmt: skip
    return _report_day2(args, f"Added cluster {args.name}", result)


def _cmd_remove_cluster(args: argparse.Namespace) -> int:
    from scaffolder.commands.clusters import remove_cluster

    result = remove_cluster(args.repo, args.name, force=args.force, commit=args.commit)
    return _report_day2(args, f"Removed cluster {args.name}", result)


def _cmd_workshop(args: argparse.Namespace) -> int:
    from rich.progress import Progress, TaskID

    from scaffolder.commands.workshop import workshop
    from scaffolder.summary import workshop_report

    def run(progress: Callable[[object], None] | None) -> WorkshopResult:
        return workshop(
            args.attendees, output_dir=args.output_dir, config=args.config, engine=args.engine,
            prefix=args.prefix, jobs=args.jobs, progress=progress,
        )  # fmt: skip

    if sys.stderr.isatty() and not args.quiet and args.format == "text":
        # Started at the first finished repo: the worker processes are forked by then, and
        # no process is ever forked while the bar's refresh thread runs.
        bar = Progress(transient=True)
        tasks: list[TaskID] = []

        def advance(_attendee: object) -> None:
            if not tasks:
                bar.start()
                tasks.append(bar.add_task("attendee repos", total=args.attendees))
            bar.advance(tasks[0])

        try:
            result = run(advance)
        finally:
            bar.stop()
    else:
        result = run(None)
    _emit(args, workshop_report(result))
    return 0


def _cmd_freeze(args: argparse.Namespace) -> int:
    from scaffolder.commands.freeze import freeze, list_freezes
    from scaffolder.summary import freezes_report

    if args.list:
        _emit(args, freezes_report(args.repo, list_freezes(args.repo)))
        return 0
    if not args.env:
        raise UsageError("freeze: --env ENV is required (or --list)")
    result = freeze(
        args.repo, args.env, until=args.until, reason=args.reason,
        manual_sync=args.manual_sync, force=args.force, commit=args.commit,
    )  # fmt: skip
    return _report_day2(args, f"Froze env {args.env}", result)


def _cmd_unfreeze(args: argparse.Namespace) -> int:
    from scaffolder.commands.freeze import unfreeze

    result = unfreeze(args.repo, args.env, force=args.force, commit=args.commit)
    return _report_day2(args, f"Unfroze env {args.env}", result)


def _cmd_doctor(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from scaffolder.doctor import check_tools, ready

    statuses = check_tools()
    if args.format == "json":
        rows = [
            {
                "tool": s.tool.name, "found": s.found, "path": s.path, "version": s.version,
                "required": s.tool.required, "needed_by": s.tool.needed_by,
                "install": s.tool.install,
            }
            for s in statuses
        ]  # fmt: skip
        print(json.dumps({"ready": ready(statuses), "tools": rows}, indent=2))
        return 0 if ready(statuses) else 1
    table = Table(box=None, header_style="bold")
    for column in ("", "tool", "version", "needed by", "how to install"):
        table.add_column(column)
    for s in statuses:
        mark = "[green]✓[/]" if s.found else ("[red]✗[/]" if s.tool.required else "[yellow]-[/]")
        table.add_row(
            mark, s.tool.name, s.version or ("?" if s.found else "not found"), s.tool.needed_by,
            "" if s.found else s.tool.install,
        )  # fmt: skip
    console = Console()
    console.print(table)
    if ready(statuses):
        console.print("[green]gitops-scaffold's own commands have what they need.[/]")
        return 0
    console.print("[red]missing: git, sops and kubectl (or kustomize) are needed.[/]")
    return 1


def _cmd_completion(args: argparse.Namespace) -> int:
    from scaffolder.completion import script

    sys.stdout.write(script(build_parser(), args.shell))
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"gitops-scaffold {__version__}")
    return 0


def _cmd_secrets(args: argparse.Namespace) -> int:
    from scaffolder import summary
    from scaffolder.commands import secrets

    if args.action == "list":
        _emit(args, summary.secrets_report(args.repo, secrets.list_secrets(args.repo)))
        return 0
    if args.action == "rotate":
        from scaffolder.commands.rotate import rotate

        done = rotate(
            args.repo, cluster=args.cluster, admin=args.admin, keys_dir=args.keys_dir,
            prune_old=args.prune_old, commit=args.commit,
        )  # fmt: skip
        _emit(args, summary.rotation_report(done))
        return 0
    if args.action == "add":
        found = secrets.collect_values(args.from_literal, args.from_file, args.from_env_file)
        added = secrets.add_secret(
            args.repo, args.name, cluster=args.cluster, namespace=args.namespace,
            values=found, commit=args.commit,
        )  # fmt: skip
        _emit(args, summary.added_report(added))
        return 0
    if args.action == "seal":
        found = secrets.collect_values(args.from_literal, args.from_file)
        sealed = secrets.seal_secret(
            args.name, namespace=args.namespace, values=found, scope=args.scope,
            cert=args.cert, cluster=args.cluster, repo_dir=args.repo, output=args.output,
        )  # fmt: skip
        _emit(args, summary.sealed_report(sealed))
        return 0
    raise UsageError(f"secrets {args.action}: unknown action")  # pragma: no cover


def _cmd_update(args: argparse.Namespace) -> int:
    from scaffolder.commands.update import update
    from scaffolder.summary import update_report

    result = update(
        args.repo, dry_run=args.dry_run, conflict=args.conflict, base_from=args.base_from
    )
    _emit(args, update_report(result))
    return 1 if result.conflicts else 0


def _cmd_check(args: argparse.Namespace) -> int:
    from scaffolder.commands.update import check
    from scaffolder.summary import check_report

    result = check(args.repo, base_from=args.base_from)
    _emit(args, check_report(result))
    return 0 if result.up_to_date else 1


_COMMANDS = {
    "doctor": _cmd_doctor,
    "completion": _cmd_completion,
    "version": _cmd_version,
    "new": _cmd_new,
    "validate": _cmd_validate,
    "add-tenant": _cmd_add_tenant,
    "remove-tenant": _cmd_remove_tenant,
    "add-cluster": _cmd_add_cluster,
    "remove-cluster": _cmd_remove_cluster,
    "secrets": _cmd_secrets,
    "update": _cmd_update,
    "check": _cmd_check,
    "workshop": _cmd_workshop,
    "freeze": _cmd_freeze,
    "unfreeze": _cmd_unfreeze,
}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    # SIGTERM (timeout, CI cancel, docker stop) and SIGHUP (a closed terminal) clean up as
    # Ctrl-C does: every command undoes what it started.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        parser = build_parser()
        if not (sys.argv[1:] if argv is None else argv):
            parser.print_help(sys.stderr)  # bare `gitops-scaffold`: what it is and how to start
            return 2
        _Parser._seen = list(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(argv)
        return _COMMANDS[args.command](args)
    except ScaffoldError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # `gitops-scaffold ... | head`: the reader has gone, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
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
