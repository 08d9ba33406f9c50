"""The answers model: the one schema behind prompts, --config, hooks and every command.

A generated repo stores it as ``platform.yaml``. ``load_answers`` turns a plain mapping
(YAML, cookiecutter context, prompt answers) into a validated ``Platform``; every broken
rule raises ``AnswersError`` naming the field and the value.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import yaml

import scaffolder
from scaffolder.errors import AnswersError, UsageError, shown
from scaffolder.files import read_regular_file
from scaffolder.provenance import installed_vcs_requirement
from scaffolder.quoting import is_plain_string

ENGINES = ("flux", "argocd")
# The top-level key of platform.yaml recording which gitops-scaffold version wrote the repo.
VERSION_FIELD = "gitops_scaffold_version"
ROLES = ("hub", "spoke")
NOTIFICATION_PROVIDERS = ("slack", "msteams", "discord", "googlechat", "generic")
SYNC_WINDOW_KINDS = ("allow", "deny")
# progressive_delivery: none, or canary (Flagger on Flux, Argo Rollouts on Argo CD, and a sample
# canary app for each tenant with `canary: true`).
PROGRESSIVE_DELIVERY = ("none", "canary")

# Derived names append suffixes (e.g. "<cluster>-infra-controllers", "<tenant>-reconciler"),
# so both stay well below the 63-character DNS label limit.
MAX_CLUSTER_NAME = 40
MAX_TENANT_NAME = 40
MAX_LABEL = 63
MAX_REPO_NAME = 100
MAX_CHANNEL = 80
MAX_GROUP = 256
MAX_TENANT_PATH = 200

# Cluster and tenant names become namespaces (a tenant's namespace, a spoke's namespace on the
# hub): none may take the namespace of Kubernetes itself or of a platform component.
RESERVED_NAMESPACES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "flux-system",
        "argocd",
        "argocd-image-updater",
        "argo-rollouts",
        "flagger-system",
        "sealed-secrets",
        "external-secrets",
        "cert-manager",
        "monitoring",
        "platform-system",  # Flux: each cluster's own SOPS secrets
    }
)
# Beyond those, names that are system namespaces by convention (kube-*, *-system, openshift and
# openshift-*: see _is_system_namespace) and these namespaces of infrastructure that clusters
# commonly run: a tenant of that name would be admin of the component (R2), a spoke of that name
# would share its namespace on the hub. Names ending in -system (gatekeeper-system,
# calico-system, metallb-system, ...) are covered by the suffix rule and not listed here.
INFRASTRUCTURE_NAMESPACES = frozenset(
    {
        "ingress-nginx",
        "nginx-ingress",
        "tigera-operator",
        "calico-apiserver",
        "local-path-storage",
        "velero",
        "linkerd",
        "linkerd-viz",
        "linkerd-jaeger",
        "linkerd-multicluster",
        "istio-ingress",
        "istio-egress",
        "kubernetes-dashboard",
        "rook-ceph",
        "kyverno",
        "keda",
        "knative-serving",
        "knative-eventing",
        "external-dns",
        "kubevirt",
    }
)
# Tenant names also name Argo CD AppProjects: these belong to the platform (tenant-guardrails:
# the guardrails' shared project of repos generated before each tenant had its own).
RESERVED_PROJECTS = frozenset({"default", "platform", "addons", "tenant-guardrails"})
# The platform's own identities on the clusters. Tenants are applied as `tenant-<name>`
# (context.TENANT_IDENTITY_PREFIX), which can never be one of these; the names are refused
# for tenants anyway, so no reader of a repo mistakes a tenant for the platform (F2).
PLATFORM_IDENTITIES = frozenset(
    {
        "flux-platform",  # Flux: the platform layers on a spoke (cluster-admin there)
        "flux-hub",  # Flux: the hub's kubeconfig identity on a spoke
        "kustomize-controller",
        "helm-controller",
        "argocd-manager",  # Argo CD: the spoke credential `argocd cluster add` creates
        "argocd-application-controller",
    }
)

# Every pattern is used with fullmatch (a `$` would also match before a final newline) and
# spells out ASCII classes ([0-9], not \d, which also matches other scripts' digits).
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Git URLs: a DNS-style host and path segments of unreserved characters, so that no shell,
# YAML or template metacharacter ($ ` " ' ; & | < > ( ) { } [ ] \ * ? ! # % space) can be in one.
_URL_HOST = r"(?P<host>[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9][A-Za-z0-9-]*)*)"
_URL_USER = r"[A-Za-z0-9._][A-Za-z0-9._-]*"
_URL_PORT = r"(?::[0-9]{1,5})?"
_URL_PATH = r"[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*"
_HTTPS_URL = re.compile(rf"https://{_URL_HOST}{_URL_PORT}/(?P<path>{_URL_PATH})\Z")
_SSH_URL = re.compile(
    rf"ssh://(?:(?P<user>{_URL_USER})@)?{_URL_HOST}{_URL_PORT}/(?P<path>{_URL_PATH})\Z"
)
# scp-like Git URLs (git@host:org/repo.git); context.git_url_form rewrites them as ssh:// URLs.
SCP_URL = re.compile(rf"(?P<user>{_URL_USER})@{_URL_HOST}:(?P<path>(?!-){_URL_PATH})\Z")
# The gitops-scaffold a generated repo's CI installs: a plain https Git URL pinned to a full
# commit id, as pip takes it after `gitops-scaffold @ ` (never a name looked up on an index).
_GITOPS_SCAFFOLD_SOURCE = re.compile(
    rf"git\+https://{_URL_HOST}{_URL_PORT}/(?P<path>{_URL_PATH})@(?P<commit>[0-9a-f]{{40}})\Z"
)
# git allows single braces in branch names (release/{v2}); check_text refuses {{ {% {#.
_BRANCH_CHARS = re.compile(r"[A-Za-z0-9._/@{}-]+")
_TENANT_PATH = re.compile(r"\./(?:[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/?)?")
_CHANNEL = re.compile(r"[#@]?[A-Za-z0-9][A-Za-z0-9 ._:/-]*")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@:/-]*")
_TIME_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*")
_QUANTITY = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:m|Ki|Mi|Gi|Ti|k|M|G|T)?")
_DURATION = re.compile(r"[0-9]+[hm]")
_COUNT = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class Cluster:
    name: str
    role: str
    env: str
    region: str = ""


@dataclass(frozen=True)
class Quota:
    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 50


DEFAULT_QUOTA = Quota()  # immutable: every tenant without a quota of its own shares it


@dataclass(frozen=True)
class Tenant:
    name: str
    clusters: tuple[str, ...] | None = None  # None: every spoke, including spokes added later
    repo_url: str = ""  # default: "<tenant>-apps" next to the platform repo
    path: str = "./deploy"
    sso_group: str = ""  # default: "<tenant>-admins"
    quota: Quota = field(default_factory=Quota)
    canary: bool = False  # the sample canary app (needs progressive_delivery: canary)


@dataclass(frozen=True)
class Vault:
    """External Secrets' store: Vault's KV v2 engine at ``mount``, which each cluster reads
    with Kubernetes auth (auth mount ``kubernetes-<cluster>``, role ``role``)."""

    server: str
    mount: str = "secret"
    role: str = "external-secrets"


@dataclass(frozen=True)
class Secrets:
    sealed_secrets: bool = True
    external_secrets: bool = True
    vault: Vault | None = None  # secrets.vault: the ClusterSecretStore reads Vault


@dataclass(frozen=True)
class Notifications:
    enabled: bool = True
    provider: str = "slack"
    channel: str = "platform-alerts"


@dataclass(frozen=True)
class ImageAutomation:
    enabled: bool = True


@dataclass(frozen=True)
class SyncWindow:
    kind: str
    schedule: str
    duration: str
    envs: tuple[str, ...]
    manual_sync: bool = True
    time_zone: str = "UTC"


@dataclass(frozen=True)
class Sync:
    manual_envs: tuple[str, ...] = ()  # Argo CD: envs whose apps sync manually
    windows: tuple[SyncWindow, ...] = ()


@dataclass(frozen=True)
class Freeze:
    """A change freeze of one env (``gitops-scaffold freeze``): Argo CD gets a deny sync window
    on the env's projects, Flux ``suspend: true`` on what applies to the env's clusters."""

    env: str
    until: str = ""  # ISO-8601, recorded and shown; nothing lifts the freeze by itself
    reason: str = ""
    manual_sync: bool = False  # Argo CD: whether a manual sync may pass the window


@dataclass(frozen=True)
class Sso:
    admin_group: str = "platform-admins"
    readonly_group: str = "platform-viewers"


@dataclass(frozen=True)
class Ci:
    # git+https://host/org/gitops-scaffold.git@<commit>: the gitops-scaffold the repo's CI
    # installs to run `gitops-scaffold validate`; "" = none (that CI job is skipped).
    gitops_scaffold_source: str = ""


@dataclass(frozen=True)
class Platform:
    repo_name: str
    git_url: str
    git_branch: str = "main"
    engine: str = "flux"
    clusters: tuple[Cluster, ...] = ()
    tenants: tuple[Tenant, ...] = ()
    secrets: Secrets = field(default_factory=Secrets)
    notifications: Notifications = field(default_factory=Notifications)
    image_automation: ImageAutomation = field(default_factory=ImageAutomation)
    sync: Sync = field(default_factory=Sync)
    sso: Sso = field(default_factory=Sso)
    ci: Ci = field(default_factory=Ci)
    progressive_delivery: str = "none"
    freezes: tuple[Freeze, ...] = ()
    # workshop: the attendee files (kind scripts, docs/workshop/) of `gitops-scaffold workshop`
    workshop: bool = False
    # The gitops-scaffold version that last wrote the repo (platform.yaml records it; `update`
    # compares it with the running version). Not an answer: equal platforms may differ in it.
    generator_version: str = field(default="", compare=False)

    @property
    def hub(self) -> Cluster:
        return next(c for c in self.clusters if c.role == "hub")

    @cached_property  # frozen: the clusters never change (a tenant on every spoke asks often)
    def spokes(self) -> tuple[Cluster, ...]:
        return tuple(c for c in self.clusters if c.role == "spoke")

    @cached_property
    def _spoke_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.spokes)

    def cluster(self, name: str) -> Cluster:
        for candidate in self.clusters:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def placement(self, tenant: Tenant) -> tuple[str, ...]:
        """The spokes a tenant lives on."""
        if tenant.clusters is None:
            return self._spoke_names
        return tenant.clusters

    def tenants_on(self, cluster_name: str) -> tuple[Tenant, ...]:
        return tuple(t for t in self.tenants if cluster_name in self.placement(t))

    def tenant_repo_url(self, tenant: Tenant) -> str:
        return tenant.repo_url or sibling_repo_url(self.git_url, f"{tenant.name}-apps")

    def tenant_sso_group(self, tenant: Tenant) -> str:
        return tenant.sso_group or f"{tenant.name}-admins"

    def sync_automated(self, env: str) -> bool:
        return env not in self.sync.manual_envs

    def freeze_of(self, env: str) -> Freeze | None:
        return next((f for f in self.freezes if f.env == env), None)


# --------------------------------------------------------------------------- defaults


def default_git_url(repo_name: str) -> str:
    return f"https://github.com/acme/{repo_name}.git"


def sibling_repo_url(git_url: str, name: str) -> str:
    """The URL of another repository in the same organisation as ``git_url``."""
    head, _, _last = git_url.rstrip("/").rpartition("/")
    if not head:  # scp form without a slash: git@host:repo.git
        head, _, _last = git_url.rpartition(":")
        return f"{head}:{name}.git"
    return f"{head}/{name}.git"


DEFAULT_ANSWERS: dict[str, Any] = {
    "repo_name": "acme-platform",
    "git_url": default_git_url("acme-platform"),
    "git_branch": "main",
    "engine": "flux",
    "clusters": [
        {"name": "hub", "role": "hub", "env": "mgmt"},
        {"name": "dev-eu-1", "role": "spoke", "env": "dev", "region": "eu-west-1"},
        {"name": "prod-eu-1", "role": "spoke", "env": "prod", "region": "eu-west-1"},
    ],
    "tenants": [
        {"name": "team-a"},
        {"name": "team-b"},
    ],
}


def default_platform() -> Platform:
    return load_answers(DEFAULT_ANSWERS)


# --------------------------------------------------------------------------- the text of answers

# No answer needs a control character or any of these sequences, and each would turn data into
# structure or code downstream: answers land in YAML, in shell scripts, in one-line messages and
# in values that cookiecutter renders as Jinja templates (C1, C2, M7, L6). check_text refuses them
# in every string answer, list items included.
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, line breaks
_FORBIDDEN_SEQUENCES = (
    ("{{", "a template expression"),
    ("{%", "a template statement"),
    ("{#", "a template comment"),
    ("$(", "a shell command substitution"),
    ("`", "a shell command substitution"),
    ("${", "a shell parameter expansion"),
)


def _as_written(value: str) -> str:
    """What a message shows of most answers: the value itself (shortened by AnswersError)."""
    return value


# Any of the above: one search says a value holds none of them (what almost every value does).
_UNSAFE_TEXT = re.compile(
    "|".join([_CONTROL_CHARACTER.pattern, *(re.escape(s) for s, _ in _FORBIDDEN_SEQUENCES)])
)


def check_text(where: str, value: str, redact: Callable[[str], str] = _as_written) -> str:
    """Refuse control characters and template or shell syntax, whatever the field.

    ``redact`` gives the text a message may show (URLs: no credentials, no query).
    """
    if _UNSAFE_TEXT.search(value) is None:
        return value
    control = _CONTROL_CHARACTER.search(value)
    if control is not None:
        problem = f"must not contain a control character (U+{ord(control.group()):04X})"
        raise AnswersError(where, redact(value), problem)
    for sequence, meaning in _FORBIDDEN_SEQUENCES:
        if sequence in value:
            raise AnswersError(where, redact(value), f"must not contain {meaning} ({sequence!r})")
    return value


def _answer_text(where: str, value: object, redact: Callable[[str], str] = _as_written) -> str:
    """The one way a string answer is read: a scalar, through check_text, outer spaces dropped."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AnswersError(where, value, "must be a string")
    return check_text(where, str(value), redact).strip()


