"""add-tenant stays flat (issue 10): what it computes does not grow with the tenants it leaves
alone. Counted, not timed (the machine is shared): entries read from platform.yaml, tenant
views computed, and which tenants a change concerns."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from scaffolder import context, model, written
from scaffolder.answers_file import AnswersText, Append, Remove
from scaffolder.commands.new import new
from scaffolder.commands.tenants import add_tenant, remove_tenant
from scaffolder.context import TenantViews, changed_tenant_views, platform_view
from scaffolder.model import DEFAULT_ANSWERS, Freeze, load_answers, parse_answers_text

TENANTS = [
    {"name": "team-a"},
    {"name": "team-b", "clusters": ["dev-eu-1", "prod-eu-1"]},
    {"name": "team-c", "clusters": ["prod-eu-1"], "sso_group": "c-team"},
    "team-d",
]


def platform_with(**changes: Any) -> model.Platform:
    answers = {**DEFAULT_ANSWERS, "engine": "argocd", "tenants": TENANTS}
    answers["image_automation"] = {"enabled": True}
    return load_answers({**answers, **changes})


def every_view_compared(old: model.Platform, new: model.Platform) -> set[str]:
    """The tenants whose view differs, every view computed (what changed_tenant_views spares)."""
    before = {v["name"]: v for v in TenantViews(old, _facts(old))}
    after = {v["name"]: v for v in TenantViews(new, _facts(new))}
    return {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}


def _facts(platform: model.Platform) -> dict[str, dict[str, Any]]:
    return {c.name: context.cluster_facts(platform, c) for c in platform.clusters}


CHANGES: dict[str, Callable[[model.Platform], model.Platform]] = {
    "add": lambda p: replace(p, tenants=(*p.tenants, model.Tenant("team-new"))),
    "remove": lambda p: replace(p, tenants=p.tenants[1:]),  # team-a had the sample app
    "remove-last": lambda p: replace(p, tenants=p.tenants[:-1]),
    "replace": lambda p: replace(
        p, tenants=(p.tenants[0], replace(p.tenants[1], canary=True), *p.tenants[2:])
    ),
    "spoke": lambda p: replace(p, clusters=(*p.clusters, model.Cluster("new-1", "spoke", "dev"))),
    "freeze": lambda p: replace(p, freezes=(Freeze("dev"),)),
    "no-sample-app": lambda p: replace(p, image_automation=model.ImageAutomation(enabled=False)),
    "nothing": lambda p: p,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_changed_tenant_views_are_the_ones_whose_view_differs(change: str) -> None:
    old = platform_with()
    new = CHANGES[change](old)
    assert changed_tenant_views(old, new) == every_view_compared(old, new)


def test_an_edit_reads_only_its_new_entries_and_leaves_the_old_data_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = model.answers_yaml(platform_with())
    current = AnswersText(text)
    data_before = copy.deepcopy(current.data)
    reads: list[object] = []
    read_tenant = model._read_tenant

    def counted(data: object, where: str) -> model.Tenant:
        reads.append(data)
        return read_tenant(data, where)

    monkeypatch.setattr(model, "_read_tenant", counted)
    new_text, new = current.edited(
        [Append(("tenants",), {"name": "team-new"}), Remove(("tenants", 1, "clusters", 0))]
    )
    assert reads == [{"name": "team-b", "clusters": ["prod-eu-1"]}, {"name": "team-new"}]
    assert current.data == data_before  # the edit worked on copies of what it changed
    assert new == load_answers(parse_answers_text(new_text, "x"))
    assert new.tenants[0] is current.platform.tenants[0]  # read once, reused


def test_add_tenant_computes_the_views_of_the_tenants_it_renders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tenants = [{"name": f"team-{i:03d}"} for i in range(60)]
    platform = load_answers({**DEFAULT_ANSWERS, "engine": "argocd", "tenants": tenants})
    repo = new(platform, tmp_path / "out", tmp_path / "keys").repo_dir
    views: list[str] = []
    tenant_view = context._tenant_view

    def counted(platform: model.Platform, tenant: model.Tenant, *rest: Any) -> dict[str, Any]:
        views.append(tenant.name)
        return tenant_view(platform, tenant, *rest)

    monkeypatch.setattr(context, "_tenant_view", counted)
    platform_view.cache_clear()
    add_tenant(repo, "team-new", clusters=["dev-eu-1"])
    # the new tenant's only: the README names 61 tenants by their number, not one by one
    assert sorted(set(views)) == ["team-new"]


def _parts(repo: Path) -> dict[str, bytes]:
    folder = repo / written.RECORD_DIR
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_record_of_written_files_is_read_and_written_in_parts(tmp_path: Path) -> None:
    """add-tenant rewrites the parts of the record its files belong to (the new tenant's, the
    spoke's, the rest), never the other tenants' or clusters'."""
    platform = load_answers({**DEFAULT_ANSWERS, "engine": "flux"})
    repo = new(platform, tmp_path / "out", tmp_path / "keys").repo_dir
    before = _parts(repo)
    assert {"repo.json", "tenants.team-a.json", "clusters.dev-eu-1.json"} <= set(before)
    add_tenant(repo, "team-new", clusters=["dev-eu-1"])
    after = _parts(repo)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"repo.json", "tenants.team-new.json", "clusters.dev-eu-1.json"}
    record = written.read(repo)
    assert record["tenants/team-new/platform/namespace.yaml"].startswith("sha256:")
    assert set(json.loads(after["tenants.team-a.json"])) == {
        path for path in record if path.startswith("tenants/team-a/")
    }
    remove_tenant(repo, "team-new")
    assert "tenants.team-new.json" not in _parts(repo)  # an emptied part goes


def test_a_repo_with_the_record_in_one_file_keeps_it_for_the_parts_not_written_since(
    tmp_path: Path,
) -> None:
    platform = load_answers({**DEFAULT_ANSWERS, "engine": "argocd"})
    repo = new(platform, tmp_path / "out", tmp_path / "keys").repo_dir
    whole = dict(written.read(repo))
    shutil.rmtree(repo / written.RECORD_DIR)  # as repos made before the parts have it
    (repo / written.RECORD).write_text(json.dumps(whole, indent=0) + "\n", encoding="utf-8")
    legacy = (repo / written.RECORD).read_bytes()
    result = add_tenant(repo, "team-new", clusters=["dev-eu-1"])
    assert result.left_alone == []  # the one file said every file was as written
    assert (repo / written.RECORD).read_bytes() == legacy  # never written again
    record = written.read(repo)
    assert record["tenants/team-a/README.md"] == whole["tenants/team-a/README.md"]
    assert "tenants/team-new/README.md" in record
    assert not (repo / written.RECORD_DIR / "tenants.team-a.json").exists()
    remove_tenant(repo, "team-a")  # the part the one file holds, emptied: written as {}
    assert json.loads((repo / written.RECORD_DIR / "tenants.team-a.json").read_text()) == {}
    assert not [path for path in written.read(repo) if path.startswith("tenants/team-a/")]
