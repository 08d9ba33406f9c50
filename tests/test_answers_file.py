"""platform.yaml edited in place (scaffolder/answers_file.py): whatever the layout, an edit
changes only its own span, and the result reads back as exactly the answers it means, or
the edit is refused with nothing written."""

from __future__ import annotations

import difflib
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaffolder import __version__
from scaffolder.answers_file import AnswersText, Append, Remove
from scaffolder.errors import ScaffoldError, UsageError
from scaffolder.model import (
    VERSION_FIELD,
    load_answers,
    parse_answers_text,
    parse_edited_answers_text,
)

HEADER = f"{VERSION_FIELD}: {__version__}\nrepo_name: acme  # the folder\n"
CLUSTERS = """clusters:
  # one hub, two spokes
  - {name: hub, role: hub, env: mgmt}
  - name: dev-1   # first spoke
    role: spoke
    env: dev
  - {name: prod-1, role: spoke, env: prod}
"""


def _tenant_block(names: list[str], style: str) -> str:
    if style == "flow":
        return "tenants: [" + ", ".join(f"{{name: {n}}}" for n in names) + "]  # all teams\n"
    if style == "bare":
        return "tenants:\n" + "".join(f"- {n}\n" for n in names)
    lines = ["tenants:  # teams\n"]
    for index, name in enumerate(names):
        lines.append(f"  # tenant {index}\n")
        if index % 2:
            lines.append(f"  - name: {name}\n    clusters: [dev-1, prod-1]  # both\n\n")
        else:
            lines.append(f"  - name: {name}\n    sso_group: {name}-admins\n")
    return "".join(lines)


def _text(names: list[str], style: str, trailer: str) -> str:
    return HEADER + CLUSTERS + _tenant_block(names, style) + trailer


def _only_insertions(before: str, after: str) -> bool:
    """``after`` is ``before`` with lines inserted: nothing of it changed or went missing."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    return all(op in ("equal", "insert") for op, *_ in matcher.get_opcodes())


STYLES = ["block", "flow", "bare"]
TRAILERS = [
    "",
    "# the end\n",
    "sso:\n  admin_group: ops  # ops team\n",
    "secrets: {sealed_secrets: false}",
]
names = st.lists(
    st.from_regex(r"team-[a-z]{1,6}", fullmatch=True), min_size=1, max_size=6, unique=True
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=names, style=st.sampled_from(STYLES), trailer=st.sampled_from(TRAILERS))
def test_appending_a_tenant_only_inserts_lines(names: list[str], style: str, trailer: str) -> None:
    text = _text(names, style, trailer)
    current = AnswersText(text)
    new_text, platform = current.edited([Append(("tenants",), {"name": "team-new"})])
    assert [t.name for t in platform.tenants] == [*names, "team-new"]
    assert platform == load_answers(parse_answers_text(new_text, "x"))
    if style != "flow":  # a flow list is rewritten as one span (on its own line)
        assert _only_insertions(text if text.endswith("\n") else text + "\n", new_text)
    for line in text.splitlines():
        if "#" in line and style != "flow":
            assert line in new_text.splitlines()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=names,
    style=st.sampled_from(STYLES),
    trailer=st.sampled_from(TRAILERS),
    data=st.data(),
)
def test_removing_a_tenant_removes_only_its_lines(
    names: list[str], style: str, trailer: str, data: Any
) -> None:
    text = _text(names, style, trailer)
    current = AnswersText(text)
    gone = data.draw(st.sampled_from(names))
    index = current.index_of("tenants", gone)
    assert index is not None
    new_text, platform = current.edited([Remove(("tenants", index))])
    assert [t.name for t in platform.tenants] == [n for n in names if n != gone]
    assert not [line for line in new_text.splitlines() if line.strip().endswith(f" {gone}")]
    assert f"{{name: {gone}}}" not in new_text
    if style != "flow" and len(names) > 1:  # only the entry's own lines went
        matcher = difflib.SequenceMatcher(a=text.splitlines(), b=new_text.splitlines())
        assert all(op in ("equal", "delete") for op, *_ in matcher.get_opcodes())


def test_an_implied_list_is_written_out_with_the_new_entry() -> None:
    text = HEADER + "# no tenants written: the defaults apply\n"
    implied = load_answers(parse_answers_text(text, "x"))
    new_text, platform = AnswersText(text).edited([Append(("tenants",), {"name": "team-new"})])
    assert [t.name for t in platform.tenants] == [*(t.name for t in implied.tenants), "team-new"]
    assert new_text.startswith(text)


def test_removing_the_last_entry_leaves_an_empty_list() -> None:
    text = _text(["team-a"], "block", "")
    new_text, platform = AnswersText(text).edited([Remove(("tenants", 0))])
    assert platform.tenants == ()
    assert "tenants: []" in new_text
    assert "tenants:  # teams" not in new_text or new_text.count("tenants") == 1


def test_a_placement_entry_is_removed_from_a_flow_list() -> None:
    text = _text(["team-a", "team-b"], "block", "")
    new_text, platform = AnswersText(text).edited([Remove(("tenants", 1, "clusters", 0))])
    assert [t.clusters for t in platform.tenants] == [None, ("prod-1",)]
    assert "clusters: [prod-1]  # both" in new_text


def test_the_version_is_recorded_first_or_updated_in_place() -> None:
    without = "repo_name: acme\n"
    new_text, _ = AnswersText(without).edited([])
    assert new_text == f"{VERSION_FIELD}: {__version__}\nrepo_name: acme\n"
    old = f"repo_name: acme\n{VERSION_FIELD}: 0.0.1  # written by an older release\n"
    new_text, platform = AnswersText(old).edited([])
    assert f"{VERSION_FIELD}: {__version__}  # written by an older release" in new_text
    assert platform.generator_version == __version__


def test_a_file_without_a_final_newline_is_edited_cleanly() -> None:
    text = _text(["team-a"], "block", "").rstrip("\n")
    new_text, platform = AnswersText(text).edited([Append(("tenants",), {"name": "team-b"})])
    assert [t.name for t in platform.tenants] == ["team-a", "team-b"]
    assert yaml.safe_load(new_text)["tenants"][-1] == {"name": "team-b"}


def test_an_entry_that_would_not_read_back_is_refused() -> None:
    text = _text(["team-a"], "block", "")
    with pytest.raises(ScaffoldError):
        AnswersText(text).edited([Append(("tenants",), {"name": "Not A Label"})])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "the answers are not a mapping"),
        ("repo_name: acme\nrepo_name: other\n", "appears twice"),
        ("tenants: &t [{name: a}]\n", "anchors and aliases are not allowed"),
    ],
)
def test_a_file_that_is_not_an_answers_file_is_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        AnswersText(text)


def test_removals_in_several_lists_at_once_keep_their_indexes() -> None:
    """remove-cluster --force: whole tenants and single placements go in one edit."""
    text = (
        HEADER
        + CLUSTERS
        + """tenants:
  - {name: team-a, clusters: [prod-1]}
  - {name: team-b, clusters: [dev-1, prod-1]}
  - name: team-c
    clusters: [prod-1]
  - name: team-d
    clusters: [prod-1, dev-1]
  - team-e
