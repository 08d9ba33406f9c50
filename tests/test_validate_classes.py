"""`validate` learns each class of mistake the reviews found in generated repos (issue 9).

Every check of scaffolder/validate/checks/{flux_rules,argocd_rules,rbac,scripts}.py (and the
tenancy and secrets checks added with them) is silent on the clean generated repos (both
engines; default, big and odd answers) and fails on a copy of one of them into which exactly
one defect of its class was seeded back: each seeded test names the review finding, and
asserts the check id, the file and the line of the finding, and that no other check speaks
(but the ones the same defect sets off, named). Real tools: kubectl kustomize, the strict
schemas of ../shared/schemas, git.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scaffolder.commands.new import new
from scaffolder.commands.validate import validate
from scaffolder.generate import GeneratedRepo
from scaffolder.model import load_answers
from scaffolder.validate.checks.argocd_rules import common_name, name_pattern
from scaffolder.validate.checks.flux_rules import duration_seconds
from scaffolder.validate.checks.scripts import logical_lines
from scaffolder.validate.findings import CHECKS, Report
from tests.cli_helpers import run_cli
from tests.conftest import SCHEMAS
from tests.test_argocd_review import ODD_ANSWERS as ARGOCD_ODD
from tests.test_flux_findings import ODD_ANSWERS as FLUX_ODD

RepoFactory = Callable[[str, str], GeneratedRepo]
ODD = {"flux": FLUX_ODD, "argocd": ARGOCD_ODD}
# The checks this change adds: each has a seeded test below.
NEW_CHECKS = sorted(
    c
    for c in CHECKS
    if c.split("/")[0] in ("flux", "argocd", "rbac", "scripts")
    or c in ("tenancy/platform-identity", "secrets/placeholder-comment")
)
_REPORTS: dict[Path, Report] = {}


def run_validate(repo: Path) -> Report:
    return validate(repo, schema_locations=[str(SCHEMAS)], jobs=2)


@pytest.fixture(scope="session")
def odd_repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GeneratedRepo]:
    """The odd platform of each engine's review tests (a hub not called hub, a branch not
    main, a spoke without region, uneven placement, six tenants), made once."""
    made = {}
    for engine, answers in ODD.items():
        root = tmp_path_factory.mktemp(f"classes-{engine}-odd")
        made[engine] = new(load_answers({**answers, "engine": engine}), root / "out", root / "k")
    return made


@pytest.fixture
def platform(repo_factory: RepoFactory, odd_repos: dict[str, GeneratedRepo]) -> Platforms:
    return Platforms(repo_factory, odd_repos)


class Platforms:
    def __init__(self, factory: RepoFactory, odd: dict[str, GeneratedRepo]) -> None:
        self.factory = factory
        self.odd = odd

    def __call__(self, engine: str, size: str = "default") -> GeneratedRepo:
        return self.odd[engine] if size == "odd" else self.factory(engine, size)


def clean_report(repo: GeneratedRepo) -> Report:
    if repo.repo_dir not in _REPORTS:
        _REPORTS[repo.repo_dir] = run_validate(repo.repo_dir)
    return _REPORTS[repo.repo_dir]


class Seeded:
    """A copy of a generated repo with one defect seeded into it."""

    def __init__(self, repo: GeneratedRepo, tmp_path: Path) -> None:
        self.generated = repo
        self.root = tmp_path / repo.repo_dir.name
        shutil.copytree(repo.repo_dir, self.root, symlinks=True)
        self.report: Report | None = None

    def edit(self, relative: str, old: str, new: str) -> Seeded:
        path = self.root / relative
        text = path.read_text()
        assert text.count(old) == 1, f"{relative}: {old!r} occurs {text.count(old)} times"
        path.write_text(text.replace(old, new))
        return self

    def remove(self, relative: str) -> Seeded:
        (self.root / relative).unlink()
        return self

    def line(self, relative: str, needle: str, after: str | None = None) -> int:
        """The 1-based line of ``relative`` holding ``needle`` (the first after ``after``)."""
        lines = (self.root / relative).read_text().splitlines()
        start = 0
        if after is not None:
            start = next(i for i, text in enumerate(lines) if after in text)
        return next(i for i, text in enumerate(lines) if i >= start and needle in text) + 1

    def found(
        self, check: str, relative: str, line: int | None, also: tuple[str, ...] = ()
    ) -> list[str]:
        """Validate; the seeded finding must be there, its check silent on the clean repo,
        and no other check may speak but the ``also`` the same defect sets off."""
        assert check in NEW_CHECKS
        before = clean_report(self.generated)
        assert check not in {f.check for f in before.findings}, before.findings
        if self.report is None:
            self.report = run_validate(self.root)
        report = self.report
        messages = [
            f.message
            for f in report.findings
            if (f.check, f.file, f.line) == (check, relative, line)
        ]
        assert messages, report.findings
        added = set(report.findings) - set(before.findings)
        assert {f.check for f in added} <= {check, *also}, added
        return messages


# --------------------------------------------------------------------------- clean repos


@pytest.mark.parametrize("engine", ["flux", "argocd"])
@pytest.mark.parametrize("size", ["default", "big", "odd"])
def test_clean_generated_repos_have_no_findings(
    platform: Platforms, engine: str, size: str
) -> None:
    """The full `validate`, every check included, reports nothing on the generated repos."""
    assert clean_report(platform(engine, size)).findings == []


def test_every_new_check_has_a_meaning_and_a_seeded_test() -> None:
    source = Path(__file__).read_text()
    for check in NEW_CHECKS:
        assert CHECKS[check] and "\n" not in CHECKS[check]
        assert re.search(rf'found\(\s*"{re.escape(check)}"', source), f"no seeded test of {check}"


# --------------------------------------------------------------------------- 1. identities


def test_f2_tenant_kustomization_applied_as_a_platform_identity(
    platform: Platforms, tmp_path: Path
) -> None:
    """F2: a tenant's repository applied as flux-platform (cluster-admin on the spoke)."""
    repo = Seeded(platform("flux"), tmp_path).edit(
        "tenants/team-a/sync/sync.yaml",
        "serviceAccountName: tenant-team-a",
        "serviceAccountName: flux-platform",
    )
    line = repo.line("tenants/team-a/sync/sync.yaml", "serviceAccountName")
    messages = repo.found("tenancy/platform-identity", "tenants/team-a/sync/sync.yaml", line)
    assert any("'flux-platform', a platform identity" in m for m in messages)


