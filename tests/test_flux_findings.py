"""The findings of shared/reviews/review-flux-output.md, each guarded by a test named after it.

Each test reads the generated repos the way the hub's Flux would (the walk of
tests/test_flux_repo.py: kustomize builds of every Flux Kustomization's path, postBuild
variables substituted), or runs scripts/bootstrap.sh with bash. Real tools only: kubectl
kustomize, sops, git, bash; the bootstrap's real run uses stand-ins for kubectl and flux that
log their arguments (there is no cluster), and the real sops.

Upstream behaviour each test relies on is cited in its docstring (Flux v2.9: flux2
cmd/flux/bootstrap_git.go, kustomize-controller finalize(), fluxcd/pkg runtime/client
Impersonator, helm-controller reconcileDelete, source-controller spec.ignore).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffolder.commands.new import new
from scaffolder.commands.validate import validate
from scaffolder.context import git_url_form
from scaffolder.generate import GeneratedRepo
from scaffolder.model import Platform, load_answers
from scaffolder.sops import decrypt_file, encrypt_text
from scaffolder.tools import find_sops
from scaffolder.validate.kustomize import build
from scaffolder.versions import VERSIONS
from tests.conftest import SCHEMAS
from tests.test_flux_repo import (
    KUBECONFIG_SECRET,
    SOPS_SECRET,
    SPOKE_RECONCILER,
    Applied,
    FluxWalk,
    _dependencies,
    _sops_recipients,
    walk_flux,
)

HUB_IDENTITY = "flux-hub"
GIT_AUTH_SECRET = "platform-git-auth"
PRUNE_DISABLED = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
BASH = shutil.which("bash") or "/bin/bash"

# A hub not called hub, a branch not main, an SSH URL on a non-GitHub host with a port, a spoke
# without a region, uneven placement and six tenants (one spoke gets a single tenant).
ODD_ANSWERS: dict[str, Any] = {
    "repo_name": "odd-platform",
    "git_url": "ssh://git@git.example.org:2222/platform/odd-platform.git",
    "git_branch": "release/gitops",
    "clusters": [
        {"name": "control", "role": "hub", "env": "ops", "region": "eu-north-1"},
        {"name": "edge-1", "role": "spoke", "env": "edge"},
        {"name": "stage-a", "role": "spoke", "env": "staging", "region": "ap-south-1"},
        {"name": "prod-a", "role": "spoke", "env": "prod", "region": "eu-central-1"},
    ],
    "tenants": [
        {"name": "shop", "clusters": ["stage-a", "prod-a"]},
        {"name": "ledger", "clusters": ["prod-a"]},
        {"name": "maps"},
        {"name": "search", "clusters": ["stage-a"]},
        {"name": "media", "clusters": ["prod-a", "stage-a"]},
        {"name": "ops-tools", "clusters": ["edge-1", "prod-a"], "path": "./k8s/overlays"},
    ],
    "notifications": {"provider": "slack", "channel": "#ops-alerts"},
}


@pytest.fixture(scope="session")
def odd_repo(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRepo:
    root = tmp_path_factory.mktemp("flux-odd")
    return new(load_answers({**ODD_ANSWERS, "engine": "flux"}), root / "out", root / "keys")


@pytest.fixture(params=["default", "big", "odd"])
def repo(
    request: pytest.FixtureRequest,
    repo_factory: Callable[[str, str], GeneratedRepo],
    odd_repo: GeneratedRepo,
) -> GeneratedRepo:
    if request.param == "odd":
        return odd_repo
    return repo_factory("flux", str(request.param))


@cache
def _walk(path: Path) -> FluxWalk:
    return walk_flux(path)


@pytest.fixture
def walk(repo: GeneratedRepo) -> FluxWalk:
    result = _walk(repo.repo_dir)
    assert result.build_errors == []
    return result


def https(platform: Platform) -> bool:
    return git_url_form(platform.git_url).startswith("https://")


def spoke_objects(walk: FluxWalk, spoke: str) -> list[Applied]:
    """Everything applied to ``spoke`` (through its kubeconfig)."""
    return [o for o in walk.objects if o.on_spoke and o.applier.split("/")[0] == spoke]


def run_bootstrap(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, "scripts/bootstrap.sh", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env or {"PATH": "/usr/bin:/bin", "HOME": str(repo)},
        timeout=60,
        check=False,
    )


def commands(out: str) -> list[str]:
    return [line[2:] for line in out.splitlines() if line.startswith("+ ")]


# --------------------------------------------------------------------------- validate


def test_generated_repos_validate_clean(repo: GeneratedRepo) -> None:
    """`gitops-scaffold validate` reports nothing on the default, big and odd repos (a hub not
    called hub, a branch not main, a spoke without region, uneven placement, 6 tenants)."""
    report = validate(repo.repo_dir, schema_locations=[str(SCHEMAS)], jobs=2)
    assert report.findings == []


# --------------------------------------------------------------------------- F1, F20: Git auth


def test_f1_spoke_sources_use_git_url_with_credentials_of_its_kind(
    walk: FluxWalk, repo: GeneratedRepo
) -> None:
    """F1: flux bootstrap git (bootstrap_git.go) sets flux-system's URL scheme from its auth
    mode: https with --token-auth, ssh otherwise. Each spoke's GitRepository uses git_url as
    written, with a Secret whose keys source-controller reads for that scheme (username +
    password for https; identity + known_hosts for ssh), committed SOPS-encrypted."""
    platform = walk.platform
    keys = {"username", "password"} if https(platform) else {"identity", "known_hosts"}
    admin = repo.keys["admin"].path
    for spoke in platform.spokes:
        source = walk.find("GitRepository", spoke.name, "platform")
        assert source is not None
        assert source.spec["url"] == git_url_form(platform.git_url)
        assert source.spec["secretRef"] == {"name": GIT_AUTH_SECRET}
        secret = walk.find("Secret", spoke.name, GIT_AUTH_SECRET)
        assert secret is not None and secret.applier == f"flux-system/spoke-{spoke.name}"
        path = (
            repo.repo_dir / f"clusters/{platform.hub.name}/spokes/{spoke.name}/git-auth.sops.yaml"
        )
        plain = yaml.safe_load(decrypt_file(path, admin))
        assert set(plain["stringData"]) == keys
        assert all("REPLACE-ME" in v for k, v in plain["stringData"].items() if k != "username")


def test_f1_bootstrap_refuses_auth_flags_that_do_not_match_git_url(repo: GeneratedRepo) -> None:
    """F1: a mismatch is refused before anything runs: --private-key-file with an https
    git_url, --token-auth with an ssh one; flags that would change the URL flux-system syncs
    from are the script's own. https gets --token-auth without being asked."""
    root = repo.repo_dir
    platform = load_answers(yaml.safe_load((root / "platform.yaml").read_text()))
    dry = ["--dry-run", "--keys-dir", str(repo.keys_dir)]
    wrong = "--private-key-file=/tmp/id" if https(platform) else "--token-auth"
    refused = run_bootstrap(root, *dry, "--", wrong)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: git_url is ")
    assert commands(refused.stdout) == []
    for owned in ("--url=https://example.org/x.git", "--branch=dev", "--ssh-hostname=x"):
        done = run_bootstrap(root, *dry, "--", owned)
        assert done.returncode == 1 and "set from platform.yaml" in done.stderr, owned
    if https(platform):
        done = run_bootstrap(root, *dry)
        assert done.returncode == 0, done.stderr
        (line,) = [c for c in commands(done.stdout) if c.startswith("flux bootstrap git")]
        assert line.endswith(" --token-auth")
        assert f"--url={git_url_form(platform.git_url)} " in line
    else:
        done = run_bootstrap(root, *dry, "--", "--private-key-file", "/tmp/id")
        assert done.returncode == 0, done.stderr
        (line,) = [c for c in commands(done.stdout) if c.startswith("flux bootstrap git")]
        assert "--token-auth" not in line and line.endswith("--private-key-file /tmp/id")
        username = run_bootstrap(root, *dry, "--", "--username=deploy")
        assert username.returncode == 1 and "drop --username" in username.stderr


