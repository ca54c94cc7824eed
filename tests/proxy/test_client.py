"""The proxy's HTTP/1.1 client (``luban.proxy.client``) against raw asyncio servers.

Each test server writes exact bytes, so framing edge cases (packet boundaries, bytes beyond
the announced length, interim answers, early closes, stalls) are precise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from luban.proxy.client import (
    HIGH_WATER,
    ConnectionPool,
    InvalidHeader,
    Origin,
    Response,
    UpstreamConnectError,
    UpstreamDisconnected,
    UpstreamTLSError,
)
from luban.tls import ServingFiles, ensure_serving_certificate

READ_SIZE = 256 * 1024  # the most one transport read hands over (asyncio and uvloop)


# -- a raw test server --------------------------------------------------------------------------


class Request:
    """One request as the server read it: the raw head and the decoded body."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.head = head
        self.body = body
        self.line = head.split(b"\r\n", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        """The first value of ``name`` (case-insensitive)."""
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.lower() == name.lower():
                return value.strip()
        return None


class Peer:
    """One connection the server accepted."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.requests: list[Request] = []
        self.closed = asyncio.Event()  # the client's end is gone (EOF or reset seen)

    async def request(self) -> Request | None:
        """The next request, body included; None when the client closed instead."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            request = Request(head, b"")
            length = request.header(b"content-length")
            if request.header(b"transfer-encoding") == b"chunked":
                request.body = await self._chunked()
            elif length is not None:
                request.body = await self.reader.readexactly(int(length))
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed.set()
            return None
        self.requests.append(request)
        return request

    async def _chunked(self) -> bytes:
        body = b""
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                while await self.reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return body
            body += await self.reader.readexactly(size)
            assert await self.reader.readexactly(2) == b"\r\n"

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def drip(self, data: bytes, size: int = 1) -> None:
        """Send ``data`` in pieces of ``size`` bytes, each its own packet."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, len(data), size):
            self.writer.write(data[start : start + size])
            await self.writer.drain()
            await asyncio.sleep(0)

    async def until_closed(self) -> None:
        """Read (and drop) whatever comes until the client closes its end."""
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(65536):
                pass
        self.closed.set()


Handler = Callable[[Peer], Awaitable[None]]
Tls = tuple[ssl.SSLContext, ssl.SSLContext]


class RawServer:
    """An asyncio server on 127.0.0.1 that hands every connection to ``handler``."""

    def __init__(
        self, handler: Handler, context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.handler = handler
        self.context = context
        self.host = host
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self._handlers: set[asyncio.Future[None]] = set()
        self._accepting: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.context else 'http'}://{host}:{self.port}"

    @property
    def requests(self) -> list[Request]:
        return [request for peer in self.peers for request in peer.requests]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, 0, ssl=self.context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, *self._accepting, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(reader, writer)
        self.peers.append(peer)
        # The handler runs in its own task: stop() cancels that one, never asyncio's own.
        handler = asyncio.ensure_future(self.handler(peer))
        accepting = asyncio.current_task()
        assert accepting is not None
        self._handlers.add(handler)
        self._accepting.add(accepting)
        try:
            await asyncio.wait([handler])
            error = None if handler.cancelled() else handler.exception()
            if error is not None and not isinstance(error, ConnectionError):
                self.errors.append(error)
        finally:
            self._handlers.discard(handler)
            self._accepting.discard(accepting)
            writer.close()


@contextlib.asynccontextmanager
async def serving(
    handler: Handler, tls: Tls | None = None, **pool_options: float
) -> AsyncIterator[tuple[RawServer, ConnectionPool]]:
    """A raw server running ``handler`` and a pool pointed at it; both closed afterwards.

    With ``tls`` (server context, client context) the server speaks HTTPS.
    """
    server = RawServer(handler, tls[0] if tls else None)
    await server.start()
    origin = Origin.from_url(server.url, tls[1] if tls else None)
    pool = ConnectionPool(origin, connect_timeout=5, **pool_options)
    try:
        yield server, pool
    finally:
        await pool.close()
        await server.stop()
    assert not server.errors, server.errors


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def ok(body: bytes, headers: bytes = b"") -> bytes:
    """A 200 answer with ``Content-Length``."""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), headers, body)


def answering(*answers: bytes) -> Handler:
    """A keep-alive handler: the n-th request on a connection gets ``answers[n]`` (the last
    one repeats)."""

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            peer.send(answers[min(len(peer.requests), len(answers)) - 1])
        await peer.until_closed()

    return handle


async def get(pool: ConnectionPool, target: bytes = b"/api") -> bytes:
    """GET ``target`` and read the whole body (the connection goes back to the pool)."""
    response = await pool.request("GET", target, [])
    try:
        assert response.status == 200
        return await response.read(5)
    finally:
        response.release()


async def collect(response: Response, read_timeout: float | None = 5) -> bytes:
    return b"".join([chunk async for chunk in response.chunks(read_timeout)])


async def collect_into(received: list[bytes], response: Response, read_timeout: float) -> None:
    """Like :func:`collect`, keeping what arrived before a failure."""
    async for chunk in response.chunks(read_timeout):
        received.append(chunk)


# -- TLS material -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServingFiles, ServingFiles]:
    """A CA with a serving certificate for ``upstream.test`` (and loopback), and another CA."""
    base = tmp_path_factory.mktemp("client-pki")
    good = ensure_serving_certificate(base / "good", ["upstream.test"], "client-test-ca")
    other = ensure_serving_certificate(base / "other", [], "other-test-ca")
    return good, other


def serving_context(files: ServingFiles, names_seen: list[str | None]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)

    def record(_obj: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names_seen.append(name)

    context.sni_callback = record
    return context


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


@pytest.fixture(params=["http", "https"])
def tls(request: pytest.FixtureRequest, pki: tuple[ServingFiles, ServingFiles]) -> Tls | None:
    """Plain HTTP, then HTTPS (the upstream API server's usual transport)."""
    if request.param == "http":
        return None
    return serving_context(pki[0], []), trusting(pki[0].ca_cert)


# -- keep-alive and the pool --------------------------------------------------------------------


async def test_sequential_requests_reuse_one_connection(tls: Tls | None) -> None:
    async with serving(answering(ok(b"one"), ok(b"two"), ok(b"three")), tls) as (server, pool):
        assert [await get(pool), await get(pool), await get(pool)] == [b"one", b"two", b"three"]
        assert len(server.peers) == 1
        assert pool.open_connections() == 1
    assert [r.line for r in server.requests] == [b"GET /api HTTP/1.1"] * 3
    assert server.requests[0].header(b"host") == f"127.0.0.1:{server.port}".encode()


async def test_concurrent_requests_get_their_own_connections_then_both_pool() -> None:
    release = asyncio.Event()

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            await release.wait()
            peer.send(ok(b"x"))
        await peer.until_closed()

    async with serving(handle) as (server, pool):
        first = asyncio.ensure_future(get(pool))
        second = asyncio.ensure_future(get(pool))
        await eventually(lambda: len(server.requests) == 2)
        assert pool.open_connections() == 2
        release.set()
        assert await first == await second == b"x"
        assert pool.open_connections() == 2
        await get(pool)
        assert len(server.peers) == 2


async def test_a_partly_read_answer_closes_its_connection() -> None:
    served = [0]

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            served[0] += 1
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
            if served[0] == 2:
                peer.send(b"67890")
        await peer.until_closed()

    async with serving(handle) as (server, pool):
        response = await pool.request("GET", b"/a", [])
        assert not response.complete
        response.release()  # before the body ended: the connection cannot be reused
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)
        assert pool.open_connections() == 0
        assert await get(pool) == b"1234567890"
        assert len(server.peers) == 2


async def test_a_complete_answer_released_unread_is_not_pooled() -> None:
    async with serving(answering(ok(b"unread"))) as (server, pool):
        response = await pool.request("GET", b"/a", [])
        await eventually(lambda: response.complete)
        response.release()
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)
        assert pool.open_connections() == 0