def test_s1_tenant_project_syncing_as_a_platform_identity(
    platform: Platforms, tmp_path: Path
) -> None:
    """S1: a tenant AppProject impersonating the spoke's admin credential."""
    project = "tenants/team-a/argocd/project.yaml"
    repo = Seeded(platform("argocd"), tmp_path).edit(
        project,
        "defaultServiceAccount: argocd:tenant-team-a",
        "defaultServiceAccount: kube-system:argocd-manager",
    )
    repo.found("tenancy/platform-identity", project, repo.line(project, "defaultServiceAccount"))


def test_tenant_namespace_binding_a_platform_identity(platform: Platforms, tmp_path: Path) -> None:
    """The tenant's applier binding names Argo CD's controller instead of tenant-<tenant>."""
    repo = Seeded(platform("argocd", "big"), tmp_path)
    rbac = "tenants/payments/platform/rbac.yaml"
    repo.edit(rbac, "name: tenant-payments", "name: argocd-application-controller")
    line = repo.line(rbac, "name: argocd-application-controller")
    repo.found("tenancy/platform-identity", rbac, line)


# --------------------------------------------------------------------------- 2. accounts


def test_f3_impersonated_account_missing_on_the_hub(platform: Platforms, tmp_path: Path) -> None:
    """F3: without tenant-<t> in the hub namespace, deleting <t>-apps prunes nothing."""
    repo = Seeded(platform("flux"), tmp_path).edit(
        "tenants/team-a/sync/kustomization.yaml", "  - service-account.yaml\n", ""
    )
    sync = "tenants/team-a/sync/sync.yaml"
    messages = repo.found(
        "flux/service-account-missing", sync, repo.line(sync, "serviceAccountName")
    )
    assert any("looks the account up on the cluster Flux runs on" in m for m in messages)


