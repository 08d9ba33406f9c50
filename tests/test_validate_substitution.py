"""Flux postBuild substitution in `validate`: objects are checked as Flux applies them.

The substitution function on its own first (Flux's envsubst semantics), then seeded into
copies of a generated Flux repo: a Deployment with ``replicas: ${replicas}`` in the folder a
spoke's `infra-configs` Kustomization applies.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.commands.validate import validate
from scaffolder.generate import GeneratedRepo
from scaffolder.validate.documents import load_all
from scaffolder.validate.findings import Finding
from scaffolder.validate.repo import KubeObject, Location
from scaffolder.validate.substitution import (
    SourceIndex,
    Substituted,
    SubstitutionError,
    Variables,
    envsubst,
    invalid_names,
    postbuild_variables,
    substitute_document,
    substitute_documents,
)
from tests.conftest import SCHEMAS

# ------------------------------------------------------------------ the substitution function


def sub(text: str, **values: str) -> str:
    return envsubst(text, Variables(values))


def test_a_plain_variable_is_replaced_and_dollar_forms_without_braces_are_text() -> None:
    assert sub("image: web:${tag}", tag="1.2") == "image: web:1.2"
    assert sub("a: $tag, ${tag}$", tag="x") == "a: $tag, x$"
    assert sub("no dollar at all") == "no dollar at all"


def test_defaults_apply_when_the_variable_is_unset_or_empty() -> None:
    assert sub("${tag:=1.27}") == "1.27"
    assert sub("${tag:-1.27}") == "1.27"
    assert sub("${tag=1.27}") == "1.27"
    assert sub("${tag:=1.27}", tag="2.0") == "2.0"
    assert sub("${tag:-x}", tag="") == "x"
    assert sub("${tag:=${fallback}-rc}", fallback="3") == "3-rc"


def test_an_escaped_expression_is_printed_as_written() -> None:
    assert sub("echo $${HOME} $$1", HOME="/root") == "echo ${HOME} $1"
    assert sub("$${a}${a}", a="x") == "${a}x"


def test_an_undefined_variable_becomes_empty_as_flux_does_by_default() -> None:
    assert sub("name: app-${suffix}", other="x") == "name: app-"


def test_bash_operators_as_flux_evaluates_them() -> None:
    assert sub("${v^}/${v^^}/${V,}/${V,,}", v="abc", V="ABC") == "Abc/ABC/aBC/abc"
    assert sub("${#v}", v="abcd") == "4"
    assert sub("${p:6}|${p:1:3}|${p:-4}", p="/home/bozo") == "bozo|hom|/home/bozo"
    assert sub("${s/a/x}|${s//a/x}|${s/#ab/y}|${s/%ca/z}", s="abca") == "xbca|xbcx|yca|abz"
    assert sub("${f#*.}|${f##*.}|${f%.*}|${f%%.*}", f="a.b.c") == "b.c|c|a.b|a"


def test_edge_cases_of_the_operators_follow_flux() -> None:
    assert sub("${f#[ab]*/}|${f#[^b]}|${f%/*}|${f#\\*}", f="ab/cd") == "cd|b/cd|ab|ab/cd"
    assert sub("${p:x}|${p:1:y}|${p:1:-1}|${p:3:-3}", p="abcd") == "abcd|abcd|bc|"
    assert sub("${s/%a/}|${s/#b/}|${s/b/}", s="abab") == "abab|abab|aab"
    assert sub("${v,^}", v="Ab") == "Ab"  # an unknown casing: the value as it is


def test_a_document_the_substitution_breaks_is_an_error_and_the_others_still_resolve() -> None:
    docs = [("a: ${v}\n", {"a": "${v}"}), ("b: ${w}\n", {"b": "${w}"}), ("c: ${\n", {})]
    results = substitute_documents(docs, Variables({"v": "x: y", "w": "2"}), load_all)
    assert isinstance(results[0], yaml.YAMLError)
    assert results[1] == Substituted({"b": 2})
    assert isinstance(results[2], SubstitutionError)


@pytest.mark.parametrize("text", ["${{ github.ref }}", "${unclosed", "${a:=b", "${a/%b}", "${#}"])
def test_text_flux_cannot_substitute_is_an_error(text: str) -> None:
    with pytest.raises(SubstitutionError):
        sub(text, a="1")


def test_a_variable_of_unknown_value_is_marked_and_unresolved_where_it_is_the_whole_value() -> None:
    text = "spec:\n  replicas: ${replicas}\n  image: web:${tag}\n  name: ${name}\n"
    variables = Variables({"name": "web"}, unknown=frozenset({"replicas", "tag"}))
    done = substitute_document(text, yaml.safe_load(text), variables, yaml.safe_load)
    assert done.body == {"spec": {"replicas": "${replicas}", "image": "web:${tag}", "name": "web"}}
    assert done.unresolved == {("spec", "replicas")}


def test_substitution_retypes_unquoted_values_and_keeps_quoted_ones_strings() -> None:
    text = 'replicas: ${n}\nport: "${n}"\nflag: ${on}\n'
    done = substitute_document(
        text, yaml.safe_load(text), Variables({"n": "3", "on": "true"}), load_all_first
    )
    assert done.body == {"replicas": 3, "port": "3", "flag": True}
    assert done.unresolved == frozenset()


def load_all_first(text: str) -> Any:
    return load_all(text)[0]


@pytest.mark.parametrize("where", ["annotations", "labels"])
def test_no_substitution_under_the_disabled_label_or_annotation(where: str) -> None:
    body = {
        "metadata": {where: {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}},
        "data": {"x": "${a}"},
    }
    text = yaml.safe_dump(body)
    assert substitute_document(text, body, Variables({"a": "1"}), yaml.safe_load).body is body


def test_nothing_is_substituted_without_any_variable() -> None:
    body = {"data": {"x": "${a:=1}", "y": "$$"}}
    text = yaml.safe_dump(body)
    assert substitute_document(text, body, Variables(), yaml.safe_load).body is body


def obj(body: dict[str, Any]) -> KubeObject:
    return KubeObject(body, Location("x.yaml", 1))


def flux_kustomization(post_build: dict[str, Any], namespace: str = "apps") -> KubeObject:
    return obj(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"postBuild": post_build},
        }
    )


def test_postbuild_variables_read_configmaps_secrets_and_inline_values_in_flux_order() -> None:
    sources = SourceIndex(
        [
            obj(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "vars", "namespace": "apps"},
                    "data": {"region": "eu\n", "tier": "gold", "size": "s"},
                }
            ),
            obj(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "sealed", "namespace": "apps"},
                    "data": {"token": "ENC[AES256_GCM,data:xx]", "tier": "ENC[...]"},
                    "sops": {"age": []},
                }
            ),
            obj(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "plain", "namespace": "apps"},
                    "data": {"user": "YWRtaW4=", "broken": "not base64!"},
                    "stringData": {"mode": "fast"},
                }
            ),
        ]
    )
    kustomization = flux_kustomization(
        {
            "substituteFrom": [
                {"kind": "ConfigMap", "name": "vars"},
                {"kind": "Secret", "name": "sealed"},
                {"kind": "Secret", "name": "plain"},
            ],
            "substitute": {"size": "m", "parent": "${cluster_name}"},
        }
    )
    variables = postbuild_variables(kustomization, sources)
    assert variables == Variables(
        {"region": "eu", "size": "m", "user": "admin", "mode": "fast"},
        unknown=frozenset({"token", "tier", "parent", "broken"}),
    )
    missing = postbuild_variables(
        flux_kustomization({"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}, "other"),
        sources,
    )
    assert missing == Variables(any_unknown=True)
    assert postbuild_variables(flux_kustomization({"substitute": {}}), sources) is None
    assert invalid_names(Variables({"app.name": "x", "ok_1": "y"})) == ["app.name"]


# ------------------------------------------------------------------ seeded into a generated repo

SPOKE_SYNC = "clusters/hub/spokes/dev-eu-1/sync.yaml"
CONFIGS = "clusters/dev-eu-1/infrastructure/configs"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:${tag:=1.27}
"""


