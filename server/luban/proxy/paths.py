"""Which requests the proxy forwards: path safety, accept/reject lists, cluster prefixes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from luban.kube.errors import APIError, bad_request

PROXIED_PREFIXES = ("/api", "/apis", "/version", "/openapi")
CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Encodings of '/', '\', '.', NUL: a decoded path segment must not hide a separator or a dot.
_ENCODED_TRICKS = re.compile(rb"%(2f|5c|2e|00)", re.IGNORECASE)


@dataclass(frozen=True)
class ProxyTarget:
    """Where one request goes: a named upstream cluster and the path on it."""

    cluster: str
    path: str


def is_proxied(path: str) -> bool:
    """Whether the kernel forwards ``path`` (with or without a ``/clusters/{name}`` prefix)."""
    if path.startswith("/clusters/"):
        rest = path.split("/", 3)
        return len(rest) > 3 and _plain_proxied("/" + rest[3])
    return _plain_proxied(path)


def _plain_proxied(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PROXIED_PREFIXES)


def check_path(path: str, raw_path: bytes) -> None:
    """Refuse dot segments, encoded separators, empty segments and control characters (400)."""
    if _CONTROL.search(path):
        raise bad_request("the request path contains control characters")
    if _ENCODED_TRICKS.search(raw_path):
        raise bad_request("the request path contains an encoded '/', '\\', '.' or NUL")
    segments = path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments):
        raise bad_request("the request path contains '.' or '..' segments")
    if "//" in path or "\\" in path:
        raise bad_request("the request path contains empty segments or backslashes")


def resolve_target(path: str, default_cluster: str) -> ProxyTarget:
    """Split ``/clusters/{name}/rest`` into its cluster and path; plain paths use the default."""
    if not path.startswith("/clusters/"):
        return ProxyTarget(default_cluster, path)
    _, _, name, rest = path.split("/", 3)
    if not CLUSTER_NAME.match(name):
        raise APIError(
            404, f'cluster "{name}" not found', "NotFound", {"name": name, "kind": "clusters"}
        )
    return ProxyTarget(name, "/" + rest)


class PathFilter:
    """``kubectl proxy``-style accept/reject regular expressions over the normalized path."""

    def __init__(self, accept: Sequence[str], reject: Sequence[str]) -> None:
        self.accept = [re.compile(p) for p in accept]
        self.reject = [re.compile(p) for p in reject]

    def allows(self, path: str) -> bool:
        """Accepted by some accept pattern (when any) and by no reject pattern."""
        if self.accept and not any(p.search(path) for p in self.accept):
            return False
        return not any(p.search(path) for p in self.reject)