@pytest.mark.parametrize(("size", "tenant"), [("default", "team-a"), ("odd", "ops-tools")])
def test_f5_impersonated_account_missing_on_the_spoke(
    platform: Platforms, tmp_path: Path, size: str, tenant: str
) -> None:
    """F5: the account must exist on the remote cluster, in the Kustomization's namespace."""
    generated = platform("flux", size)
    identity = f"tenants/{tenant}/platform/flux-identity.yaml"
    repo = Seeded(generated, tmp_path).edit(
        identity,
        f"  name: tenant-{tenant}\n  namespace: ${{cluster_name}}\n  labels",
        f"  name: tenant-{tenant}-x\n  namespace: ${{cluster_name}}\n  labels",
    )
    sync = f"tenants/{tenant}/sync/sync.yaml"
    messages = repo.found(
        "flux/service-account-missing", sync, repo.line(sync, "serviceAccountName")
    )
    assert any(
        "on the remote cluster of kubeConfig Secret/cluster-kubeconfig" in m for m in messages
    )


# --------------------------------------------------------------------------- 3. names


def test_b1_dash_joined_names_collide(platform: Platforms, tmp_path: Path) -> None:
    """B1: 'guardrails.team-a.<folder>-<cluster>' can be 'guardrails.team-a.<cluster>'."""
    apps = "tenants/team-a/argocd/apps.yaml"
    repo = Seeded(platform("argocd"), tmp_path).edit(
        apps,
        'name: "app.team-a.{{ index .path.segments 1 }}.{{ .name }}"',
        'name: "guardrails.team-a.{{ index .path.segments 1 }}-{{ .name }}"',
    )
    repo.found("argocd/app-name-collision", apps, repo.line(apps, 'name: "guardrails.team-a.'))
    guardrails = "tenants/team-a/argocd/guardrails.yaml"
    repo.found("argocd/app-name-collision", guardrails, repo.line(guardrails, 'name: "guardrails.'))


def test_b1_tenant_prefixes_squat_each_other(platform: Platforms, tmp_path: Path) -> None:
    """B1: tenant `team`'s folder `a` squats tenant `team-a` (the odd config has both)."""
    apps = "tenants/team/argocd/apps.yaml"
    repo = Seeded(platform("argocd", "odd"), tmp_path).edit(
        apps,
        'name: "app.team.{{ index .path.segments 1 }}.{{ .name }}"',
        'name: "guardrails.team-{{ index .path.segments 1 }}.{{ .name }}"',
    )
    messages = repo.found(
        "argocd/app-name-collision", apps, repo.line(apps, 'name: "guardrails.team-')
    )
    assert any("guardrails.team-a." in m for m in messages)


def test_name_patterns_collide_only_where_a_name_can_be_shared() -> None:
    dotted = [
        "app.team-a.{{ index .path.segments 1 }}.{{ .name }}",
        "app.team.{{ index .path.segments 1 }}.{{ .name }}",
        "guardrails.team-a.{{ .name }}",
        "guardrails.team.{{ .name }}",
        "sample-app.team-a.{{ .name }}",
        "addon.sealed-secrets.{{ .name }}",
        "platform",
    ]
    patterns = [name_pattern(p) for p in dotted]
    for i, left in enumerate(patterns):
        for right in patterns[i + 1 :]:
            assert common_name(left, right) is None
    dashed = name_pattern("team-{{ index .path.segments 1 }}-{{ .name }}")
    witness = common_name(dashed, name_pattern("team-a-guardrails-{{ .name }}"))
    assert witness is not None and witness.startswith("team-a-guardrails-")
    assert common_name(name_pattern("{{ .name }}"), name_pattern("platform")) == "platform"


# --------------------------------------------------------------------------- 4, 5. projects