# --------------------------------------------------------------------------- parsing

_FIELD_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


class _Reader:
    """Reads one mapping strictly: known keys only, typed values, field paths in errors."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise AnswersError(where or "answers", data, "must be a mapping")
        self.data = data
        self.where = where
        self.seen: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return self.data.get(key, default)

    def string(
        self, key: str, default: str | None = None, redact: Callable[[str], str] = _as_written
    ) -> str:
        value = self.get(key, default)
        if value is None:
            # `key:`, `key: null` and `key: ~` all read as null: say so, as the value shows None.
            raise AnswersError(
                self.path(key), value, "is required (null, ~ and nothing read as no value)"
            )
        if type(value) is str and _UNSAFE_TEXT.search(value) is None:
            return value.strip()  # _answer_text's result for a string check_text accepts
        return _answer_text(self.path(key), value, redact)

    def strings(self, key: str, default: list[Any] | None = None) -> list[str] | None:
        """A list of strings, each read like ``string`` (None when absent and no default)."""
        values = self.sequence(key, default)
        if values is None:
            return None
        return [_answer_text(f"{self.path(key)}[{i}]", v) for i, v in enumerate(values)]

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise AnswersError(self.path(key), value, "must be true or false")
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise AnswersError(self.path(key), value, "must be a positive whole number")
        return value

    def sequence(self, key: str, default: list[Any] | None = None) -> list[Any] | None:
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, list):
            raise AnswersError(self.path(key), value, "must be a list")
        return value

    def section(self, key: str) -> _Reader:
        """A nested mapping (absent or null: all defaults)."""
        value = self.get(key)
        return _Reader({} if value is None else value, self.path(key))

    def finish(self) -> None:
        for key in self.data:
            if key not in self.seen:
                close = difflib.get_close_matches(str(key), sorted(self.seen), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise AnswersError(
                    self.path(_field_name(key)), self.data[key], f"is not a known field{hint}"
                )


def _field_name(key: object) -> str:
    """An unknown key as a message names it: a plain name as is, anything else as a short repr."""
    text = str(key) if isinstance(key, (str, int)) else ""
    return text if _FIELD_NAME.fullmatch(text) else shown(key)


# Every rule is a public check_* function taking (field, value) and raising AnswersError, so the
# interactive prompts validate each answer inline with exactly the rules --config applies.


def check_choice(where: str, value: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise AnswersError(where, value, f"must be one of: {', '.join(choices)}")
    return value


def check_label(where: str, value: str, max_length: int = MAX_LABEL) -> str:
    """A DNS-1123 label (env, region, namespace-like names)."""
    if not _DNS_LABEL.fullmatch(value):
        raise AnswersError(
            where,
            value,
            "is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit)",
        )
    if len(value) > max_length:
        if max_length < MAX_LABEL:
            raise AnswersError(
                where,
                value,
                f"is longer than {max_length} characters (capped below the {MAX_LABEL}-character "
                "DNS label limit so that names derived from it still fit)",
            )
        raise AnswersError(where, value, f"is longer than {max_length} characters")
    return value


def _is_system_namespace(name: str) -> bool:
    """Kubernetes' and distributions' own namespaces, by convention, and known infrastructure."""
    return (
        name.startswith(("kube-", "openshift-"))
        or name.endswith("-system")
        or name == "openshift"
        or name in INFRASTRUCTURE_NAMESPACES
    )


def _check_namespace_name(where: str, value: str, max_length: int) -> str:
    """Cluster and tenant names become namespaces: none may take one that is not the platform's."""
    check_label(where, value, max_length)
    if value in RESERVED_NAMESPACES:
        raise AnswersError(where, value, "is a reserved namespace name")
    if _is_system_namespace(value):
        raise AnswersError(
            where,
            value,
            "is a system or infrastructure namespace name (kube-*, *-system, openshift-*, "
            "ingress-nginx, ...): whoever gets it would administer that component",
        )
    return value


