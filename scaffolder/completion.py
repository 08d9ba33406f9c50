"""Shell completion scripts (bash, zsh, fish), written from the argument parser itself, so
they list exactly the commands, options and choices the CLI has."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass

SHELLS = ("bash", "zsh", "fish")
PROG = "gitops-scaffold"


@dataclass(frozen=True)
class _Option:
    flags: tuple[str, ...]
    help: str
    choices: tuple[str, ...]  # values it takes from a fixed set
    takes_value: bool
    is_path: bool


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    options: tuple[_Option, ...]


def _options(parser: argparse.ArgumentParser) -> tuple[_Option, ...]:
    found = []
    for action in parser._actions:
        if not action.option_strings:
            continue
        found.append(
            _Option(
                tuple(action.option_strings),
                (action.help or "").replace("\n", " "),
                tuple(str(c) for c in action.choices or ()),
                action.nargs != 0,
                action.type is not None and getattr(action.type, "__name__", "") in ("Path",),
            )
        )
    return tuple(found)


def _commands(parser: argparse.ArgumentParser) -> tuple[_Command, ...]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                found.append(_Command(name, helps.get(name, ""), _options(sub)))
    return tuple(found)


def _bash_function(parser: argparse.ArgumentParser) -> str:
    commands = _commands(parser)
    top = " ".join([*(c.name for c in commands), *(f for o in _options(parser) for f in o.flags)])
    option_cases = []
    value_cases = []
    for command in commands:
        flags = " ".join(f for o in command.options for f in o.flags)
        option_cases.append(f"    {command.name}) opts={shlex.quote(flags)} ;;")
        for option in command.options:
            if not option.takes_value:
                continue
            pattern = "|".join(f"{command.name}:{f}" for f in option.flags)
            if option.choices:
                words = shlex.quote(" ".join(option.choices))
                reply = f'COMPREPLY=($(compgen -W {words} -- "$cur"))'
            elif option.is_path:
                reply = 'COMPREPLY=($(compgen -f -- "$cur"))'
            else:
                reply = "COMPREPLY=()"
            value_cases.append(f"    {pattern}) {reply}; return ;;")
    return "\n".join(
        [
            "_gitops_scaffold() {",
            '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
            '  local cmd="" word opts=""',
            '  for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do',
            '    case "$word" in -*) ;; *) cmd="$word"; break ;; esac',
            "  done",
            '  if [ -z "$cmd" ]; then',
            f'    COMPREPLY=($(compgen -W {shlex.quote(top)} -- "$cur"))',
            "    return",
            "  fi",
            '  case "$cmd:$prev" in',
            *value_cases,
            "  esac",
            '  case "$cmd" in',
            *option_cases,
            "  esac",
            '  if [[ "$cur" == -* ]]; then',
            '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
            "  else",
            '    COMPREPLY=($(compgen -f -- "$cur"))',
            "  fi",
            "}",
        ]
    )


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(parser: argparse.ArgumentParser) -> str:
    commands = _commands(parser)
    names = " ".join(c.name for c in commands)
    lines = [f"# fish completion for {PROG}", f"complete -c {PROG} -f"]
    for command in commands:
        lines.append(
            f"complete -c {PROG} -n {_fish_quote(f'not __fish_seen_subcommand_from {names}')} "
            f"-a {command.name} -d {_fish_quote(command.help)}"
        )
    for command in commands:
        condition = _fish_quote(f"__fish_seen_subcommand_from {command.name}")
        for option in command.options:
            parts = [f"complete -c {PROG} -n {condition}"]
            for flag in option.flags:
                parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
            if option.choices:
                parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
            elif option.takes_value:
                parts.append("-r" + (" -F" if option.is_path else ""))
            if option.help:
                parts.append(f"-d {_fish_quote(option.help)}")
            lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (one of SHELLS)."""
    if shell == "fish":
        return _fish(parser)
    function = _bash_function(parser)
    register = f"complete -o default -F _gitops_scaffold {PROG}"
    if shell == "zsh":  # zsh runs bash completion functions through bashcompinit
        return (
            f"#compdef {PROG}\n# zsh completion for {PROG}: source it from ~/.zshrc\n"
            "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }\n"
            "autoload -U +X bashcompinit && bashcompinit\n"
            f"{function}\n{register}\n"
        )
    return f"# bash completion for {PROG}\n{function}\n{register}\n"