def run_validate(repo: Path) -> list[Finding]:
    return validate(repo, schema_locations=[str(SCHEMAS)], jobs=2).findings


@pytest.fixture
def flux_repo(repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path) -> Path:
    """A copy of the default Flux repo with a Deployment in a spoke's infra-configs path."""
    generated = repo_factory("flux", "default")
    repo = tmp_path / generated.repo_dir.name
    shutil.copytree(generated.repo_dir, repo, symlinks=True)
    assert run_validate(repo) == []
    (repo / CONFIGS / "web.yaml").write_text(DEPLOYMENT)
    kustomization = repo / CONFIGS / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - web.yaml\n")
    return repo


def set_post_build(
    repo: Path, post_build: dict[str, Any], extra: tuple[dict[str, Any], ...] | list[Any] = ()
) -> None:
    """Give the spoke's infra-configs Kustomization more postBuild; add documents to its file."""
    path = repo / SPOKE_SYNC
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    (configs,) = [d for d in docs if d["metadata"]["name"] == "infra-configs"]
    for key, value in post_build.items():
        if isinstance(value, dict):
            configs["spec"]["postBuild"].setdefault(key, {}).update(value)
        else:
            configs["spec"]["postBuild"][key] = value
    path.write_text(yaml.safe_dump_all([*docs, *extra], sort_keys=False))


def vars_configmap(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-vars", "namespace": "dev-eu-1"},
        "data": data,
    }


def web_line(repo: Path, text: str) -> int:
    lines = (repo / CONFIGS / "web.yaml").read_text().splitlines()
    return lines.index(text) + 1


def test_a_variable_the_kustomization_substitutes_with_a_number_validates(flux_repo: Path) -> None:
    set_post_build(flux_repo, {"substitute": {"replicas": "2"}})
    assert run_validate(flux_repo) == []


