"""Render clusters and tenants, make keys, encrypt, commit: the same pipeline as `new`."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, {{ cookiecutter._repo_dir | tojson }})

from scaffolder.hooks import post_generate  # noqa: E402  (standard library only)

sys.exit(post_generate(json.loads({{ cookiecutter | tojson | tojson }}), Path(os.getcwd())))