def check_cluster_variable(where: str, value: str) -> str:
    """Cluster names, envs and regions are Flux postBuild variables (${cluster_name}, ...).
    Flux substitutes them into the YAML text of built objects and reads it again, so no
    quoting survives: a value YAML reads as a number, boolean or null would change type."""
    if value and not is_plain_string(value):
        raise AnswersError(
            where,
            value,
            "reads as a number, boolean or null in YAML; cluster names, envs and regions are "
            "substituted into manifests as plain text, where it would change type "
            "(add a letter, e.g. 'env-1' or 'dc123')",
        )
    return value


def check_cluster_name(where: str, value: str) -> str:
    return check_cluster_variable(where, _check_namespace_name(where, value, MAX_CLUSTER_NAME))


def check_env(where: str, value: str) -> str:
    """A cluster's environment: a DNS-1123 label and a substitution variable."""
    return check_cluster_variable(where, check_label(where, value))


def check_tenant_name(where: str, value: str) -> str:
    _check_namespace_name(where, value, MAX_TENANT_NAME)
    if value in RESERVED_PROJECTS:
        raise AnswersError(where, value, "is reserved for a platform Argo CD project")
    if value in PLATFORM_IDENTITIES:
        raise AnswersError(where, value, "is the name of a platform identity")
    return value


def check_tenant_clusters(where: str, value: Sequence[object]) -> tuple[str, ...]:
    """An explicit placement: at least one cluster name (that they are spokes: check_topology)."""
    if not value:
        raise AnswersError(where, list(value), "must name at least one spoke")
    return tuple(check_label(f"{where}[{i}]", str(c)) for i, c in enumerate(value))


def check_new_name(where: str, value: str, taken: Mapping[str, str]) -> str:
    """Cluster and tenant names share one namespace: ``taken`` maps each used name to its field."""
    if value in taken:
        raise AnswersError(where, value, f"is already used by {taken[value]}")
    return value


def check_repo_name(where: str, value: str) -> str:
    if not _REPO_NAME.fullmatch(value) or ".." in value or len(value) > MAX_REPO_NAME:
        raise AnswersError(
            where,
            value,
            f"must be a plain folder name of at most {MAX_REPO_NAME} characters "
            "(letters, digits, '.', '_', '-'; no '/', no '..')",
        )
    return value


def _embeds_credentials(value: str) -> bool:
    """https://user[:token]@host/..., ssh://user:password@host/..., user:password@host:path."""
    scheme, sep, rest = value.partition("://")
    if sep:
        authority = rest.split("/", 1)[0]
        if "@" not in authority:
            return False
        userinfo = authority.rsplit("@", 1)[0]
        return scheme.lower() != "ssh" or ":" in userinfo
    userinfo, at, _ = value.partition("@")
    return bool(at) and ":" in userinfo


def _mask_credentials(value: str) -> str:
    """The URL with its user info replaced, so an error message never echoes a token."""
    scheme, sep, rest = value.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        return f"{scheme}://***@{authority.rsplit('@', 1)[1]}{slash}{path}"
    return "***@" + value.partition("@")[2]


def _redact_url(value: str) -> str:
    """A URL as a message may show it: user info and any query or fragment (tokens) masked."""
    if _embeds_credentials(value):
        value = _mask_credentials(value)
    return re.sub(r"[?#].*", "?***", value, flags=re.DOTALL)


def check_git_url(where: str, value: str) -> str:
    """A plain https://, ssh:// or scp-like (user@host:path) Git URL, without credentials.

    It lands in shell scripts and YAML: its grammar leaves no room for quoting, substitution or
    template syntax (C1, C2).
    """
    shown_url = _redact_url(value)
    if _embeds_credentials(value):
        raise AnswersError(
            where, shown_url, "must not embed credentials (use an SSH deploy key or a token Secret)"
        )
    if value.lower().startswith("http://"):
        raise AnswersError(where, shown_url, "must use https:// (or SSH), not plain http://")
    if "?" in value or "#" in value:
        raise AnswersError(where, shown_url, "must not carry a query string or fragment")
    match = _HTTPS_URL.match(value) or _SSH_URL.match(value) or SCP_URL.match(value)
    if match is None:
        raise AnswersError(
            where,
            shown_url,
            "is not an https:// or SSH (git@host:path, ssh://) Git URL (a host name, then "
            "'/'-separated path segments of letters, digits, '.', '_', '~', '-')",
        )
    if any(segment in (".", "..") for segment in match["path"].split("/")):
        raise AnswersError(where, shown_url, "must not have '.' or '..' path segments")
    return value


