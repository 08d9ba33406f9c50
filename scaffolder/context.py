"""Template contexts: the answers model resolved into plain dicts for Jinja.

Everything a template needs is computed here (placements, default URLs, groups), so the
templates hold layout and YAML, never logic that the two engines would have to repeat.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from functools import lru_cache
from typing import Any, overload
from urllib.parse import urlsplit

import scaffolder
from scaffolder.errors import AnswersError
from scaffolder.keys import ADMIN_KEY
from scaffolder.model import SCP_URL, Cluster, Freeze, Platform, Tenant, dump_answers
from scaffolder.versions import CHARTS, OCI_CHARTS, VERSIONS

# The identity a GitOps engine applies a tenant's repository as: a ServiceAccount named with
# this prefix, in a namespace of the platform's on each spoke (never the tenant's own, so no
# tenant pod can run as it). Platform identities never start with it (flux-platform,
# flux-hub, argocd-*), so no tenant name can ever make a tenant run as one (F2).
TENANT_IDENTITY_PREFIX = "tenant-"

# Argo CD: the platform's AppProject of a tenant's namespace and guardrails is
# guardrails.<tenant> (templates/argocd/tenant/.../argocd/guardrails-project.yaml). Tenant names
# are DNS labels, so no tenant's own project (named like the tenant) can take one of these
# names, and no platform project has a dot either.
GUARDRAILS_PROJECT_PREFIX = "guardrails."


def guardrails_project(tenant: str) -> str:
    return GUARDRAILS_PROJECT_PREFIX + tenant


# The answers' top-level strings that are plain cookiecutter.json variables; the rest of the
# answers is one `platform` dict.
_ROOT_SCALARS = ("repo_name", "git_url", "git_branch", "engine")


def git_url_form(git_url: str) -> str:
    """``git@host:org/repo.git`` as ``ssh://git@host/org/repo.git``; URLs stay as they are.

    Flux sources and ``flux bootstrap git`` accept only the URL form.
    """
    match = SCP_URL.match(git_url)
    if match is None:
        return git_url
    return f"ssh://{match['user']}@{match['host']}/{match['path']}"


def git_auth_mode(git_url: str) -> str:
    """``"token"`` for an https URL, ``"ssh"`` for an SSH one (scp-like or ssh://)."""
    return "token" if git_url_form(git_url).startswith("https://") else "ssh"


def git_host(git_url: str) -> str:
    """The host name of a Git URL (no user, no port)."""
    return urlsplit(git_url_form(git_url)).hostname or ""


def git_keyscan(git_url: str) -> str:
    """The ssh-keyscan command for an SSH Git URL's host (and port); "" for https."""
    if git_auth_mode(git_url) != "ssh":
        return ""
    port = urlsplit(git_url_form(git_url)).port
    return (
        f"ssh-keyscan -p {port} {git_host(git_url)}" if port else f"ssh-keyscan {git_host(git_url)}"
    )


def sample_app_tenant(platform: Platform) -> str:
    """The tenant that gets the image-automation sample app ('' when there is none)."""
    if not platform.image_automation.enabled or not platform.tenants:
        return ""
    return platform.tenants[0].name


def cluster_facts(platform: Platform, cluster: Cluster) -> dict[str, Any]:
    """A cluster without its tenant list: what a tenant's templates need to know of it."""
    return {
        **asdict(cluster),
        "automated": platform.sync_automated(cluster.env),
        "is_hub": cluster.role == "hub",
        # the env's freeze (env, until, reason, manual_sync), None when it is not frozen
        "freeze": _freeze_view(platform.freeze_of(cluster.env)),
    }


def _freeze_view(freeze: Freeze | None) -> dict[str, Any] | None:
    return asdict(freeze) if freeze is not None else None


def _tenant_view(
    platform: Platform, tenant: Tenant, facts: Mapping[str, dict[str, Any]], sample_app: str
) -> dict[str, Any]:
    placement = platform.placement(tenant)
    clusters = [facts[name] for name in placement]
    repo_url = platform.tenant_repo_url(tenant)
    return {
        "name": tenant.name,
        "identity": TENANT_IDENTITY_PREFIX + tenant.name,
        "guardrails_project": guardrails_project(tenant.name),
        "clusters": list(placement),
        "explicit_placement": tenant.clusters is not None,  # False: every spoke, now and later
        # facts only: nesting every cluster's tenant list here would make each tenant's view
        # as large as the platform's (200 tenants: hundreds of kB per tenant)
        "cluster_views": clusters,
        "envs": sorted({c["env"] for c in clusters}),
        "repo_url": repo_url,
        "source_url": git_url_form(repo_url),
        "path": tenant.path,
        "repo_path": tenant.path.removeprefix("./").rstrip("/"),  # "./deploy" -> "deploy"
        "sso_group": platform.tenant_sso_group(tenant),
        "quota": asdict(tenant.quota),
        "sample_app": tenant.name == sample_app,
        "canary": tenant.canary,
    }


class TenantViews(Sequence[dict[str, Any]]):
    """Every tenant's view (``_tenant_view``), each computed the first time it is read: a
    command that renders one tenant of a thousand computes one view. Read-only."""

    def __init__(self, platform: Platform, facts: Mapping[str, dict[str, Any]]) -> None:
        self._platform = platform
        self._facts = facts
        self._sample_app = sample_app_tenant(platform)
        self._index = {tenant.name: index for index, tenant in enumerate(platform.tenants)}
        self._views: list[dict[str, Any] | None] = [None] * len(platform.tenants)

    def __len__(self) -> int:
        return len(self._views)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        view = self._views[index]
        if view is None:
            tenant = self._platform.tenants[index]
            view = self._views[index] = _tenant_view(
                self._platform, tenant, self._facts, self._sample_app
            )
        return view

    def named(self, name: str) -> dict[str, Any]:
        return self[self._index[name]]


def changed_tenant_views(old: Platform, new: Platform) -> set[str]:
    """The tenants whose view differs between two platforms, added and removed ones included.

    A tenant's view reads the platform but its tenants, the tenant's own entry, and which
    tenant gets the sample app (``_tenant_view``): when nothing but the tenants changed,
    comparing the entries says it without computing a view (a day-2 change of one tenant
    among a thousand stays as cheap as among two)."""
    if replace(old, tenants=()) == replace(new, tenants=()):
        before = {t.name: t for t in old.tenants}
        after = {t.name: t for t in new.tenants}
        changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
        if sample_app_tenant(old) != sample_app_tenant(new):
            changed |= {sample_app_tenant(old), sample_app_tenant(new)} - {""}
        return changed
    views = platform_view(old)["tenants"], platform_view(new)["tenants"]
    before_views = {view["name"]: view for view in views[0]}
    after_views = {view["name"]: view for view in views[1]}
    return {
        name
        for name in before_views.keys() | after_views.keys()
        if before_views.get(name) != after_views.get(name)
    }


def chart_views() -> dict[str, dict[str, str]]:
    """Every pinned Helm chart by name: its chart name, repository and version (and its OCI
    repository, "" when the project publishes none)."""
    return {
        name: {
            "chart": name,
            "repo": repo,
            "version": VERSIONS[version_key],
            "oci": OCI_CHARTS.get(name, ""),
        }
        for name, (repo, version_key) in CHARTS.items()
    }


# The infrastructure addons platform.yaml switches on, in install order: (chart = release =
# namespace, switch (a key of addon_switches), name in prose, the engine that installs it as an
# addon ("" for both), whether it goes to the spokes only). Flux installs Flagger outside this
# list (progressive_view): on the spokes only, with a configuration of its own.
ADDONS = (
    ("sealed-secrets", "sealed_secrets", "Sealed Secrets", "", False),
    ("external-secrets", "external_secrets", "External Secrets", "", False),
    # Rollouts run where tenants run: never on the hub.
    ("argo-rollouts", "progressive_delivery", "Argo Rollouts", "argocd", True),
)


def addon_switches(platform: Platform) -> dict[str, bool]:
    """Every addon switch of platform.yaml: secrets.*, and progressive_delivery: canary."""
    return {
        **asdict(platform.secrets),
        "progressive_delivery": platform.progressive_delivery == "canary",
    }


def addon_views(platform: Platform) -> list[dict[str, Any]]:
    """Every addon of the platform's engine with its chart, pinned version, namespace and
    whether it is switched on. Both engines install the addons from here."""
    switches = addon_switches(platform)
    charts = chart_views()
    return [
        {
            **charts[name],
            "name": name,
            "title": title,
            "switch": switch,
            "enabled": switches[switch],
            "namespace": name,
            "secrets": switch in asdict(platform.secrets),  # an addon for application secrets
            "spokes_only": spokes_only,
        }
        for name, switch, title, engine, spokes_only in ADDONS
        if engine in ("", platform.engine)
    ]


# Flagger (Flux): where it runs on each spoke, the Prometheus its bundled chart installs there,
# the ingress controller it shifts traffic with.
FLAGGER_NAMESPACE = "flagger-system"
INGRESS_NGINX_NAMESPACE = "ingress-nginx"
# notifications.provider -> Flagger's AlertProvider type (flagger.app/v1beta1 enum: slack,
# msteams, discord, rocket, gchat); "generic" has none, so canaries of such a platform send
# no alerts of their own (Flux still reports the Kustomizations).
FLAGGER_ALERT_TYPES = {
    "slack": "slack",
    "msteams": "msteams",
    "discord": "discord",
    "googlechat": "gchat",
}


def progressive_view(platform: Platform) -> dict[str, Any]:
    """What the progressive delivery templates read (progressive_delivery: canary)."""
    charts = chart_views()
    enabled = platform.progressive_delivery == "canary"
    alerts = enabled and platform.notifications.enabled
    return {
        "enabled": enabled,
        "flagger": {**charts["flagger"], "name": "flagger", "namespace": FLAGGER_NAMESPACE},
        "loadtester": {
            **charts["loadtester"],
            "name": "flagger-loadtester",
            "namespace": FLAGGER_NAMESPACE,
        },
        "namespace": FLAGGER_NAMESPACE,
        "ingress_namespace": INGRESS_NGINX_NAMESPACE,
        # The flagger chart's bundled Prometheus (prometheus.install): <release>-prometheus.
        "flagger_prometheus": f"http://flagger-prometheus.{FLAGGER_NAMESPACE}:9090",
        # Argo Rollouts brings no Prometheus: the analysis queries the one the cluster runs
        # (kube-prometheus-stack's operated Service in namespace monitoring by default).
        "rollouts_prometheus": "http://prometheus-operated.monitoring.svc:9090",
        # "": no AlertProvider (progressive delivery or notifications off, or a provider
        # Flagger has no type for)
        "alert_type": FLAGGER_ALERT_TYPES.get(platform.notifications.provider, "")
        if alerts
        else "",
    }


# notifications.provider -> the argocd-notifications service, whether the subscription's
# recipient names the channel, the key of argocd-notifications-secret holding the
# credential, and the webhook name (webhook services only). The service's own settings are
# written by templates/argocd/.../argocd-notifications-cm.yaml.
ARGOCD_NOTIFIERS: dict[str, dict[str, Any]] = {
    "slack": {"service": "slack", "per_channel": True, "secret_key": "slack-token"},
    "msteams": {"service": "teams", "per_channel": True, "secret_key": "teams-webhook-url"},
    "googlechat": {
        "service": "googlechat",
        "per_channel": True,
        "secret_key": "googlechat-webhook-url",
    },
    "discord": {
        "service": "webhook.discord",
        "per_channel": False,
        "secret_key": "discord-webhook-url",
    },
    "generic": {"service": "webhook.generic", "per_channel": False, "secret_key": "webhook-url"},
}


def notifier_view(platform: Platform) -> dict[str, Any]:
    """Argo CD's notification service for the answers' provider, and who it sends to."""
    notifier = dict(ARGOCD_NOTIFIERS[platform.notifications.provider])
    service = notifier["service"]
    webhook = service.removeprefix("webhook.") if service.startswith("webhook.") else ""
    recipient = webhook or f"{service}:{platform.notifications.channel}"
    return {**notifier, "webhook": webhook, "recipient": recipient}


def go_string(value: str) -> str:
    """``value`` as a Go template string literal: JSON's string escapes are all valid in Go's
    interpreted strings, so no value can end the literal or the action."""
    return json.dumps(value)


# The namespace, on every spoke, of the ServiceAccount names Argo CD impersonates to apply a
# tenant's repository (tenant.identity). Nothing creates it there: no pod can ever run as one.
ARGOCD_IDENTITY_NAMESPACE = "argocd"


def argocd_view(platform: Platform) -> dict[str, Any]:
    """What only the Argo CD templates read: Go-template literals for ApplicationSets (the
    defaults for clusters whose Secret lacks the platform's annotations) and the namespace of
    the identities Argo CD impersonates on the spokes."""
    manual_envs = sorted(set(platform.sync.manual_envs))
    return {
        "go_git_url": go_string(platform.git_url),
        "go_git_branch": go_string(platform.git_branch),
        "go_manual_envs": [go_string(env) for env in manual_envs],
        "identity_namespace": ARGOCD_IDENTITY_NAMESPACE,
    }


@lru_cache(maxsize=4)
def platform_view(platform: Platform) -> dict[str, Any]:
    """Everything the templates know of the platform. Computed once per platform (a day-2
    command renders the old and the new one several times): each cluster's facts once, each
    tenant's placement once, so a platform of 1000 tenants stays cheap. Read-only."""
    answers = dump_answers(replace(platform, tenants=()))  # "tenants": the views below
    facts = {c.name: cluster_facts(platform, c) for c in platform.clusters}
    sample_app = sample_app_tenant(platform)
    placed: dict[str, list[str]] = {c.name: [] for c in platform.clusters}
    for tenant in platform.tenants:
        for name in platform.placement(tenant):
            placed[name].append(tenant.name)
    clusters = {c.name: {**facts[c.name], "tenants": placed[c.name]} for c in platform.clusters}
    return {
        **answers,
        "hub": clusters[platform.hub.name],
        "spokes": [clusters[c.name] for c in platform.spokes],
        "clusters": list(clusters.values()),
        # computed when read: files that list every tenant read the names below
        "tenants": TenantViews(platform, facts),
        "tenant_names": [t.name for t in platform.tenants],
        "canary_tenants": [t.name for t in platform.tenants if t.canary],
        "envs": sorted({c.env for c in platform.spokes}),
        "versions": dict(VERSIONS),
        "charts": chart_views(),
        "addons": addon_views(platform),
        # External Secrets' Vault store (server, mount, role), or None
        "vault": asdict(platform.secrets.vault) if platform.secrets.vault else None,
        # dump_answers leaves progressive_delivery out when it is none
        "progressive_delivery": platform.progressive_delivery,
        # dump_answers leaves these out when empty / off
        "freezes": [asdict(f) for f in platform.freezes],
        "workshop": platform.workshop,
        "progressive": progressive_view(platform),
        "git_source_url": git_url_form(platform.git_url),
        "sample_app_tenant": sample_app,
        "notifier": notifier_view(platform),
        "argocd": argocd_view(platform),
        # How the hub's GitOps engine authenticates to this repository: an https URL takes a
        # token (username/password), an ssh one a private key; spoke sources follow the same.
        "git_auth": git_auth_mode(platform.git_url),
        "git_host": git_host(platform.git_url),
        # what collects the host keys of an SSH git_url (for known_hosts), "" for https
        "git_keyscan": git_keyscan(platform.git_url),
    }


def root_context(platform: Platform) -> dict[str, Any]:
    """The root cookiecutter.json variables for these answers (see cookiecutter.json)."""
    answers = dump_answers(platform)
    return {
        **{key: answers[key] for key in _ROOT_SCALARS},
        "platform": {k: v for k, v in answers.items() if k not in _ROOT_SCALARS},
        "_gitops_scaffold_version": scaffolder.__version__,  # pinned by the repo's CI workflow
    }


def sops_view(platform: Platform, public_keys: Mapping[str, str]) -> dict[str, Any]:
    """What .sops.yaml names: each cluster's public age key, in the answers' order, and the
    admin's (``public_keys``: key name -> public key, as ``generate.key_names``)."""
    return {
        "clusters": [
            {"name": c.name, "public_key": public_keys[c.name]} for c in platform.clusters
        ],
        "admin_public_key": public_keys[ADMIN_KEY],
    }


def answers_from_root_context(context: dict[str, Any]) -> dict[str, Any]:
    """The inverse of root_context: a cookiecutter context back into plain answers.

    On cookiecutter's command line every value is a string: ``platform='{"tenants": ...}'``
    is read as JSON, and an empty ``git_url`` (the cookiecutter.json default) means the
    model's default.
    """
    answers: dict[str, Any] = {key: context[key] for key in _ROOT_SCALARS}
    if answers["git_url"] == "":
        del answers["git_url"]
    platform = context.get("platform") or {}
    if isinstance(platform, str):
        try:
            platform = json.loads(platform)
        except ValueError:
            raise AnswersError("platform", platform, "is not a JSON object") from None
    if not isinstance(platform, dict):
        raise AnswersError("platform", platform, "must be a JSON object of answers")
    answers.update(platform)
    return answers
