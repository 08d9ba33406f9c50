"""Progressive delivery (progressive_delivery: canary): Flagger on Flux, Argo Rollouts on Argo CD.

Each engine's canary repo is generated once for the module. Real tools only: kubectl
kustomize builds every kustomization, the strict schemas of ../shared/schemas (Flagger 1.44,
Argo Rollouts 1.9.1) validate every progressive delivery object, sops decrypts the cluster
Secrets, and `gitops-scaffold validate` checks the whole repo.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.cli import main
from scaffolder.commands.tenants import add_tenant
from scaffolder.commands.validate import validate
from scaffolder.errors import AnswersError
from scaffolder.generate import GeneratedRepo
from scaffolder.model import DEFAULT_ANSWERS, dump_answers, load_answers
from scaffolder.sops import decrypt_file
from scaffolder.validate.documents import load_file, yaml_files
from scaffolder.validate.kustomize import build, kustomization_folders
from scaffolder.validate.schemas import SchemaStore
from scaffolder.versions import VERSIONS
from tests.cli_helpers import run_cli
from tests.conftest import SCHEMAS, make_repo

ENGINES = ("flux", "argocd")
FLAGGER_KINDS = {"Canary", "MetricTemplate", "AlertProvider"}
ROLLOUTS_KINDS = {"Rollout", "AnalysisTemplate"}
PD_KINDS = FLAGGER_KINDS | ROLLOUTS_KINDS
EXPECTED_KINDS = {"flux": FLAGGER_KINDS, "argocd": ROLLOUTS_KINDS}

CANARY_ANSWERS: dict[str, Any] = {
    **DEFAULT_ANSWERS,
    "progressive_delivery": "canary",
    "tenants": [{"name": "team-a", "canary": True}, {"name": "team-b"}],
}

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GeneratedRepo]:
    return {
        engine: make_repo(tmp_path_factory.mktemp(f"pd-{engine}"), CANARY_ANSWERS, engine)
        for engine in ENGINES
    }


@pytest.fixture(scope="module")
def built(repos: dict[str, GeneratedRepo]) -> dict[str, dict[str, list[Doc]]]:
    """engine -> kustomization folder (relative) -> the documents it builds to."""
    result: dict[str, dict[str, list[Doc]]] = {}
    for engine, generated in repos.items():
        folders = kustomization_folders(generated.repo_dir)
        with ThreadPoolExecutor(max_workers=4) as pool:
            outputs = list(pool.map(build, folders))
        failures = [f"{r.folder}: {r.output}" for r in outputs if not r.ok]
        assert failures == []
        result[engine] = {
            Path(r.folder).relative_to(generated.repo_dir).as_posix(): [
                d for d in yaml.safe_load_all(r.output) if d
            ]
            for r in outputs
        }
    return result


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    assert SCHEMAS.is_dir(), f"schemas not found at {SCHEMAS} (set GITOPS_SCAFFOLD_SHARED)"
    return SchemaStore([SCHEMAS])


def file_documents(repo: Path) -> Iterator[tuple[Path, Doc]]:
    for path in yaml_files(repo):
        if ".github" in path.parts or path.name == "platform.yaml":
            continue
        for doc in load_file(path):
            if isinstance(doc.body, dict):
                yield path, doc.body


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind]


def find(docs: list[Doc], kind: str, namespace: str, name: str) -> Doc | None:
    for doc in of_kind(docs, kind):
        meta = doc["metadata"]
        if meta["name"] == name and meta.get("namespace", "") == namespace:
            return doc
    return None


def everything(built: dict[str, list[Doc]]) -> list[Doc]:
    return [doc for docs in built.values() for doc in docs]


# --------------------------------------------------------------------------- schemas and builds


@pytest.mark.parametrize("engine", ENGINES)
def test_every_progressive_delivery_object_is_valid_against_strict_schemas(
    repos: dict[str, GeneratedRepo],
    built: dict[str, dict[str, list[Doc]]],
    store: SchemaStore,
    engine: str,
) -> None:
    repo = repos[engine].repo_dir
    seen: set[str] = set()
    problems = []
    sources = [(str(p.relative_to(repo)), d) for p, d in file_documents(repo)]
    sources += [(folder, d) for folder, docs in built[engine].items() for d in docs]
    for where, doc in sources:
        if doc.get("kind") in PD_KINDS:
            seen.add(doc["kind"])
            problems += [f"{where}: {p}" for p in store.problems(doc)]
    assert problems == []
    assert seen == EXPECTED_KINDS[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_canary_folder_builds_alone(
    built: dict[str, dict[str, list[Doc]]], engine: str
) -> None:
    kinds = {d["kind"] for d in built[engine]["tenants/team-a/canary"]}
    expected = {
        "flux": {"Deployment", "HorizontalPodAutoscaler", "Ingress", "NetworkPolicy", "Canary"},
        "argocd": {"Service", "Ingress", "NetworkPolicy", "AnalysisTemplate", "Rollout"},
    }
    assert kinds == expected[engine]
    assert "tenants/team-b/canary" not in built[engine]  # only the tenants that opt in


# --------------------------------------------------------------------------- Flux: Flagger


def test_flagger_canary_references_resolve(built: dict[str, dict[str, list[Doc]]]) -> None:
    flux = built["flux"]
    app = flux["tenants/team-a/canary"]
    everywhere = everything(flux)
    (canary,) = of_kind(app, "Canary")
    namespace = canary["metadata"]["namespace"]
    spec = canary["spec"]
    for ref in ("targetRef", "ingressRef", "autoscalerRef"):
        assert find(app, spec[ref]["kind"], namespace, spec[ref]["name"]), ref
    deployment = find(app, "Deployment", namespace, spec["targetRef"]["name"])
    assert deployment is not None
    # Flagger and Flux would fight over replicas; Flagger selects pods by this label.
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": spec["targetRef"]["name"]
    }
    # The Ingress routes to the apex Service Flagger generates (named like the target).
    ingress = find(app, "Ingress", namespace, spec["ingressRef"]["name"])
    assert ingress is not None
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {
        "name": spec["targetRef"]["name"],
        "port": {"number": spec["service"]["port"]},
    }
    assert not of_kind(app, "Service")  # Flagger generates them
    analysis = spec["analysis"]
    assert {m["name"] for m in analysis["metrics"]} >= {"request-success-rate", "request-duration"}
    templated = [m for m in analysis["metrics"] if "templateRef" in m]
    assert templated
    for metric in templated:
        ref = metric["templateRef"]
        assert find(everywhere, "MetricTemplate", ref.get("namespace", namespace), ref["name"])
    for alert in analysis["alerts"]:
        ref = alert["providerRef"]
        assert find(everywhere, "AlertProvider", ref.get("namespace", namespace), ref["name"])
    assert {"interval", "threshold", "stepWeight", "maxWeight"} <= set(analysis)
    hooks = {h["name"]: h for h in analysis["webhooks"]}
    assert "load-test" in hooks
    loadtester = find(everywhere, "HelmRelease", "dev-eu-1", "flagger-loadtester")
    assert loadtester is not None
    url = f"http://{loadtester['spec']['releaseName']}.{loadtester['spec']['targetNamespace']}/"
    assert all(h["url"].startswith(url) for h in hooks.values())
    assert hooks["load-test"]["url"] == url
    assert hooks["manual-rollback"] == {"name": "manual-rollback", "type": "rollback",
                                        "url": url + "rollback/check"}  # fmt: skip


def test_flagger_is_pinned_and_its_provider_matches_the_canaries(
    built: dict[str, dict[str, list[Doc]]],
) -> None:
    flux = built["flux"]
    (canary,) = of_kind(flux["tenants/team-a/canary"], "Canary")
    for spoke in ("dev-eu-1", "prod-eu-1"):
        controllers = flux[f"clusters/{spoke}/infrastructure/controllers"]
        flagger = find(controllers, "HelmRelease", spoke, "flagger")
        assert flagger is not None
        chart = flagger["spec"]["chart"]["spec"]
        assert (chart["chart"], chart["version"]) == ("flagger", VERSIONS["flagger_chart"])
        assert flagger["spec"]["values"]["meshProvider"] == canary["spec"]["provider"] == "nginx"
        assert flagger["spec"]["kubeConfig"]["secretRef"]["name"] == "cluster-kubeconfig"
        loadtester = find(controllers, "HelmRelease", spoke, "flagger-loadtester")
        assert loadtester is not None
        spec = loadtester["spec"]["chart"]["spec"]
        assert spec["version"] == VERSIONS["flagger_loadtester_chart"]
        assert find(controllers, "HelmRepository", spoke, spec["sourceRef"]["name"])
        configs = flux[f"clusters/{spoke}/infrastructure/configs"]
        assert of_kind(configs, "MetricTemplate") and of_kind(configs, "AlertProvider")
    # Canaries run where tenants run: nothing of Flagger's on the hub.
    hub = (
        flux["clusters/hub/infrastructure/controllers"]
        + flux["clusters/hub/infrastructure/configs"]
    )
    assert not [d for d in hub if "flagger" in d["metadata"]["name"] or d["kind"] in PD_KINDS]


def test_flagger_alerts_use_a_sops_secret_of_each_spoke(repos: dict[str, GeneratedRepo]) -> None:
    generated = repos["flux"]
    for spoke in ("dev-eu-1", "prod-eu-1"):
        path = generated.repo_dir / f"clusters/{spoke}/secrets/flagger-alerts.sops.yaml"
        assert "ENC[" in path.read_text(encoding="utf-8")  # never plaintext in git
        secret = yaml.safe_load(decrypt_file(path, generated.keys_dir / "admin.agekey"))
        assert secret["metadata"] == {
            "name": "flagger-alerts",
            "namespace": "flagger-system",
            "annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"},
        }
        assert set(secret["stringData"]) == {"address"}  # what Flagger reads
    assert not (generated.repo_dir / "clusters/hub/secrets/flagger-alerts.sops.yaml").exists()


def test_the_flux_canary_kustomization_waits_for_flagger_and_its_rights(
    built: dict[str, dict[str, list[Doc]]],
) -> None:
    flux = built["flux"]
    sync = flux["clusters/dev-eu-1/tenant-sync"]
    canary = find(sync, "Kustomization", "dev-eu-1", "team-a-canary")
    assert canary is not None
    assert canary["spec"]["path"] == "./tenants/team-a/canary"
    assert canary["spec"]["serviceAccountName"] == "tenant-team-a"
    for dependency in canary["spec"]["dependsOn"]:
        assert find(flux["clusters/hub/spokes/dev-eu-1"] + sync, "Kustomization", "dev-eu-1",
                    dependency["name"]), dependency  # fmt: skip
    assert find(sync, "Kustomization", "dev-eu-1", "team-b-canary") is None
    roles = of_kind(flux["clusters/dev-eu-1/infrastructure/configs"], "ClusterRole")
    assert any(
        r["metadata"]["labels"].get("rbac.authorization.k8s.io/aggregate-to-admin") == "true"
        and "canaries" in r["rules"][0]["resources"]
        for r in roles
    )


# --------------------------------------------------------------------------- Argo CD: Rollouts


def test_rollout_references_resolve(built: dict[str, dict[str, list[Doc]]]) -> None:
    app = built["argocd"]["tenants/team-a/canary"]
    (rollout,) = of_kind(app, "Rollout")
    namespace = rollout["metadata"]["namespace"]
    canary = rollout["spec"]["strategy"]["canary"]
    for key in ("canaryService", "stableService"):
        service = find(app, "Service", namespace, canary[key])
        assert service is not None, key
        assert service["spec"]["selector"] == rollout["spec"]["selector"]["matchLabels"]
    templates = canary["analysis"]["templates"]
    for ref in templates:
        template = find(app, "AnalysisTemplate", namespace, ref["templateName"])
        assert template is not None
        declared = {a["name"] for a in template["spec"]["args"]}
        assert declared == {a["name"] for a in canary["analysis"]["args"]}
        prometheus = template["spec"]["metrics"][0]["provider"]["prometheus"]
        # Argo Rollouts' own template syntax, written through Jinja verbatim
        assert "{{args.service-name}}" in prometheus["query"]
    ingress = find(app, "Ingress", namespace, canary["trafficRouting"]["nginx"]["stableIngress"])
    assert ingress is not None
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == canary["stableService"]
    weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
    assert weights == sorted(weights) and any("pause" in s for s in canary["steps"])


def test_argo_rollouts_is_an_addon_of_the_spokes_only(
    repos: dict[str, GeneratedRepo], built: dict[str, dict[str, list[Doc]]]
) -> None:
    addons = built["argocd"]["clusters/hub/argocd/addons"]
    appset = find(addons, "ApplicationSet", "argocd", "argo-rollouts")
    assert appset is not None
    selector = appset["spec"]["generators"][0]["clusters"]["selector"]["matchLabels"]
    assert selector == {"enable_progressive_delivery": "true"}
    (source,) = [s for s in appset["spec"]["template"]["spec"]["sources"] if "chart" in s]
    assert (source["chart"], source["targetRevision"]) == (
        "argo-rollouts",
        VERSIONS["argo_rollouts_chart"],
    )
    generated = repos["argocd"]
    for cluster in ("hub", "dev-eu-1", "prod-eu-1"):
        path = generated.repo_dir / f"clusters/{cluster}/secrets/cluster.sops.yaml"
        secret = yaml.safe_load(decrypt_file(path, generated.keys_dir / "admin.agekey"))
        labelled = secret["metadata"]["labels"].get("enable_progressive_delivery") == "true"
        assert labelled == (cluster != "hub"), cluster
    # The tenant's canary ApplicationSet reads this repository: its AppProject allows it.
    tenant = built["argocd"]["tenants/team-a/argocd"]
    project = find(tenant, "AppProject", "argocd", "team-a")
    assert project is not None
    assert load_answers(CANARY_ANSWERS).git_url in project["spec"]["sourceRepos"]
    appset = find(tenant, "ApplicationSet", "argocd", "team-a-canary-app")
    assert appset is not None
    assert appset["spec"]["template"]["spec"]["source"]["path"] == "tenants/team-a/canary"


# --------------------------------------------------------------------------- the whole repo


@pytest.mark.parametrize("engine", ENGINES)
def test_validate_finds_nothing_in_a_canary_repo(
    repos: dict[str, GeneratedRepo], engine: str
) -> None:
    report = validate(repos[engine].repo_dir, schema_locations=[str(SCHEMAS)], jobs=2)
    assert [str(f) for f in report.findings] == []


@pytest.mark.parametrize("engine", ENGINES)
def test_none_writes_no_progressive_delivery_objects(repo_factory: Any, engine: str) -> None:
    repo = repo_factory(engine).repo_dir
    assert [str(p) for p, d in file_documents(repo) if d.get("kind") in PD_KINDS] == []
    names = [p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in p.parts]
    words = ("canary", "flagger", "rollouts", "progressive")
    assert [n for n in names if any(w in n for w in words)] == []
    assert "progressive_delivery" not in (repo / "platform.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_docs_page_says_how_to_promote_abort_and_read_a_rollback(
    repos: dict[str, GeneratedRepo], engine: str
) -> None:
    repo = repos[engine].repo_dir
    page = (repo / "docs/progressive-delivery.md").read_text(encoding="utf-8")
    for heading in ("## How a canary progresses", "## Promote or abort", "## What a rollback"):
        assert heading in page
    assert "In Git" in page and "In the cluster" in page
    commands = {"flux": "/rollback/open", "argocd": "kubectl argo rollouts abort canary-app"}
    assert commands[engine] in page
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "## Progressive delivery" in readme and "(team-a)" in readme


# --------------------------------------------------------------------------- answers


def test_the_answers_round_trip_and_a_lone_canary_tenant_is_refused() -> None:
    platform = load_answers(CANARY_ANSWERS)
    assert platform.progressive_delivery == "canary"
    assert [t.canary for t in platform.tenants] == [True, False]
    dumped = dump_answers(platform)
    assert dumped["progressive_delivery"] == "canary"
    assert dumped["tenants"] == [{"name": "team-a", "canary": True}, {"name": "team-b"}]
    assert load_answers(dumped) == platform
    with pytest.raises(AnswersError, match=r"tenants\[0\]\.canary.*needs progressive_delivery"):
        load_answers({**CANARY_ANSWERS, "progressive_delivery": "none"})
    with pytest.raises(AnswersError, match=r"progressive_delivery.*must be one of: none, canary"):
        load_answers({**DEFAULT_ANSWERS, "progressive_delivery": "bluegreen"})
    with pytest.raises(AnswersError, match=r"tenants\[0\]\.canary.*true or false"):
        load_answers({**CANARY_ANSWERS, "tenants": [{"name": "team-a", "canary": "yes"}]})


# --------------------------------------------------------------------------- add-tenant --canary


@pytest.mark.parametrize("engine", ENGINES)
def test_add_tenant_canary_gives_the_new_tenant_the_sample(
    repos: dict[str, GeneratedRepo], engine: str, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(repos[engine].repo_dir, repo, symlinks=True)
    result = add_tenant(repo, "team-c", clusters=["dev-eu-1"], canary=True)
    assert "tenants/team-c/canary/kustomization.yaml" in result.written
    assert "canary: true" in (repo / "platform.yaml").read_text(encoding="utf-8")
    out = build(repo / "tenants/team-c/canary")
    assert out.ok, out.output
    kinds = {d["kind"] for d in yaml.safe_load_all(out.output) if d}
    assert (
        kinds & PD_KINDS == {"flux": {"Canary"}, "argocd": {"Rollout", "AnalysisTemplate"}}[engine]
    )
    report = validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)
    assert [str(f) for f in report.findings] == []


def test_add_tenant_canary_is_refused_without_progressive_delivery(
    repo_factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(repo_factory("flux").repo_dir, repo, symlinks=True)
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    assert main(["add-tenant", "team-c", "--canary", "--no-input", "--repo", str(repo)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--canary needs progressive_delivery: canary" in err
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_add_tenant_canary_through_the_real_cli(
    repos: dict[str, GeneratedRepo], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(repos["flux"].repo_dir, repo, symlinks=True)
    done = run_cli(
        ["add-tenant", "team-c", "--canary", "--no-input", "--repo", repo],
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    assert done.returncode == 0, done.stderr
    assert (repo / "tenants/team-c/sync/canary.yaml").is_file()
