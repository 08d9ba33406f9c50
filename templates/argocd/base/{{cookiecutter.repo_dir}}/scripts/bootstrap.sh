{%- import "argocd/_lib/argocd.yaml.j2" as argocd -%}
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
#
# --register-spoke SPOKE[=CONTEXT] (repeatable) instead onboards spokes, once each: applies
# clusters/<spoke>/argocd-access.yaml to the spoke and writes its API server, the token of
# argocd-manager and the CA into clusters/<spoke>/secrets/cluster.sops.yaml (sops set, values
# read from stdin: never on disk or in a process listing). Commit that file, then bootstrap.
set -euo pipefail

# Values from platform.yaml, as single-quoted words: data, never expanded.
readonly HUB={{ p.hub.name }}
readonly NAMESPACE={{ argocd.NAMESPACE }}
readonly RELEASE="argocd"
readonly CHART={{ p.charts["argo-cd"].chart }}
readonly CHART_REPO={{ p.charts["argo-cd"].repo }}
readonly CHART_VERSION={{ p.charts["argo-cd"].version }}
readonly SPOKES=({% for spoke in p.spokes %}{{ spoke.name }}{% if not loop.last %} {% endif %}{% endfor %})
readonly SPOKE_ADMIN={{ argocd.SPOKE_ADMIN }}
readonly SPOKE_ADMIN_NAMESPACE={{ argocd.SPOKE_ADMIN_NAMESPACE }}

register_spokes=()
registering=false

