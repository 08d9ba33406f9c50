"""Interactive questions for `gitops-scaffold new`.

Every text answer is checked inline by the answers model's own check_* functions, and the
collected answers go through ``load_answers`` like a --config file, so the prompts can never
produce answers that --config would refuse.

Questions use ``unsafe_ask()``: Ctrl-C raises KeyboardInterrupt (``cli.main`` turns it into
one line and exit 130); ``ask()`` would swallow it and return None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import questionary
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from scaffolder import model
from scaffolder.errors import AnswersError, UsageError

MAX_SPOKES = 20
NOTIFICATIONS_OFF = "off"
# Suggested for spokes beyond the ones in the defaults ("spoke-3", ...).
EXTRA_SPOKE = model.Cluster(name="spoke", role="spoke", env="staging", region="eu-west-1")

# The root questions, worded as in cookiecutter.json's __prompts__ (a test keeps them equal).
MESSAGES = {
    "engine": "GitOps engine",
    "repo_name": "Repository folder name",
    "git_url": "Git URL of the platform repository (https:// or SSH)",
    "git_branch": "Branch the GitOps engine reconciles",
}

Check = Callable[[str], object]


class _Asker:
    """questionary with one input/output pair and the model's rules as inline validators."""

    def __init__(self, input: Input | None, output: Output | None) -> None:
        self._io: dict[str, Any] = {}
        if input is not None:
            self._io["input"] = input
        if output is not None:
            self._io["output"] = output

    def text(self, message: str, default: str, check: Check) -> str:
        def validate(text: str) -> bool | str:
            try:
                check(text.strip())
            except AnswersError as err:
                return str(err)
            return True

        answer = questionary.text(message, default=default, validate=validate, **self._io)
        return str(answer.unsafe_ask()).strip()

    def select(self, message: str, choices: Sequence[questionary.Choice], default: str) -> str:
        question = questionary.select(message, list(choices), default=default, **self._io)
        return str(question.unsafe_ask())

    def show(self, text: str) -> None:
        """Text between questions, on the questions' output."""
        output = self._io.get("output")
        if output is None:
            print(text)
            return
        output.write(text + "\n")
        output.flush()

    def confirm(self, message: str, default: bool) -> bool:
        return bool(questionary.confirm(message, default=default, **self._io).unsafe_ask())

    def checkbox(
        self,
        message: str,
        choices: Sequence[questionary.Choice],
        check: Callable[[list[str]], object] | None = None,
    ) -> list[str]:
        def validate(values: list[str]) -> bool | str:
            try:
                if check is not None:
                    check(values)
            except AnswersError as err:
                return str(err)
            return True

        question = questionary.checkbox(message, list(choices), validate=validate, **self._io)
        return [str(value) for value in question.unsafe_ask()]


# The review screen's choices.
WRITE, CHANGE, CANCEL = "write", "change", "cancel"


class Cancelled(Exception):
    """The user chose not to write the repo on the review screen; the answers are kept."""

    def __init__(self, platform: model.Platform) -> None:
        super().__init__("cancelled on the review screen")
        self.platform = platform


def ask_answers(
    engine: str | None = None,
    *,
    input: Input | None = None,
    output: Output | None = None,
    output_dir: Path | None = None,
    force: bool = False,
) -> model.Platform:
    """Ask every question (the engine only when ``engine`` is None), show the answers for
    review (write, change them, or cancel) and return the model.

    With ``output_dir``, a repo name whose folder already exists there is refused where it is
    asked (unless ``force``). Raises Cancelled when the user cancels on the review screen.
    """
    asker = _Asker(input, output)
    defaults = model.default_platform()
    fixed_engine = engine
    try:
        while True:
            platform = model.load_answers(_ask(asker, fixed_engine, defaults, output_dir, force))
            choice = _review(asker, platform)
            if choice == WRITE:
                return platform
            if choice == CANCEL:
                raise Cancelled(platform)
            defaults = platform  # change: every question again, its last answer suggested
    except EOFError:
        raise UsageError(
            "input ended before every question was answered; nothing was written"
        ) from None


def _review(asker: _Asker, platform: model.Platform) -> str:
    asker.show("\nYour answers (written to platform.yaml):\n\n" + model.answers_yaml(platform))
    return asker.select(
        f"Write {platform.repo_name} with these answers?",
        [
            questionary.Choice("Yes, write the repo", WRITE),
            questionary.Choice("No, change the answers (each one suggested again)", CHANGE),
            questionary.Choice("Cancel (the answers are saved to a file)", CANCEL),
        ],
        WRITE,
    )


def _folder_check(output_dir: Path | None, force: bool) -> Check:
    def check(value: str) -> object:
        name = model.check_repo_name("repo_name", value)
        if output_dir is None or force:
            return name
        target = output_dir / name
        if target.exists() or target.is_symlink():
            raise AnswersError(
                "repo_name", name, f"already exists in {output_dir}: choose another name"
            )
        return name

    return check