def test_f1_readme_states_the_git_auth_rule(repo: GeneratedRepo) -> None:
    """F1: the generated README says which flags go with which git_url, and where the spoke
    sources' credentials go."""
    text = (repo.repo_dir / "README.md").read_text()
    assert "**Git access follows `git_url`**" in text
    assert "`--token-auth`, the token in the environment variable `GIT_PASSWORD`" in text
    assert "`--private-key-file=<key>`" in text
    assert "git-auth.sops.yaml" in text


def test_f20_the_token_never_reaches_the_command_line(repo: GeneratedRepo) -> None:
    """F20: --password (or -p) is refused, so the token is never in ps, shell history or the
    --dry-run output; flux bootstrap reads it from GIT_PASSWORD (bootstrap_git.go)."""
    dry = ["--dry-run", "--keys-dir", str(repo.keys_dir), "--"]
    for flags in (["--password=s3cr3t-token"], ["-p", "s3cr3t-token"], ["-ps3cr3t-token"]):
        done = run_bootstrap(repo.repo_dir, *dry, *flags)
        assert done.returncode == 1
        assert "export GIT_PASSWORD" in done.stderr
        assert "s3cr3t-token" not in done.stdout + done.stderr
    env = {"PATH": "/usr/bin:/bin", "HOME": str(repo.repo_dir), "GIT_PASSWORD": "s3cr3t-token"}
    done = run_bootstrap(repo.repo_dir, "--dry-run", "--keys-dir", str(repo.keys_dir), env=env)
    platform = load_answers(yaml.safe_load((repo.repo_dir / "platform.yaml").read_text()))
    assert done.returncode == 0, done.stderr
    assert "s3cr3t-token" not in done.stdout + done.stderr
    assert ("GIT_PASSWORD is not set" in done.stdout) is False
    assert any(c.startswith("flux bootstrap git") for c in commands(done.stdout)), platform.git_url


