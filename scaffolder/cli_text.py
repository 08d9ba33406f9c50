"""What `--help` says: the product, each command's purpose, examples and exit codes."""

from __future__ import annotations

PRODUCT = (
    "gitops-scaffold writes and evolves hub-spoke GitOps platform repositories for Flux or "
    "Argo CD: a hub and spoke clusters, tenants with their guardrails, per-cluster SOPS age "
    "keys and encrypted secrets, Sealed Secrets and External Secrets wiring, CI and bootstrap "
    "scripts. Everything it writes is checked offline by `gitops-scaffold validate`; no "
    "command touches a cluster."
)

EXIT_CODES = """\
exit codes:
  0    done (validate: no findings)
  1    validate found problems; or an external tool failed (one line says which)
  2    bad input: an answer, an option, a folder or a file that cannot be used
  130  interrupted by Ctrl-C (143: SIGTERM); nothing was changed
Every error is one line on stderr; a command that fails leaves no half-written repo and
changes nothing in an existing one."""

TOP_EPILOG = f"""\
examples:
  gitops-scaffold new                          ask the questions, then write the repo
  gitops-scaffold new --no-input --engine argocd
  gitops-scaffold add-tenant team-c --repo acme-platform --clusters dev-eu-1
  gitops-scaffold validate acme-platform
  gitops-scaffold doctor                       which tools are installed, and for what

Run `gitops-scaffold COMMAND --help` for a command's options.

{EXIT_CODES}"""

NEW = (
    "Generate a new platform repository, its git history and its age keys. Without "
    "--no-input or --config it asks the questions on the terminal (every answer checked as "
    "it is given); the answers are written to the repo's platform.yaml, the source of truth "
    "every later command reads."
)

NEW_EPILOG = f"""\
examples:
  gitops-scaffold new
  gitops-scaffold new --no-input --engine flux --output-dir ~/src
  gitops-scaffold new --config platform.yaml --keys-dir ~/.config/acme-keys

The private age keys go to KDIR (default: DIR/<repo>.keys, files of mode 0600), never into
the repo.

{EXIT_CODES}"""

VALIDATE = (
    "Check a platform repository offline: YAML syntax, kustomize builds (as Flux builds "
    "them), strict CRD and Kubernetes schemas, references between objects, secret hygiene, "
    "tenant isolation, Flux and Argo CD rules, RBAC and the repo's scripts. Run it from any "
    "folder of the repo: it checks the whole repo (the folder of platform.yaml)."
)

VALIDATE_EPILOG = """\
examples:
  gitops-scaffold validate
  gitops-scaffold validate acme-platform --only build,schema
  gitops-scaffold validate --format github     annotations on a pull request
  gitops-scaffold validate --format sarif > validate.sarif

exit codes:
  0  no findings
  1  findings (each names a check id, a file and a line)
  2  the folder cannot be checked: not a platform repo, an empty platform.yaml, a bad option
     or schema location, kubectl/kustomize missing"""

DAY2_EPILOG = f"""\
It changes only files this tool wrote and nobody edited since (a hand-edited one is reported,
not touched, unless --force), regenerates the files derived from platform.yaml, and is atomic:
on any failure or Ctrl-C the repo is left byte for byte as it was. Review the change with
`git status` / `git diff`, or pass --commit.

{EXIT_CODES}"""

ADD_TENANT = (
    "Add a tenant to an existing repo: its namespace and guardrails on the spokes it is "
    "placed on, its sync from its own repository, and the derived files. Needs no private key."
)
ADD_TENANT_EXAMPLES = """\
examples:
  gitops-scaffold add-tenant team-c                  (in the repo; asks where on a terminal)
  gitops-scaffold add-tenant team-c --repo acme-platform --clusters dev-eu-1,prod-eu-1 --commit

"""
WORKSHOP = (
    "Make one independent platform repo per attendee of an onboarding workshop: "
    "<prefix>-01, <prefix>-02, ..., each with its own age keys (<repo>.keys beside it), "
    "made from the workshop profile (a hub and one spoke for two local kind clusters, "
    "tenant team-a with the sample app and a canary) or --config's answers, with "
    "scripts/kind-up.sh, scripts/kind-down.sh and the exercises in docs/workshop/. Then "
    "roster.csv (attendee, repo, keys) and instructor-handout.md (agenda, timings, answers). "
    "Each repo is written atomically; on Ctrl-C the repos being made are finished, the rest "
    "are not started, and no roster or handout is written."
)
WORKSHOP_EPILOG = f"""\
examples:
  gitops-scaffold workshop --attendees 12 --output-dir ~/workshop
  gitops-scaffold workshop --attendees 30 --engine argocd --prefix gitops-101 --jobs 2
  gitops-scaffold workshop --attendees 5 --config my-workshop.yaml

{EXIT_CODES}"""
FREEZE = (
    "Freeze an env (a change window): recorded in platform.yaml's freezes, reviewable in git. "
    "Argo CD: a deny sync window on every AppProject with applications on the env's clusters "
    "(--manual-sync lets manual syncs through). Flux: spec.suspend: true on every "
    "Kustomization and HelmRelease that applies to the env's spokes (the component "
    "clusters/<spoke>/freeze). --until and --reason are written into the manifests and shown "
    "by --list. The hub's env cannot be frozen (the unfreeze could not reach it)."
)
FREEZE_EXAMPLES = """\
examples:
  gitops-scaffold freeze --env prod --until 2026-12-27T08:00Z --reason "holiday freeze"
  gitops-scaffold freeze --env prod --repo acme-platform --commit
  gitops-scaffold freeze --list

"""
UNFREEZE = (
    "Lift the freeze of an env: what freeze wrote is removed, and the repo is byte for byte as "
    "it was before it. The engine syncs what waited."
)
UNFREEZE_EXAMPLES = """\
examples:
  gitops-scaffold unfreeze --env prod
  gitops-scaffold unfreeze --env prod --repo acme-platform --commit

"""
REMOVE_TENANT = (
    "Remove a tenant from an existing repo: what add-tenant wrote, and its entries in the "
    "derived files. What it deployed on the clusters is not deleted by Git alone: see the "
    "repo's README."
)
REMOVE_TENANT_EXAMPLES = """\
examples:
  gitops-scaffold remove-tenant team-c --repo acme-platform

"""
ADD_CLUSTER = (
    "Add a spoke cluster: a new age key (in the keys folder, mode 0600), its .sops.yaml rule "
    "and its folders. With --kubeconfig the hub's credentials for it are encrypted into the "
    "repo by sops, never written in plaintext."
)
ADD_CLUSTER_EXAMPLES = """\
examples:
  gitops-scaffold add-cluster staging-us-1 --env staging --region us-east-1
  gitops-scaffold add-cluster prod-us-1 --env prod --kubeconfig prod-us-1.kubeconfig --commit

"""
REMOVE_CLUSTER = (
    "Remove a spoke cluster from the repo. Refused while a tenant is placed only there "
    "(--force removes those placements too). Its age key stays in the keys folder."
)
REMOVE_CLUSTER_EXAMPLES = """\
examples:
  gitops-scaffold remove-cluster staging-us-1 --repo acme-platform

"""