def check_gitops_scaffold_source(where: str, value: str) -> str:
    """Empty, or ``git+https://HOST/PATH@COMMIT``: a Git URL without credentials, query or
    '..', pinned to a full 40-character commit id (a branch or tag can move)."""
    if not value:
        return value
    shown_value = _redact_url(value)
    match = _GITOPS_SCAFFOLD_SOURCE.match(value)
    if _embeds_credentials(value) or match is None:
        raise AnswersError(
            where,
            shown_value,
            "must be git+https://HOST/PATH@COMMIT: a plain https Git URL (no credentials, "
            "no query) pinned to a full 40-character lowercase commit id, or empty",
        )
    if any(segment in (".", "..") for segment in match["path"].split("/")):
        raise AnswersError(where, shown_value, "must not have '.' or '..' path segments")
    return value


def default_gitops_scaffold_source() -> str:
    """The source of the running gitops-scaffold when it was installed from git at a commit
    (PEP 610, see provenance.py) and the model accepts it, else ""."""
    where = "ci.gitops_scaffold_source"
    try:
        return check_gitops_scaffold_source(where, check_text(where, installed_vcs_requirement()))
    except AnswersError:
        return ""


def check_branch(where: str, value: str) -> str:
    """The subset of `git check-ref-format --branch` names that is safe everywhere.

    Single braces stay allowed, as git allows them (``release/{v2}``); check_text, called here
    too so that the prompts apply it inline, refuses ``{{``, ``{%`` and ``{#``.
    """
    check_text(where, value)
    parts = value.split("/")
    if (
        not _BRANCH_CHARS.fullmatch(value)
        or value in ("HEAD", "@")
        or value.startswith("-")
        or value.endswith(".")
        or ".." in value
        or "@{" in value
        or any(not p or p.startswith(".") or p.endswith(".lock") for p in parts)
    ):
        raise AnswersError(where, value, "is not a valid Git branch name")
    return value


def check_tenant_path(where: str, value: str) -> str:
    """A folder of the tenant repo: ./ then folder names, no '..' (M7).

    It lands in Flux and Argo CD YAML and in kustomize paths: a newline, ' #' or template syntax
    there would inject YAML, cut the path short, or run as a template.
    """
    folders = value[2:].split("/")
    if (
        len(value) > MAX_TENANT_PATH
        or not _TENANT_PATH.fullmatch(value)
        or any(f in (".", "..") for f in folders)
    ):
        raise AnswersError(
            where,
            value,
            "must be a relative path starting with ./ (folder names of letters, digits, '.', "
            f"'_', '-'; no '.' or '..' folders; at most {MAX_TENANT_PATH} characters)",
        )
    return value


def check_region(where: str, value: str) -> str:
    """Optional: empty, or a DNS-1123 label (it becomes a cluster label value)."""
    return check_cluster_variable(where, check_label(where, value)) if value else value


def check_channel(where: str, value: str) -> str:
    if not value:
        raise AnswersError(where, value, "is required when notifications are enabled")
    if not _CHANNEL.fullmatch(value) or len(value) > MAX_CHANNEL:
        raise AnswersError(
            where,
            value,
            f"is not a channel name (at most {MAX_CHANNEL} letters, digits, spaces, "
            "'.', '_', ':', '/', '-', optionally after '#' or '@')",
        )
    return value


def check_group(where: str, value: str) -> str:
    """An SSO group: it lands in RBAC CSV lines and YAML, so no commas, quotes or newlines.

    ``system:`` groups are Kubernetes' own (system:authenticated is every identity, system:masters
    is cluster-admin): binding a tenant or platform role to one hands it to them (R2).
    """
    if not _GROUP.fullmatch(value) or len(value) > MAX_GROUP:
        raise AnswersError(
            where,
            value,
            "is not an SSO group name (letters, digits, spaces, '.', '_', '@', ':', '/', '-'; "
            "starting with a letter or digit)",
        )
    if value.lower().startswith("system:"):
        raise AnswersError(
            where,
            value,
            "is a Kubernetes system group; tenants and platform roles must name their own group",
        )
    return value


_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+){0,3}(?:[.+-]?[A-Za-z0-9]+)*")


def check_version(where: str, value: str) -> str:
    """Optional: a version string (PEP 440-ish) of gitops-scaffold."""
    if value and (not _VERSION.fullmatch(value) or len(value) > 40):
        raise AnswersError(where, value, "is not a gitops-scaffold version (like 0.1.0)")
    return value


def check_count(where: str, value: str, low: int, high: int) -> int:
    """A whole number typed at a prompt (how many spokes)."""
    if not _COUNT.fullmatch(value) or not low <= int(value) <= high:
        raise AnswersError(where, value, f"must be a whole number from {low} to {high}")
    return int(value)