def test_a_substituted_value_of_the_wrong_type_is_a_schema_finding_at_the_field(
    flux_repo: Path,
) -> None:
    set_post_build(flux_repo, {"substitute": {"replicas": "two"}})
    findings = run_validate(flux_repo)
    assert [(f.check, f.file, f.line) for f in findings] == [
        ("schema/invalid", f"{CONFIGS}/web.yaml", web_line(flux_repo, "  replicas: ${replicas}"))
    ]
    assert "substituted by Kustomization dev-eu-1/infra-configs" in findings[0].message
    assert "spec.replicas: 'two' is not of type 'integer'" in findings[0].message


@pytest.mark.parametrize("replicas", ["3", "three"])
def test_a_variable_from_a_configmap_in_the_repo_is_resolved(
    flux_repo: Path, replicas: str
) -> None:
    from_configmap = {"substituteFrom": [{"kind": "ConfigMap", "name": "web-vars"}]}
    set_post_build(flux_repo, from_configmap, [vars_configmap(replicas=replicas)])
    findings = run_validate(flux_repo)
    if replicas == "3":
        assert findings == []
    else:
        assert [(f.check, f.file) for f in findings] == [("schema/invalid", f"{CONFIGS}/web.yaml")]
        assert "'three' is not of type 'integer'" in findings[0].message


def test_a_variable_of_unknown_value_is_not_judged_but_everything_else_is(
    flux_repo: Path,
) -> None:
    set_post_build(
        flux_repo,
        {"substituteFrom": [{"kind": "Secret", "name": "not-in-git", "optional": True}]},
    )
    assert run_validate(flux_repo) == []
    web = flux_repo / CONFIGS / "web.yaml"
    web.write_text(web.read_text().replace("  selector:", "  selectr:"))
    findings = run_validate(flux_repo)
    assert [(f.check, f.file, f.line) for f in findings] == [
        ("schema/invalid", f"{CONFIGS}/web.yaml", web_line(flux_repo, "spec:")),  # no selector
        ("schema/invalid", f"{CONFIGS}/web.yaml", web_line(flux_repo, "  selectr:")),
    ]
    assert not any("replicas" in f.message for f in findings)


def test_an_object_with_substitution_disabled_is_checked_as_written(flux_repo: Path) -> None:
    set_post_build(flux_repo, {"substitute": {"replicas": "2"}})
    web = flux_repo / CONFIGS / "web.yaml"
    web.write_text(
        web.read_text().replace(
            "  namespace: default\n",
            "  namespace: default\n  annotations:\n"
            "    kustomize.toolkit.fluxcd.io/substitute: disabled\n",
        )
    )
    findings = run_validate(flux_repo)
    assert [(f.check, f.file) for f in findings] == [("schema/invalid", f"{CONFIGS}/web.yaml")]
    assert "'${replicas}' is not of type 'integer'" in findings[0].message


def test_text_flux_cannot_substitute_is_a_build_finding(flux_repo: Path) -> None:
    set_post_build(flux_repo, {"substitute": {"replicas": "2"}})
    web = flux_repo / CONFIGS / "web.yaml"
    web.write_text(web.read_text().replace("nginx:${tag:=1.27}", "nginx:${{ tag }}"))
    findings = run_validate(flux_repo)
    assert [(f.check, f.file) for f in findings] == [("build/substitute", f"{CONFIGS}/web.yaml")]
    # the line and the expression as written, and the Kustomization Flux fails
    lines = web.read_text().splitlines()
    assert findings[0].line is not None and "${{ tag }}" in lines[findings[0].line - 1]
    assert "Deployment default/web: ${{ tag }}: " in findings[0].message
    assert "Flux fails Kustomization dev-eu-1/infra-configs" in findings[0].message


def test_one_bad_expression_is_one_finding_at_its_line_for_every_kustomization(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    """A tenant file applied on two spokes: one finding naming both appliers (F12)."""
    generated = repo_factory("flux", "default")
    repo = tmp_path / generated.repo_dir.name
    shutil.copytree(generated.repo_dir, repo, symlinks=True)
    namespace = repo / "tenants/team-a/platform/namespace.yaml"
    text = namespace.read_text()
    anchor = "    gitops-scaffold.io/tenant: team-a\n"
    namespace.write_text(text.replace(anchor, anchor + "    owner: ${cluster-name}\n", 1))
    expected_line = namespace.read_text().splitlines().index("    owner: ${cluster-name}") + 1
    findings = run_validate(repo)
    assert [(f.check, f.file, f.line) for f in findings] == [
        ("build/substitute", "tenants/team-a/platform/namespace.yaml", expected_line)
    ]
    message = findings[0].message
    assert "${cluster-name}" in message and "'cluster' is followed by '-'" in message
    assert "dev-eu-1/team-a-guardrails" in message and "prod-eu-1/team-a-guardrails" in message
    assert "missing closing brace" not in message


def test_an_invalid_variable_name_is_a_build_finding_at_the_kustomization(
    flux_repo: Path,
) -> None:
    set_post_build(flux_repo, {"substitute": {"replicas": "2", "web.tag": "1"}})
    findings = run_validate(flux_repo)
    assert [(f.check, f.file) for f in findings] == [("build/substitute", SPOKE_SYNC)]
    assert "'web.tag' is invalid" in findings[0].message