DOCTOR = (
    "Show each external tool this tool and the generated scripts use: whether it is "
    "installed, its version, which commands need it and how to install it."
)
DOCTOR_EPILOG = """\
exit codes:
  0  every tool gitops-scaffold's own commands need is there (git, sops, kubectl or kustomize)
  1  one of those is missing (the others only matter for the generated scripts)"""

COMPLETION = "Print a shell completion script for bash, zsh or fish."
COMPLETION_EPILOG = """\
examples:
  gitops-scaffold completion bash > ~/.local/share/bash-completion/completions/gitops-scaffold
  echo 'source <(gitops-scaffold completion zsh)' >> ~/.zshrc
  gitops-scaffold completion fish > ~/.config/fish/completions/gitops-scaffold.fish"""

SECRETS = (
    "The secrets of a platform repo: list them (never a value), add a SOPS-encrypted Secret "
    "without its plaintext touching the repo, seal a SealedSecret for a cluster's controller, "
    "rotate a cluster's (or the admin) age key."
)
SECRETS_EPILOG = f"""\
examples:
  gitops-scaffold secrets list --format json
  gitops-scaffold secrets add db-creds --cluster dev-eu-1 --namespace team-a \\
      --from-literal password=s3cr3t
  gitops-scaffold secrets seal api-token --namespace team-a --cluster prod-eu-1 \\
      --from-file token=token.txt
  gitops-scaffold secrets rotate --cluster prod-eu-1 --commit
  gitops-scaffold secrets rotate --admin --format json    paths only, never a key

{EXIT_CODES}"""

UPDATE = (
    "Bring a repo up to the templates of this gitops-scaffold version: what the recorded "
    "version generated (the branch gitops-scaffold/pristine), what this one generates from "
    "the same platform.yaml, and the repo as it is are merged file by file (git merge-file). "
    "Hand edits are kept; a true conflict is named and left as conflict markers or a .rej "
    "file. Refuses a worktree with uncommitted changes."
)
UPDATE_EPILOG = """\
examples:
  gitops-scaffold check                        is an update available?
  gitops-scaffold update --dry-run             the files it would change
  gitops-scaffold update && git diff --staged
  gitops-scaffold update --conflict rej        conflicts as <file>.rej, your file kept

exit codes:
  0  updated (or already up to date)
  1  conflicts: each is named; resolve them, then commit
  2  bad input: not a platform repo, uncommitted changes, a bad option (nothing changed)
  130  interrupted (143: SIGTERM); nothing was changed"""

CHECK = (
    "Tell whether `gitops-scaffold update` would change the repo: the running version is "
    "newer than the one recorded in platform.yaml, or what it generates differs."
)
CHECK_EPILOG = """\
examples:
  gitops-scaffold check --repo acme-platform
  gitops-scaffold check --quiet                the exit code alone (CI)
  gitops-scaffold check --format json          versions and the differing files

exit codes:
  0  up to date
  1  an update is available (both versions are named)
  2  not a platform repo, or a bad option"""

# The fields of each command's --format json object (the README's "Output" describes them).
JSON_NEW = (
    "repo, engine, written, keys_dir, keys, encrypted, placeholders, example_git_url, "
    "committed; with --dry-run: dry_run, repo, replaces, keys_dir, files, new_keys, "
    "reused_keys, placeholders"
)
JSON_DAY2 = "repo, written, deleted, left_alone, keys, committed, recovered"
JSON_WORKSHOP = "output_dir, engine, roster, handout, attendees: [{attendee, repo, keys_dir}]"
JSON_SECRETS_LIST = "repo, secrets: [{path, mechanism, kind, name, namespace, cluster, ...}]"
JSON_ROTATE = (
    "repo, rotated_key, written, encrypted, keys, old_key, pruned, committed, recovered, next_steps"
)
JSON_ADD = (
    "repo, written, encrypted, secret: {path, name, namespace, cluster, data_keys}, listed_in, "
    "applied_by, committed, recovered"
)
JSON_SEAL = "secret: {name, namespace, data_keys}, scope, cert, via, output, sealed_secret"
JSON_UPDATE = (
    "repo, dry_run, recorded_version, running_version, base, written, deleted, conflicts, "
    "rejects, left_alone, recovered"
)
JSON_CHECK = "repo, up_to_date, recorded_version, running_version, newer_recorded, base, differing"