def test_s1_tenant_project_permitting_rbac_without_impersonation(
    platform: Platforms, tmp_path: Path
) -> None:
    """S1: no destinationServiceAccounts, and Role/RoleBinding no longer blacklisted."""
    project = "tenants/team-a/argocd/project.yaml"
    repo = Seeded(platform("argocd"), tmp_path).edit(
        project,
        """  destinationServiceAccounts:
  - server: "*"
    namespace: team-a
    defaultServiceAccount: argocd:tenant-team-a
  clusterResourceWhitelist: []
  namespaceResourceBlacklist:
  - group: ""
    kind: ResourceQuota
  - group: ""
    kind: LimitRange
  - group: rbac.authorization.k8s.io
    kind: Role
  - group: rbac.authorization.k8s.io
    kind: RoleBinding
""",
        """  clusterResourceWhitelist: []
  namespaceResourceBlacklist:
  - group: ""
    kind: ResourceQuota
  - group: ""
    kind: LimitRange
""",
    )
    line = repo.line(project, "- name: dev-eu-1", after="destinations:")
    messages = repo.found("argocd/project-unimpersonated-rbac", project, line)
    assert any("permits Role and RoleBinding" in m for m in messages)


def test_s2_default_project_left_to_argo_cd(platform: Platforms, tmp_path: Path) -> None:
    """S2: without a committed `default`, Argo CD creates it open."""
    projects = "clusters/hub/argocd/projects"
    repo = (
        Seeded(platform("argocd"), tmp_path)
        .edit(f"{projects}/kustomization.yaml", "- appproject-default.yaml\n", "")
        .remove(f"{projects}/appproject-default.yaml")
    )
    repo.found("argocd/default-project-open", ".", None)


def test_s2_default_project_declared_open(platform: Platforms, tmp_path: Path) -> None:
    default = "clusters/control/argocd/projects/appproject-default.yaml"
    repo = Seeded(platform("argocd", "odd"), tmp_path).edit(
        default, "  sourceRepos: []", "  sourceRepos: ['*']"
    )
    repo.found("argocd/default-project-open", default, repo.line(default, "sourceRepos"))


# --------------------------------------------------------------------------- 6. retries


def test_b3_finite_retries(platform: Platforms, tmp_path: Path) -> None:
    guardrails = "tenants/team-a/argocd/guardrails.yaml"
    repo = Seeded(platform("argocd"), tmp_path).edit(guardrails, "limit: -1", "limit: 5")
    repo.found("argocd/retry-finite", guardrails, repo.line(guardrails, "limit: 5"))


def test_b3_automated_sync_without_retry(platform: Platforms, tmp_path: Path) -> None:
    root = "clusters/hub/argocd/apps/root.yaml"
    repo = Seeded(platform("argocd"), tmp_path).edit(
        root,
        """    retry:
      limit: -1
      refresh: true
      backoff:
        duration: 30s
        factor: 2
        maxDuration: 10m
""",
        "",
    )
    repo.found("argocd/retry-finite", root, repo.line(root, "automated:"))


def test_b3_unlimited_retries_without_refresh(platform: Platforms, tmp_path: Path) -> None:
    addon = "clusters/mgmt/argocd/addons/external-secrets.yaml"
    repo = Seeded(platform("argocd", "big"), tmp_path).edit(
        addon, "refresh: true", "refresh: false"
    )
    repo.found("argocd/retry-without-refresh", addon, repo.line(addon, "retry:"))


# --------------------------------------------------------------------------- 7, 8, 9. Flux


def test_f10_sops_file_under_a_kustomization_without_decryption(
    platform: Platforms, tmp_path: Path
) -> None:
    """F10: the hub's infra-configs applies the hub's SOPS secrets."""
    infrastructure = "clusters/hub/infrastructure.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(
        infrastructure,
        """  timeout: 5m
  prune: true
  wait: true
  decryption:
    provider: sops
    secretRef:
      name: sops-age
""",
        """  timeout: 5m
  prune: true
  wait: true
""",
    )
    line = repo.line(infrastructure, "spec:", after="name: infra-configs")
    messages = repo.found("flux/decryption-missing", infrastructure, line)
    assert any("clusters/hub/secrets/cluster-secrets.sops.yaml" in m for m in messages)