"""
    )
    current = AnswersText(text)
    edits = [
        Remove(("clusters", 2)),
        Remove(("tenants", 0)),
        Remove(("tenants", 1, "clusters", 1)),
        Remove(("tenants", 2)),
        Remove(("tenants", 3, "clusters", 0)),
    ]
    new_text, platform = current.edited(edits)
    assert [(t.name, t.clusters) for t in platform.tenants] == [
        ("team-b", ("dev-1",)), ("team-d", ("dev-1",)), ("team-e", None),
    ]  # fmt: skip
    assert [c.name for c in platform.clusters] == ["hub", "dev-1"]
    assert "# one hub, two spokes" in new_text


@pytest.mark.parametrize(
    "text",
    [
        HEADER + CLUSTERS + _tenant_block(["team-a", "team-b"], "block"),
        "a: 1\nb: [1, 2.5, true, null, ~, '3', x]\nc: {d: e}\n",
        "a: 1\na: 2\n",  # a duplicate key
        "a: !!python/object:os.system x\n",  # a tag
        "a: [1, 2\n",  # not YAML
        "x: " + "[" * 25 + "]" * 25 + "\n",  # too deep
        "x: [[1]]\ny: " + "{a: " * 21 + "1" + "}" * 21 + "\n",  # too deep, further down
        "a: &x 1\nb: *x\n",  # has "&": the full reader
        "",
    ],
)
def test_an_edited_text_is_read_as_parse_answers_text_reads_it(text: str) -> None:
    """parse_edited_answers_text (the edit's read-back) skips libyaml's events pass when a
    text has no "&": the same data, or the same refusal, line included."""
    outcomes = []
    for parse in (parse_answers_text, parse_edited_answers_text):
        try:
            outcomes.append(("data", parse(text, "platform.yaml")))
        except UsageError as err:
            outcomes.append(("refused", str(err)))
    assert outcomes[0] == outcomes[1]
