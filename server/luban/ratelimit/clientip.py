"""The caller's IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.types import Scope

CLIENT_IP_KEY = "luban.client_ip"
FORWARDED_FOR_KEY = "luban.forwarded_for"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """Resolves client IPs against a set of trusted proxy networks.

    Behind trusted proxies the client is the right-most X-Forwarded-For entry that is not
    itself a trusted proxy; everything left of it could have been written by the client.
    """

    def __init__(self, trusted: Iterable[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in trusted
        )
        self.is_trusted = lru_cache(maxsize=4096)(self._is_trusted)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def resolve(self, scope: Scope) -> str:
        """The client IP of ``scope``; records it (and a trusted chain) in the scope."""
        client = scope.get("client")
        peer: str = client[0] if client else ""
        ip = peer
        if self.networks and self.is_trusted(peer):
            hops = _forwarded_for(scope["headers"])
            if hops:
                index = len(hops) - 1
                while index > 0 and self.is_trusted(hops[index]):
                    index -= 1
                if self._is_ip(hops[index]):
                    ip = hops[index]
                    chain = hops[index:]
                else:
                    # Garbage where an address should be: the hop that wrote it is the client.
                    chain = hops[index + 1 :]
                    ip = chain[0] if chain else peer
                if chain:
                    scope[FORWARDED_FOR_KEY] = ", ".join(chain).encode("latin-1")
        scope[CLIENT_IP_KEY] = ip
        return ip

    @staticmethod
    def _is_ip(address: str) -> bool:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return False
        return True


def _forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    hops: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            hops += [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
    return hops[-64:]
