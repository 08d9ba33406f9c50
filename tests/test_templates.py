"""The templates and the renderer: rules every template keeps, quoting checked by real parsers.

The renderer writes every value through the quoting function of the file's language, so a
template only has to keep a few rules; these tests hold every template to them.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError
from yaml.emitter import Emitter

from scaffolder import quoting
from scaffolder.errors import ScaffoldError
from scaffolder.model import ENGINES
from scaffolder.render import (
    environment,
    iter_template_sources,
    language,
    load_unit,
    read_unit,
)
from scaffolder.validate.kustomize import kustomize_command

UNITS = ("base", "cluster", "tenant")
RAW_BLOCK = re.compile(r"{% raw %}.*?{% endraw %}", re.S)
EXPRESSION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
TEMPLATES = [
    (name, source) for name, source in iter_template_sources() if not name.endswith(".json")
]


def _lines_outside_raw(source: str) -> list[tuple[int, str]]:
    """(line number, line) of a template with {% raw %} blocks blanked."""
    blanked = RAW_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), source)
    return list(enumerate(blanked.splitlines(), start=1))


def _of_language(lang: str) -> list[tuple[str, str]]:
    return [(name, source) for name, source in TEMPLATES if language(name) == lang]


# --------------------------------------------------------------------------- units and files


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("part", UNITS)
def test_every_unit_loads_and_every_when_entry_names_a_file(engine: str, part: str) -> None:
    unit = load_unit(engine, part)
    assert unit.files
    for path, expression in unit.when:
        assert any(f == path or f.startswith(path + "/") for f in unit.files), path
        environment().compile_expression(expression)


def test_file_names_are_paths_not_logic() -> None:
    """A template path holds only `{{cookiecutter.x.y}}` references: no {% if %}, no filters.
    Which files a unit writes is its cookiecutter.json `_when` table."""
    reference = re.compile(r"\{\{cookiecutter(\.[A-Za-z_]+)+\}\}")
    for name, _ in iter_template_sources():
        assert "{%" not in name, name
        assert "{{" not in reference.sub("", name), name


def test_every_template_compiles() -> None:
    for name, _ in TEMPLATES:
        environment().get_template(name)


# --------------------------------------------------------------------------- template rules


def test_no_template_bypasses_the_quoting() -> None:
    """`safe`, `Markup` and autoescape switches would write a value unquoted; `tojson` writes
    JSON, so it is only for JSON text inside a YAML block scalar."""
    for name, source in TEMPLATES:
        assert "| safe" not in source and "|safe" not in source, name
        assert "autoescape" not in source and "Markup" not in source, name
        for number, line in _lines_outside_raw(source):
            if "tojson" in line:
                assert language(name) == "yaml" and re.search(r'"\w+": {{', line), (
                    f"{name}:{number}: tojson outside a JSON line"
                )


def test_comment_filter_only_inside_comments() -> None:
    """`| comment` writes a value unquoted: allowed only after a `#` on the same line."""
    for name, source in TEMPLATES:
        for number, line in _lines_outside_raw(source):
            for match in re.finditer(r"\|\s*comment\b", line):
                assert "#" in line[: match.start()].split("{{")[0] or re.match(r"^\s*#", line), (
                    f"{name}:{number}: | comment outside a comment"
                )


def test_a_yaml_value_is_a_whole_scalar() -> None:
    """In YAML, `{{ x }}` is a whole scalar: `{{ a }}-b` or `'x-{{ a }}'` would glue a quoted
    value to text (write `{{ a ~ "-b" }}` instead)."""
    glued = re.compile(r"[^\s\[\-(,]\{\{|\}\}(?![\s,\]):]|{%|$)")
    for name, source in _of_language("yaml"):
        for number, line in _lines_outside_raw(source):
            if not line.lstrip().startswith("#") and "{{" in line.split(" #")[0]:
                code = line.split(" # ")[0]
                assert not glued.search(code), f"{name}:{number}: {line.strip()}"


def test_a_shell_value_is_a_whole_word() -> None:
    """In shell, `{{ x }}` is a whole single-quoted word: never inside quotes of its own."""
    for name, source in _of_language("shell"):
        for number, line in _lines_outside_raw(source):
            if line.lstrip().startswith("#"):
                continue
            for match in re.finditer(r"{{", line):
                before = line[: match.start()]
                assert before.count('"') % 2 == 0 and before.count("'") % 2 == 0, (
                    f"{name}:{number}: a value inside quotes"
                )


# --------------------------------------------------------------------------- the sandbox


@pytest.mark.parametrize(
    "payload",
    [
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% set x = joiner.__init__.__globals__ %}{{ x }}",
    ],
)
def test_templates_cannot_reach_python_internals(payload: str) -> None:
    with pytest.raises(SecurityError):
        environment().from_string(payload).render()


def test_a_when_entry_naming_no_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cookiecutter.json").write_text('{"_when": {"gone.yaml": "true"}}')
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "here.yaml").write_text("a: 1\n")
    with pytest.raises(ScaffoldError, match=r"_when names 'gone\.yaml', no such file"):
        read_unit(tmp_path, "root", "x")


# --------------------------------------------------------------------------- quoting, real parsers

TRICKY = [
    "team-a", "123", "0123", "010", "0x1f", "0o17", "1e3", "1_000", "1:30", ".5", ".inf",
    "null", "Null", "~", "", "true", "True", "yes", "no", "on", "off", "y", "n", "Y", "N",
    "2024-01-01", "a: b", "#alerts", "x #y", "- a", "[a]", "{a}", "release/{v2}", "*a", "&a",
    "!a", "|a", ">a", "%a", "@a", "`a`", "'a'", '"a"', "a'b", 'a"b', "a\\b", "$(id)", "${X}",
    "https://github.com/acme/p.git", "./deploy", "-x", "=", "<<", "?", ":", "a:", "é", "💥",
]  # fmt: skip


@pytest.mark.parametrize("value", TRICKY)
def test_yaml_scalar_reads_back_as_the_same_string_in_pyyaml(value: str) -> None:
    assert yaml.safe_load(f"k: {quoting.yaml_scalar(value)}\n") == {"k": value}


def test_yaml_scalars_survive_kustomize(tmp_path: Path) -> None:
    """kustomize (Go, YAML 1.2 parser, the one Flux and Argo CD build with) keeps every
    tricky value a string with the same text."""
    # kustomize writes `=` and `<<` plain (strings in YAML 1.2), which PyYAML reads as YAML 1.1
    # tags: leave them to the PyYAML test above.
    values = [v for v in TRICKY if v not in ("=", "<<")]
    data = "".join(f"  k{i}: {quoting.yaml_scalar(v)}\n" for i, v in enumerate(values))
    (tmp_path / "cm.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n{data}", encoding="utf-8"
    )
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\n", encoding="utf-8")
    built = subprocess.run(
        [*kustomize_command(), str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    assert yaml.safe_load(built)["data"] == {f"k{i}": v for i, v in enumerate(values)}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))))
def test_any_printable_string_reads_back_from_yaml(value: str) -> None:
    assert yaml.safe_load(f"k: {quoting.yaml_scalar(value)}\n") == {"k": value}


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from('ab -:/"\\'), max_size=300),
    st.integers(0, 60),
    st.integers(0, 12),
)
def test_wrapped_yaml_scalars_are_what_pyyaml_writes(value: str, column: int, indent: int) -> None:
    """The derived files wrap long double-quoted values exactly as PyYAML's emitter did
    (they were dumped from Python before they were templates), and read back the same."""
    stream = io.StringIO()
    emitter = Emitter(stream, width=100)
    emitter.column, emitter.indent, emitter.whitespace = column, indent, True
    emitter.write_double_quoted(value)
    wrapped = quoting.yaml_scalar_wrapped(value, column, indent)
    if wrapped.startswith('"'):
        assert wrapped == stream.getvalue()
    else:
        assert wrapped == quoting.yaml_scalar(value)
    document = "k:" + " " * (column - 2) + wrapped if column >= 3 else "k: " + wrapped
    assert yaml.safe_load(document.replace("\n", "\n" + " " * max(indent, 1))) == {"k": value}


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\x00", "a\x7fb", "a\u2028b"])
def test_no_language_writes_a_control_character(value: str) -> None:
    for quote in (quoting.yaml_scalar, quoting.shell_word, quoting.text):
        with pytest.raises(quoting.UnsafeValueError):
            quote(value)


def test_shell_words_reach_bash_verbatim() -> None:
    values = [v for v in TRICKY if v] + ["a b", "$(touch PWNED)", "`touch PWNED`", '";touch X;"']
    script = "".join(f"printf '%s\\0' {quoting.shell_word(v)}\n" for v in values)
    done = subprocess.run(["bash", "-c", script], capture_output=True, check=True)
    assert done.stdout.decode().split("\0")[:-1] == values


def test_wrapped_writes_yaml_only() -> None:
    with pytest.raises(quoting.UnsafeValueError, match="wrapped writes YAML"):
        environment().from_string("{{ 'a b' | wrapped(0, 2) }}").render()


def test_markup_from_python_is_json_not_html() -> None:
    """The image setter marker is built in Python as JSON (it lands in a YAML comment)."""
    rendered = environment().from_string("{{ image_policy_marker('a-b') }}").render()
    assert json.loads(rendered) == {"$imagepolicy": "flux-system:a-b"}
