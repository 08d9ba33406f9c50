{%- import "argocd/_lib/argocd.j2" as argocd with context -%}
{%- set p = cookiecutter._platform -%}
#!/usr/bin/env bash
# Bootstrap the Argo CD hub "{{ p.hub.name }}" of {{ p.repo_name }}: Argo CD {{ p.versions.argocd }} (argo-cd chart
# {{ p.versions.argocd_chart }}), its settings, the decrypted cluster and repository Secrets, the root app.
# Idempotent: run it again at any time (after adding a spoke, after editing a secret).
#
# Every clusters/<cluster>/secrets/*.sops.yaml is decrypted with <cluster>.agekey from
# --keys-dir (the admin.agekey when that cluster's key is not there) and piped straight into
# `kubectl apply`: plaintext never touches the disk, and only key file paths are printed.
set -euo pipefail

readonly HUB="{{ p.hub.name }}"
readonly NAMESPACE="{{ argocd.NAMESPACE }}"
readonly RELEASE="argocd"
readonly CHART="argo-cd"
readonly CHART_REPO="{{ argocd.CHART_REPO }}"
readonly CHART_VERSION="{{ p.versions.argocd_chart }}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEYS_DIR="${REPO_ROOT}/../{{ p.repo_name }}.keys"
CONTEXT=""
DRY_RUN=false

usage() {
  cat <<'USAGE'
Usage: scripts/bootstrap.sh [--keys-dir DIR] [--context NAME] [--dry-run]

  --keys-dir DIR   the age keys gitops-scaffold wrote (default: ../{{ p.repo_name }}.keys)
  --context NAME   kubectl context of the hub cluster (default: the current context)
  --dry-run        print every command instead of running it (needs no tools, no cluster)
  -h, --help       this help
USAGE
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

say() {
  printf '==> %s\n' "$*"
}

quoted() {
  local arg out=""
  for arg in "$@"; do
    out+=" $(printf '%q' "$arg")"
  done
  printf '%s' "${out# }"
}

# Print a command, then run it unless this is a dry run.
run() {
  printf '+ %s\n' "$(quoted "$@")"
  if [[ "$DRY_RUN" == false ]]; then
    "$@"
  fi
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --keys-dir) [[ $# -ge 2 ]] || die "--keys-dir needs a folder"; KEYS_DIR="$2"; shift 2 ;;
    --keys-dir=*) KEYS_DIR="${1#*=}"; shift ;;
    --context) [[ $# -ge 2 ]] || die "--context needs a name"; CONTEXT="$2"; shift 2 ;;
    --context=*) CONTEXT="${1#*=}"; shift ;;
    --dry-run) DRY_RUN=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

[[ "$KEYS_DIR" == /* ]] || KEYS_DIR="$PWD/$KEYS_DIR"
cd "$REPO_ROOT"

KUBECTL=(kubectl)
HELM=(helm)
if [[ -n "$CONTEXT" ]]; then
  KUBECTL+=(--context "$CONTEXT")
  HELM+=(--kube-context "$CONTEXT")
fi

preflight() {
  local tool missing=()
  for tool in kubectl helm sops; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [[ "$DRY_RUN" == true ]]; then
    say "dry run: printing commands only${missing[*]:+ (not installed here: ${missing[*]})}"
    return 0
  fi
  [[ -z "${missing[*]}" ]] || die "not installed: ${missing[*]}"
  local context="$CONTEXT"
  if [[ -z "$context" ]]; then
    context="$(kubectl config current-context 2>/dev/null)" || die "no current kubectl context: pass --context"
  fi
  "${KUBECTL[@]}" version --request-timeout=15s >/dev/null 2>&1 \
    || die "cannot reach the cluster of kubectl context '$context'"
  say "hub: kubectl context '$context'"
  [[ -d "$KEYS_DIR" ]] || die "--keys-dir $KEYS_DIR does not exist"
}

# The age key for the files of one cluster: its own key, else the admin key.
key_for() {
  local cluster="$1"
  if [[ -f "$KEYS_DIR/$cluster.agekey" ]]; then
    printf '%s' "$KEYS_DIR/$cluster.agekey"
  elif [[ -f "$KEYS_DIR/admin.agekey" ]]; then
    printf '%s' "$KEYS_DIR/admin.agekey"
  elif [[ "$DRY_RUN" == true ]]; then
    printf '%s' "$KEYS_DIR/$cluster.agekey"
  else
    die "no key for clusters/$cluster in $KEYS_DIR ($cluster.agekey or admin.agekey)"
  fi
}

apply_encrypted() {
  local file="$1" key="$2"
  printf '+ SOPS_AGE_KEY_FILE=%s sops decrypt %s | %s\n' \
    "$(printf '%q' "$key")" "$(printf '%q' "$file")" "$(quoted "${KUBECTL[@]}" apply -f -)"
  if [[ "$DRY_RUN" == false ]]; then
    env -u SOPS_AGE_KEY SOPS_AGE_KEY_FILE="$key" \
      sops decrypt --input-type yaml --output-type yaml "$file" | "${KUBECTL[@]}" apply -f -
  fi
}

apply_secrets() {
  local file cluster key
  shopt -s nullglob
  for file in clusters/*/secrets/*.sops.yaml; do
    cluster="${file#clusters/}"
    cluster="${cluster%%/*}"
    key="$(key_for "$cluster")"
    apply_encrypted "$file" "$key"
  done
  shopt -u nullglob
}

preflight

say "1/5 Argo CD settings (namespace, argocd-cm, argocd-rbac-cm{% if p.notifications.enabled %}, argocd-notifications-cm{% endif %})"
run "${KUBECTL[@]}" apply -k "clusters/$HUB/argocd/config"

say "2/5 decrypted Secrets: repository{% if p.notifications.enabled %}, notifications{% endif %} and one cluster Secret per cluster"
apply_secrets

say "3/5 Argo CD $CHART $CHART_VERSION"
run "${HELM[@]}" upgrade --install "$RELEASE" "$CHART" \
  --repo "$CHART_REPO" --version "$CHART_VERSION" \
  --namespace "$NAMESPACE" --values values/argocd/common.yaml \
  --wait --timeout 10m

say "4/5 AppProjects"
run "${KUBECTL[@]}" apply -k "clusters/$HUB/argocd/projects"

say "5/5 root app-of-apps: from here on Argo CD syncs this repository"
run "${KUBECTL[@]}" apply -f "clusters/$HUB/argocd/apps/root.yaml"

say "done. Watch it converge:"
printf '  %s\n' \
  "$(quoted "${KUBECTL[@]}" --namespace "$NAMESPACE" get applications --watch)" \
  "$(quoted "${KUBECTL[@]}" --namespace "$NAMESPACE" port-forward svc/argocd-server 8080:443)"