@pytest.mark.parametrize(
    "answer",
    [
        ok(b"bye", b"Connection: close\r\n"),
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbye",
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_answers_that_end_the_connection_are_not_pooled(answer: bytes) -> None:
    async with serving(answering(answer)) as (server, pool):
        assert await get(pool) == b"bye"
        assert pool.open_connections() == 0
        assert await get(pool) == b"bye"
        assert len(server.peers) == 2


async def test_idle_connection_closed_by_the_server_leaves_the_pool() -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()
        peer.send(ok(b"once"))  # then close, as an upstream's idle timeout does

    async with serving(handle) as (server, pool):
        assert await get(pool) == b"once"
        await eventually(lambda: pool.open_connections() == 0)
        assert await get(pool) == b"once"
        assert len(server.peers) == 2


async def test_idle_connection_that_speaks_unasked_is_dropped() -> None:
    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            peer.send(ok(b"x"))
            if len(peer.requests) == 1:
                await asyncio.sleep(0.05)
                peer.send(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        await peer.until_closed()

    async with serving(handle) as (server, pool):
        assert await get(pool) == b"x"
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)
        assert pool.open_connections() == 0
        assert await get(pool) == b"x"
        assert len(server.peers) == 2


async def test_expired_idle_connections_are_not_reused() -> None:
    async with serving(answering(ok(b"x")), keepalive=0.0) as (server, pool):
        await get(pool)
        await get(pool)
        assert len(server.peers) == 2
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)


async def test_idle_connections_beyond_max_idle_are_closed() -> None:
    release = asyncio.Event()

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            await release.wait()
            peer.send(ok(b"x"))
        await peer.until_closed()

    async with serving(handle, max_idle=1) as (server, pool):
        pending = [asyncio.ensure_future(get(pool)) for _ in range(3)]
        await eventually(lambda: len(server.requests) == 3)
        release.set()
        await asyncio.gather(*pending)
        assert pool.open_connections() == 1
        await eventually(lambda: sum(p.closed.is_set() for p in server.peers) == 2)


# -- stale connections and retries ---------------------------------------------------------------


def closing_on_second_request(answer: bytes) -> Handler:
    """The first connection answers once, then closes on the next request without a byte (as
    when an idle timeout fires just as the request goes out); later connections answer."""

    connections: list[Peer] = []

    async def handle(peer: Peer) -> None:
        first = not connections
        connections.append(peer)
        while await peer.request() is not None:
            if first and len(peer.requests) == 2:
                return
            peer.send(answer)
        await peer.until_closed()

    return handle


async def test_stale_pooled_connection_is_retried_with_a_bytes_body() -> None:
    async with serving(closing_on_second_request(ok(b"done"))) as (server, pool):
        assert await get(pool) == b"done"
        response = await pool.request("PUT", b"/p", [], b"payload")
        assert response.status == 200
        assert await response.read() == b"done"
        response.release()
        assert len(server.peers) == 2
        assert [r.body for r in server.peers[1].requests] == [b"payload"]


async def test_stale_pooled_connection_is_not_retried_for_a_post() -> None:
    # The upstream may have acted on it before leaving (Go's transport does not retry either).
    async with serving(closing_on_second_request(ok(b"done"))) as (server, pool):
        assert await get(pool) == b"done"
        with pytest.raises(UpstreamDisconnected):
            await pool.request("POST", b"/p", [], b"payload")
        assert len(server.peers) == 1
        assert pool.open_connections() == 0


async def test_stale_pooled_connection_is_not_retried_with_a_streamed_body() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"stream"

    async with serving(closing_on_second_request(ok(b"done"))) as (server, pool):
        assert await get(pool) == b"done"
        with pytest.raises(UpstreamDisconnected):
            await pool.request("PUT", b"/p", [(b"Content-Length", b"6")], body())
        assert len(server.peers) == 1
        assert pool.open_connections() == 0


async def test_fresh_connection_closed_without_an_answer_is_not_retried() -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()  # and close without a byte

    async with serving(handle) as (server, pool):
        with pytest.raises(UpstreamDisconnected):
            await pool.request("GET", b"/a", [], b"")
        assert len(server.peers) == 1
        assert pool.open_connections() == 0


@pytest.mark.parametrize(
    "garbage",
    [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nbad\r\n\r\n"],
    ids=["not-http", "bad-status", "bad-header"],
)
async def test_malformed_answers_fail_without_retry(garbage: bytes) -> None:
    async with serving(answering(ok(b"fine"), garbage)) as (server, pool):
        assert await get(pool) == b"fine"
        with pytest.raises(UpstreamDisconnected) as raised:
            await pool.request("POST", b"/a", [], b"once")
        assert "malformed" in str(raised.value)
        assert len(server.requests) == 2  # the pooled connection answered: no replay
        assert len(server.peers) == 1
        assert pool.open_connections() == 0


# -- response framing ----------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["head-then-body", "3", "61"])
async def test_content_length_body_in_tiny_packets(split: str, tls: Tls | None) -> None:
    body = bytes(range(256)) * 3

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            answer = ok(body)
            if split == "head-then-body":  # the head byte by byte, then 7-byte packets
                head_end = answer.index(b"\r\n\r\n") + 4
                await peer.drip(answer[:head_end])
                await peer.drip(answer[head_end:], 7)
            else:  # packets that cut through the head and mix its end with the body
                await peer.drip(answer, int(split))
        await peer.until_closed()

    async with serving(handle, tls) as (server, pool):
        response = await pool.request("GET", b"/a", [])
        assert response.content_length == len(body)
        assert await collect(response) == body
        response.release()
        assert await get(pool) == body
        assert len(server.peers) == 1


@pytest.mark.parametrize("size", [0, 1, 5000, 3 * 1024 * 1024])
async def test_content_length_body_written_with_its_head(size: int) -> None:
    body = os.urandom(size)
    async with serving(answering(ok(body, b"X-A: 1\r\nX-A: 2\r\n"))) as (server, pool):
        response = await pool.request("GET", b"/a", [])
        assert response.status == 200
        assert response.content_length == size
        assert (b"X-A", b"1") in response.headers
        assert (b"X-A", b"2") in response.headers
        assert await collect(response) == body
        response.release()
        assert await get(pool) == body
        assert len(server.peers) == 1


@pytest.mark.parametrize("extra", ["later", "same-packet", "same-packet-response"])
async def test_bytes_beyond_the_length_prevent_reuse(extra: str) -> None:
    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            if extra == "later":
                peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbo")
                await asyncio.sleep(0.02)
                peer.send(b"dyEXTRA")
            elif extra == "same-packet":
                peer.send(ok(b"body") + b"EXTRA")
            else:  # a whole second answer nobody asked for: a desync
                peer.send(ok(b"body") + ok(b"smuggled"))
        await peer.until_closed()

    async with serving(handle) as (server, pool):
        assert await get(pool) == b"body"
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)
        assert pool.open_connections() == 0
        assert await get(pool) == b"body"
        assert len(server.peers) == 2


async def test_chunked_body_with_trailers() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        b"5\r\nhello\r\n1;ext=1\r\n \r\n"
        b"6\r\nworld!\r\n0\r\nX-Checksum: abc\r\n\r\n"
    )

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.drip(answer, 5)
        await peer.until_closed()

    async with serving(handle) as (server, pool):
        response = await pool.request("GET", b"/a", [])
        assert response.content_length is None
        assert await collect(response) == b"hello world!"
        assert (b"X-Checksum", b"abc") not in response.headers  # a trailer is not a header
        response.release()
        assert await get(pool) == b"hello world!"
        assert len(server.peers) == 1