{% call bootstrap_lib(p,
     options=[("--register-spoke SPOKE[=CONTEXT]", "onboard a spoke (its kube context: default the spoke name),\nfill its cluster Secret and stop; repeatable")]) %}
    --register-spoke) [[ $# -ge 2 ]] || die "--register-spoke needs SPOKE[=CONTEXT]"; register_spokes+=("$2"); registering=true; shift 2 ;;
    --register-spoke=*) register_spokes+=("${1#*=}"); registering=true; shift ;;
{% endcall %}

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

# The long-lived token Secret of the spoke's argocd-manager; Kubernetes fills in the token.
token_secret() {
  printf '%s\n' "apiVersion: v1" "kind: Secret" "type: kubernetes.io/service-account-token" \
    "metadata:" "  name: ${SPOKE_ADMIN}-token" "  namespace: ${SPOKE_ADMIN_NAMESPACE}" \
    "  labels:" "    app.kubernetes.io/managed-by: gitops-scaffold" \
    "  annotations:" "    kubernetes.io/service-account.name: ${SPOKE_ADMIN}"
}

# One value of the cluster Secret, read from stdin as a JSON string (sops set --value-stdin).
set_value() {
  local file="$1" key="$2" field="$3"
  env -u SOPS_AGE_KEY "SOPS_AGE_KEY_FILE=${key}" \
    sops set --value-stdin "${file}" "[\"stringData\"][\"${field}\"]" \
    || die "cannot write stringData.${field} of ${file} with ${key}"
}

# Onboard one spoke: its access (clusters/<spoke>/argocd-access.yaml), then its cluster Secret
# filled from what the spoke and the kube context say. Token and CA go from kubectl to sops
# through variables and stdin only.
register_spoke() {
  local spoke="${1%%=*}" ctx="${1#*=}" file key token ca server config attempt
  [[ " ${SPOKES[*]} " == *" ${spoke} "* ]] || die "${spoke} is not a spoke of platform.yaml (${SPOKES[*]})"
  file="clusters/${spoke}/secrets/cluster.sops.yaml"
  key="$(key_for "${spoke}")"
  say "spoke ${spoke}: kube context '${ctx}'"
  if [[ "${dry_run}" == true ]]; then
    run kubectl --context "${ctx}" apply -f "clusters/${spoke}/argocd-access.yaml"
    run_piped token_secret '|' kubectl --context "${ctx}" apply -f -
    run kubectl --context "${ctx}" --namespace "${SPOKE_ADMIN_NAMESPACE}" get secret "${SPOKE_ADMIN}-token" -o 'jsonpath={.data.token}'
    run env -u SOPS_AGE_KEY "SOPS_AGE_KEY_FILE=${key}" sops set --value-stdin "${file}" '["stringData"]["server"]'
    run env -u SOPS_AGE_KEY "SOPS_AGE_KEY_FILE=${key}" sops set --value-stdin "${file}" '["stringData"]["config"]'
    return 0
  fi
  check_context "${ctx}" "${spoke}" "--register-spoke ${spoke}=NAME"
  kubectl --context "${ctx}" apply -f "clusters/${spoke}/argocd-access.yaml"
  token_secret | kubectl --context "${ctx}" apply -f -
  token=""
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    token="$(kubectl --context "${ctx}" --namespace "${SPOKE_ADMIN_NAMESPACE}" \
      get secret "${SPOKE_ADMIN}-token" -o 'jsonpath={.data.token}')"
    [[ -n "${token}" ]] && break
    say "waiting for the token of ${SPOKE_ADMIN} (${attempt}/10)"
    sleep 3
  done
  [[ -n "${token}" ]] || die "no token in ${SPOKE_ADMIN_NAMESPACE}/${SPOKE_ADMIN}-token on ${ctx}"
  token="$(printf '%s' "${token}" | base64 -d)"
  ca="$(kubectl config view --raw --minify --context "${ctx}" \
    -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}')"
  server="$(kubectl config view --raw --minify --context "${ctx}" -o 'jsonpath={.clusters[0].cluster.server}')"
  # Only the characters these can hold: JSON needs no escaping below, and nothing else gets in.
  [[ "${token}" =~ ^[A-Za-z0-9._-]+$ ]] || die "the token of ${SPOKE_ADMIN} is not a JWT"
  [[ "${ca}" =~ ^[A-Za-z0-9+/=]+$ ]] || die "context ${ctx} has no certificate-authority-data (a CA file? put it inline)"
  [[ "${server}" =~ ^https://[A-Za-z0-9.:-]+(/[A-Za-z0-9._/-]*)?$ ]] || die "context ${ctx}: API server '${server}' is not an https URL"
  config="{\"bearerToken\": \"${token}\", \"tlsClientConfig\": {\"insecure\": false, \"caData\": \"${ca}\"}}"
  printf '"%s"' "${server}" | set_value "${file}" "${key}" server
  printf '"%s"' "${config//\"/\\\"}" | set_value "${file}" "${key}" config
  say "spoke ${spoke}: ${file} filled (server ${server}); commit it, then run scripts/bootstrap.sh"
}

if [[ "${registering}" == true ]]; then
  require_tools kubectl sops base64
  for spoke in "${register_spokes[@]}"; do
    [[ "${spoke}" == *=* ]] || spoke="${spoke}=${spoke}"
    register_spoke "${spoke}"
  done
  exit 0
fi

preflight

say "1/5 Argo CD settings (namespace, argocd-rbac-cm{% if p.notifications.enabled %}, argocd-notifications-cm{% endif %}; argocd-cm is the chart's)"
run "${kubectl_cmd[@]}" apply -k "clusters/${HUB}/argocd/config"

say "2/5 decrypted Secrets: repository{% if p.image_automation.enabled %}, Image Updater's Git credential{% endif %}{% if p.notifications.enabled %}, notifications{% endif %} and one cluster Secret per cluster"
apply_secrets

# Once the `argocd` Application exists Argo CD manages itself: Helm must never touch it again
# (a rerun would install this script's chart version over the one Git says). The first install
# leaves no Helm release behind, so `helm uninstall` cannot delete the running Argo CD.
if [[ "${dry_run}" != true ]] \
  && "${kubectl_cmd[@]}" --namespace "${NAMESPACE}" get application argocd >/dev/null 2>&1; then
  say "3/5 Argo CD manages itself (Application argocd): the chart is left to it"
else
  say "3/5 Argo CD ${CHART} ${CHART_VERSION} (first install; skipped once the argocd Application exists)"
  run "${helm_cmd[@]}" upgrade --install "${RELEASE}" "${CHART}" \
    --repo "${CHART_REPO}" --version "${CHART_VERSION}" \
    --namespace "${NAMESPACE}" --values values/argocd/common.yaml \
    --wait --timeout 10m
  run "${kubectl_cmd[@]}" delete secret --namespace "${NAMESPACE}" \
    --selector "owner=helm,name=${RELEASE}"
fi

say "4/5 AppProjects"
run "${kubectl_cmd[@]}" apply -k "clusters/${HUB}/argocd/projects"

say "5/5 root app-of-apps: from here on Argo CD syncs this repository"
run "${kubectl_cmd[@]}" apply -f "clusters/${HUB}/argocd/apps/root.yaml"

say "done. Watch it converge:"
printf '  %s\n' \
  "$(quoted "${kubectl_cmd[@]}" --namespace "${NAMESPACE}" get applications --watch)" \
  "$(quoted "${kubectl_cmd[@]}" --namespace "${NAMESPACE}" port-forward svc/argocd-server 8080:443)"
