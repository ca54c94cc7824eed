"""An upstream API server: its credentials, the relay's connection pool and an aiohttp session.

The proxy relays HTTP through the lean :class:`~luban.proxy.client.ConnectionPool`; the
kernel's own calls (JSON APIs, WebSockets, the health probe) use the aiohttp session.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from luban.proxy.client import ConnectionPool, Origin
from luban.proxy.credentials import UpstreamCredentials, load_in_cluster, load_kubeconfig

logger = logging.getLogger("luban.proxy")

HEALTH_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class UpstreamSpec:
    """Where to find an upstream's credentials."""

    name: str
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False


class Upstream:
    """One upstream cluster: the base URL, credentials and a connection pool."""

    def __init__(self, name: str, credentials: UpstreamCredentials, connect_timeout: float) -> None:
        self.name = name
        self.credentials = credentials
        self.server = credentials.server
        self.connect_timeout = connect_timeout
        self.session: aiohttp.ClientSession | None = None
        origin = Origin.from_url(
            credentials.server, credentials.ssl_context, credentials.tls_server_name
        )
        self.pool = ConnectionPool(origin, connect_timeout)
        self._health: tuple[float, str | None] = (0.0, "not checked yet")

    async def open(self) -> None:
        """Create the pooled session (one per upstream per worker)."""
        connector = aiohttp.TCPConnector(
            ssl=self.credentials.ssl_context if self.credentials.ssl_context else False,
            limit=0,
            keepalive_timeout=60,
            ttl_dns_cache=300,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout),
            skip_auto_headers=("User-Agent",),
            read_bufsize=256 * 1024,
        )

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.pool.close()
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def health(self) -> str | None:
        """``None`` when the upstream answers ``/readyz`` (cached briefly), else why not."""
        checked, problem = self._health
        if time.monotonic() - checked < HEALTH_CACHE_SECONDS:
            return problem
        problem = await self._probe()
        self._health = (time.monotonic(), problem)
        return problem

    async def _probe(self) -> str | None:
        if self.session is None:
            return "not started"
        headers = {}
        authorization = await self.credentials.authorization()
        if authorization:
            headers["Authorization"] = authorization
        try:
            async with self.session.get(
                self.server + "/readyz", headers=headers, timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                await response.read()
                return (
                    None
                    if response.status == 200
                    else f"upstream readyz answered {response.status}"
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            return f"upstream unreachable ({exc.__class__.__name__})"


async def connect(spec: UpstreamSpec, connect_timeout: float) -> Upstream:
    """Load an upstream's credentials and open its session."""
    if spec.in_cluster:
        credentials = load_in_cluster()
    else:
        assert spec.kubeconfig is not None
        credentials = await load_kubeconfig(spec.kubeconfig, spec.context)
    upstream = Upstream(spec.name, credentials, connect_timeout)
    await upstream.open()
    return upstream