async def test_large_chunked_body_arrives_intact(tls: Tls | None) -> None:
    body = os.urandom(2 * 1024 * 1024 + 3)
    pieces = [body[i : i + 100_000] for i in range(0, len(body), 100_000)]
    framed = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed
    async with serving(answering(answer), tls) as (_server, pool):
        response = await pool.request("GET", b"/a", [])
        assert await collect(response) == body
        response.release()
        assert pool.open_connections() == 1


@pytest.mark.parametrize("version", [b"1.0", b"1.1"])
async def test_body_delimited_by_the_connection_end(version: bytes, tls: Tls | None) -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()
        peer.send(b"HTTP/%b 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil " % version)
        await peer.writer.drain()
        await asyncio.sleep(0.02)
        peer.send(b"the end")

    async with serving(handle, tls) as (_server, pool):
        response = await pool.request("GET", b"/a", [])
        assert response.content_length is None
        assert await collect(response) == b"until the end"
        response.release()
        assert pool.open_connections() == 0


@pytest.mark.parametrize("split", [True, False], ids=["own-packets", "one-packet"])
async def test_interim_answers_are_skipped(split: bool) -> None:
    interim = [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
    ]
    final = ok(b"final", b"X-Final: yes\r\n")

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            if split:
                for part in [*interim, final]:
                    await peer.drip(part, len(part))
            else:
                peer.send(b"".join(interim) + final)
        await peer.until_closed()

    async with serving(handle) as (server, pool):
        response = await pool.request("PUT", b"/a", [(b"Expect", b"100-continue")], b"data")
        assert response.status == 200
        assert response.headers == [(b"Content-Length", b"5"), (b"X-Final", b"yes")]
        assert await response.read() == b"final"
        response.release()
        assert await get(pool) == b"final"
        assert len(server.peers) == 1