# --------------------------------------------------------------------------- bootstrap, real run

STAND_IN = r"""#!/usr/bin/env bash
# A stand-in for kubectl and flux: logs its arguments (and whether flux got GIT_PASSWORD),
# answers what scripts/bootstrap.sh asks, reads its stdin when piped.
name="${0##*/}"
{ printf '%s' "${name}"; printf ' %q' "$@"; printf '\n'; } >> "${FAKE_LOG}"
if [[ "${name}" == flux && "${1:-}" == bootstrap ]]; then
  printf 'flux GIT_PASSWORD=%s\n' "${GIT_PASSWORD:+set}" >> "${FAKE_LOG}"
fi
case "${name} $*" in
  "kubectl config get-contexts"*) printf '%s\n' ${FAKE_CONTEXTS} ;;
  *"get gitrepository flux-system"*) printf '%s' "${FAKE_SYNC_URL}" ;;
esac
[[ -t 0 ]] || cat > /dev/null
exit 0
"""


def _fill(repo: Path, relative: str, admin: Path) -> None:
    """Replace the REPLACE-ME values of one SOPS file and encrypt it again (real sops)."""
    plain = decrypt_file(repo / relative, admin)
    filled = re.sub(r"REPLACE-ME[\w.:/-]*", "filled-in", plain)
    encrypted = encrypt_text(relative, filled, repo / ".sops.yaml", find_sops(), repo)
    (repo / relative).write_text(encrypted, encoding="utf-8")


def test_f10_f11_f20_bootstrap_refuses_placeholders_and_applies_server_side(
    repo_factory: Callable[[str, str], GeneratedRepo], tmp_path: Path
) -> None:
    """F10: the spoke sources' Git credentials are committed placeholders the bootstrap refuses
    while they hold REPLACE-..., before anything is applied. F11b: every apply is server-side
    (no private key copied into a last-applied-configuration annotation). F20: the token only
    travels in GIT_PASSWORD. F1: after bootstrap, a flux-system URL other than git_url fails."""
    generated = repo_factory("flux", "default")
    repo = tmp_path / "repo"
    shutil.copytree(generated.repo_dir, repo)
    platform = load_answers(yaml.safe_load((repo / "platform.yaml").read_text()))
    hub = platform.hub.name
    admin = generated.keys["admin"].path
    for spoke in platform.spokes:  # the kubeconfigs are filled in, the Git credentials are not
        _fill(repo, f"clusters/{hub}/spokes/{spoke.name}/kubeconfig.sops.yaml", admin)
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("kubectl", "flux"):
        (tools / tool).write_text(STAND_IN)
        (tools / tool).chmod(0o755)
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{tools}:{Path(find_sops()).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(log),
        "FAKE_CONTEXTS": " ".join(c.name for c in platform.clusters),
        "FAKE_SYNC_URL": git_url_form(platform.git_url),
        "GIT_PASSWORD": "s3cr3t-token",
    }
    keys = ["--keys-dir", str(generated.keys_dir)]

    refused = run_bootstrap(repo, *keys, env=env)
    assert refused.returncode == 1
    assert "git-auth.sops.yaml still holds a placeholder" in refused.stderr
    assert " apply" not in log.read_text()

    for spoke in platform.spokes:
        _fill(repo, f"clusters/{hub}/spokes/{spoke.name}/git-auth.sops.yaml", admin)
    log.write_text("")
    done = run_bootstrap(repo, *keys, env=env)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    applies = [c for c in calls if " apply " in f"{c} "]
    assert len(applies) == 2 * len(platform.spokes) + 2 + len(platform.spokes)
    assert all("apply --server-side --force-conflicts" in c for c in applies), applies
    (bootstrap,) = [c for c in calls if c.startswith("flux bootstrap")]
    assert bootstrap.endswith(" --token-auth")
    assert "flux GIT_PASSWORD=set" in calls
    assert "s3cr3t-token" not in log.read_text() + done.stdout + done.stderr
    assert "AGE-SECRET-KEY" not in done.stdout + done.stderr

    mismatch = run_bootstrap(
        repo, *keys, env={**env, "FAKE_SYNC_URL": "ssh://git@github.com/acme/other.git"}
    )
    assert mismatch.returncode == 1
    assert "flux-system syncs from ssh://git@github.com/acme/other.git" in mismatch.stderr