def test_dangling_image_policy_marker(platform: Platforms, tmp_path: Path) -> None:
    deployment = "tenants/team-a/sample-app/deployment.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(
        deployment, '"flux-system:team-a-sample-app"', '"flux-system:team-a-sampleapp"'
    )
    line = repo.line(deployment, "$imagepolicy")
    repo.found("flux/image-policy-missing", deployment, line)


def test_f13_undefined_variable_in_a_substituted_path(platform: Platforms, tmp_path: Path) -> None:
    store = "infrastructure/configs/cluster-secret-store.yaml"
    repo = Seeded(platform("flux", "odd"), tmp_path).edit(
        store, 'value: "${cluster_name}"', 'value: "${cluster_nmae}"'
    )
    # kustomize writes the value unquoted, so Flux leaves `value:` (null): a schema finding too
    messages = repo.found(
        "flux/undefined-variable", store, repo.line(store, "cluster_nmae"), also=("schema/invalid",)
    )
    assert any("${cluster_nmae}" in m for m in messages)


def test_escaped_and_defaulted_variables_are_not_undefined(
    platform: Platforms, tmp_path: Path
) -> None:
    store = "infrastructure/configs/cluster-secret-store.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(
        store, "value: replace-this-store", 'value: "$${HOME}-${suffix:=x}-${cluster_env}"'
    )
    assert run_validate(repo.root).findings == []


# --------------------------------------------------------------------------- Flux, more


def test_f1_ssh_url_with_token_credentials(platform: Platforms, tmp_path: Path) -> None:
    source = "clusters/hub/spokes/dev-eu-1/source.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(
        source,
        "url: https://github.com/acme/acme-platform.git",
        "url: ssh://git@github.com/acme/acme-platform.git",
    )
    messages = repo.found("flux/git-auth-mismatch", source, repo.line(source, "url:"))
    assert any("needs identity and known_hosts" in m for m in messages)


def test_f1_https_url_with_ssh_credentials(platform: Platforms, tmp_path: Path) -> None:
    source = "clusters/control/spokes/prod-a/source.yaml"
    repo = Seeded(platform("flux", "odd"), tmp_path).edit(
        source,
        "url: ssh://git@git.example.org:2222/platform/odd-platform.git",
        "url: https://git.example.org/platform/odd-platform.git",
    )
    messages = repo.found("flux/git-auth-mismatch", source, repo.line(source, "url:"))
    assert any("the SSH key is ignored" in m for m in messages)


def test_f5_service_account_bound_as_a_user(platform: Platforms, tmp_path: Path) -> None:
    rbac = "tenants/team-a/platform/rbac.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(
        rbac,
        """  - kind: ServiceAccount
    name: tenant-team-a
    namespace: "${cluster_name}\"""",
        """  - kind: User
    name: system:serviceaccount:${cluster_name}:tenant-team-a""",
    )
    line = repo.line(rbac, "- kind: User")
    repo.found("rbac/user-serviceaccount", rbac, line)


def test_f6_impersonation_of_any_account(platform: Platforms, tmp_path: Path) -> None:
    access = "clusters/dev-eu-1/flux-access/hub-access.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(
        access,
        """    verbs: ["impersonate"]
    resourceNames:
      - flux-platform
""",
        """    verbs: ["impersonate"]
""",
    )
    line = repo.line(access, "- apiGroups", after="name: impersonate-flux-platform")
    repo.found("rbac/impersonate-unrestricted", access, line)


def test_f4_remote_helm_releases_without_orphan(platform: Platforms, tmp_path: Path) -> None:
    """F4: deleting the spoke's infra-controllers would uninstall ESO from the spoke."""
    sync = "clusters/hub/spokes/dev-eu-1/sync.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(
        sync,
        """  timeout: 25m
  prune: true
  wait: true
  # Deleting this Kustomization (detaching a spoke, offboarding a tenant) deletes nothing it
  # applied: what runs on the spoke keeps running.
  deletionPolicy: Orphan
""",
        """  timeout: 25m
  prune: true
  wait: true
""",
    )
    line = repo.line(sync, "spec:", after="name: infra-controllers")
    messages = repo.found("flux/orphan-missing", sync, line)
    assert any("helm-controller uninstalls the chart there" in m for m in messages)