async def test_head_answer_with_a_length_has_no_body() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    async with serving(answering(head, ok(b"after"))) as (server, pool):
        response = await asyncio.wait_for(pool.request("HEAD", b"/a", []), 5)
        assert response.status == 200
        assert response.complete
        assert (b"Content-Length", b"1234") in response.headers
        assert await response.read() == b""
        response.release()
        assert pool.open_connections() == 1
        assert await get(pool) == b"after"
        assert len(server.peers) == 1
    assert server.requests[0].header(b"content-length") is None


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b'HTTP/1.1 304 Not Modified\r\nETag: "1"\r\nContent-Length: 999\r\n\r\n',
    ],
    ids=["204", "304"],
)
async def test_answers_without_a_body(answer: bytes) -> None:
    async with serving(answering(answer, ok(b"after"))) as (server, pool):
        response = await asyncio.wait_for(pool.request("GET", b"/a", []), 5)
        assert response.complete
        assert response.content_length == 0
        assert await response.read() == b""
        response.release()
        assert await get(pool) == b"after"
        assert len(server.peers) == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 40,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n" + b"x" * 40 + b"\r\n",
    ],
    ids=["content-length", "chunked"],
)
async def test_a_cut_off_body_raises(answer: bytes, tls: Tls | None) -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()
        peer.send(answer)
        await peer.writer.drain()
        await asyncio.sleep(0.02)  # the head first, then the close

    async with serving(handle, tls) as (_server, pool):
        response = await pool.request("GET", b"/a", [])
        received: list[bytes] = []
        with pytest.raises(UpstreamDisconnected):
            await collect_into(received, response, 5)
        assert b"".join(received) == b"x" * 40
        response.release()
        assert pool.open_connections() == 0

        response = await pool.request("GET", b"/a", [])
        with pytest.raises(UpstreamDisconnected):
            await response.read(5)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
        b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["two-lengths", "length-and-chunked", "plus-sign", "two-numbers", "overflow",
         "bare-lf", "nul-in-header"],
)  # fmt: skip
async def test_ambiguous_framing_is_refused(head: bytes) -> None:
    # Each of these could frame the body differently here than elsewhere (a desync).
    async with serving(answering(head)) as (_server, pool):
        with pytest.raises(UpstreamDisconnected, match="malformed"):
            await pool.request("GET", b"/a", [], read_timeout=5)
        assert pool.open_connections() == 0


