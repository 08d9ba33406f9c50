"""Refuse invalid answers before anything is rendered (plain `cookiecutter` runs)."""

import json
import sys

sys.path.insert(0, {{ cookiecutter._repo_dir | tojson }})

from scaffolder.hooks import pre_generate  # noqa: E402  (standard library only)

sys.exit(pre_generate(json.loads({{ cookiecutter | tojson | tojson }})))
