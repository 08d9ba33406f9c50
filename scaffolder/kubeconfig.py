"""A spoke's credentials from a kubeconfig file (`add-cluster --kubeconfig`).

Only what the hub's GitOps engine can use without anything installed next to it: the API
server of the current context, its CA, and a bearer token or a client certificate, all
embedded in the file (`kubectl config view --minify --flatten --raw` gives such a file).
Exec plugins and auth providers (cloud logins) need a binary and a login on the hub, and
file paths point at a machine the hub is not: both are refused with the way out.

The values stay in memory: the templates write them into the cluster's SOPS file, which is
encrypted from memory, so they never reach the repo in plaintext.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from scaffolder.errors import UsageError
from scaffolder.files import read_regular_file
from scaffolder.quoting import UnsafeValueError, check_printable

MAX_KUBECONFIG = 1 << 20
_WAY_OUT = (
    "give a kubeconfig with the credentials embedded: a ServiceAccount token or a client "
    "certificate (`kubectl config view --minify --flatten --raw`)"
)


@dataclass(frozen=True)
class Credentials:
    """How the hub reaches a spoke: server, CA and one way to authenticate (base64 as in a
    kubeconfig for the CA and the client certificate and key)."""

    server: str
    ca_data: str = ""
    token: str = ""
    cert_data: str = ""
    key_data: str = ""
    insecure: bool = False

    def view(self) -> dict[str, Any]:
        """What the cluster unit's templates read (``_credentials``): every field by name."""
        return asdict(self)


def read_credentials(path: Path) -> Credentials:
    source = f"--kubeconfig: {path}"
    data = read_regular_file(path, source, MAX_KUBECONFIG + 1, "a kubeconfig file")
    if len(data) > MAX_KUBECONFIG:
        raise UsageError(f"{source} is larger than 1 MiB: not a kubeconfig")
    try:
        config = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        raise UsageError(f"{source} is not a YAML kubeconfig") from None
    try:
        return _credentials(config)
    except (UnsafeValueError, ValueError) as err:
        raise UsageError(f"{source}: {err}") from None


def _credentials(config: object) -> Credentials:
    if not isinstance(config, dict) or config.get("kind", "Config") != "Config":
        raise ValueError("not a kubeconfig (kind: Config)")
    name = config.get("current-context")
    if not name and isinstance(config.get("contexts"), list) and len(config["contexts"]) == 1:
        name = _mapping(config["contexts"][0], "contexts[0]").get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("no current-context: set one (kubectl config use-context) or keep one")
    context = _entry(config, "contexts", name, "context")
    cluster = _entry(config, "clusters", _string(context, "cluster"), "cluster")
    user = _entry(config, "users", _string(context, "user"), "user")

    server = _string(cluster, "server")
    parts = urlsplit(server)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"the server {server[:80]!r} is not an https URL without credentials")
    if "certificate-authority" in cluster:
        raise ValueError(f"the CA is a file path on this machine: {_WAY_OUT}")
    for refused in ("exec", "auth-provider"):
        if refused in user:
            raise ValueError(f"the user logs in through {refused} (a binary and a login on "
                             f"this machine, not on the hub): {_WAY_OUT}")  # fmt: skip
    for refused in ("tokenFile", "client-certificate", "client-key"):
        if refused in user:
            raise ValueError(f"{refused} is a file path on this machine: {_WAY_OUT}")
    token = _optional(user, "token")
    cert, key = _optional(user, "client-certificate-data"), _optional(user, "client-key-data")
    if not token and not (cert and key):
        raise ValueError(f"the user has neither a token nor a client certificate and key: "
                         f"{_WAY_OUT}")  # fmt: skip
    ca = _optional(cluster, "certificate-authority-data")
    embedded = {"certificate-authority-data": ca, "client-certificate-data": cert,
                "client-key-data": key}  # fmt: skip
    for field, value in embedded.items():
        if value:
            _base64(field, value)
    return Credentials(
        server=server,
        ca_data=ca,
        token=token,
        cert_data=cert if not token else "",
        key_data=key if not token else "",
        insecure=cluster.get("insecure-skip-tls-verify") is True,
    )


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} is not a mapping")
    return value


def _entry(config: dict[str, Any], key: str, name: str, inner: str) -> dict[str, Any]:
    for index, item in enumerate(config.get(key) or []):
        item = _mapping(item, f"{key}[{index}]")
        if item.get("name") == name:
            return _mapping(item.get(inner), f"{key}[{index}].{inner}")
    raise ValueError(f"no {key[:-1]} named {name[:60]!r}")


def _string(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing")
    return check_printable(value)


def _optional(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return check_printable(value.strip())


def _base64(field: str, value: str) -> None:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{field} is not base64") from None