@dataclass(frozen=True)
class _CronField:
    """One field of a cron schedule: its bounds and, for months and weekdays, names from low on."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def number(self, text: str) -> int | None:
        """The value of a number or name in this field, None when it is neither or out of bounds."""
        if text.isdigit():
            number = int(text)
        elif text.upper() in self.names:
            number = self.low + self.names.index(text.upper())
        else:
            return None
        return number if self.low <= number <= self.high else None

    def bounds(self) -> str:
        """The values a message says this field takes, e.g. ``1-12 or JAN-DEC``."""
        names = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
        return f"{self.low}-{self.high}{names}"


# As Argo CD parses sync window schedules (robfig/cron): its day of week is 0-6, 7 is refused.
_CRON_FIELDS = (
    _CronField("minute", 0, 59),
    _CronField("hour", 0, 23),
    _CronField("day of month", 1, 31),
    _CronField(
        "month",
        1,
        12,
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    ),
    _CronField("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
_CRON_ITEM = re.compile(
    r"(?:\*|(?P<start>[0-9]{1,2}|[A-Za-z]{3})(?:-(?P<end>[0-9]{1,2}|[A-Za-z]{3}))?)"
    r"(?:/(?P<step>[0-9]{1,2}))?"
)


def _cron_item_problem(item: str, spec: _CronField) -> str | None:
    """What is wrong with one comma-separated item of a cron field (None: nothing)."""
    match = _CRON_ITEM.fullmatch(item)
    if match is None:
        return f"the {spec.name} {shown(item)} is not *, N or N-M, optionally with /step"
    numbers = []
    for text in (match["start"], match["end"]):
        if text is not None:
            number = spec.number(text)
            if number is None:
                return f"the {spec.name} {text!r} is not in {spec.bounds()}"
            numbers.append(number)
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        return f"the {spec.name} range {item!r} does not ascend"
    if match["step"] is not None and not 1 <= int(match["step"]) <= spec.high:
        return f"the {spec.name} step in {item!r} is not in 1-{spec.high}"
    return None


def check_schedule(where: str, value: str) -> str:
    """A 5-field cron schedule (L6): minute hour day-of-month month day-of-week.

    Each field is a comma list of *, N or N-M, each optionally with /step; months and weekdays
    may be named (JAN, MON). Fields are separated by spaces only.
    """
    fields = [f for f in value.split(" ") if f]
    if len(fields) != 5:
        raise AnswersError(
            where,
            value,
            "is not a 5-field cron schedule (minute hour day-of-month month day-of-week)",
        )
    for spec, cron_field in zip(_CRON_FIELDS, fields, strict=True):
        for item in cron_field.split(","):
            problem = _cron_item_problem(item, spec)
            if problem is not None:
                raise AnswersError(where, value, f"is not a valid cron schedule: {problem}")
    return value


def _read_cluster(data: object, where: str) -> Cluster:
    reader = _Reader(data, where)
    name = check_cluster_name(reader.path("name"), reader.string("name"))
    role = check_choice(reader.path("role"), reader.string("role", "spoke"), ROLES)
    env = check_env(reader.path("env"), reader.string("env", "mgmt" if role == "hub" else "dev"))
    region = check_region(reader.path("region"), reader.string("region", ""))
    reader.finish()
    return Cluster(name=name, role=role, env=env, region=region)


def _read_quota(reader: _Reader) -> Quota:
    cpu = reader.string("cpu", Quota.cpu)
    memory = reader.string("memory", Quota.memory)
    for key, value in (("cpu", cpu), ("memory", memory)):
        if not _QUANTITY.fullmatch(value):
            raise AnswersError(reader.path(key), value, "is not a Kubernetes quantity")
    pods = reader.integer("pods", Quota.pods)
    reader.finish()
    return Quota(cpu=cpu, memory=memory, pods=pods)


def _read_tenant(data: object, where: str) -> Tenant:
    if isinstance(data, (str, int)) and not isinstance(data, bool):  # shorthand: "- team-a"
        data = {"name": data}
    reader = _Reader(data, where)
    name = check_tenant_name(reader.path("name"), reader.string("name"))
    raw_clusters = reader.strings("clusters")
    clusters = None
    if raw_clusters is not None:
        clusters = check_tenant_clusters(reader.path("clusters"), raw_clusters)
    repo_url = reader.string("repo_url", "", redact=_redact_url)
    if repo_url:
        check_git_url(reader.path("repo_url"), repo_url)
    path = check_tenant_path(reader.path("path"), reader.string("path", Tenant.path))
    sso_group = reader.string("sso_group", "")
    if sso_group:
        check_group(reader.path("sso_group"), sso_group)
    quota_data = reader.get("quota")
    # no quota written: the defaults, which _read_quota would read as they are
    quota = DEFAULT_QUOTA if quota_data is None else _read_quota(reader.section("quota"))
    canary = reader.boolean("canary", Tenant.canary)
    reader.finish()
    return Tenant(name, clusters, repo_url, path, sso_group, quota, canary)


def _read_sync_window(data: object, where: str) -> SyncWindow:
    reader = _Reader(data, where)
    kind = check_choice(reader.path("kind"), reader.string("kind", "deny"), SYNC_WINDOW_KINDS)
    schedule = check_schedule(reader.path("schedule"), reader.string("schedule"))
    duration = reader.string("duration", "1h")
    if not _DURATION.fullmatch(duration):
        raise AnswersError(reader.path("duration"), duration, "must look like 8h or 30m")
    envs = reader.strings("envs") or []
    if not envs:
        raise AnswersError(reader.path("envs"), envs, "must name at least one env")
    manual_sync = reader.boolean("manual_sync", True)
    time_zone = reader.string("time_zone", "UTC")
    if not _TIME_ZONE.fullmatch(time_zone):
        raise AnswersError(reader.path("time_zone"), time_zone, "is not a tz database name")
    reader.finish()
    return SyncWindow(
        kind,
        schedule,
        duration,
        tuple(check_label(f"{reader.path('envs')}[{i}]", e) for i, e in enumerate(envs)),
        manual_sync,
        time_zone,
    )


_VAULT_SERVER = re.compile(rf"https://{_URL_HOST}{_URL_PORT}/?")
_VAULT_PATH = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")
_VAULT_ROLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


_ISO_8601 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
MAX_FREEZE_REASON = 200


def check_until(where: str, value: str) -> str:
    """An ISO-8601 date or date and time (what ``datetime.fromisoformat`` reads)."""
    if not _ISO_8601.fullmatch(value):
        raise AnswersError(where, value, "is not an ISO-8601 date or time (2026-12-24T18:00Z)")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise AnswersError(where, value, "is not a real date or time") from None
    return value


def check_reason(where: str, value: str) -> str:
    if len(value) > MAX_FREEZE_REASON:
        raise AnswersError(where, value, f"is longer than {MAX_FREEZE_REASON} characters")
    return check_text(where, value)


def _read_freeze(data: object, where: str) -> Freeze:
    reader = _Reader(data, where)
    env = check_label(reader.path("env"), reader.string("env"))
    until = reader.string("until", "")
    if until:
        check_until(reader.path("until"), until)
    reason = check_reason(reader.path("reason"), reader.string("reason", ""))
    manual_sync = reader.boolean("manual_sync", Freeze.manual_sync)
    reader.finish()
    return Freeze(env, until, reason, manual_sync)


def _read_vault(reader: _Reader) -> Vault:
    server = reader.string("server")
    if not _VAULT_SERVER.fullmatch(server):
        raise AnswersError(
            reader.path("server"), server, "is not Vault's address: https://HOST[:PORT]"
        )
    mount = reader.string("mount", Vault.mount)
    if not _VAULT_PATH.fullmatch(mount) or len(mount) > 100:
        raise AnswersError(
            reader.path("mount"), mount, "is not a KV mount path (letters, digits, _ - /)"
        )
    role = reader.string("role", Vault.role)
    if not _VAULT_ROLE.fullmatch(role) or len(role) > 100:
        raise AnswersError(
            reader.path("role"), role, "is not a Vault role name (letters, digits, _ . -)"
        )
    reader.finish()
    return Vault(server.rstrip("/"), mount, role)


def _secrets_answers(secrets: Secrets) -> dict[str, Any]:
    data = asdict(secrets)
    if secrets.vault is None:
        del data["vault"]  # platform.yaml says nothing of a store it does not have
    return data


def _read_sections(reader: _Reader) -> dict[str, Any]:
    secrets_r = reader.section("secrets")
    external_secrets = secrets_r.boolean("external_secrets", True)
    vault = None
    if (vault_answers := secrets_r.get("vault")) is not None:
        vault = _read_vault(secrets_r.section("vault"))
        if not external_secrets:
            raise AnswersError(
                secrets_r.path("vault"), vault_answers, "needs secrets.external_secrets: true"
            )
    secrets = Secrets(
        sealed_secrets=secrets_r.boolean("sealed_secrets", True),
        external_secrets=external_secrets,
        vault=vault,
    )
    secrets_r.finish()

    notif_r = reader.section("notifications")
    enabled = notif_r.boolean("enabled", Notifications.enabled)
    provider = check_choice(
        notif_r.path("provider"),
        notif_r.string("provider", Notifications.provider),
        NOTIFICATION_PROVIDERS,
    )
    channel = notif_r.string("channel", Notifications.channel)
    if enabled or channel:
        check_channel(notif_r.path("channel"), channel)
    notif_r.finish()
    notifications = Notifications(enabled, provider, channel)

    image_r = reader.section("image_automation")
    image_automation = ImageAutomation(enabled=image_r.boolean("enabled", True))
    image_r.finish()

    sync_r = reader.section("sync")
    manual_envs = tuple(
        check_label(f"{sync_r.path('manual_envs')}[{i}]", e)
        for i, e in enumerate(sync_r.strings("manual_envs", []) or [])
    )
    windows = tuple(
        _read_sync_window(w, f"sync.windows[{i}]")
        for i, w in enumerate(sync_r.sequence("windows", []) or [])
    )
    sync_r.finish()

    sso_r = reader.section("sso")
    sso = Sso(
        admin_group=check_group(
            sso_r.path("admin_group"), sso_r.string("admin_group", Sso.admin_group)
        ),
        readonly_group=check_group(
            sso_r.path("readonly_group"), sso_r.string("readonly_group", Sso.readonly_group)
        ),
    )
    sso_r.finish()

    ci_r = reader.section("ci")
    source_field = ci_r.path("gitops_scaffold_source")
    source = ci_r.string("gitops_scaffold_source", default_gitops_scaffold_source(), _redact_url)
    ci = Ci(gitops_scaffold_source=check_gitops_scaffold_source(source_field, source))
    ci_r.finish()

    progressive_delivery = check_choice(
        "progressive_delivery",
        reader.string("progressive_delivery", Platform.progressive_delivery),
        PROGRESSIVE_DELIVERY,
    )
    freezes = tuple(
        _read_freeze(f, f"freezes[{i}]") for i, f in enumerate(reader.sequence("freezes", []) or [])
    )
    return {
        "freezes": freezes,
        "workshop": reader.boolean("workshop", Platform.workshop),
        "secrets": secrets,
        "notifications": notifications,
        "image_automation": image_automation,
        "sync": Sync(manual_envs, windows),
        "sso": sso,
        "ci": ci,
        "progressive_delivery": progressive_delivery,
    }


@dataclass(frozen=True)
class ReadEntries:
    """What ``load_answers`` read the entries of the answers' lists as, by the identity of each
    raw entry (id -> (entry, result)). Reading an entry depends on that entry alone, so a
    list that kept most of its entries (an edit of platform.yaml) is read again in the time of
    the entries that are new: ``load_answers(data, ReadEntries.of(old_data, old_platform))``."""

    clusters: Mapping[int, tuple[object, Cluster]]
    tenants: Mapping[int, tuple[object, Tenant]]

    @classmethod
    def of(cls, data: object, platform: Platform) -> ReadEntries:
        """The entries of ``data`` as ``platform`` (``load_answers(data)``) holds them."""

        def read(key: str, results: Sequence[Any]) -> dict[int, tuple[object, Any]]:
            raw = (data.get(key, DEFAULT_ANSWERS[key]) if isinstance(data, Mapping) else None) or []
            if not isinstance(raw, list) or len(raw) != len(results):
                return {}
            return {id(entry): (entry, result) for entry, result in zip(raw, results, strict=True)}

        return cls(read("clusters", platform.clusters), read("tenants", platform.tenants))


def _read_entries(
    raw: list[Any], key: str, read: Callable[[object, str], Any],
    known: Mapping[int, tuple[object, Any]],
) -> tuple[Any, ...]:  # fmt: skip
    entries = []
    for index, entry in enumerate(raw):
        before = known.get(id(entry))
        if before is not None and before[0] is entry:
            entries.append(before[1])
        else:
            entries.append(read(entry, f"{key}[{index}]"))
    return tuple(entries)


def load_answers(data: object, known: ReadEntries | None = None) -> Platform:
    """Validate a plain mapping and return the model. Raises AnswersError on the first problem.

    ``known``: list entries read before (``ReadEntries``), taken as they were read."""
    reader = _Reader(data, "")
    repo_name = check_repo_name(
        "repo_name", reader.string("repo_name", DEFAULT_ANSWERS["repo_name"])
    )
    git_url = check_git_url(
        "git_url", reader.string("git_url", default_git_url(repo_name), redact=_redact_url)
    )
    git_branch = check_branch("git_branch", reader.string("git_branch", "main"))
    engine = check_choice("engine", reader.string("engine", "flux"), ENGINES)

    raw_clusters = reader.sequence("clusters", DEFAULT_ANSWERS["clusters"]) or []
    known_clusters = known.clusters if known is not None else {}
    clusters = _read_entries(raw_clusters, "clusters", _read_cluster, known_clusters)
    raw_tenants = reader.sequence("tenants", DEFAULT_ANSWERS["tenants"]) or []
    tenants = _read_entries(
        raw_tenants, "tenants", _read_tenant, known.tenants if known is not None else {}
    )
    sections = _read_sections(reader)
    version = check_version(VERSION_FIELD, reader.string(VERSION_FIELD, ""))
    reader.finish()

    platform = Platform(
        repo_name, git_url, git_branch, engine, clusters, tenants, **sections,
        generator_version=version,
    )  # fmt: skip
    check_topology(platform)
    return platform


def check_topology(platform: Platform) -> None:
    """Rules that span fields: one hub, spokes, unique names, placements, sync envs."""
    hubs = [i for i, c in enumerate(platform.clusters) if c.role == "hub"]
    if len(hubs) != 1:
        value = [platform.clusters[i].name for i in hubs]
        raise AnswersError("clusters", value, "must contain exactly one cluster with role hub")
    if not platform.spokes:
        raise AnswersError(
            "clusters", [c.name for c in platform.clusters], "must contain at least one spoke"
        )
    taken: dict[str, str] = {}
    for i, cluster in enumerate(platform.clusters):
        taken[check_new_name(f"clusters[{i}].name", cluster.name, taken)] = f"clusters[{i}]"
    for i, tenant in enumerate(platform.tenants):
        taken[check_new_name(f"tenants[{i}].name", tenant.name, taken)] = f"tenants[{i}]"
    clusters = {c.name for c in platform.clusters}
    spokes = {c.name for c in platform.spokes}
    for i, tenant in enumerate(platform.tenants):
        for j, name in enumerate(tenant.clusters or ()):
            where = f"tenants[{i}].clusters[{j}]"
            if name not in clusters:
                raise AnswersError(where, name, "is not a cluster in clusters")
            if name not in spokes:
                raise AnswersError(where, name, "is the hub; tenants live on spokes")
            if (tenant.clusters or ()).index(name) != j:
                raise AnswersError(where, name, "is listed twice")
    envs = {c.env for c in platform.clusters}
    for i, env in enumerate(platform.sync.manual_envs):
        if env not in envs:
            raise AnswersError(f"sync.manual_envs[{i}]", env, "is not the env of any cluster")
        if platform.sync.manual_envs.index(env) != i:
            raise AnswersError(f"sync.manual_envs[{i}]", env, "is listed twice")
    for i, window in enumerate(platform.sync.windows):
        for j, env in enumerate(window.envs):
            if env not in envs:
                raise AnswersError(
                    f"sync.windows[{i}].envs[{j}]", env, "is not the env of any cluster"
                )
    for i, freeze in enumerate(platform.freezes):
        check_freeze_env(f"freezes[{i}].env", platform, freeze.env)
        if [f.env for f in platform.freezes].index(freeze.env) != i:
            raise AnswersError(f"freezes[{i}].env", freeze.env, "is frozen twice")
    for i, tenant in enumerate(platform.tenants):
        check_tenant_canary(f"tenants[{i}].canary", tenant.canary, platform.progressive_delivery)


def check_freeze_env(where: str, platform: Platform, env: str) -> str:
    """A freeze names a spoke env: the hub's would stop the unfreeze from being applied too."""
    if env not in {c.env for c in platform.clusters}:
        raise AnswersError(where, env, "is not the env of any cluster")
    if env == platform.hub.env:
        raise AnswersError(
            where, env, "is the hub's env: a freeze there would also stop its unfreeze"
        )
    return env


