"""Plain `cookiecutter <checkout> --directory templates/<engine>/tenant`: add the tenant to
an existing repo through the same function as `gitops-scaffold add-tenant`.

No template code here: cookiecutter wrote the answers as JSON into a request folder outside
the repo (see scaffolder/cookiecutter_guard.py); this runs there.
"""

import json
import sys
from pathlib import Path

CONTEXT_FILE = Path(".cookiecutter-context.json")

context = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))
sys.path.insert(0, str(Path(context["_repo_dir"]).parents[2]))  # a checkout's scaffolder/

from scaffolder.hooks import add_tenant_from_cookiecutter  # noqa: E402  (standard library only)

sys.exit(add_tenant_from_cookiecutter(context, Path.cwd()))