def _ask(
    asker: _Asker,
    engine: str | None,
    defaults: model.Platform,
    output_dir: Path | None = None,
    force: bool = False,
) -> dict[str, Any]:
    if engine is None:
        engine = asker.select(
            MESSAGES["engine"],
            [
                questionary.Choice("Flux (reconciles from the hub onto every spoke)", "flux"),
                questionary.Choice("Argo CD (on the hub, ApplicationSets per spoke)", "argocd"),
            ],
            defaults.engine,
        )
    repo_name = asker.text(
        MESSAGES["repo_name"],
        defaults.repo_name,
        _folder_check(output_dir, force),
    )
    suggested_url = (
        defaults.git_url
        if repo_name == defaults.repo_name
        and defaults.git_url != model.default_git_url(defaults.repo_name)
        else model.default_git_url(repo_name)
    )
    git_url = asker.text(
        MESSAGES["git_url"],
        suggested_url,
        _field_check(model.check_git_url, "git_url"),
    )
    git_branch = asker.text(
        MESSAGES["git_branch"],
        defaults.git_branch,
        _field_check(model.check_branch, "git_branch"),
    )
    clusters = _ask_clusters(asker, defaults)
    tenants = _ask_tenants(asker, defaults, clusters)
    return {
        "repo_name": repo_name,
        "git_url": git_url,
        "git_branch": git_branch,
        "engine": engine,
        "clusters": clusters,
        "tenants": tenants,
        **_ask_options(asker, defaults, engine, clusters, tenants),
    }


def _field_check(check: Callable[[str, str], object], where: str) -> Check:
    return lambda value: check(where, value)


def _name_check(where: str, check: Callable[[str, str], str], taken: dict[str, str]) -> Check:
    return lambda value: model.check_new_name(where, check(where, value), taken)


def _free_name(preferred: str, taken: dict[str, str], stem: str) -> str:
    if preferred not in taken:
        return preferred
    number = 1
    while f"{stem}-{number}" in taken:
        number += 1
    return f"{stem}-{number}"


def _suggested_spoke(defaults: model.Platform, number: int) -> model.Cluster:
    if number <= len(defaults.spokes):
        return defaults.spokes[number - 1]
    return replace(EXTRA_SPOKE, name=f"{EXTRA_SPOKE.name}-{number}")


def _ask_clusters(asker: _Asker, defaults: model.Platform) -> list[dict[str, str]]:
    taken: dict[str, str] = {}
    hub = defaults.hub
    hub_name = asker.text(
        "Hub cluster name (runs the GitOps engine)",
        hub.name,
        _name_check("clusters[0].name", model.check_cluster_name, taken),
    )
    taken[hub_name] = "clusters[0]"
    clusters = [{"name": hub_name, "role": "hub", "env": hub.env, "region": hub.region}]

    count = int(
        asker.text(
            "How many spoke clusters?",
            str(len(defaults.spokes)),
            lambda value: model.check_count("spokes", value, 1, MAX_SPOKES),
        )
    )
    for number in range(1, count + 1):
        suggested = _suggested_spoke(defaults, number)
        where = f"clusters[{number}]"
        name = asker.text(
            f"Spoke {number} of {count}: cluster name",
            _free_name(suggested.name, taken, EXTRA_SPOKE.name),
            _name_check(f"{where}.name", model.check_cluster_name, taken),
        )
        env = asker.text(
            f"Spoke {name}: environment (dev, staging, prod, ...)",
            _env_in_name(name) or suggested.env,
            _field_check(model.check_env, f"{where}.env"),
        )
        region = asker.text(
            f"Spoke {name}: region (optional)",
            suggested.region,
            _field_check(model.check_region, f"{where}.region"),
        )
        taken[name] = where
        clusters.append({"name": name, "role": "spoke", "env": env, "region": region})
    return [{key: value for key, value in c.items() if value} for c in clusters]


# A spoke named after its environment (prod-eu-1, stg-us-1) gets that one suggested.
_ENV_PREFIXES = {
    "dev": "dev", "development": "dev", "test": "test", "qa": "qa", "uat": "uat",
    "stg": "staging", "stage": "staging", "staging": "staging", "prd": "prod", "prod": "prod",
    "production": "prod",
}  # fmt: skip


def _env_in_name(name: str) -> str | None:
    return _ENV_PREFIXES.get(name.split("-", 1)[0])


def _split_names(text: str) -> list[str]:
    return [name.strip() for name in text.replace(",", " ").split() if name.strip()]


def _check_tenant_names(text: str, taken: dict[str, str]) -> list[str]:
    names = _split_names(text)
    seen = dict(taken)
    for index, name in enumerate(names):
        where = f"tenants[{index}].name"
        seen[model.check_new_name(where, model.check_tenant_name(where, name), seen)] = (
            f"tenants[{index}]"
        )
    return names