@pytest.mark.parametrize("coding", [b"gzip", b"chunked, gzip"])
async def test_chunked_not_last_means_the_connection_end_delimits(coding: bytes) -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: %b\r\n\r\n5\r\nraw" % coding)

    async with serving(handle) as (_server, pool):
        response = await pool.request("GET", b"/a", [])
        assert await response.read(5) == b"5\r\nraw"
        response.release()
        assert pool.open_connections() == 0


# -- timeouts ------------------------------------------------------------------------------------


async def test_no_head_within_the_read_timeout() -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()
        await peer.until_closed()  # never answers

    async with serving(handle) as (server, pool):
        with pytest.raises(TimeoutError):
            await pool.request("GET", b"/a", [], read_timeout=0.2)
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)
        assert pool.open_connections() == 0


async def test_a_stall_between_body_pieces_hits_the_read_timeout() -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
        await peer.until_closed()

    async with serving(handle) as (server, pool):
        response = await pool.request("GET", b"/a", [], read_timeout=0.2)
        received: list[bytes] = []
        with pytest.raises(TimeoutError):
            await collect_into(received, response, 0.2)
        assert b"".join(received) == b"12345"
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)
        assert pool.open_connections() == 0
        response.release()


# -- backpressure and closing --------------------------------------------------------------------


async def test_a_slow_reader_holds_the_upstream_back_and_loses_nothing(tls: Tls | None) -> None:
    block = os.urandom(1024 * 1024 + 7)  # an odd size: a lost or repeated piece shows
    body = block * 40
    progress = [0]

    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            view = memoryview(body)
            for start in range(0, len(body), 65536):
                peer.send(view[start : start + 65536])
                await peer.writer.drain()
                progress[0] = start + 65536
        await peer.until_closed()

    async with serving(handle, tls) as (_server, pool):
        response = await pool.request("GET", b"/big", [])
        # Nobody reads: the client stops reading, the socket buffers fill (the kernel grows
        # them for a while), then the server's writes block for good.
        await eventually(lambda: response._paused)
        stalled, still = -1, 0
        while still < 4:
            await asyncio.sleep(0.05)
            stalled, still = progress[0], still + 1 if progress[0] == stalled else 0
        assert stalled < len(body)
        assert response._buffered <= HIGH_WATER + READ_SIZE
        digest = hashlib.sha256()
        async for chunk in response.chunks(5):
            digest.update(chunk)
            assert response._buffered <= HIGH_WATER + READ_SIZE
        assert digest.digest() == hashlib.sha256(body).digest()
        response.release()
        assert pool.open_connections() == 1


