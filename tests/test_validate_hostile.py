"""`validate` on hostile repos (issue 13, hardening; review-adversarial M2, M3, L14).

A pull request may hold anything: an alias bomb, deep nesting, a huge file, binary or
non-UTF-8 `.yaml`, symbolic links out of the repo, in a loop or to nothing, kustomizations
naming paths outside the repo or remote URLs. Each is one finding at its file, in bounded time
and memory, with no traceback and nothing read outside the repo or fetched.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.commands.validate import validate
from scaffolder.generate import GeneratedRepo
from scaffolder.validate import documents
from scaffolder.validate.documents import MAX_ALIAS_EXPANSION
from scaffolder.validate.repo import MAX_YAML_BYTES
from tests.cli_helpers import CLI, cli_env

BILLION_LAUGHS = "a0: &a0 [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10)
)
BOMB = BILLION_LAUGHS + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: *a9\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\n"
PLATFORM = "tenants/team-a/platform"  # a kustomization folder of the generated repo


def add_to_kustomization(folder: Path, entry: str) -> None:
    kustomization = folder / "kustomization.yaml"
    kustomization.write_text(
        kustomization.read_text(encoding="utf-8") + f"  - {entry}\n", encoding="utf-8"
    )


def hostile_repo(repo: Path, outside: Path) -> dict[str, str]:
    """Plant every hostile file in a copy of a generated repo: {file: what its finding says}."""
    team_a, team_b = repo / PLATFORM, repo / "tenants/team-b/platform"
    (team_a / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    add_to_kustomization(team_a, "bomb.yaml")  # built, the bomb would reach kustomize too
    (repo / "tenants/team-a/recursive.yaml").write_text("a: &a [*a]\n", encoding="utf-8")
    (repo / "tenants/team-a/deep.yaml").write_text(
        "a: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8"
    )
    with (repo / "tenants/team-a/huge.yaml").open("w", encoding="utf-8") as stream:
        line = "  k: " + "v" * 1019 + "\n"
        stream.write((CM % "huge") + "data:\n" + line * ((MAX_YAML_BYTES >> 10) + 1))
    (repo / "tenants/team-a/binary.yaml").write_bytes(bytes(range(256)) * 16)
    (repo / "tenants/team-a/latin1.yaml").write_bytes((CM % "caf\xe9").encode("latin-1"))
    (outside / "secret.yaml").write_text(CM % "stolen" + "data: {k: TOP-SECRET}\n")
    (repo / "tenants/team-a/out.yaml").symlink_to(outside / "secret.yaml")
    (repo / "tenants/team-a/etc").symlink_to("/etc")
    (repo / "tenants/team-a/self.yaml").symlink_to("self.yaml")
    (repo / "tenants/team-a/nothing.yaml").symlink_to(outside / "missing.yaml")
    (repo / "tenants/team-a/loop").symlink_to(repo / "tenants")
    add_to_kustomization(team_b, "../../../../etc")
    (repo / "clusters/dev-eu-1/remote").mkdir()
    (repo / "clusters/dev-eu-1/remote/kustomization.yaml").write_text(
        "resources:\n  - https://127.0.0.1:9/acme/x//deploy?ref=main\n", encoding="utf-8"
    )
    return {
        f"{PLATFORM}/bomb.yaml": "an alias bomb, not read",
        "tenants/team-a/recursive.yaml": "aliases expand this document without bound (contains",
        "tenants/team-a/deep.yaml": "exceeded maximum nesting depth",
        "tenants/team-a/huge.yaml": "larger than 16 MiB: not read",
        "tenants/team-a/binary.yaml": "unreadable: 'utf-8' codec can't decode",
        "tenants/team-a/latin1.yaml": "unreadable: 'utf-8' codec can't decode",
        "tenants/team-a/out.yaml": "a symbolic link out of the repository",
        "tenants/team-a/etc": "a symbolic link out of the repository ('/etc')",
        "tenants/team-a/self.yaml": "a symbolic link in a loop ('self.yaml')",
        "tenants/team-a/nothing.yaml": "a symbolic link to nothing",
        "tenants/team-a/loop": "a symbolic link in a loop",
        "tenants/team-b/platform/kustomization.yaml": "'../../../../etc' is outside the repository",
        "clusters/dev-eu-1/remote/kustomization.yaml": "is remote: kustomize would fetch it",
    }


def limit_memory() -> None:  # in the child: 2 GiB of address space (kustomize needs ~1)
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("engine", ["flux"])
def test_every_hostile_file_is_one_finding_in_bounded_time_and_memory(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    shutil.copytree(repo_factory(engine, "default").repo_dir, repo, symlinks=True)
    outside.mkdir()
    expected = hostile_repo(repo, outside)
    started = time.monotonic()
    done = subprocess.run(
        [*CLI, "validate", str(repo), "--format", "json", "--jobs", "2"],
        env=cli_env(tmp_path / "home"), capture_output=True, text=True, timeout=120,
        preexec_fn=limit_memory, check=False,
    )  # fmt: skip
    assert time.monotonic() - started < 60
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    by_file: dict[str, list[str]] = {}
    for finding in findings:
        by_file.setdefault(finding["file"], []).append(finding["message"])
    assert sorted(by_file) == sorted(expected), json.dumps(by_file, indent=1)
    for file, message in expected.items():
        assert len(by_file[file]) == 1 and message in by_file[file][0], (file, by_file[file])
    assert "TOP-SECRET" not in done.stdout  # nothing outside the repo was read


def test_a_bomb_or_a_binary_platform_yaml_is_one_finding_not_a_cascade(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    for name, content in {
        "bomb": (BILLION_LAUGHS + "repo_name: *a9\n").encode(),
        "binary": bytes(range(256)) * 8,
        "invalid": b"repo_name: x\nengine: helm\n",
    }.items():
        repo = tmp_path / name
        shutil.copytree(repo_factory("flux", "default").repo_dir, repo, symlinks=True)
        (repo / "platform.yaml").write_bytes(content)
        report = validate(repo, jobs=2)
        assert [f.file for f in report.findings] == ["platform.yaml"], report.findings
        assert report.findings[0].check in ("yaml/syntax", "refs/platform-invalid")
        assert any("platform.yaml cannot be read" in note for note in report.notes)


def test_aliases_within_bounds_are_read_as_before(tmp_path: Path) -> None:
    """Anchors and merge keys that a real manifest might use stay fine."""
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps/cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: apps, labels: &l {x: y},"
        " annotations: *l}\ndata: {k: v}\n",
        encoding="utf-8",
    )
    big = "[" + ",".join(["x"] * (MAX_ALIAS_EXPANSION // 20)) + "]"
    (repo / "apps/many.yaml").write_text(
        f"apiVersion: v1\nkind: List\nitems: []\nextra:\n  a: &a {big}\n  b: [*a, *a, *a]\n",
        encoding="utf-8",
    )
    report = validate(repo, jobs=2, any_folder=True, only=["secrets"])
    assert [f for f in report.findings if f.check == "yaml/syntax"] == []


def test_a_fifo_named_yaml_never_blocks(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    (repo / "apps/cm.yaml").write_text(CM % "a" + "data: {k: v}\n", encoding="utf-8")
    os.mkfifo(repo / "apps/fifo.yaml")
    started = time.monotonic()
    validate(repo, jobs=2, any_folder=True, only=["secrets"])
    assert time.monotonic() - started < 30


_TRICKY_YAML = """\
ints: [0x1F, 0o17, 017, 1_000, -3, +4, 0b101]
floats: [1e3, .inf, -.Inf, .NaN, 6.5e-3, 1_0.5]
bools: [yes, No, ON, off, true, False, y, n]
nulls: [~, null, Null, ]
dates: [2024-01-01, 2024-01-01T10:00:00Z]
strings: ["yes", '1e3', "", plain text, "two\\nlines", 'quote''s']
"1": one
2: two
---
base: &base {a: 1, b: [x]}
merged: {<<: *base, c: 3}
---
binary: !!binary aGVsbG8=
set: !!set {a, b}
---
nested: {l1: {l2: [{l3: [1, {l4: deep}]}]}}
---
"""


def test_direct_yaml_construction_is_pyyaml_s(tmp_path: Path) -> None:
    """Documents of plain maps, lists and core scalars are built without PyYAML's
    constructor (a third of the time): the same data, every scalar type; anything else
    (merge keys, aliases, complex keys, other tags) falls back to it."""

    class Reference(documents._KubernetesLoader):
        def construct_document(self, node: Any) -> Any:
            return yaml.constructor.SafeConstructor.construct_document(self, node)

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
            return math.isnan(b)
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
        return type(a) is type(b) and a == b

    for text in (_TRICKY_YAML, _TRICKY_YAML.replace("*base", "{a: 1}")):
        expected = [d for d in yaml.load_all(text, Loader=Reference) if d is not None]
        assert same(documents.load_all(text), expected)
    assert documents.load_all("when: 2024-01-01\n") == [{"when": "2024-01-01"}]
    with pytest.raises(yaml.YAMLError, match="duplicate key"):
        documents.load_all("a: 1\nb: 2\na: 3\n")
    shared = documents.load_all("a: &x [1, {b: 2}]\nc: *x\n")[0]
    assert shared["a"] is shared["c"]  # an alias is the same object, as PyYAML builds it
    with pytest.raises(yaml.YAMLError, match="unhashable key"):
        documents.load_all("? [complex, key]\n: no\n")
