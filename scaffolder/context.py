"""Template contexts: the answers model resolved into plain dicts for Jinja.

Everything a template needs is computed here (placements, default URLs, groups), so the
templates hold layout and YAML, never logic that the two engines would have to repeat.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from scaffolder.model import Cluster, Platform, Tenant, dump_answers
from scaffolder.versions import VERSIONS


def cluster_view(platform: Platform, cluster: Cluster) -> dict[str, Any]:
    return {
        **asdict(cluster),
        "tenants": [t.name for t in platform.tenants_on(cluster.name)],
        "automated": platform.sync_automated(cluster.env),
        "is_hub": cluster.role == "hub",
    }


def tenant_view(platform: Platform, tenant: Tenant) -> dict[str, Any]:
    placement = platform.placement(tenant)
    return {
        "name": tenant.name,
        "clusters": list(placement),
        "cluster_views": [cluster_view(platform, platform.cluster(c)) for c in placement],
        "envs": sorted({platform.cluster(c).env for c in placement}),
        "repo_url": platform.tenant_repo_url(tenant),
        "path": tenant.path,
        "sso_group": platform.tenant_sso_group(tenant),
        "quota": asdict(tenant.quota),
    }


def platform_view(platform: Platform) -> dict[str, Any]:
    answers = dump_answers(platform)
    return {
        **answers,
        "hub": cluster_view(platform, platform.hub),
        "spokes": [cluster_view(platform, c) for c in platform.spokes],
        "clusters": [cluster_view(platform, c) for c in platform.clusters],
        "tenants": [tenant_view(platform, t) for t in platform.tenants],
        "envs": sorted({c.env for c in platform.spokes}),
        "versions": dict(VERSIONS),
    }


def root_context(platform: Platform) -> dict[str, Any]:
    """The root cookiecutter.json variables for these answers (see cookiecutter.json)."""
    answers = dump_answers(platform)
    scalars = ("repo_name", "git_url", "git_branch", "engine")
    return {
        **{key: answers[key] for key in scalars},
        "platform": {k: v for k, v in answers.items() if k not in scalars},
    }


def answers_from_root_context(context: dict[str, Any]) -> dict[str, Any]:
    """The inverse of root_context: a cookiecutter context back into plain answers."""
    scalars = ("repo_name", "git_url", "git_branch", "engine")
    engine = context["engine"]
    if isinstance(engine, list):  # an unrendered choice variable: its first entry
        engine = engine[0]
    answers: dict[str, Any] = {key: context[key] for key in scalars}
    answers["engine"] = engine
    answers.update(context.get("platform") or {})
    return answers
