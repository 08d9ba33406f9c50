"""Refuse invalid answers before anything is rendered (plain `cookiecutter` runs)."""

import json
import sys

sys.path.insert(0, {{ cookiecutter._repo_dir | tojson }})

try:
    from scaffolder.hooks import pre_generate
except ImportError as missing:  # cookiecutter runs in a Python without our dependencies
    sys.exit(
        f"error: {sys.executable} lacks gitops-scaffold's dependencies (no module "
        f"{missing.name!r}): pip install gitops-scaffold into the Python that runs cookiecutter"
    )

sys.exit(pre_generate(json.loads({{ cookiecutter | tojson | tojson }})))
