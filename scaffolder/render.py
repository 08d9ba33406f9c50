"""Rendering through cookiecutter: the root template and the engine sub-templates."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from cookiecutter.exceptions import CookiecutterException
from cookiecutter.main import cookiecutter
from jinja2 import TemplateError

from scaffolder.context import cluster_view, platform_view, root_context, tenant_view
from scaffolder.errors import ScaffoldError
from scaffolder.model import Cluster, Platform, Tenant
from scaffolder.paths import subtemplate, template_root


class Renderer:
    """Renders templates for one platform; keeps cookiecutter's replay files out of $HOME."""

    def __init__(self, platform: Platform, config_file: Path) -> None:
        self.platform = platform
        self.config_file = config_file
        self._view = platform_view(platform)

    def root(self, output_dir: Path) -> Path:
        """Render the root skeleton into ``output_dir/<repo_name>`` (hooks off: we run them)."""
        return self._cookiecutter(None, output_dir, root_context(self.platform), overwrite=False)

    def base(self, repo_dir: Path) -> None:
        self._sub(repo_dir, "base", {})

    def cluster(self, repo_dir: Path, cluster: Cluster) -> None:
        self._sub(repo_dir, "cluster", {"_cluster": cluster_view(self.platform, cluster)})

    def tenant(self, repo_dir: Path, tenant: Tenant) -> None:
        self._sub(repo_dir, "tenant", {"_tenant": tenant_view(self.platform, tenant)})

    def _sub(self, repo_dir: Path, part: str, items: dict[str, Any]) -> None:
        context = {"repo_dir": repo_dir.name, "_platform": self._view, **items}
        directory = subtemplate(self.platform.engine, part)
        self._cookiecutter(directory, repo_dir.parent, context, overwrite=True)

    def _cookiecutter(
        self, directory: str | None, output_dir: Path, context: dict[str, Any], *, overwrite: bool
    ) -> Path:
        try:
            result = cookiecutter(
                str(template_root()),
                directory=directory,
                no_input=True,
                extra_context=context,
                output_dir=str(output_dir),
                overwrite_if_exists=overwrite,
                accept_hooks=False,
                config_file=str(self.config_file),
            )
        except (CookiecutterException, TemplateError) as err:
            where = directory or "root template"
            raise ScaffoldError(f"rendering {where} failed: {err}") from err
        return Path(result)


@contextmanager
def renderer_for(platform: Platform) -> Iterator[Renderer]:
    """A Renderer whose cookiecutter config sends replay and clone folders to a temp dir."""
    with tempfile.TemporaryDirectory(prefix="gitops-scaffold-cc-") as tmp:
        config = Path(tmp) / "cookiecutter.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "replay_dir": str(Path(tmp) / "replay"),
                    "cookiecutters_dir": str(Path(tmp) / "cc"),
                }
            ),
            encoding="utf-8",
        )
        yield Renderer(platform, config)