def check_tenant_canary(where: str, canary: bool, progressive_delivery: str) -> bool:
    """A tenant's sample canary needs the platform's progressive delivery controllers."""
    if canary and progressive_delivery != "canary":
        raise AnswersError(
            where,
            canary,
            f"needs progressive_delivery: canary (the platform's is {progressive_delivery})",
        )
    return canary


# --------------------------------------------------------------------------- output


def dump_answers(platform: Platform) -> dict[str, Any]:
    """The answers as written to platform.yaml: defaults left out where they are implied."""
    data: dict[str, Any] = {
        "repo_name": platform.repo_name,
        "git_url": platform.git_url,
        "git_branch": platform.git_branch,
        "engine": platform.engine,
        "clusters": [_drop_empty(asdict(c)) for c in platform.clusters],
        "tenants": [_tenant_answers(t) for t in platform.tenants],
        "secrets": _secrets_answers(platform.secrets),
        "notifications": asdict(platform.notifications),
        "image_automation": asdict(platform.image_automation),
        "sync": {
            "manual_envs": list(platform.sync.manual_envs),
            "windows": [{**asdict(w), "envs": list(w.envs)} for w in platform.sync.windows],
        },
        "sso": asdict(platform.sso),
    }
    # Written when it says something: a source, or "none" where the running installation
    # would otherwise supply one (so platform.yaml reads back as this platform anywhere).
    if platform.ci.gitops_scaffold_source or default_gitops_scaffold_source():
        data["ci"] = asdict(platform.ci)
    # Written when it is on: a platform without it reads back the same, and platform.yaml of
    # every repo generated before it existed stays as it was.
    if platform.progressive_delivery != Platform.progressive_delivery:
        data["progressive_delivery"] = platform.progressive_delivery
    if platform.workshop:
        data["workshop"] = True
    # Last, and only while there is one: unfreeze leaves platform.yaml as it was before freeze.
    if platform.freezes:
        data["freezes"] = [_freeze_answers(f) for f in platform.freezes]
    return data


