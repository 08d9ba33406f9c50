"""Pinned versions of everything the generated repos install. Bump them here only."""

from __future__ import annotations

VERSIONS: dict[str, str] = {
    # Flux 2.9.6 is the latest 2.9 patch (release 2026-10-01; the bundled CRD schemas are 2.9's).
    "flux": "v2.9.6",
    "argocd": "v3.5.1",
    # Helm charts (chart versions, not app versions)
    # argo-cd chart 10.3.3 is the release that took Argo CD v3.5.1 (argo-helm release notes,
    # 2026-08-13: "Update dependency argoproj/argo-cd to v3.5.1"; 10.4.1 moved on to v3.5.2).
    "argocd_chart": "10.3.3",
    # sealed-secrets chart 2.18.5 ships controller 0.36.6 (its appVersion), the 0.36 CRD the
    # bundled schema was made from; 2.19+ move to 0.37+.
    "sealed_secrets_chart": "2.18.5",
    # external-secrets chart 2.9.0 ships ESO v2.9.0; its CRD templates take crds.annotations.
    "external_secrets_chart": "2.9.0",
    # argocd-image-updater chart 1.3.1 ships Argo CD Image Updater v1.3.0 (the ImageUpdater CRD):
    # 1.3.0 took v1.3.0 (2026-09-02), 1.3.1 only fixed its metrics Service (argo-helm releases).
    "argocd_image_updater_chart": "1.3.1",
    # Progressive delivery (progressive_delivery: canary). Flagger's charts share its release
    # tags: chart flagger 1.44.0 is Flagger v1.44.0 (appVersion 1.44.0, the CRDs the bundled
    # flagger.app schemas were made from), and chart loadtester 0.38.0 is the load tester that
    # release ships (ghcr.io/fluxcd/flagger-loadtester:0.38.0).
    "flagger_chart": "1.44.0",
    "flagger_loadtester_chart": "0.38.0",
    # argo-rollouts chart 2.41.1 is the release that took Argo Rollouts v1.9.1 (argo-helm release
    # notes: "Update dependency argoproj/argo-rollouts to v1.9.1"), the CRDs of the bundled
    # argoproj.io Rollout/AnalysisTemplate schemas.
    "argo_rollouts_chart": "2.41.1",
    # Images used by generated Jobs (Argo CD PreSync hook)
    "kubectl_image": "registry.k8s.io/kubectl:v1.33.5",
    # Image of the image-automation sample app (Flux bumps it within the ImagePolicy range)
    "sample_app_image": "ghcr.io/stefanprodan/podinfo",
    "sample_app_tag": "6.7.1",
}

ARGO_HELM = "https://argoproj.github.io/argo-helm"

# Every Helm chart the generated repos install: chart name -> (chart repository, VERSIONS key).
CHARTS: dict[str, tuple[str, str]] = {
    "argo-cd": (ARGO_HELM, "argocd_chart"),
    "argocd-image-updater": (ARGO_HELM, "argocd_image_updater_chart"),
    # The project moved from bitnami-labs to bitnami in June 2026; GitHub Pages does not
    # redirect, so https://bitnami-labs.github.io/sealed-secrets answers 404 since then
    # (bitnami/sealed-secrets issue 1982). It publishes no OCI chart.
    "sealed-secrets": ("https://bitnami.github.io/sealed-secrets", "sealed_secrets_chart"),
    "external-secrets": ("https://charts.external-secrets.io", "external_secrets_chart"),
    "argo-rollouts": (ARGO_HELM, "argo_rollouts_chart"),
    # Flagger's Helm repository holds both of its charts.
    "flagger": ("https://flagger.app", "flagger_chart"),
    "loadtester": ("https://flagger.app", "flagger_loadtester_chart"),
}

# Charts their project also publishes as OCI artifacts: chart name -> OCI repository (the
# chart's own URL, tags = chart versions). Engines that pull charts as OCI artifacts (Flux:
# OCIRepository + HelmRelease chartRef) use these; the CHARTS row stays the Helm repository.
OCI_CHARTS: dict[str, str] = {
    "external-secrets": "oci://ghcr.io/external-secrets/charts/external-secrets",
}