async def test_read_takes_a_large_body_whole_and_keeps_the_connection_usable(
    tls: Tls | None,
) -> None:
    # read() is meant for small bodies but must not stall on a large one, nor pool a
    # connection whose reading it left paused.
    body = os.urandom(HIGH_WATER + 100_000)
    async with serving(answering(ok(body), ok(body), ok(b"next")), tls) as (server, pool):
        response = await pool.request("GET", b"/a", [])
        assert await response.read(5) == body
        response.release()
        response = await pool.request("GET", b"/a", [])
        await eventually(lambda: response.complete)  # all of it buffered (and paused) first
        assert await response.read(5) == body
        response.release()
        assert await asyncio.wait_for(get(pool), 5) == b"next"
        assert len(server.peers) == 1


async def test_close_mid_body_closes_the_upstream_connection(tls: Tls | None) -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")
        await peer.until_closed()

    async with serving(handle, tls) as (server, pool):
        response = await pool.request("GET", b"/watch", [])
        assert pool.open_connections() == 1
        reader = asyncio.ensure_future(collect(response, None))
        await eventually(lambda: not response._chunks and response._waiter is not None)
        response.close()  # the caller went away
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)
        with pytest.raises(UpstreamDisconnected):
            await asyncio.wait_for(reader, 5)
        assert pool.open_connections() == 0
        response.release()
        assert pool.open_connections() == 0


async def test_close_after_release_leaves_the_pooled_connection_alone() -> None:
    async with serving(answering(ok(b"x"))) as (server, pool):
        response = await pool.request("GET", b"/a", [])
        assert await response.read() == b"x"
        response.release()
        response.close()  # late: the connection already serves the pool
        assert pool.open_connections() == 1
        assert await get(pool) == b"x"
        assert len(server.peers) == 1


async def test_pool_close_closes_idle_and_busy_connections() -> None:
    async def handle(peer: Peer) -> None:
        while await peer.request() is not None:
            if peer.requests[-1].line.startswith(b"GET /hang"):
                peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n1")
            else:
                peer.send(ok(b"x"))
        await peer.until_closed()

    async with serving(handle) as (server, pool):
        await get(pool)
        busy = await pool.request("GET", b"/hang", [])
        await get(pool)
        assert pool.open_connections() == 2
        await pool.close()
        assert pool.open_connections() == 0
        for peer in server.peers:
            await asyncio.wait_for(peer.closed.wait(), 5)
        with pytest.raises(UpstreamDisconnected):
            await collect(busy)


async def test_a_cancelled_request_drops_its_connection() -> None:
    async def handle(peer: Peer) -> None:
        await peer.request()
        await peer.until_closed()  # never answers

    async with serving(handle) as (server, pool):
        pending = asyncio.ensure_future(pool.request("GET", b"/a", []))
        await eventually(lambda: len(server.requests) == 1)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)
        assert pool.open_connections() == 0


# -- request bodies and headers ------------------------------------------------------------------


async def test_a_streamed_body_with_a_length_arrives_byte_exact() -> None:
    pieces = [os.urandom(n) for n in (1, 70_000, 0, 3, 1_000_000)]

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            await asyncio.sleep(0)
            yield piece

    total = b"".join(pieces)
    async with serving(answering(ok(b"got"))) as (server, pool):
        headers = [(b"Content-Length", b"%d" % len(total)), (b"Content-Type", b"a/b")]
        response = await pool.request("PUT", b"/a", headers, body())
        assert await response.read() == b"got"
        response.release()
        assert await get(pool) == b"got"
        assert len(server.peers) == 1
    request = server.requests[0]
    assert request.body == total
    assert request.header(b"transfer-encoding") is None