def _freeze_answers(freeze: Freeze) -> dict[str, Any]:
    data: dict[str, Any] = {"env": freeze.env}
    if freeze.until:
        data["until"] = freeze.until
    if freeze.reason:
        data["reason"] = freeze.reason
    if freeze.manual_sync:
        data["manual_sync"] = True
    return data


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in ("", None)}


def _tenant_answers(tenant: Tenant) -> dict[str, Any]:
    data: dict[str, Any] = {"name": tenant.name}
    if tenant.clusters is not None:
        data["clusters"] = list(tenant.clusters)
    if tenant.repo_url:
        data["repo_url"] = tenant.repo_url
    if tenant.path != Tenant.path:
        data["path"] = tenant.path
    if tenant.sso_group:
        data["sso_group"] = tenant.sso_group
    if tenant.quota != DEFAULT_QUOTA:
        data["quota"] = asdict(tenant.quota)
    if tenant.canary:
        data["canary"] = True
    return data


PLATFORM_FILE = "platform.yaml"
_HEADER = (
    "# The answers this repo was generated from: the one source of truth.\n"
    "# Feed it back with `gitops-scaffold new --config platform.yaml`.\n"
)

_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _AnswersDumper(yaml.SafeDumper):
    """safe_dump, also quoting the strings that answers files read as booleans (``tRuE``)."""


_AnswersDumper.add_implicit_resolver(_BOOL_TAG, re.compile(r"(?i:true|false)\Z"), list("tTfF"))


def answers_yaml(platform: Platform) -> str:
    """platform.yaml for a repo this version writes now: the answers and the version."""
    data = {VERSION_FIELD: scaffolder.__version__, **dump_answers(platform)}
    body = yaml.dump(data, Dumper=_AnswersDumper, sort_keys=False, width=100)
    return _HEADER + body


# --------------------------------------------------------------------------- answers files

MAX_ANSWERS_FILE = 1024 * 1024  # bytes (an answers file is a few kilobytes)
MAX_NESTING = 20  # levels of lists and mappings (an answers file needs 4)
_TOO_LARGE = "is larger than 1 MiB (an answers file is a few kilobytes)"

# Plain scalars typed as YAML 1.2's core schema types them, narrowed to the spellings that read
# back as written: true/false in any case, null/~/empty, decimal integers without a leading zero,
# decimal floats that Python prints the same. Everything else is the string written: cluster
# 010 stays "010" and env on stays "on", where YAML 1.1 would make them 8 and True (L5).
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "false": False}
_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_NUMBER_START = frozenset("-0123456789")  # how every _INT and _FLOAT match starts


def _plain_scalar_tag(text: str) -> str:
    """The type of an unquoted scalar: str unless it reads back exactly as written."""
    if text in _NULLS:
        return _NULL_TAG
    if text[:1] not in _NUMBER_START:  # most values: a name, a URL, a path
        if len(text) <= 5 and text.lower() in _BOOLS:
            return _BOOL_TAG
        return yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG
    if _INT.fullmatch(text):
        return _INT_TAG
    if _FLOAT.fullmatch(text) and str(float(text)) == text:
        return _FLOAT_TAG
    return yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG


class _RefusedYaml(yaml.MarkedYAMLError):
    """Valid YAML that an answers file may not use (anchors, tags, duplicate keys...)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _CoreResolver(yaml.resolver.BaseResolver):
    """Types nodes by _plain_scalar_tag instead of PyYAML's YAML 1.1 resolvers."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        if kind is yaml.MappingNode:
            return self.DEFAULT_MAPPING_TAG
        return _plain_scalar_tag(value) if implicit[0] else self.DEFAULT_SCALAR_TAG


class _TreeComposer(yaml.composer.Composer):
    """Composes a tree: no anchors or aliases (M2: no alias bomb), at most MAX_NESTING deep."""

    depth = 0
    peek_event: Callable[[], Any]  # the parser's

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise _RefusedYaml(
                "anchors and aliases are not allowed in an answers file", event.start_mark
            )
        if self.depth >= MAX_NESTING:
            raise _RefusedYaml(f"nests deeper than {MAX_NESTING} levels", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _check_events(text: str) -> None:
    """What the pure-Python composer refuses, found in libyaml's event stream (C, fast).

    No anchors or aliases (M2: no alias bomb, one meaning per node), at most MAX_NESTING
    levels deep.
    """
    depth = 0
    parser = yaml.CBaseLoader(text)  # events only: C parser (what yaml.parse runs, less a layer)
    try:
        next_event: Callable[[], Any] = parser.get_event
        while (event := next_event()) is not None:
            kind = type(event)
            if kind is yaml.ScalarEvent or kind is yaml.AliasEvent or kind in _STARTS:
                if event.anchor is not None:  # an alias's is the anchor it names
                    raise _RefusedYaml(
                        "anchors and aliases are not allowed in an answers file", event.start_mark
                    )
                if kind in _STARTS:
                    depth += 1
                    if depth > MAX_NESTING:
                        raise _RefusedYaml(
                            f"nests deeper than {MAX_NESTING} levels", event.start_mark
                        )
            elif kind in _ENDS:
                depth -= 1
    finally:
        parser.dispose()


_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _scalar_constructor(
    accepts: Callable[[str], object], convert: Callable[[str], object], kind: str
) -> Callable[[Any, Any], object]:
    """A constructor for a core scalar tag, also when the tag is written (``!!int 010``)."""

    def construct(loader: Any, node: Any) -> object:
        text = loader.construct_scalar(node)
        if not accepts(text):
            raise _RefusedYaml(f"{shown(text)} is not {kind}", node.start_mark)
        return convert(text)

    return construct


def _refuse_tag(loader: Any, node: Any) -> object:
    """Any tag but the core ones: !!python/... would build objects, the rest has no use here."""
    tag = re.sub(r"^tag:yaml\.org,2002:", "!!", node.tag)  # as written: !!python/object
    raise _RefusedYaml(f"the tag {shown(tag)} is not allowed in an answers file", node.start_mark)


class _CoreConstructor(yaml.constructor.SafeConstructor):
    """Builds the core schema's types only; duplicate keys and any other tag are errors."""

    yaml_constructors: ClassVar[dict[str | None, Any]] = {
        _NULL_TAG: _scalar_constructor(_NULLS.__contains__, lambda _: None, "null"),
        _BOOL_TAG: _scalar_constructor(
            lambda t: t.lower() in _BOOLS, lambda t: _BOOLS[t.lower()], "true or false"
        ),
        _INT_TAG: _scalar_constructor(_INT.fullmatch, int, "a decimal whole number"),
        _FLOAT_TAG: _scalar_constructor(_FLOAT.fullmatch, float, "a decimal number"),
        "tag:yaml.org,2002:str": yaml.constructor.SafeConstructor.construct_yaml_str,
        "tag:yaml.org,2002:seq": yaml.constructor.SafeConstructor.construct_yaml_seq,
        "tag:yaml.org,2002:map": yaml.constructor.SafeConstructor.construct_yaml_map,
        None: _refuse_tag,  # any other tag: !!python/object, !!binary, !local, ...
    }
    yaml_multi_constructors: ClassVar[dict[str | None, Any]] = {}

    def construct_document(self, node: Any) -> Any:
        """construct_object's result for the whole tree, built directly: the composer gives a
        tree (no anchors, no aliases: no node twice), so the bookkeeping of shared and
        recursive nodes has nothing to do. A string, a plain mapping and a plain sequence are
        built here as construct_yaml_str/_map/_seq build them; any other node the general way."""
        data = self._tree(node)
        while self.state_generators:  # what the general way left to finish (none so far)
            generators, self.state_generators = self.state_generators, []
            for generator in generators:
                for _ in generator:
                    pass
        self.constructed_objects = {}
        self.recursive_objects = {}
        self.deep_construct = False
        return data

    def _tree(self, node: Any) -> Any:
        tag = node.tag
        if tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
            return node.value
        if tag == _MAP_TAG and isinstance(node, yaml.MappingNode):
            return self._mapping(node, self._tree)
        if tag == _SEQ_TAG and isinstance(node, yaml.SequenceNode):
            return [self._tree(item) for item in node.value]
        return self.construct_object(node, deep=True)

    def _mapping(self, node: Any, build: Callable[[Any], Any]) -> dict[Hashable, Any]:
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = build(key_node)
            if not isinstance(key, Hashable):
                raise _RefusedYaml("a mapping key must be a scalar", key_node.start_mark)
            if key in mapping:
                raise _RefusedYaml(f"the key {shown(key)} appears twice", key_node.start_mark)
            mapping[key] = build(value_node)
        return mapping

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Hashable, Any]:
        """Keys in written order; a key written twice is an error, not "the last one wins"."""
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {node.id}", node.start_mark
            )
        return self._mapping(node, lambda child: self.construct_object(child, deep=True))