def test_f11_every_bootstrap_apply_is_server_side_and_flux_access_is_reconciled(
    walk: FluxWalk, repo: GeneratedRepo
) -> None:
    """F11: bootstrap applies clusters/<spoke>/flux-access once (server-side) because Flux
    cannot grant itself access; from then on the spoke's flux-access Kustomization reconciles
    the same folder. The sops-age Secrets go in with `apply --server-side`, never client-side
    apply (which copies the object, key included, into an annotation)."""
    root = repo.repo_dir
    extra = [] if https(walk.platform) else ["--", "--private-key-file=/tmp/id"]
    done = run_bootstrap(root, "--dry-run", "--keys-dir", str(repo.keys_dir), *extra)
    assert done.returncode == 0, done.stderr
    applies = [c for c in commands(done.stdout) if " apply " in c]
    assert applies and all(" apply --server-side " in c for c in applies)
    assert not [c for c in applies if "apply -f -" in c.replace("--server-side ", "")]
    for spoke in walk.platform.spokes:
        layer = walk.kustomizations[f"{spoke.name}/flux-access"]
        assert layer.spec["path"] == f"./clusters/{spoke.name}/flux-access"
        assert layer.spec["kubeConfig"] == {"secretRef": {"name": KUBECONFIG_SECRET}}
        assert any(f"-k clusters/{spoke.name}/flux-access" in c for c in applies)
        kinds = {o.kind for o in walk.applied_by(f"{spoke.name}/flux-access")}
        assert kinds == {"ServiceAccount", "Namespace", "ClusterRoleBinding", "Role", "RoleBinding"}


# --------------------------------------------------------------------------- F3, F5, F6: identities


def test_f3_tenant_identities_exist_in_the_hub_namespace_and_outlive_the_apps(
    walk: FluxWalk,
) -> None:
    """F3: kustomize-controller's finalizer prunes a deleted Kustomization's objects only when
    Impersonator.CanImpersonate finds ServiceAccount <serviceAccountName> in the
    Kustomization's own namespace on the hub (fluxcd/pkg runtime/client). tenant-<t> is there,
    next to <t>-apps, never pruned (so it outlives <t>-apps when the tenant leaves); the tenant's
    RBAC on the spoke is kept too (<t>-guardrails: deletionPolicy Orphan)."""
    for key, kustomization in walk.kustomizations.items():
        account = kustomization.spec["serviceAccountName"]
        if kustomization.namespace == "flux-system":
            continue  # the controllers' own accounts
        found = walk.find("ServiceAccount", kustomization.namespace, account)
        assert found is not None, f"{key}: no ServiceAccount {account} on the hub"
        if account.startswith("tenant-"):
            assert found.body["metadata"]["annotations"].items() >= PRUNE_DISABLED.items(), key
            assert found.applier == f"{kustomization.namespace}/tenant-sync"
            tenant = account.removeprefix("tenant-")
            guardrails = walk.kustomizations[f"{kustomization.namespace}/{tenant}-guardrails"]
            assert guardrails.spec["deletionPolicy"] == "Orphan"


def test_f3_readme_explains_the_offboarding_order(repo: GeneratedRepo) -> None:
    """F3: the README says what is kept and in which order to remove it."""
    text = (repo.repo_dir / "README.md").read_text()
    section = text.split("## Offboard a tenant", 1)[1].split("\n## ", 1)[0]
    assert "kustomize.toolkit.fluxcd.io/prune: disabled" in section
    assert "deletionPolicy: Orphan" in section
    assert "delete serviceaccount tenant-<tenant>" in section


