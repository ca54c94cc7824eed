"""Relaying one HTTP request to the upstream and its response back, streamed both ways.

Small bodies (known length up to ``small_body``) are read whole: streaming costs more per
request than it saves. Everything else streams with backpressure; a client that goes away
closes the upstream response at once, so no upstream connection outlives its caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from luban.kube.errors import APIError
from luban.proxy.client import (
    Response,
    UpstreamConnectError,
    UpstreamError,
    UpstreamTLSError,
)
from luban.proxy.headers import downstream_response_headers
from luban.proxy.metrics import ProxyMetrics
from luban.proxy.upstream import Upstream


@dataclass(frozen=True)
class RelayOptions:
    """Knobs of the HTTP relay."""

    request_timeout: float = 60.0
    small_body: int = 64 * 1024


def upstream_error(exc: BaseException, timeout: float) -> APIError:
    """The Status for a failed upstream call: TLS 502, unreachable 503, timeout 504."""
    if isinstance(exc, UpstreamTLSError | ssl.SSLError):
        return APIError(502, "the TLS handshake with the upstream API server failed", "BadGateway")
    if isinstance(exc, UpstreamConnectError):
        return APIError(503, "the upstream API server is unavailable", "ServiceUnavailable")
    if isinstance(exc, TimeoutError):
        return APIError(
            504, f"the upstream API server did not answer within {timeout:g}s", "Timeout"
        )
    return APIError(502, "the upstream API server closed the connection", "BadGateway")


async def _read_small(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _stream_request(receive: Receive, counter: list[int]) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError
        body = message.get("body", b"")
        if body:
            counter[0] += len(body)
            yield body
        if not message.get("more_body"):
            return


async def relay_http(
    scope: Scope,
    receive: Receive,
    send: Send,
    upstream: Upstream,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    long_running: bool,
    options: RelayOptions,
    metrics: ProxyMetrics,
    labels: tuple[str, str],
) -> None:
    """Forward the request in ``scope`` to ``target`` (path and query) and relay the answer."""
    method: str = scope["method"]
    data: bytes | AsyncIterator[bytes] | None = None
    sent = [0]
    length = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            chunked = True
    if length is not None and length.isdigit() and int(length) <= options.small_body:
        try:
            data = await _read_small(receive) if int(length) else b""
        except ConnectionResetError:
            return  # the caller went away while sending its body
        sent[0] = len(data)
    elif length is not None or chunked:
        data = _stream_request(receive, sent)
        if length is not None:
            headers.append((b"Content-Length", length))
            chunked = False
    # A non-watch request gets ``request_timeout`` for each wait on the upstream (the head,
    # then every body read): a 100 MB list to a slow reader may take longer as data flows.
    limit = None if long_running else options.request_timeout
    started = time.perf_counter()
    cluster = upstream.name
    try:
        response = await upstream.pool.request(
            method, target, headers, data, chunked=chunked, read_timeout=limit
        )
    except (UpstreamError, TimeoutError, ConnectionResetError) as exc:
        if isinstance(exc, ConnectionResetError):
            return  # the caller went away while sending its body
        error = upstream_error(exc, options.request_timeout)
        metrics.errors.labels(cluster, error.reason or "").inc()
        raise error from None
    metrics.latency(cluster, *labels, str(response.status)).observe(time.perf_counter() - started)
    if sent[0]:
        metrics.relayed(cluster, "upstream").inc(sent[0])
    try:
        await _relay_response(scope, receive, send, response, long_running, limit, options, metrics)
    finally:
        response.release()


async def _relay_response(
    scope: Scope,
    receive: Receive,
    send: Send,
    response: Response,
    long_running: bool,
    limit: float | None,
    options: RelayOptions,
    metrics: ProxyMetrics,
) -> None:
    headers = downstream_response_headers(response.headers)
    cluster_bytes = metrics.relayed(_cluster_of(scope), "downstream")
    length = response.content_length
    if response.complete or (
        not long_running and length is not None and length <= options.small_body
    ):
        try:
            body = await response.read(limit)
        except (UpstreamError, TimeoutError) as exc:
            raise upstream_error(exc, options.request_timeout) from None
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        cluster_bytes.inc(len(body))
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    watch_gauge = metrics.open_watches.labels(_cluster_of(scope)) if long_running else None
    if watch_gauge is not None:
        watch_gauge.inc()
    # The body is pumped in this task; one small task waits for the caller to leave and then
    # closes the upstream response, which ends the pump at once (one task per watch, not two).
    gone = asyncio.ensure_future(_close_on_disconnect(receive, response))
    try:
        await _pump(send, response, limit, cluster_bytes, long_running, gone)
    finally:
        if watch_gauge is not None:
            watch_gauge.dec()
        gone.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gone


async def _pump(
    send: Send,
    response: Response,
    limit: float | None,
    counter: object,
    long_running: bool,
    gone: asyncio.Future[None],
) -> None:
    try:
        async for chunk in response.chunks(limit):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            counter.inc(len(chunk))  # type: ignore[attr-defined]
    except (UpstreamError, TimeoutError):
        if gone.done() or not long_running:
            # A cut-off list must not look complete: leaving the response unfinished makes
            # the server drop the connection, so the client sees the truncation. A watch
            # just ends (the client resumes from its last resourceVersion).
            return
    await send({"type": "http.response.body", "body": b""})


async def _close_on_disconnect(receive: Receive, response: Response) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            response.close()
            return


def _cluster_of(scope: Scope) -> str:
    return str(scope.get("luban.cluster", "default"))