async def test_a_streamed_body_without_a_length_is_chunked_byte_exact() -> None:
    pieces = [b"a", b"", os.urandom(300_000), b"", b"z"]

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    async with serving(answering(ok(b"got"))) as (server, pool):
        response = await pool.request("POST", b"/a", [], body(), chunked=True)
        assert await response.read() == b"got"
        response.release()
        assert await get(pool) == b"got"
        assert len(server.peers) == 1
    first, second = server.requests
    assert first.header(b"transfer-encoding") == b"chunked"
    assert first.body == b"".join(pieces)
    assert second.line == b"GET /api HTTP/1.1"


async def test_an_early_answer_to_a_streamed_body_does_not_pool_the_connection() -> None:
    answered = asyncio.Event()

    async def handle(peer: Peer) -> None:
        head = await peer.reader.readuntil(b"\r\n\r\n")
        peer.requests.append(Request(head, b""))
        peer.send(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
        await peer.writer.drain()
        answered.set()
        await peer.until_closed()

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        await answered.wait()
        await asyncio.sleep(0.1)  # the answer reaches the client
        yield b"second"

    async with serving(handle) as (server, pool):
        response = await pool.request("PUT", b"/a", [(b"Content-Length", b"11")], body())
        assert response.status == 413
        assert await response.read() == b""
        response.release()
        # The upstream still waits for the rest of the body: the next request must not go there.
        assert pool.open_connections() == 0
        await asyncio.wait_for(server.peers[0].closed.wait(), 5)


@pytest.mark.parametrize(
    ("method", "body", "length"),
    [
        ("GET", None, None),
        ("GET", b"", None),
        ("DELETE", b"", None),
        ("POST", b"", b"0"),
        ("PATCH", None, None),
        ("DELETE", b"{}", b"2"),
        ("POST", b"abc", b"3"),
    ],
)
async def test_request_framing(method: str, body: bytes | None, length: bytes | None) -> None:
    async with serving(answering(ok(b"x"))) as (server, pool):
        response = await pool.request(method, b"/a", [(b"Accept", b"*/*")], body)
        assert await response.read() == b"x"
        response.release()
    request = server.requests[0]
    assert request.line == method.encode() + b" /a HTTP/1.1"
    assert request.header(b"accept") == b"*/*"
    assert request.header(b"content-length") == length
    assert request.header(b"transfer-encoding") is None
    assert request.body == (body or b"")


async def test_an_early_answer_ends_an_upload_the_upstream_stopped_reading() -> None:
    piece = b"u" * 1024 * 1024
    sent = [0]

    async def handle(peer: Peer) -> None:
        await peer.reader.readuntil(b"\r\n\r\n")
        peer.send(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nbig!")
        await asyncio.Event().wait()  # reads nothing more, keeps the connection

    async def body() -> AsyncIterator[bytes]:
        for _ in range(256):
            sent[0] += len(piece)
            yield piece

    async with serving(handle) as (_server, pool):
        headers = [(b"Content-Length", b"%d" % (256 * len(piece)))]
        # The sockets fill and the writes block: the answer must not wait for them.
        response = await asyncio.wait_for(pool.request("PUT", b"/a", headers, body()), 5)
        assert response.status == 413
        assert await response.read(5) == b"big!"
        response.release()
        assert sent[0] < 256 * len(piece)
        assert pool.open_connections() == 0


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        (b"/a", [(b"Impersonate-User", b"bob\r\nImpersonate-Group: system:masters")]),
        (b"/a", [(b"X-A", b"one\ntwo")]),
        (b"/a", [(b"X-A", b"cr\ronly")]),
        (b"/a", [(b"X-A", b"nul\0")]),
        (b"/a", [(b"X-A\r\nX-B", b"v")]),
        (b"/a HTTP/1.1\r\nX: y", []),
    ],
)
async def test_line_breaks_and_nul_in_the_head_are_refused(
    target: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    async with serving(answering(ok(b"x"))) as (server, pool):
        assert await get(pool) == b"x"
        with pytest.raises(InvalidHeader):
            await pool.request("GET", target, headers)
        assert await get(pool) == b"x"
        assert len(server.requests) == 2  # nothing of the refused request went out


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pool = ConnectionPool(Origin.from_url(f"http://127.0.0.1:{port}", None), connect_timeout=5)
    with pytest.raises(UpstreamConnectError):
        await pool.request("GET", b"/", [])
    assert pool.open_connections() == 0


# -- TLS -----------------------------------------------------------------------------------------


async def test_tls_with_the_ca_and_server_name(pki: tuple[ServingFiles, ServingFiles]) -> None:
    good, _ = pki
    names: list[str | None] = []
    server = RawServer(answering(ok(b"secure")), serving_context(good, names))
    await server.start()
    pool = ConnectionPool(
        Origin.from_url(server.url + "/base/", trusting(good.ca_cert), "upstream.test"), 5
    )
    try:
        assert await get(pool, b"/api?x=1") == b"secure"
        assert await get(pool, b"/api?x=2") == b"secure"
        assert names == ["upstream.test"]  # SNI, once: the connection was reused
        assert [r.line for r in server.requests] == [
            b"GET /base/api?x=1 HTTP/1.1",
            b"GET /base/api?x=2 HTTP/1.1",
        ]
        assert server.requests[0].header(b"host") == f"127.0.0.1:{server.port}".encode()
    finally:
        await pool.close()
        await server.stop()


@pytest.mark.parametrize(
    ("trust", "server_name"),
    [("other", None), ("good", "elsewhere.test")],
    ids=["wrong-ca", "wrong-name"],
)
async def test_tls_verification_failures(
    pki: tuple[ServingFiles, ServingFiles], trust: str, server_name: str | None
) -> None:
    good, other = pki
    server = RawServer(answering(ok(b"x")), serving_context(good, []))
    await server.start()
    ca = other.ca_cert if trust == "other" else good.ca_cert
    pool = ConnectionPool(Origin.from_url(server.url, trusting(ca), server_name), 5)
    try:
        with pytest.raises(UpstreamTLSError):
            await pool.request("GET", b"/", [])
        assert pool.open_connections() == 0
    finally:
        await server.stop()


async def test_a_stalled_tls_handshake_hits_the_connect_timeout(
    pki: tuple[ServingFiles, ServingFiles],
) -> None:
    server = RawServer(Peer.until_closed)  # accepts, then never speaks TLS
    await server.start()
    origin = Origin.from_url(server.url.replace("http:", "https:"), trusting(pki[0].ca_cert))
    pool = ConnectionPool(origin, connect_timeout=0.2)
    try:
        with pytest.raises(UpstreamConnectError):
            await pool.request("GET", b"/", [])
        assert pool.open_connections() == 0
    finally:
        await server.stop()


# -- origins -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "base_path", "host_header"),
    [
        ("https://h:6443/prefix/", "h", 6443, b"/prefix", b"h:6443"),
        ("https://h/", "h", 443, b"", b"h"),
        ("https://h:443", "h", 443, b"", b"h"),
        ("http://h", "h", 80, b"", b"h"),
        ("http://h:443/a/b", "h", 443, b"/a/b", b"h:443"),
        ("https://[::1]:6443/k8s", "::1", 6443, b"/k8s", b"[::1]:6443"),
        ("https://[fe80::1]", "fe80::1", 443, b"", b"[fe80::1]"),
        ("http://API.Example.COM:8080", "api.example.com", 8080, b"", b"api.example.com:8080"),
    ],
)
def test_origin_from_url(
    url: str, host: str, port: int, base_path: bytes, host_header: bytes
) -> None:
    origin = Origin.from_url(url, None)
    assert (origin.host, origin.port, origin.base_path, origin.host_header) == (
        host,
        port,
        base_path,
        host_header,
    )
    if url.startswith("https"):
        assert origin.tls is not None
        assert origin.server_hostname == host
    else:
        assert origin.tls is None
        assert origin.server_hostname is None


def test_origin_server_name_and_context() -> None:
    context = ssl.create_default_context()
    origin = Origin.from_url("https://10.0.0.1:6443", context, "kubernetes.default")
    assert origin.tls is context
    assert origin.server_hostname == "kubernetes.default"
    assert Origin.from_url("http://10.0.0.1", context, "x").server_hostname is None


@pytest.mark.parametrize("url", ["ftp://h/", "unix:///run/x.sock", "https:///nohost"])
def test_origin_refuses_what_is_not_http(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        Origin.from_url(url, None)


async def test_an_ipv6_literal_origin() -> None:
    server = RawServer(answering(ok(b"v6")), host="::1")
    try:
        await server.start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    pool = ConnectionPool(Origin.from_url(server.url + "/p", None), 5)
    try:
        assert await get(pool, b"/q") == b"v6"
    finally:
        await pool.close()
        await server.stop()
    assert server.requests[0].line == b"GET /p/q HTTP/1.1"
    assert server.requests[0].header(b"host") == f"[::1]:{server.port}".encode()
