"""Writing kubeconfig files that point kubectl and client libraries at a Luban server."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from luban.files import write_private


def build_kubeconfig(
    server_url: str, token: str, ca_pem: bytes | None, name: str = "luban", user: str = "admin"
) -> dict[str, object]:
    """A kubeconfig with one cluster, one token user and one current context."""
    cluster: dict[str, object] = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(
    path: Path, server_url: str, token: str, ca_pem: bytes | None, name: str = "luban"
) -> None:
    """Write a kubeconfig (mode 0600, atomically) for ``server_url`` with a bearer ``token``."""
    config = build_kubeconfig(server_url, token, ca_pem, name=name)
    write_private(path, yaml.safe_dump(config, sort_keys=False).encode())


def client_host(bind_host: str) -> str:
    """The host a local client should dial for a server bound to ``bind_host``."""
    if bind_host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bind_host == "::":
        return "[::1]"
    return f"[{bind_host}]" if ":" in bind_host else bind_host
