"""Offline checks of a platform repo: YAML, kustomize builds, schemas, references, secrets."""