def _ask_tenants(
    asker: _Asker, defaults: model.Platform, clusters: list[dict[str, str]]
) -> list[dict[str, Any]]:
    taken = {c["name"]: f"clusters[{i}]" for i, c in enumerate(clusters)}
    spokes = [c for c in clusters if c["role"] == "spoke"]
    names = _check_tenant_names(
        asker.text(
            "Tenants (team namespaces; names separated by commas, empty for none)",
            ", ".join(t.name for t in defaults.tenants),
            lambda value: _check_tenant_names(value, taken),
        ),
        taken,
    )
    placed = {t.name: t.clusters for t in defaults.tenants}
    tenants: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        tenant: dict[str, Any] = {"name": name}
        if len(spokes) > 1:
            before = placed.get(name)
            chosen = asker.checkbox(
                f"Tenant {name}: on which spokes? (all = every spoke, also ones added later)",
                [
                    questionary.Choice(
                        _cluster_title(spoke),
                        spoke["name"],
                        checked=before is None or spoke["name"] in before,
                    )
                    for spoke in spokes
                ],
                _placement_check(f"tenants[{index}].clusters"),
            )
            if len(chosen) < len(spokes):
                tenant["clusters"] = chosen
        tenants.append(tenant)
    return tenants


def _placement_check(where: str) -> Callable[[list[str]], object]:
    return lambda values: model.check_tenant_clusters(where, values)


def _cluster_title(cluster: dict[str, str]) -> str:
    where = ", ".join(v for v in (cluster["env"], cluster.get("region", "")) if v)
    return f"{cluster['name']} ({where})"


def _ask_options(
    asker: _Asker,
    defaults: model.Platform,
    engine: str,
    clusters: list[dict[str, str]],
    tenants: list[dict[str, Any]],
) -> dict[str, Any]:
    """The platform's options; a tenant that gets the sample canary app is marked in
    ``tenants`` (``canary: true``)."""
    secrets = {
        "sealed_secrets": asker.confirm(
            "Sealed Secrets (commit secrets encrypted for one cluster)?",
            defaults.secrets.sealed_secrets,
        ),
        "external_secrets": asker.confirm(
            "External Secrets Operator (sync secrets from a secret manager)?",
            defaults.secrets.external_secrets,
        ),
    }
    provider = asker.select(
        "Notifications about sync failures and drift",
        [questionary.Choice(p, p) for p in model.NOTIFICATION_PROVIDERS]
        + [questionary.Choice("off (no notifications)", NOTIFICATIONS_OFF)],
        defaults.notifications.provider if defaults.notifications.enabled else NOTIFICATIONS_OFF,
    )
    notifications: dict[str, Any] = {"enabled": False}
    if provider != NOTIFICATIONS_OFF:
        channel = asker.text(
            f"{provider} channel",
            defaults.notifications.channel,
            _field_check(model.check_channel, "notifications.channel"),
        )
        notifications = {"enabled": True, "provider": provider, "channel": channel}
    image_automation = asker.confirm(
        "Image automation (bump image tags in git when new ones are pushed)?",
        defaults.image_automation.enabled,
    )
    progressive_delivery = asker.select(
        "Progressive delivery (canary releases: Flagger on Flux, Argo Rollouts on Argo CD)",
        [
            questionary.Choice("none", "none"),
            questionary.Choice(
                "canary (the controller on every spoke, a sample per tenant)", "canary"
            ),
        ],
        defaults.progressive_delivery,
    )
    options: dict[str, Any] = {
        "secrets": secrets,
        "notifications": notifications,
        "image_automation": {"enabled": image_automation},
    }
    if progressive_delivery == "canary":
        options["progressive_delivery"] = progressive_delivery
        chosen = asker.checkbox(
            "Tenants that get the sample canary app",
            [
                questionary.Choice(t["name"], t["name"], checked=index == 0)
                for index, t in enumerate(tenants)
            ],
        )
        for tenant in tenants:
            if tenant["name"] in chosen:
                tenant["canary"] = True
    if engine == "argocd":
        envs = sorted({c["env"] for c in clusters if c["role"] == "spoke"})
        manual = asker.checkbox(
            "Environments whose applications sync manually (none: all sync automatically)",
            [
                questionary.Choice(env, env, checked=env in defaults.sync.manual_envs)
                for env in envs
            ],
        )
        options["sync"] = {"manual_envs": manual}
    return options


def ask_tenant_placement(
    platform: model.Platform,
    name: str,
    *,
    input: Input | None = None,
    output: Output | None = None,
) -> list[str] | None:
    """The spokes a new tenant goes on (None: every spoke, also ones added later)."""
    spokes = platform.spokes
    if len(spokes) < 2:
        return None
    chosen = _Asker(input, output).checkbox(
        f"Tenant {name}: on which spokes? (all = every spoke, also ones added later)",
        [questionary.Choice(_cluster_title(asdict(s)), s.name, checked=True) for s in spokes],
        _placement_check("clusters"),
    )
    return None if len(chosen) == len(spokes) else chosen
