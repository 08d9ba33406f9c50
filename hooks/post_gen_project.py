"""Plain `cookiecutter <checkout>`: build the repo with gitops-scaffold's own pipeline.

This script holds no template code: cookiecutter wrote the answers as JSON data into
.cookiecutter-context.json (see scaffolder/cookiecutter_guard.py), and the pipeline renders,
keys, encrypts and commits exactly as `gitops-scaffold new` does.
"""

import json
import sys
from pathlib import Path

CONTEXT_FILE = Path(".cookiecutter-context.json")

context = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))
CONTEXT_FILE.unlink()
sys.path.insert(0, context["_repo_dir"])

from scaffolder.hooks import post_generate  # noqa: E402  (standard library only)

sys.exit(post_generate(context, Path.cwd()))