def test_f5_spokes_hold_the_namespace_and_accounts_flux_impersonates(walk: FluxWalk) -> None:
    """F5: kustomizations.md / helmreleases.md "KubeConfig (Remote clusters)": the impersonated
    ServiceAccount exists on the remote cluster in a namespace named like the Flux object's.
    Each spoke gets Namespace <spoke>, <spoke>/flux-platform and <spoke>/tenant-<t> for the
    tenants placed there; every binding names them as ServiceAccounts, never as User names."""
    platform = walk.platform
    for spoke in platform.spokes:
        on_spoke = spoke_objects(walk, spoke.name)
        namespaces = {o.name for o in on_spoke if o.kind == "Namespace"}
        assert spoke.name in namespaces
        accounts = {o.name for o in on_spoke if o.kind == "ServiceAccount"}
        assert {o.namespace for o in on_spoke if o.kind == "ServiceAccount"} == {
            spoke.name,
            "kube-system",
        }
        tenants = {f"tenant-{t.name}" for t in platform.tenants_on(spoke.name)}
        assert accounts == {SPOKE_RECONCILER, HUB_IDENTITY} | tenants
        for binding in (o for o in on_spoke if o.kind in ("RoleBinding", "ClusterRoleBinding")):
            for subject in binding.body["subjects"]:
                assert not subject["name"].startswith("system:serviceaccount:"), binding.name
                if subject["kind"] == "ServiceAccount":
                    assert subject["name"] in accounts, binding.name
    for key, kustomization in walk.kustomizations.items():
        if "kubeConfig" in kustomization.spec:
            ns = kustomization.namespace
            account = kustomization.spec["serviceAccountName"]
            assert any(
                o.kind == "ServiceAccount" and (o.namespace, o.name) == (ns, account)
                for o in spoke_objects(walk, ns)
            ), key


def test_f6_the_hub_identity_may_impersonate_only_named_accounts(walk: FluxWalk) -> None:
    """F6: the kubeconfig identity kube-system/flux-hub may impersonate only the
    ServiceAccounts of namespace <spoke> that Flux uses there: Roles (never ClusterRoles) with
    resourceNames."""
    for spoke in walk.platform.spokes:
        on_spoke = spoke_objects(walk, spoke.name)
        roles = {(o.namespace, o.name): o for o in on_spoke if o.kind == "Role"}
        named: set[str] = set()
        for obj in on_spoke:
            if obj.kind == "ClusterRole":
                assert "impersonate" not in str(obj.body.get("rules")), obj.name
            if obj.kind != "Role":
                continue
            for rule in obj.body["rules"]:
                if "impersonate" in rule["verbs"]:
                    assert obj.namespace == spoke.name
                    assert rule["resources"] == ["serviceaccounts"]
                    named |= set(rule["resourceNames"])
        bound = [
            o
            for o in on_spoke
            if o.kind == "RoleBinding" and (o.namespace, o.body["roleRef"]["name"]) in roles
        ]
        assert bound and all(
            b.body["subjects"]
            == [{"kind": "ServiceAccount", "name": HUB_IDENTITY, "namespace": "kube-system"}]
            for b in bound
            if any(
                "impersonate" in r["verbs"]
                for r in roles[(b.namespace, b.body["roleRef"]["name"])].body["rules"]
            )
        )
        tenants = {f"tenant-{t.name}" for t in walk.platform.tenants_on(spoke.name)}
        assert named == {SPOKE_RECONCILER} | tenants


# --------------------------------------------------------------------------- F4: detaching