def test_f4_platform_layer_on_a_spoke_without_orphan(platform: Platforms, tmp_path: Path) -> None:
    guardrails = "tenants/team-a/sync/guardrails.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(guardrails, "  deletionPolicy: Orphan\n", "")
    repo.found("flux/orphan-missing", guardrails, repo.line(guardrails, "spec:"))


def test_f4_spoke_kubeconfig_without_orphan(platform: Platforms, tmp_path: Path) -> None:
    spoke = "clusters/mgmt/spokes/stg-us-1.yaml"
    repo = Seeded(platform("flux", "big"), tmp_path).edit(spoke, "  deletionPolicy: Orphan\n", "")
    messages = repo.found("flux/orphan-missing", spoke, repo.line(spoke, "spec:"))
    assert any("Secret stg-us-1/cluster-kubeconfig" in m for m in messages)


def test_f17_kustomization_gives_up_before_its_releases(
    platform: Platforms, tmp_path: Path
) -> None:
    infrastructure = "clusters/hub/infrastructure.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(infrastructure, "timeout: 25m", "timeout: 10m")
    messages = repo.found(
        "flux/timeout-short", infrastructure, repo.line(infrastructure, "timeout: 10m")
    )
    assert any("5m per attempt x (1 + 3 retries) = 20m" in m for m in messages)


def test_f18_slack_channel_through_an_incoming_webhook(platform: Platforms, tmp_path: Path) -> None:
    alerts = "clusters/hub/spokes/dev-eu-1/notifications.yaml"
    repo = Seeded(platform("flux"), tmp_path).edit(
        alerts,
        "address: https://slack.com/api/chat.postMessage",
        "address: https://hooks.slack.com/services/T0/B0/X",
    )
    messages = repo.found("flux/slack-channel-ignored", alerts, repo.line(alerts, "channel:"))
    assert any("is not the Slack API" in m for m in messages)


def test_f18_slack_channel_without_an_address(platform: Platforms, tmp_path: Path) -> None:
    alerts = "clusters/control/notifications/alerts.yaml"
    repo = Seeded(platform("flux", "odd"), tmp_path).edit(
        alerts, "  address: https://slack.com/api/chat.postMessage\n", ""
    )
    repo.found("flux/slack-channel-ignored", alerts, repo.line(alerts, "channel:"))


# --------------------------------------------------------------------------- scripts, secrets


def test_f11_secret_through_client_side_apply(platform: Platforms, tmp_path: Path) -> None:
    script = "scripts/bootstrap.sh"
    repo = Seeded(platform("flux"), tmp_path).edit(
        script,
        """    '|' kubectl --context "${context}" apply --server-side --force-conflicts \\
    "--field-manager=${FIELD_MANAGER}" -f -""",
        """    '|' kubectl --context "${context}" apply -f -""",
    )
    line = repo.line(script, "run_piped kubectl", after="apply_created() {")
    messages = repo.found("scripts/client-side-secret", script, line)
    assert any("function apply_created" in m for m in messages)


def test_f20_password_flag_to_flux_bootstrap(platform: Platforms, tmp_path: Path) -> None:
    script = "scripts/bootstrap.sh"
    repo = Seeded(platform("flux", "odd"), tmp_path).edit(
        script,
        '  run "${bootstrap[@]}" ${auth_args[@]+"${auth_args[@]}"}',
        '  run "${bootstrap[@]}" --password="${GIT_PASSWORD}" ${auth_args[@]+"${auth_args[@]}"}',
    )
    repo.found("scripts/password-flag", script, repo.line(script, '--password="${GIT_PASSWORD}"'))


def test_placeholder_in_a_sops_comment(platform: Platforms, tmp_path: Path) -> None:
    secret = "clusters/hub/secrets/repo-platform.sops.yaml"
    repo = Seeded(platform("argocd"), tmp_path).edit(
        secret, "# Read access of Argo CD", "# REPLACE-ME: read access of Argo CD"
    )
    repo.found("secrets/placeholder-comment", secret, 1)


# --------------------------------------------------------------------------- Argo CD, reviewers'


