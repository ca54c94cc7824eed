"""Relaying WebSocket sessions (exec, attach, port-forward, log follow) in both directions.

The subprotocol the upstream picks from the caller's offer (``v5.channel.k8s.io``,
``v4.channel.k8s.io``, ``base64.channel.k8s.io``...) is the one the caller gets; close
codes and reasons travel both ways; awaiting each send keeps backpressure end to end.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os

import aiohttp
from prometheus_client import Counter
from starlette.types import Receive, Scope, Send
from yarl import URL

from luban.proxy.client import UpstreamError
from luban.proxy.headers import downstream_response_headers
from luban.proxy.metrics import ProxyMetrics
from luban.proxy.upstream import Upstream
from luban.status import send_status

logger = logging.getLogger("luban.proxy")


async def deny_websocket(scope: Scope, send: Send, status: int, body: bytes) -> None:
    """Refuse a WebSocket handshake with an HTTP answer (or a policy close without one)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


SPDY_MESSAGE = (
    "SPDY upgrades are not supported by this server: use WebSockets "
    "(kubectl 1.31+ uses WebSockets for exec, attach, port-forward and cp)"
)
_PROBE_PROTOCOLS = b"v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io"
_MAX_REFUSAL = 64 * 1024


async def refuse_spdy(
    send: Send,
    upstream: Upstream,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    read_timeout: float,
) -> None:
    """Answer a SPDY upgrade: the upstream's own refusal, or a 400 asking for WebSockets.

    kubectl falls back to SPDY when a WebSocket upgrade is refused, so the SPDY answer is
    the one its user reads. A WebSocket handshake with the same request tells whether the
    upstream would refuse it anyway (no such pod, no node, forbidden): then that Status is
    the answer, as it would be without the proxy. Only an upgrade the upstream accepts (and
    that is closed at once) gets the message about WebSockets.
    """
    key = base64.b64encode(os.urandom(16))
    probe = [*headers, (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"),
             (b"Sec-WebSocket-Version", b"13"), (b"Sec-WebSocket-Key", key),
             (b"Sec-WebSocket-Protocol", _PROBE_PROTOCOLS)]  # fmt: skip
    try:
        response = await upstream.pool.request("GET", target, probe, read_timeout=read_timeout)
    except (UpstreamError, TimeoutError):
        await send_status(send, 400, SPDY_MESSAGE, "BadRequest")
        return
    try:
        length = response.content_length
        if response.status == 101 or (length is not None and length > _MAX_REFUSAL):
            await send_status(send, 400, SPDY_MESSAGE, "BadRequest")
            return
        body = await response.read(read_timeout)
    except (UpstreamError, TimeoutError):
        await send_status(send, 400, SPDY_MESSAGE, "BadRequest")
        return
    finally:
        response.release()
    await send({"type": "http.response.start", "status": response.status,
                "headers": downstream_response_headers(response.headers)})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def relay_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    upstream: Upstream,
    url: URL,
    headers: list[tuple[str, str]],
    metrics: ProxyMetrics,
) -> None:
    """Open the upstream session, accept the caller with its subprotocol, relay until closed."""
    assert upstream.session is not None
    connect = await receive()
    if connect["type"] != "websocket.connect":
        return
    protocols = tuple(scope.get("subprotocols") or ())
    try:
        ws = await upstream.session.ws_connect(
            url.with_scheme("wss" if url.scheme == "https" else "ws"),
            protocols=protocols, headers=headers, autoping=True, max_msg_size=0,
            compress=0, timeout=aiohttp.ClientWSTimeout(ws_close=5),
        )  # fmt: skip
    except aiohttp.WSServerHandshakeError as exc:
        import orjson

        from luban.status import status_body

        body = orjson.dumps(status_body(exc.status, exc.message or "upgrade refused by upstream"))
        await deny_websocket(scope, send, exc.status, body)
        return
    except (aiohttp.ClientError, TimeoutError):
        await send({"type": "websocket.close", "code": 1011, "reason": "upstream unavailable"})
        return
    await send({"type": "websocket.accept", "subprotocol": ws.protocol})
    gauge = metrics.open_websockets.labels(upstream.name)
    gauge.inc()
    up_bytes = metrics.relayed(upstream.name, "upstream")
    down_bytes = metrics.relayed(upstream.name, "downstream")
    to_upstream = asyncio.ensure_future(_client_to_upstream(receive, ws, up_bytes))
    to_client = asyncio.ensure_future(_upstream_to_client(send, ws, down_bytes))
    try:
        await asyncio.wait((to_upstream, to_client), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gauge.dec()
        for task in (to_upstream, to_client):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not ws.closed:
            await ws.close()


async def _client_to_upstream(
    receive: Receive, ws: aiohttp.ClientWebSocketResponse, counter: Counter
) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.receive":
            if message.get("bytes") is not None:
                await ws.send_bytes(message["bytes"])
                counter.inc(len(message["bytes"]))
            elif message.get("text") is not None:
                await ws.send_str(message["text"])
                counter.inc(len(message["text"]))
        elif message["type"] == "websocket.disconnect":
            code = int(message.get("code") or 1000)
            reason = str(message.get("reason") or "")
            await ws.close(code=code if 1000 <= code < 5000 and code not in (1005, 1006) else 1000,
                           message=reason.encode())  # fmt: skip
            return


async def _upstream_to_client(
    send: Send, ws: aiohttp.ClientWebSocketResponse, counter: Counter
) -> None:
    code, reason = 1000, ""
    while True:
        message = await ws.receive()
        if message.type == aiohttp.WSMsgType.BINARY:
            await send({"type": "websocket.send", "bytes": message.data})
            counter.inc(len(message.data))
        elif message.type == aiohttp.WSMsgType.TEXT:
            await send({"type": "websocket.send", "text": message.data})
            counter.inc(len(message.data))
        elif message.type == aiohttp.WSMsgType.CLOSE:
            code, reason = int(message.data or 1000), str(message.extra or "")
            break
        else:  # CLOSING, CLOSED or ERROR: the connection ended without a close frame
            code = 1011 if message.type == aiohttp.WSMsgType.ERROR else (ws.close_code or 1000)
            break
    if code in (1005, 1006):
        code = 1011 if code == 1006 else 1000
    await send({"type": "websocket.close", "code": code, "reason": reason})
