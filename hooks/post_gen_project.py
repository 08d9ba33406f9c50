"""Render clusters and tenants, make keys, encrypt, commit: the same pipeline as `new`."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, {{ cookiecutter._repo_dir | tojson }})

try:
    from scaffolder.hooks import post_generate
except ImportError as missing:  # cookiecutter runs in a Python without our dependencies
    sys.exit(
        f"error: {sys.executable} lacks gitops-scaffold's dependencies (no module "
        f"{missing.name!r}): pip install gitops-scaffold into the Python that runs cookiecutter"
    )

sys.exit(post_generate(json.loads({{ cookiecutter | tojson | tojson }}), Path(os.getcwd())))
