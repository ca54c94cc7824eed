"""Reading from the upstream with the kernel's own credentials: GET JSON, stream watch lines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson

from luban.proxy.upstream import Upstream


class UpstreamError(Exception):
    """The upstream is unreachable or answered with an error ``code`` (0: no answer)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


UpstreamSource = Callable[[], Upstream | None]


async def _headers(upstream: Upstream) -> dict[str, str]:
    # The pooled session does not decompress (the proxy relays bodies as they are).
    headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
    if authorization := await upstream.credentials.authorization():
        headers["Authorization"] = authorization
    return headers


def _session(source: UpstreamSource) -> tuple[Upstream, aiohttp.ClientSession]:
    upstream = source()
    if upstream is None or upstream.session is None:
        raise UpstreamError(0, "no upstream API server")
    return upstream, upstream.session


async def get_json(source: UpstreamSource, path: str, seconds: float = 30) -> dict[str, Any]:
    """GET ``path`` and parse it; :class:`UpstreamError` on any failure."""
    document = orjson.loads(await get_bytes(source, path, seconds))
    if not isinstance(document, dict):
        raise UpstreamError(200, f"upstream sent a non-object for {path}")
    return document


async def get_bytes(source: UpstreamSource, path: str, seconds: float = 30) -> bytes:
    """GET ``path``: the body of a 200 answer; :class:`UpstreamError` on any failure."""
    upstream, session = _session(source)
    try:
        async with session.get(
            upstream.server + path,
            headers=await _headers(upstream),
            timeout=aiohttp.ClientTimeout(total=seconds),
        ) as response:
            payload = await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UpstreamError(0, f"upstream unreachable ({exc.__class__.__name__})") from None
    if status != 200:
        raise UpstreamError(status, f"upstream answered {status} to GET {path}")
    return payload


async def watch_lines(
    source: UpstreamSource, path: str, idle_timeout: float
) -> AsyncIterator[dict[str, Any]]:
    """Stream the events of a watch at ``path`` (one JSON object per line)."""
    upstream, session = _session(source)
    try:
        async with session.get(
            upstream.server + path,
            headers=await _headers(upstream),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=idle_timeout),
        ) as response:
            if response.status != 200:
                await response.read()
                raise UpstreamError(response.status, f"upstream answered {response.status}")
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                if b"\n" not in chunk:
                    continue
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UpstreamError(0, f"watch interrupted ({exc.__class__.__name__})") from None
