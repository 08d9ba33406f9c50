"""Sealing a Secret for a Sealed Secrets controller: its public certificate in, a SealedSecret
out. `kubeseal` does it when it is on PATH; otherwise the same format is written here with
the `cryptography` library (no primitive of our own).

The format, as the controller reads it (checked against bitnami-labs/sealed-secrets:
pkg/crypto/crypto.go at 01b8b0fb30e7b847aeba3233ab1c8c29a2b52731, HybridEncrypt and
HybridDecrypt; pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go at
3039f670f2b6cb056afa9ddb41e16473a13452d4, EncryptionLabel, NewSealedSecret and Unseal;
pkg/apis/sealedsecrets/v1alpha1/types.go at 0694389cce7794b8560651467fad0da453e0d95f, the
annotation names):

- each value is sealed on its own (``spec.encryptedData.<key>``, standard base64) with a
  fresh random 32-byte session key;
- the session key is encrypted with RSA-OAEP, SHA-256 (for the hash and MGF1), whose label
  is the scope's: ``<namespace>/<name>`` (strict), ``<namespace>`` (namespace-wide) or empty
  (cluster-wide) — the controller decrypts with the label of the SealedSecret's own metadata,
  so a strict one moved to another namespace or name does not open;
- the value is encrypted with AES-256-GCM under the session key with an all-zero 12-byte
  nonce (the key is used once), the 16-byte tag appended;
- the sealed bytes: the RSA ciphertext's length as 2 bytes big-endian, the RSA ciphertext,
  the GCM ciphertext;
- the scope is the annotation ``sealedsecrets.bitnami.com/namespace-wide`` or
  ``sealedsecrets.bitnami.com/cluster-wide`` set to "true" (none: strict), on the
  SealedSecret and on the Secret template.
"""

from __future__ import annotations

import base64
import os
import shutil
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from scaffolder.errors import UsageError
from scaffolder.tools import run

SCOPES = ("strict", "namespace-wide", "cluster-wide")
API_VERSION = "bitnami.com/v1alpha1"
ANNOTATIONS = {
    "namespace-wide": "sealedsecrets.bitnami.com/namespace-wide",
    "cluster-wide": "sealedsecrets.bitnami.com/cluster-wide",
}
SESSION_KEY_BYTES = 32


def label(namespace: str, name: str, scope: str) -> bytes:
    """The RSA-OAEP label of a scope (EncryptionLabel in the controller)."""
    if scope == "cluster-wide":
        return b""
    if scope == "namespace-wide":
        return namespace.encode("utf-8")
    return f"{namespace}/{name}".encode()


def public_key(pem: bytes, source: str) -> rsa.RSAPublicKey:
    """The RSA public key of a certificate (what `kubeseal --fetch-cert` prints) or of a
    PEM public key."""
    try:
        if b"BEGIN CERTIFICATE" in pem:
            key: Any = x509.load_pem_x509_certificate(pem).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise UsageError(f"{source} holds no PEM certificate or public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise UsageError(f"{source}: the Sealed Secrets controller's key is RSA; this one is not")
    return key


def hybrid_encrypt(key: rsa.RSAPublicKey, plaintext: bytes, oaep_label: bytes) -> bytes:
    """HybridEncrypt of the controller, with `cryptography`'s RSA-OAEP and AES-GCM."""
    session_key = os.urandom(SESSION_KEY_BYTES)
    wrapped = key.encrypt(
        session_key,
        padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA256()),
            algorithm=hashes.SHA256(),
            label=oaep_label or None,
        ),
    )
    sealed = AESGCM(session_key).encrypt(bytes(12), plaintext, None)
    return struct.pack(">H", len(wrapped)) + wrapped + sealed


def _scope_annotations(scope: str) -> dict[str, str]:
    return {ANNOTATIONS[scope]: "true"} if scope in ANNOTATIONS else {}


def manifest(name: str, namespace: str, scope: str, encrypted: Mapping[str, str]) -> str:
    """The SealedSecret as kubeseal writes it (YAML)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if scope in ANNOTATIONS:
        metadata["annotations"] = _scope_annotations(scope)
    document = {
        "apiVersion": API_VERSION,
        "kind": "SealedSecret",
        "metadata": metadata,
        "spec": {
            "encryptedData": dict(sorted(encrypted.items())),
            "template": {"metadata": dict(metadata), "type": "Opaque"},
        },
    }
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1 << 20)


def seal_values(
    values: Mapping[str, bytes], *, name: str, namespace: str, scope: str, cert_pem: bytes,
    source: str,
) -> str:  # fmt: skip
    """The SealedSecret ``namespace/name`` holding ``values``, sealed here."""
    key = public_key(cert_pem, source)
    oaep_label = label(namespace, name, scope)
    encrypted = {
        k: base64.b64encode(hybrid_encrypt(key, v, oaep_label)).decode("ascii")
        for k, v in values.items()
    }
    return manifest(name, namespace, scope, encrypted)


def kubeseal() -> str | None:
    return shutil.which("kubeseal")


def seal_with_kubeseal(
    tool: str, values: Mapping[str, bytes], *, name: str, namespace: str, scope: str,
    cert: Path,
) -> str:  # fmt: skip
    """The same through `kubeseal --cert`: the Secret goes to it on stdin, never to disk."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in values.items()},
    }
    return run(
        [tool, "--cert", str(cert), "--scope", scope, "--format", "yaml"],
        input_text=yaml.safe_dump(secret),
        what="kubeseal",
    )
