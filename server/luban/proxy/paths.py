"""Which requests the proxy forwards: accept/reject lists, cluster prefixes.

Path safety is checked for every route by ``luban.pipeline.path_safety``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from luban.kube.errors import APIError

PROXIED_PREFIXES = ("/api", "/apis", "/version", "/openapi")
CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


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
