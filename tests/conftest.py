"""Shared fixtures: generated repos (one per engine and size, made once per session)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scaffolder.commands.new import new
from scaffolder.generate import GeneratedRepo
from scaffolder.model import DEFAULT_ANSWERS, load_answers
from scaffolder.validate.schemas import BUNDLED_SCHEMAS

CHECKOUT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """../shared beside the checkout, or $GITOPS_SCAFFOLD_SHARED."""
    configured = os.environ.get("GITOPS_SCAFFOLD_SHARED")
    return Path(configured) if configured else CHECKOUT.parent / "shared"


# The strict CRD schemas the tests validate against: ../shared's when it is there (the
# project's reference copy), else the ones the package bundles (the same files: a test
# compares them whenever both exist), so a fresh clone's suite passes without ../shared.
SHARED_SCHEMAS = shared_dir() / "schemas"
SCHEMAS = SHARED_SCHEMAS if SHARED_SCHEMAS.is_dir() else BUNDLED_SCHEMAS

# 1 hub, 3 spokes, 4 tenants with mixed placements.
BIG_ANSWERS: dict[str, Any] = {
    "repo_name": "big-platform",
    "git_url": "git@github.com:acme/big-platform.git",
    "clusters": [
        {"name": "mgmt", "role": "hub", "env": "mgmt", "region": "eu-west-1"},
        {"name": "dev-eu-1", "role": "spoke", "env": "dev", "region": "eu-west-1"},
        {"name": "stg-us-1", "role": "spoke", "env": "staging", "region": "us-east-1"},
        {"name": "prod-eu-1", "role": "spoke", "env": "prod", "region": "eu-west-1"},
    ],
    "tenants": [
        {"name": "payments", "clusters": ["dev-eu-1", "prod-eu-1"]},
        {"name": "search", "clusters": ["stg-us-1"]},
        {"name": "web"},
        {
            "name": "data",
            "clusters": ["dev-eu-1", "stg-us-1", "prod-eu-1"],
            "repo_url": "https://gitlab.example.com/data/deploy.git",
            "path": "./k8s",
            "sso_group": "data-engineers",
            "quota": {"cpu": "16", "memory": "64Gi", "pods": 200},
        },
    ],
    "notifications": {"provider": "msteams", "channel": "platform"},
    "sync": {
        "manual_envs": ["prod"],
        "windows": [{"kind": "deny", "schedule": "0 22 * * *", "duration": "8h", "envs": ["prod"]}],
    },
}


def make_repo(root: Path, answers: dict[str, Any], engine: str) -> GeneratedRepo:
    platform = load_answers({**answers, "engine": engine})
    return new(platform, root / "out", root / "keys")


@pytest.fixture(scope="session")
def repo_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], GeneratedRepo]:
    made: dict[tuple[str, str], GeneratedRepo] = {}
    sizes = {"default": DEFAULT_ANSWERS, "big": BIG_ANSWERS}

    def factory(engine: str, size: str = "default") -> GeneratedRepo:
        if (engine, size) not in made:
            root = tmp_path_factory.mktemp(f"{engine}-{size}")
            made[(engine, size)] = make_repo(root, sizes[size], engine)
        return made[(engine, size)]

    return factory


@pytest.fixture(params=["flux", "argocd"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["default", "big"])
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def generated(
    repo_factory: Callable[[str, str], GeneratedRepo], engine: str, size: str
) -> GeneratedRepo:
    return repo_factory(engine, size)
