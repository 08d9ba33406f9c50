"""gitops-scaffold: generate hub-spoke GitOps platform repositories for Flux or Argo CD."""

__version__ = "0.1.0"
