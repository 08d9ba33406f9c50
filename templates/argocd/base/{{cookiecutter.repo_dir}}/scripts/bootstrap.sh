{%- import "argocd/_lib/argocd.yaml.j2" as argocd with context -%}
{%- from "_shared/bootstrap_lib.sh.j2" import bootstrap_lib -%}
{%- set p = cookiecutter._platform -%}
#!/usr/bin/env bash
# Bootstrap the Argo CD hub {{ p.hub.name | comment }} of {{ p.repo_name | comment }}: Argo CD {{ p.versions.argocd | comment }} (argo-cd chart
# {{ p.versions.argocd_chart | comment }}), its settings, the decrypted cluster and repository Secrets, the root app.
# Idempotent: run it again at any time (after adding a spoke, after editing a secret).
#
# Every clusters/<cluster>/secrets/*.sops.yaml is decrypted with <cluster>.agekey from
# --keys-dir (the admin.agekey when that cluster's key is not there) and piped straight into
# `kubectl apply`: plaintext never touches the disk, and only key file paths are printed.
set -euo pipefail

# Values from platform.yaml, as single-quoted words: data, never expanded.
readonly HUB={{ p.hub.name }}
readonly NAMESPACE={{ argocd.NAMESPACE }}
readonly RELEASE="argocd"
readonly CHART={{ argocd.CHARTS["argo-cd"].chart }}
readonly CHART_REPO={{ argocd.CHARTS["argo-cd"].repo }}
readonly CHART_VERSION={{ argocd.CHARTS["argo-cd"].version }}

{{ bootstrap_lib(p) }}

kubectl_cmd=(kubectl --context "${context}")
helm_cmd=(helm --kube-context "${context}")

preflight() {
  require_tools kubectl helm sops
  if [[ "${dry_run}" == true ]]; then
    return 0
  fi
  check_context "${context}" "${HUB}"
  "${kubectl_cmd[@]}" version --request-timeout=15s >/dev/null 2>&1 \
    || die "cannot reach the cluster of kubectl context '${context}'"
  say "hub: kubectl context '${context}'"
  [[ -d "${keys_dir}" ]] || die "--keys-dir ${keys_dir} does not exist"
}

# The age key for the files of one cluster: its own key, else the admin key.
key_for() {
  local cluster="$1"
  if [[ -f "$(key_file "${cluster}")" ]]; then
    key_file "${cluster}"
  elif [[ -f "$(key_file admin)" ]]; then
    key_file admin
  elif [[ "${dry_run}" == true ]]; then
    key_file "${cluster}"
  else
    die "no key for clusters/${cluster} in ${keys_dir} (${cluster}.agekey or admin.agekey)"
  fi
}

# Each file decrypted with one key file into a variable (refused while it holds a
# placeholder), then applied server-side: the plaintext never touches the disk, is never
# printed, and is not copied into a last-applied-configuration annotation.
apply_secrets() {
  local file cluster key plain
  local apply=("${kubectl_cmd[@]}" apply --server-side --force-conflicts
    --field-manager=gitops-scaffold-bootstrap -f -)
  shopt -s nullglob
  for file in clusters/*/secrets/*.sops.yaml; do
    cluster="${file#clusters/}"
    cluster="${cluster%%/*}"
    key="$(key_for "${cluster}")"
    if [[ "${dry_run}" == true ]]; then
      run_piped env -u SOPS_AGE_KEY "SOPS_AGE_KEY_FILE=${key}" \
        sops decrypt --input-type yaml --output-type yaml "${file}" '|' "${apply[@]}"
    else
      plain="$(decrypt_filled "${file}" "${key}")"
      printf '%s\n' "${plain}" | "${apply[@]}"
    fi
  done
  shopt -u nullglob
}

preflight

say "1/5 Argo CD settings (namespace, argocd-cm, argocd-rbac-cm{% if p.notifications.enabled %}, argocd-notifications-cm{% endif %})"
run "${kubectl_cmd[@]}" apply -k "clusters/${HUB}/argocd/config"

say "2/5 decrypted Secrets: repository{% if p.notifications.enabled %}, notifications{% endif %} and one cluster Secret per cluster"
apply_secrets

say "3/5 Argo CD ${CHART} ${CHART_VERSION}"
run "${helm_cmd[@]}" upgrade --install "${RELEASE}" "${CHART}" \
  --repo "${CHART_REPO}" --version "${CHART_VERSION}" \
  --namespace "${NAMESPACE}" --values values/argocd/common.yaml \
  --wait --timeout 10m

say "4/5 AppProjects"
run "${kubectl_cmd[@]}" apply -k "clusters/${HUB}/argocd/projects"

say "5/5 root app-of-apps: from here on Argo CD syncs this repository"
run "${kubectl_cmd[@]}" apply -f "clusters/${HUB}/argocd/apps/root.yaml"

say "done. Watch it converge:"
printf '  %s\n' \
  "$(quoted "${kubectl_cmd[@]}" --namespace "${NAMESPACE}" get applications --watch)" \
  "$(quoted "${kubectl_cmd[@]}" --namespace "${NAMESPACE}" port-forward svc/argocd-server 8080:443)"