class _AnswersLoading(_TreeComposer, _CoreConstructor, _CoreResolver):
    """Composition, construction and typing of answers files, over either parser below."""

    def __init__(self) -> None:
        _TreeComposer.__init__(self)
        _CoreConstructor.__init__(self)
        _CoreResolver.__init__(self)


class _PythonLoader(_AnswersLoading, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own parser: there whether or not PyYAML was built with libyaml."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _AnswersLoading.__init__(self)


_Loader: Any = _PythonLoader
try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    pass
else:

    class _LibyamlLoader(_CoreConstructor, _CoreResolver, CParser):
        """libyaml's parser and composer (C): a large file loads in a fifth of the time.

        The events are checked first (_check_events), so the tree composed in C holds no
        alias and is not deeper than the pure-Python composer allows.
        """

        def __init__(self, text: str, events_checked: bool = False) -> None:
            if not events_checked:
                _check_events(text)
            CParser.__init__(self, text)
            _CoreConstructor.__init__(self)
            _CoreResolver.__init__(self)

    _Loader = _LibyamlLoader


def parse_answers_text(text: str, source: str) -> object:
    """The data of an answers file's text, parsed for untrusted input.

    YAML 1.2 core types (see _plain_scalar_tag); no anchors or aliases, no tags beyond the core
    ones, no duplicate keys; at most MAX_ANSWERS_FILE characters. ``source`` names the text in
    messages (``--config: platform.yaml``). Raises UsageError with one line.
    """
    return parse_answers_document(text, source)[0]


def parse_answers_document(text: str, source: str) -> tuple[object, yaml.Node | None]:
    """``parse_answers_text``'s data and the composed node tree it was built from (the nodes
    know where they sit in the text: platform.yaml is edited along them)."""
    if len(text) > MAX_ANSWERS_FILE:
        raise UsageError(f"{source} {_TOO_LARGE}")
    try:
        loader = _Loader(text)  # the pure-Python reader checks the characters here already
        try:
            node = loader.get_single_node()
            return (loader.construct_document(node) if node is not None else None), node
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        return _refused(err, source)


def _refused(err: yaml.YAMLError, source: str) -> NoReturn:
    mark = getattr(err, "problem_mark", None)
    where = f" line {mark.line + 1}" if mark is not None else ""
    if isinstance(err, _RefusedYaml):
        raise UsageError(f"{source}{where}: {err.problem}") from None
    raise UsageError(f"{source}{where} is not valid YAML") from None


def parse_edited_answers_text(text: str, source: str) -> object:
    """``parse_answers_text`` of a text made of one it read and spans this tool wrote (an edit
    of platform.yaml): the same data and the same refusals, with less work when it can.

    Such a text nests at most a few levels deeper than the one it came from (at most
    MAX_NESTING), far from what would exhaust libyaml's composer. So a text without "&" (no
    anchor, hence no alias: an alias names an anchor) is composed without the events pass,
    and its nesting is checked on the composed tree instead."""
    if "&" in text or _Loader is _PythonLoader or len(text) > MAX_ANSWERS_FILE:
        return parse_answers_text(text, source)
    try:
        loader = _Loader(text, events_checked=True)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_nesting(node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        return _refused(err, source)


def _check_nesting(root: yaml.Node) -> None:
    """_check_events' depth rule on a composed tree: at most MAX_NESTING collections deep
    (the nodes visited in the order of their events, so the same one is named)."""
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            continue
        depth += 1
        if depth > MAX_NESTING:
            raise _RefusedYaml(f"nests deeper than {MAX_NESTING} levels", node.start_mark)
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = list(node.value)
        stack.extend((child, depth) for child in reversed(children))


def read_answers_file(path: Path) -> Platform:
    """The answers of a ``--config`` file: regular, UTF-8, at most 1 MiB (L1, L2, L4)."""
    return load_answers(read_answers_data(path))


def read_answers_data(path: Path) -> object:
    """The data of a ``--config`` file, before the model reads it ({} when it is empty)."""
    source = f"--config: {path}"
    # At most one byte more than allowed (L2: never a device or a pipe, see read_regular_file).
    data = read_regular_file(path, source, MAX_ANSWERS_FILE + 1, "an answers file")
    if len(data) > MAX_ANSWERS_FILE:
        raise UsageError(f"{source} {_TOO_LARGE}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UsageError(f"{source} is not UTF-8 text (byte {err.start + 1})") from None
    answers = parse_answers_text(text, source)
    return answers if answers is not None else {}


def with_overrides(data: object, settings: Sequence[str]) -> dict[str, Any]:
    """``data`` (answers) with each ``KEY=VALUE`` of ``--set`` applied, as cookiecutter's extra
    context: KEY names a field, a dot goes into a section (``secrets.sealed_secrets=false``);
    VALUE is read as a YAML scalar with the rules of an answers file (quote it to keep
    ``"true"`` a string). Lists (clusters, tenants) are answers-file matter."""
    if not isinstance(data, Mapping):
        raise AnswersError("answers", data, "must be a mapping")
    result: dict[str, Any] = copy.deepcopy(dict(data))
    for setting in settings:
        key, equals, raw = setting.partition("=")
        parts = key.strip().split(".")
        if not equals or not all(parts):
            raise UsageError(
                f"--set {shown(setting)}: expected KEY=VALUE, e.g. git_url=https://host/org/repo.git"
            )
        value = parse_answers_text(raw, f"--set {key}") if raw.strip() else ""
        if isinstance(value, (Mapping, list)):
            raise UsageError(
                f"--set {key}: one value only; lists and sections go in an answers file (--config)"
            )
        target = result
        for depth, part in enumerate(parts[:-1]):
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                where = ".".join(parts[: depth + 1])
                raise UsageError(f"--set {key}: {where} is not a section of the answers")
            target = nested
        target[parts[-1]] = value
    return result


def with_engine(platform: Platform, engine: str | None) -> Platform:
    if engine is None:
        return platform
    return replace(platform, engine=check_choice("--engine", engine, ENGINES))