def test_f4_detaching_a_spoke_uninstalls_nothing(walk: FluxWalk, repo: GeneratedRepo) -> None:
    """F4: kustomize-controller finalize(): deletionPolicy Orphan deletes nothing. The hub's
    Kustomization of each spoke and every layer that applies to the spoke (and
    infra-controllers, whose HelmReleases helm-controller would uninstall) are Orphan. ESO's
    CRDs are chart templates: `crds.annotations` gives them helm.sh/resource-policy: keep
    (external-secrets hack/helm.generate.sh), so an uninstall never deletes every
    ExternalSecret; Sealed Secrets' CRD is in the chart's crds/, which Helm never deletes."""
    for spoke in walk.platform.spokes:
        keys = [f"flux-system/spoke-{spoke.name}"] + [
            f"{spoke.name}/{layer}"
            for layer in ("flux-access", "infra-controllers", "infra-configs")
        ]
        keys += [f"{spoke.name}/{t.name}-guardrails" for t in walk.platform.tenants_on(spoke.name)]
        for key in keys:
            assert walk.kustomizations[key].spec["deletionPolicy"] == "Orphan", key
    releases = {(r.namespace, r.name): r.spec for r in walk.hub_objects("HelmRelease")}
    assert releases
    for (_, name), spec in releases.items():
        if name == "external-secrets":
            assert spec["values"]["installCRDs"] is True
            assert spec["values"]["crds"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        else:
            assert spec["install"]["crds"] == "Create"
    text = (repo.repo_dir / "README.md").read_text()
    assert "removing a spoke from this repository never uninstalls or deletes what runs" in text
    detach = text.split("## Detach a spoke", 1)[1].split("\n## ", 1)[0]
    assert "suspend kustomization --all -n <spoke>" in detach
    assert "suspend helmrelease --all -n <spoke>" in detach


# --------------------------------------------------------------------------- F7, F8: structure


def test_f7_flux_system_applies_only_kustomizations_one_per_spoke(walk: FluxWalk) -> None:
    """F7: flux-system applies Flux itself and Flux Kustomizations only; each spoke has its
    own Kustomization with its own decryption, so one broken spoke file stalls that spoke."""
    applied = walk.applied_by("flux-system/flux-system")
    others = {(o.kind, o.namespace, o.name) for o in applied if o.kind != "Kustomization"}
    assert others == {("GitRepository", "flux-system", "flux-system")}  # gotk-sync.yaml
    hub = walk.platform.hub.name
    spokes = {o.name: o for o in applied if o.name.startswith("spoke-")}
    assert set(spokes) == {f"spoke-{s.name}" for s in walk.platform.spokes}
    for spoke in walk.platform.spokes:
        spec = spokes[f"spoke-{spoke.name}"].spec
        assert spec["path"] == f"./clusters/{hub}/spokes/{spoke.name}"
        assert spec["decryption"] == {"provider": "sops", "secretRef": {"name": SOPS_SECRET}}
        assert {
            o.applier for o in walk.objects if o.namespace == spoke.name and not o.on_spoke
        } >= {f"flux-system/spoke-{spoke.name}"}


def test_f8_a_tenant_waits_for_its_own_guardrails_only(walk: FluxWalk) -> None:
    """F8: dependsOn is re-checked on every reconcile (kustomizations.md "Dependencies"): a
    tenant's apps wait for the tenant's own guardrails and the spoke's controllers, never for
    infra-configs (a ClusterSecretStore that is not ready) or another tenant's guardrails."""
    for spoke in walk.platform.spokes:
        ns = spoke.name
        for tenant in walk.platform.tenants_on(ns):
            for suffix in ("apps", "sample-app"):
                key = f"{ns}/{tenant.name}-{suffix}"
                if key not in walk.kustomizations:
                    continue
                needs = _dependencies(walk, key)
                assert needs == {f"{ns}/{tenant.name}-guardrails", f"{ns}/infra-controllers"}


# --------------------------------------------------------------------------- F9, F10: secrets


def test_f9_readme_states_where_the_keys_live(repo: GeneratedRepo) -> None:
    """F9: with Flux on the hub only, every private key is loaded on the hub and the hub key
    opens every spoke's kubeconfig: the README says so instead of claiming isolation."""
    text = (repo.repo_dir / "README.md").read_text()
    assert "a cluster cannot read another cluster's secrets" not in text
    bullet = text.split("- **Who can read what.**", 1)[1].split("\n- **", 1)[0]
    assert "every private key, the hub's and each spoke's, is loaded on the hub" in bullet
    assert "The hub key opens\n  every spoke's kubeconfig" in bullet
    assert "controls every spoke" in bullet


def test_f10_every_layer_that_may_hold_sops_files_decrypts(walk: FluxWalk) -> None:
    """F10: kustomize-controller fails a Kustomization that meets a SOPS-encrypted Secret
    without `decryption`. Every folder the README names for secrets is applied by a
    Kustomization that decrypts, with the key its namespace holds."""
    decrypting = {"provider": "sops", "secretRef": {"name": SOPS_SECRET}}
    hub = [
        "flux-system/infra-controllers",
        "flux-system/infra-configs",
        "flux-system/notifications",
    ]
    for key in hub:
        assert walk.kustomizations[key].spec["decryption"] == decrypting, key
    for spoke in walk.platform.spokes:
        for layer in ("infra-controllers", "infra-configs", "tenant-sync"):
            key = f"{spoke.name}/{layer}"
            assert walk.kustomizations[key].spec["decryption"] == decrypting, key
        assert (
            walk.kustomizations[f"flux-system/spoke-{spoke.name}"].spec["decryption"] == decrypting
        )


def test_f10_git_credentials_are_committed_encrypted_for_the_hub_key(
    walk: FluxWalk, repo: GeneratedRepo
) -> None:
    """F10: the spoke sources' Git credentials live in Git, SOPS-encrypted for the key of the
    namespace that applies them (flux-system: the hub's), not copied imperatively."""
    hub_key = repo.keys[walk.platform.hub.name].public
    for spoke in walk.platform.spokes:
        secret = walk.find("Secret", spoke.name, GIT_AUTH_SECRET)
        assert secret is not None
        assert hub_key in _sops_recipients(secret.body)
        assert repo.keys[spoke.name].public not in _sops_recipients(secret.body)
    script = (repo.repo_dir / "scripts/bootstrap.sh").read_text()
    assert "get secret flux-system" not in script  # no imperative copy of the credentials


# --------------------------------------------------------------------------- F13: variables


def test_f13_tenants_are_told_how_to_keep_their_own_variables(walk: FluxWalk) -> None:
    """F13: Flux blanks every undefined ${var} (kustomizations.md "Post build variable
    substitution"); each tenant's README says to write $${VAR} or to disable substitution per
    object, and the spoke values reach the tenant as strings from ConfigMap cluster-vars."""
    for tenant in walk.platform.tenants:
        text = (walk.repo / f"tenants/{tenant.name}/README.md").read_text()
        assert "**Any\nother `${VAR}` becomes empty**" in text
        assert "write `$${VAR}`" in text
        assert "`kustomize.toolkit.fluxcd.io/substitute: disabled`" in text
    for kustomization in walk.kustomizations.values():
        if kustomization.name.endswith(("-apps", "-guardrails")):
            assert kustomization.spec["postBuild"] == {
                "substituteFrom": [{"kind": "ConfigMap", "name": "cluster-vars"}]
            }


# --------------------------------------------------------------------------- F14-F19: Helm, sources


def test_f14_no_helm_knob_that_does_nothing(walk: FluxWalk) -> None:
    """F14: HelmRelease install/upgrade `crds` policies act on a chart's crds/ folder only:
    ESO's CRDs are templates (so no policy), Sealed Secrets' are in crds/ (so Create /
    CreateReplace). ESO 2.9 renders no caBundle that drift detection could see: no ignores."""
    for release in walk.hub_objects("HelmRelease"):
        spec = release.spec
        assert "ignore" not in spec["driftDetection"]
        if release.name == "external-secrets":
            assert "crds" not in spec["install"] and "crds" not in spec["upgrade"]
        else:
            assert (spec["install"]["crds"], spec["upgrade"]["crds"]) == ("Create", "CreateReplace")


def test_f15_pins_are_the_latest_patches() -> None:
    """F15: Flux 2.9.6 (the latest 2.9 patch found), sealed-secrets chart 2.18.5 (appVersion
    0.36.6: the 0.36 CRD of the bundled schema), from the chart repository's new home
    (bitnami-labs.github.io answers 404 since the project moved to bitnami, June 2026)."""
    assert VERSIONS["flux"] == "v2.9.6"
    assert VERSIONS["sealed_secrets_chart"] == "2.18.5"
    assert VERSIONS["external_secrets_chart"] == "2.9.0"


def test_f15_f16_chart_sources(walk: FluxWalk) -> None:
    """F16: ESO comes from its OCI registry (OCIRepository + chartRef, the layer selector
    keeping the chart archive, as fluxcd/flux2-kustomize-helm-example does); Sealed Secrets
    publishes no OCI chart, so a HelmRepository at its current URL."""
    for source in (o for o in walk.objects if o.kind == "OCIRepository"):
        assert source.spec["url"] == "oci://ghcr.io/external-secrets/charts/external-secrets"
        assert source.spec["layerSelector"] == {
            "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            "operation": "copy",
        }
    for source in (o for o in walk.objects if o.kind == "HelmRepository"):
        assert source.spec["url"] == "https://bitnami.github.io/sealed-secrets"
    assert len(walk.hub_objects("OCIRepository")) == len(walk.platform.clusters)


def _kept_by_ignore(repo: Path, ignore: str, target: Path) -> None:
    """Copy to ``target`` what a GitRepository with ``spec.ignore`` puts in its artifact: the
    gitignore rules applied by git itself, to a copy of the repo's files with nothing staged."""
    tree = Path(f"{target}.tree")
    shutil.copytree(repo, tree, ignore=shutil.ignore_patterns(".git"))
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    rules = Path(f"{target}.ignore")
    rules.write_text(ignore)
    kept = subprocess.run(
        ["git", "ls-files", "-z", "--others", f"--exclude-from={rules}"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for relative in filter(None, kept):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tree / relative, destination)


def test_f16_spoke_sources_carry_only_what_the_spoke_reads(walk: FluxWalk, tmp_path: Path) -> None:
    """F16: source-controller's spec.ignore (gitignore syntax) scopes each spoke's artifact to
    infrastructure/, tenants/ and clusters/<spoke>/: every path a Kustomization of the spoke's
    namespace reads from it still builds from the artifact alone, another spoke's and the
    hub's folders are not in it."""
    platform = walk.platform
    for spoke in platform.spokes:
        source = walk.find("GitRepository", spoke.name, "platform")
        assert source is not None
        artifact = tmp_path / spoke.name
        _kept_by_ignore(walk.repo, source.spec["ignore"], artifact)
        assert (artifact / "clusters" / spoke.name).is_dir()
        assert not (artifact / "clusters" / platform.hub.name).exists()
        assert not (artifact / "platform.yaml").exists()
        for other in platform.spokes:
            if other.name != spoke.name:
                assert not (artifact / "clusters" / other.name).exists()
        readers = [
            k
            for k in walk.kustomizations.values()
            if k.namespace == spoke.name and k.spec["sourceRef"]["name"] == "platform"
        ]
        assert readers
        for kustomization in readers:
            result = build(artifact / kustomization.spec["path"])
            assert result.ok, f"{kustomization.name}: {result.output}"


def test_f17_kustomizations_wait_longer_than_their_helm_releases(walk: FluxWalk) -> None:
    """F17: a Kustomization waiting for HelmReleases allows for every install/upgrade retry
    (HelmRelease timeout is per Helm action)."""

    def minutes(value: str) -> int:
        match = re.fullmatch(r"(\d+)m", value)
        assert match, value
        return int(match.group(1))

    checked = 0
    for key, kustomization in walk.kustomizations.items():
        releases = [o for o in walk.applied_by(key) if o.kind == "HelmRelease"]
        for release in releases:
            retries = max(
                release.spec["install"]["remediation"]["retries"],
                release.spec["upgrade"]["remediation"]["retries"],
            )
            assert minutes(kustomization.spec["timeout"]) > minutes(release.spec["timeout"]) * (
                1 + retries
            ), (key, release.name)
            checked += 1
    assert checked == len(walk.hub_objects("HelmRelease"))


def test_f18_spoke_alerts_report_errors_and_slack_reaches_its_channel(
    walk: FluxWalk, repo: GeneratedRepo
) -> None:
    """F18: spoke namespaces hold every tenant's Kustomizations: their Alerts forward errors
    only. Slack goes through a bot token and chat.postMessage (providers.md "Slack example"),
    where `channel` is honoured; an incoming webhook (the `address` form) ignores it."""
    platform = walk.platform
    for alert in walk.hub_objects("Alert"):
        expected = "info" if alert.namespace == "flux-system" else "error"
        assert alert.spec["eventSeverity"] == expected, alert.namespace
    admin = repo.keys["admin"].path
    for provider in walk.hub_objects("Provider"):
        secret = walk.find("Secret", provider.namespace, provider.spec["secretRef"]["name"])
        assert secret is not None
        hub = platform.hub.name
        folder = (
            "notifications"
            if provider.namespace == "flux-system"
            else f"spokes/{provider.namespace}"
        )
        plain = yaml.safe_load(
            decrypt_file(
                repo.repo_dir / f"clusters/{hub}/{folder}/webhook-address.sops.yaml", admin
            )
        )
        if platform.notifications.provider == "slack":
            assert provider.spec["address"] == "https://slack.com/api/chat.postMessage"
            assert provider.spec["channel"] == platform.notifications.channel
            assert list(plain["stringData"]) == ["token"]
        else:
            assert "address" not in provider.spec
            assert list(plain["stringData"]) == ["address"]


def test_f19_image_updates_go_to_their_own_branch_by_a_host_neutral_author(
    walk: FluxWalk,
) -> None:
    """F19: ImageUpdateAutomation pushes to branch flux-image-updates (made from git_branch,
    imageupdateautomations.md "Push"), to be merged by pull request; the author email is
    GitHub's noreply only on GitHub."""
    (automation,) = walk.hub_objects("ImageUpdateAutomation")
    git = automation.spec["git"]
    assert git["checkout"]["ref"]["branch"] == walk.platform.git_branch
    assert git["push"]["branch"] == "flux-image-updates" != walk.platform.git_branch
    email = git["commit"]["author"]["email"]
    host = re.sub(r"^(?:ssh://)?[^@]*@|^https://", "", git_url_form(walk.platform.git_url))
    host = re.split(r"[:/]", host)[0]
    if host == "github.com":
        assert email == "fluxcdbot@users.noreply.github.com"
    else:
        assert email == f"fluxcdbot@noreply.{host}"


# --------------------------------------------------------------------------- F2 (done before)


def test_f2_no_tenant_kustomization_runs_as_a_platform_identity(walk: FluxWalk) -> None:
    """F2 (fixed before this change, kept guarded): tenants run as tenant-<name>, an account
    no platform layer uses."""
    platform_accounts = {SPOKE_RECONCILER, HUB_IDENTITY, "kustomize-controller", "helm-controller"}
    for kustomization in walk.kustomizations.values():
        tenant = (kustomization.body["metadata"].get("labels") or {}).get(
            "gitops-scaffold.io/tenant"
        )
        account = kustomization.spec["serviceAccountName"]
        if tenant and not kustomization.name.endswith("-guardrails"):
            assert account == f"tenant-{tenant}" and account not in platform_accounts
