"""The files derived from the whole answers: which unit writes each, and their layout.

They list clusters or tenants (index kustomizations, AppProjects, argocd-rbac-cm, the spokes'
sources and tenant-sync) or the public keys (.sops.yaml), and the templates write them like
every other file. Their layout stays the one they had when Python dumped them with
``quoting.dump_yaml``: a day-2 command rewrites a file only when it is byte for byte what this
tool wrote, so a repo generated before must not see them change by a line break.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from scaffolder import keys
from scaffolder.generate import key_names, repo_files
from scaffolder.model import DEFAULT_ANSWERS, MAX_TENANT_NAME, Platform, load_answers
from scaffolder.quoting import dump_yaml
from scaffolder.render import Renderer
from tests.conftest import BIG_ANSWERS

DERIVED = "# Derived from platform.yaml"
# Long names, groups with spaces, a window over envs with long names: every wrapped value.
LONG_ENVS = [f"environment-{n}-with-a-long-name" for n in ("one", "two", "three")]
WIDE_ANSWERS: dict[str, Any] = {
    "repo_name": "wide-platform",
    "clusters": [
        {"name": "hub", "role": "hub", "env": "mgmt"},
        *({"name": f"spoke-{i}", "role": "spoke", "env": env} for i, env in enumerate(LONG_ENVS)),
    ],
    "tenants": [
        {
            "name": "listed-".ljust(MAX_TENANT_NAME, "x"),
            "clusters": ["spoke-0", "spoke-2"],
            "sso_group": "Platform Engineering Team Members " * 4 + "EU",
        },
        {"name": "everywhere-".ljust(MAX_TENANT_NAME, "y"), "sso_group": "g" * 200},
        {"name": "alone", "clusters": ["spoke-1"]},
    ],
    "sso": {"admin_group": "Administrators of the whole platform " * 3 + "x"},
    "sync": {
        "manual_envs": [LONG_ENVS[2]],
        "windows": [
            {"kind": "deny", "schedule": "0 22 * * *", "duration": "8h", "envs": LONG_ENVS},
            {"kind": "allow", "schedule": "0 6 * * 1-5", "duration": "2h", "envs": ["mgmt"]},
        ],
    },
}
ANSWERS = {"default": DEFAULT_ANSWERS, "big": BIG_ANSWERS, "wide": WIDE_ANSWERS}


def platform_of(size: str, engine: str) -> Platform:
    return load_answers({**ANSWERS[size], "engine": engine})


def public_keys(platform: Platform) -> dict[str, str]:
    return {name: key.public for name, key in keys.new_keys(key_names(platform)).items()}


def derived_paths(platform: Platform) -> set[str]:
    hub = platform.hub.name
    if platform.engine == "flux":
        return {
            ".sops.yaml",
            f"clusters/{hub}/spokes/kustomization.yaml",
            *(f"clusters/{hub}/spokes/{s.name}/source.yaml" for s in platform.spokes),
            *(f"clusters/{s.name}/tenant-sync/kustomization.yaml" for s in platform.spokes),
        }
    projects = f"clusters/{hub}/argocd/projects"
    return {
        ".sops.yaml",
        f"{projects}/kustomization.yaml",
        *(f"{projects}/appproject-{p}.yaml" for p in ("platform", "addons")),
        f"{projects}/appproject-default.yaml",
        f"clusters/{hub}/argocd/tenants/kustomization.yaml",
        f"clusters/{hub}/argocd/config/argocd-rbac-cm.yaml",
        *(f"tenants/{t.name}/argocd/project.yaml" for t in platform.tenants),
        *(f"tenants/{t.name}/argocd/guardrails-project.yaml" for t in platform.tenants),
    }


@pytest.mark.parametrize("engine", ["flux", "argocd"])
@pytest.mark.parametrize("size", list(ANSWERS))
def test_derived_files_are_laid_out_as_dump_yaml_wrote_them(engine: str, size: str) -> None:
    platform = platform_of(size, engine)
    files = repo_files(platform, public_keys(platform))
    derived = {path: f.content for path, f in files.items() if f.content.startswith(DERIVED)}
    assert set(derived) == derived_paths(platform)
    for path, text in derived.items():
        lines = text.splitlines(keepends=True)
        comments = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        body = "".join(lines[comments:])
        documents = list(yaml.safe_load_all(body))
        width = 200 if path == ".sops.yaml" else 100
        assert body == dump_yaml(*documents, width=width), path


def test_wide_answers_wrap_every_kind_of_long_value() -> None:
    """The wide answers reach each wrapped value of the Argo CD files (else the layout test
    above would not check its column)."""
    platform = platform_of("wide", "argocd")
    files = repo_files(platform, public_keys(platform))
    tenant = platform.tenants[0].name
    project = files[f"tenants/{tenant}/argocd/project.yaml"].content
    wrapped = [line.strip() for line in project.splitlines() if line.endswith("\\")]
    assert [line.split(":")[0] for line in wrapped[:2]] == ["description", "description"]
    assert any(line.startswith('- "p, proj:') for line in wrapped)
    assert any(line.startswith('- "Platform Engineering') for line in wrapped)
    guardrails = files[f"clusters/{platform.hub.name}/argocd/projects/appproject-addons.yaml"]
    assert '    description: "platform.yaml sync.windows[0] (envs:' in guardrails.content
    assert guardrails.content.count("\\\n") == 2  # the project's and the window's descriptions


def test_each_derived_file_comes_from_the_unit_that_owns_it() -> None:
    """A day-2 change renders few units: a tenant's AppProject is its own unit's, a spoke's
    tenant list and source are the spoke's, the lists of all tenants or spokes the base's,
    .sops.yaml the root's (given the public keys)."""
    for engine in ("flux", "argocd"):
        platform = platform_of("big", engine)
        renderer = Renderer(platform, public_keys(platform))
        hub = platform.hub.name
        assert ".sops.yaml" in renderer.root()
        assert ".sops.yaml" not in Renderer(platform).root()
        base = renderer.base()
        spoke, tenant = platform.spokes[0], platform.tenants[0]
        if engine == "flux":
            assert f"clusters/{hub}/spokes/kustomization.yaml" in base
            assert set(renderer.cluster(spoke)) >= {
                f"clusters/{hub}/spokes/{spoke.name}/source.yaml",
                f"clusters/{spoke.name}/tenant-sync/kustomization.yaml",
            }
            assert not [p for p in renderer.cluster(platform.hub) if "tenant-sync" in p]
        else:
            assert {
                f"clusters/{hub}/argocd/tenants/kustomization.yaml",
                f"clusters/{hub}/argocd/config/argocd-rbac-cm.yaml",
            } <= set(base)
            assert {
                f"tenants/{tenant.name}/argocd/project.yaml",
                f"tenants/{tenant.name}/argocd/guardrails-project.yaml",
            } <= set(renderer.tenant(tenant))
