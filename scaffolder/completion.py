"""Shell completion scripts (bash, zsh, fish), written from the argument parser itself, so
they list exactly the commands, options and choices the CLI has.

The parser is read as a tree of nodes: the program, its commands, their subcommands
(``secrets rotate``), to any depth. Each node is known by its key, the names on its path
joined by ':' (``gitops-scaffold:secrets:rotate``). The scripts walk the words typed so far
the way argparse reads them: an option that takes a value consumes the next word, and a word
naming a subcommand of the current node moves into it. Then they complete what that node
takes: an option's value (its choices, or a file), its options, its subcommands, or a
positional argument's choices.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

SHELLS = ("bash", "zsh", "fish")
PROG = "gitops-scaffold"
_SEP = ":"  # joins the names of a node's path into its key (no command name holds one)


@dataclass(frozen=True)
class _Option:
    flags: tuple[str, ...]
    help: str
    choices: tuple[str, ...]  # values it takes from a fixed set
    takes_value: bool
    is_path: bool


@dataclass(frozen=True)
class _Node:
    """The program or one (sub)command: its options, positional choices and subcommands."""

    key: str  # PROG, PROG:secrets, PROG:secrets:rotate, ...
    name: str
    help: str
    options: tuple[_Option, ...]
    positional_choices: tuple[str, ...]
    children: tuple[_Node, ...]

    def walk(self) -> Iterator[_Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(f for o in self.options for f in o.flags)

    @property
    def valued_flags(self) -> tuple[str, ...]:
        return tuple(f for o in self.options if o.takes_value for f in o.flags)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _options(parser: argparse.ArgumentParser) -> tuple[_Option, ...]:
    found = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        found.append(
            _Option(
                tuple(action.option_strings),
                _one_line(action.help),
                tuple(str(c) for c in action.choices or ()),
                action.nargs != 0,
                action.type is not None and getattr(action.type, "__name__", "") in ("Path",),
            )
        )
    return tuple(found)


def _tree(parser: argparse.ArgumentParser, key: str = PROG, help: str = "") -> _Node:
    children: list[_Node] = []
    positional: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                children.append(_tree(sub, f"{key}{_SEP}{name}", _one_line(helps.get(name))))
        elif not action.option_strings and action.choices:
            positional += [str(c) for c in action.choices]
    return _Node(
        key, key.rsplit(_SEP, 1)[-1], help, _options(parser), tuple(positional), tuple(children)
    )


# --------------------------------------------------------------------------- bash (and zsh)


def _words(items: tuple[str, ...]) -> str:
    return shlex.quote(" ".join(items))


def _bash_function(parser: argparse.ArgumentParser) -> str:
    nodes = list(_tree(parser).walk())
    facts = [
        f"    {shlex.quote(n.key)}) children={_words(tuple(c.name for c in n.children))}; "
        f"opts={_words(n.flags)}; valued={_words(n.valued_flags)}; "
        f"positional={_words(n.positional_choices)} ;;"
        for n in nodes
    ]
    value_cases = []
    for node in nodes:
        for option in node.options:
            if not option.takes_value:
                continue
            pattern = "|".join(shlex.quote(f"{node.key}@{f}") for f in option.flags)
            if option.choices:
                reply = f'COMPREPLY=($(compgen -W {_words(option.choices)} -- "$cur"))'
            elif option.is_path:
                reply = 'COMPREPLY=($(compgen -f -- "$cur"))'
            else:
                reply = "COMPREPLY=()"
            value_cases.append(f"    {pattern}) {reply} ;;")
    return "\n".join(
        [
            "_gitops_scaffold_node() {  # what node $1 takes",
            "  children='' opts='' valued='' positional=''",
            '  case "$1" in',
            *facts,
            "  esac",
            "}",
            "",
            "_gitops_scaffold() {",
            '  local cur="${COMP_WORDS[COMP_CWORD]}"',
            f"  local node={PROG} word option='' pending='' i",
            "  local children opts valued positional",
            '  _gitops_scaffold_node "$node"',
            "  for ((i = 1; i < COMP_CWORD; i++)); do",
            '    word="${COMP_WORDS[i]}"',
            "    if [ -n \"$pending\" ]; then  # the value of $option (after a '=' word too)",
            '      [ "$word" = "=" ] || pending=""',
            "      continue",
            "    fi",
            '    case "$word" in',
            "      -*=*) ;;",
            '      -*) case " $valued " in *" $word "*) option="$word"; pending=1 ;; esac ;;',
            '      *) case " $children " in',
            f'           *" $word "*) node="$node{_SEP}$word"; _gitops_scaffold_node "$node" ;;',
            "         esac ;;",
            "    esac",
            "  done",
            '  if [ "$cur" = "=" ] && [ -n "$pending" ]; then cur=""; fi',
            '  if [ -n "$pending" ]; then',
            '    case "$node@$option" in',
            *value_cases,
            "      *) COMPREPLY=() ;;",
            "    esac",
            '  elif [[ "$cur" == -* ]]; then',
            '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
            '  elif [ -n "$children" ]; then',
            '    COMPREPLY=($(compgen -W "$children" -- "$cur"))',
            '  elif [ -n "$positional" ]; then',
            '    COMPREPLY=($(compgen -W "$positional" -- "$cur"))',
            "  else",
            '    COMPREPLY=($(compgen -f -- "$cur"))',
            "  fi",
            "}",
        ]
    )


# --------------------------------------------------------------------------- fish


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(parser: argparse.ArgumentParser) -> str:
    nodes = list(_tree(parser).walk())
    valued = [_fish_quote(f"{n.key}@{f}") for n in nodes for f in n.valued_flags]
    inner = [_fish_quote(c.key) for n in nodes for c in n.children]
    lines = [
        f"# fish completion for {PROG}",
        "function __gitops_scaffold_node --description 'the (sub)command being completed'",
        f"    set -l node {PROG}",
        "    set -l pending 0",
        "    set -l words (commandline -opc)",
        "    set -e words[1]",
        "    for word in $words",
        "        if test $pending = 1",
        "            set pending 0",
        "            continue",
        "        end",
        '        switch "$node@$word"',
        *(
            [f"            case {' '.join(valued)}", "                set pending 1"]
            if valued
            else []
        ),
        "        end",
        '        switch "$node:$word"',
        *(
            [f"            case {' '.join(inner)}", '                set node "$node:$word"']
            if inner
            else []
        ),
        "        end",
        "    end",
        "    echo $node",
        "end",
        "function __gitops_scaffold_at --description 'the node being completed is $argv[1]'",
        '    test (__gitops_scaffold_node) = "$argv[1]"',
        "end",
        f"complete -c {PROG} -f",
    ]
    for node in nodes:
        condition = f"-n {_fish_quote(f'__gitops_scaffold_at {node.key}')}"
        for child in node.children:
            name, text = _fish_quote(child.name), _fish_quote(child.help)
            lines.append(f"complete -c {PROG} {condition} -a {name} -d {text}")
        if node.positional_choices:
            choices = _fish_quote(" ".join(node.positional_choices))
            lines.append(f"complete -c {PROG} {condition} -a {choices}")
        for option in node.options:
            parts = [f"complete -c {PROG} {condition}"]
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