def test_b2_annotation_read_by_field_access(platform: Platforms, tmp_path: Path) -> None:
    addon = "clusters/hub/argocd/addons/sealed-secrets.yaml"
    repo = Seeded(platform("argocd"), tmp_path).edit(
        addon,
        'enabled: {{ eq (index (index .metadata "annotations" | default (dict)) '
        '"sync_automated" | default "true") "true" }}',
        'enabled: {{ eq .metadata.annotations.sync_automated "true" }}',
    )
    line = repo.line(addon, ".metadata.annotations.sync_automated")
    repo.found("argocd/optional-metadata-field", addon, line)


def test_b2_label_the_selector_does_not_require(platform: Platforms, tmp_path: Path) -> None:
    guardrails = "tenants/web/argocd/guardrails.yaml"
    repo = Seeded(platform("argocd", "odd"), tmp_path).edit(
        guardrails,
        "        env: '{{ .metadata.labels.env }}'",
        "        env: '{{ .metadata.labels.region }}'",
    )
    line = repo.line(guardrails, ".metadata.labels.region")
    messages = repo.found("argocd/optional-metadata-field", guardrails, line)
    assert any("the cluster selector does not require it" in m for m in messages)


def test_w9_selector_by_label_against_a_listed_project(platform: Platforms, tmp_path: Path) -> None:
    guardrails = "tenants/team-a/argocd/guardrails.yaml"
    repo = Seeded(platform("argocd"), tmp_path).edit(
        guardrails,
        """            - key: cluster_name
              operator: In
              values:
                - dev-eu-1
                - prod-eu-1
""",
        "",
    )
    line = repo.line(guardrails, "selector:")
    messages = repo.found("argocd/selector-outside-project", guardrails, line)
    assert any("a cluster registered later" in m for m in messages)


def test_w9_selected_cluster_missing_from_the_project(platform: Platforms, tmp_path: Path) -> None:
    project = "tenants/search/argocd/project.yaml"
    repo = Seeded(platform("argocd", "big"), tmp_path).edit(
        project,
        "  - name: stg-us-1\n    namespace: search\n",
        "  - name: stg-us-2\n    namespace: search\n",
    )
    apps = "tenants/search/argocd/apps.yaml"
    messages = repo.found("argocd/selector-outside-project", apps, repo.line(apps, "selector:"))
    assert any("selects clusters stg-us-1" in m for m in messages)


def test_w1_committed_argocd_cm_beside_the_charts(platform: Platforms, tmp_path: Path) -> None:
    config = "clusters/hub/argocd/config"
    repo = Seeded(platform("argocd"), tmp_path)
    (repo.root / config / "argocd-cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\n"
        "data:\n  timeout.reconciliation: 180s\n"
    )
    repo.edit(
        f"{config}/kustomization.yaml",
        "  - namespace.yaml\n",
        "  - namespace.yaml\n  - argocd-cm.yaml\n",
    )
    repo.found("argocd/cm-two-owners", f"{config}/argocd-cm.yaml", 4)


# --------------------------------------------------------------------------- CLI, helpers


def test_the_cli_reports_a_seeded_class_in_json(platform: Platforms, tmp_path: Path) -> None:
    """`gitops-scaffold validate --format json` carries the new check ids, files and lines."""
    repo = Seeded(platform("flux"), tmp_path).edit(
        "tenants/team-b/sync/guardrails.yaml", "  deletionPolicy: Orphan\n", ""
    )
    done = run_cli(
        ["validate", repo.root, "--format", "json", "--schema-location", SCHEMAS, "--only", "flux"],
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    assert done.returncode == 1, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    assert "flux" in data["checks"]
    line = repo.line("tenants/team-b/sync/guardrails.yaml", "spec:")
    assert {(f["check"], f["file"], f["line"]) for f in data["findings"]} == {
        ("flux/orphan-missing", "tenants/team-b/sync/guardrails.yaml", line)
    }


def test_durations_and_logical_lines() -> None:
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("5m0s") == 300
    assert duration_seconds("${timeout}") is None
    lines = logical_lines("a \\\n  b # c\n# d\ne\n")
    assert [(line.number, line.text.strip()) for line in lines] == [(1, "a b"), (3, ""), (4, "e")]
