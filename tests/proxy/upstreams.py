"""Test upstreams for the proxy: an aiohttp API-server stand-in that records what reaches it.

Each runs on its own event loop in a thread, so the kernel (a real process) and the tests
(sync or async) reach it over loopback like any API server. There is no kubelet here, so
the exec endpoint speaks the channel subprotocols itself.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import ssl
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml
from aiohttp import WSMsgType, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from luban.status import status_body
from luban.tls import ServingFiles, ensure_serving_certificate

T = TypeVar("T")

CHANNEL_PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
)
UPSTREAM_TOKEN = "upstream-secret-token-5f2c"
PROTOBUF = b"k8s\x00\n\x0b\n\x02v1\x12\x05Table\x12\x00\x1a\x00\x00\xff\xfe"
TABLE = orjson.dumps(
    {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
     "columnDefinitions": [{"name": "Name", "type": "string"}], "rows": []}
)  # fmt: skip
YAML_BODY = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n"


class LoopThread:
    """An event loop running in a daemon thread; coroutines are submitted to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Stop the loop and join the thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Recorded:
    """One request as the upstream saw it."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def names(self) -> set[str]:
        """Every header name, lower-cased."""
        return {k.lower() for k, _ in self.headers}


@dataclass
class WebSocketSession:
    """One exec session: the negotiated protocol and how it ended."""

    protocol: str
    command: str = ""
    close_code: int | None = None
    close_reason: str = ""
    ended: threading.Event = field(default_factory=threading.Event)


class RecordingUpstream:
    """An API-server stand-in: records requests, streams lists and watches, speaks exec."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.sessions: list[WebSocketSession] = []
        self.open_streams = 0
        self.stream_ends: list[float] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def last(self, path_suffix: str) -> Recorded:
        """The latest recorded request whose path ends with ``path_suffix``."""
        return next(r for r in reversed(self.requests) if r.path.endswith(path_suffix))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record], client_max_size=1 << 30)
        app.router.add_get("/version", self._version)
        app.router.add_get("/readyz", self._ok)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/exec", self._exec)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", self._log)
        app.router.add_get("/api/v1/big", self._big)
        app.router.add_get("/api/v1/stream", self._stream)
        app.router.add_get("/api/v1/content/{kind}", self._content)
        app.router.add_get("/api/v1/gzip", self._gzip)
        app.router.add_get("/api/v1/slow", self._slow)
        app.router.add_get("/api/v1/broken", self._broken)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/missing", self._missing)
        app.router.add_post("/apis/authorization.k8s.io/v1/subjectaccessreviews", self._review)
        app.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", self._review)
        # The kernel's own start-up calls (its Extension CRD, then a list/watch of Extensions).
        app.router.add_post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", self._created
        )
        app.router.add_get("/apis/extensions.luban.io/{version}/extensions", self._empty_list)
        app.router.add_route("*", "/{tail:.*}", self._echo)
        return app

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        self.requests.append(Recorded(request.method, request.path, request.query_string, headers))
        response: web.StreamResponse = await handler(request)
        return response

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "36", "gitVersion": "v1.36.0-test"})

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _created(self, request: web.Request) -> web.Response:
        return web.json_response(orjson.loads(await request.read()), status=201)

    async def _empty_list(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") not in ("1", "true"):
            return web.json_response(
                {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                 "items": []}
            )  # fmt: skip
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await asyncio.sleep(3600)  # an idle watch: nothing ever changes here
        return response

    async def _review(self, request: web.Request) -> web.Response:
        """Token and access reviews: nobody is known, nothing is allowed (no RBAC here)."""
        review = orjson.loads(await request.read())
        review["status"] = (
            {"allowed": False, "reason": "the test upstream has no RBAC"}
            if review.get("kind") == "SubjectAccessReview"
            else {"authenticated": False}
        )
        return web.json_response(review, status=201)

    async def _echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        response = web.json_response({"kind": "Echo", "bytes": len(body), "path": request.path})
        # Hop-by-hop headers the proxy must not pass on, plus one named by Connection.
        response.headers["Keep-Alive"] = "timeout=5"
        response.headers["Proxy-Authenticate"] = "Basic realm=x"
        response.headers["Connection"] = "X-Upstream-Hop"
        response.headers["X-Upstream-Hop"] = "1"
        response.headers["X-End-To-End"] = "kept"
        return response

    async def _content(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        body, media = {
            "json": (b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"j"}}',
                     "application/json"),
            "yaml": (YAML_BODY, "application/yaml"),
            "protobuf": (PROTOBUF, "application/vnd.kubernetes.protobuf"),
            "table": (TABLE, "application/json;as=Table;v=v1;g=meta.k8s.io"),
        }[kind]  # fmt: skip
        return web.Response(body=body, headers={"Content-Type": media})

    async def _gzip(self, request: web.Request) -> web.Response:
        size = int(request.query.get("n", "1000"))
        plain = orjson.dumps({"kind": "List", "items": [{"i": i} for i in range(size)]})
        if "gzip" not in request.headers.get("Accept-Encoding", ""):
            return web.Response(body=plain, content_type="application/json")
        return web.Response(
            body=gzip.compress(plain, mtime=0),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    async def _big(self, request: web.Request) -> web.StreamResponse:
        """A list of ``n`` bytes, streamed in 64 KiB chunks with a known length."""
        size = int(request.query["n"])
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = size
        await response.prepare(request)
        chunk = b" " * 65536
        self.open_streams += 1
        try:
            sent = 0
            while sent < size:
                piece = chunk[: min(len(chunk), size - sent)]
                await response.write(piece)
                sent += len(piece)
            await response.write_eof()
        finally:
            self.open_streams -= 1
            self.stream_ends.append(time.monotonic())
        return response

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """A watch that sends one event and then stays open until the caller leaves."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        self.open_streams += 1
        try:
            await response.write(b'{"type":"ADDED","object":{"kind":"ConfigMap"}}\n')
            await asyncio.sleep(3600)
        finally:
            self.open_streams -= 1
            self.stream_ends.append(time.monotonic())
        return response

    async def _log(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for i in range(3):
            await response.write(f"line {i}\n".encode())
        await response.write_eof()
        return response

    async def _broken(self, request: web.Request) -> web.StreamResponse:
        """A list cut off mid-body (the upstream died while sending it)."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"kind":"List","items":[' + b" " * 200_000)
        assert request.transport is not None
        request.transport.abort()
        return response

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    async def _missing(self, request: web.Request) -> web.Response:
        body = status_body(404, 'pods "missing" not found', "NotFound",
                           {"name": "missing", "kind": "pods"})  # fmt: skip
        body["metadata"] = {"upstream": "yes"}
        return web.json_response(body, status=404)

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        offered = [
            p.strip()
            for value in request.headers.getall("Sec-WebSocket-Protocol", [])
            for p in value.split(",")
            if p.strip()
        ]
        preference = request.query.getall("prefer", []) or list(CHANNEL_PROTOCOLS)
        chosen = next((p for p in preference if p in offered), None)
        if chosen is None:
            return web.json_response(status_body(400, "no channel protocol offered"), status=400)
        ws = web.WebSocketResponse(protocols=(chosen,), max_msg_size=0, autoclose=False)
        await ws.prepare(request)
        session = WebSocketSession(chosen, request.query.get("command", ""))
        self.sessions.append(session)
        try:
            await self._channels(ws, session)
        finally:
            if session.close_code is None:
                session.close_code = ws.close_code
            session.ended.set()
        return ws

    async def _channels(self, ws: web.WebSocketResponse, session: WebSocketSession) -> None:
        text = session.protocol == "base64.channel.k8s.io"
        while True:
            message = await ws.receive()
            if message.type == WSMsgType.CLOSE:
                session.close_code, session.close_reason = int(message.data), message.extra or ""
                await ws.close(code=int(message.data), message=(message.extra or "").encode())
                return
            if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                return
            if text:
                channel, payload = int(message.data[0]), base64.b64decode(message.data[1:])
            else:
                channel, payload = message.data[0], message.data[1:]
            if channel == 255 and session.protocol == "v5.channel.k8s.io":
                await ws.send_bytes(b"\x03" + orjson.dumps({"status": "Success"}))
                await ws.close(code=1000)
                return
            if payload.startswith(b"close:"):
                _, code, reason = payload.split(b":", 2)
                await ws.close(code=int(code), message=reason)
                return
            for out in (1, 2):
                if text:
                    await ws.send_str(str(out) + base64.b64encode(payload).decode())
                else:
                    await ws.send_bytes(bytes([out]) + payload)


def write_kubeconfig(path: Path, server: str, user: dict[str, Any], ca: Path | None = None) -> Path:
    """A one-context kubeconfig for ``server`` with the given ``user`` section."""
    cluster: dict[str, Any] = {"server": server}
    if ca is not None:
        cluster["certificate-authority"] = str(ca)
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    return path


def client_certificate(pki: ServingFiles, directory: Path, name: str) -> tuple[Path, Path]:
    """A client certificate (clientAuth) for ``name``, signed by the CA in ``pki``."""
    ca_key = serialization.load_pem_private_key((pki.ca_cert.parent / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )  # fmt: skip
    return cert_path, key_path


def server_context(
    directory: Path, require_client_cert: bool
) -> tuple[ssl.SSLContext, ServingFiles]:
    """A TLS server context from a fresh CA in ``directory`` (optionally demanding client certs)."""
    files = ensure_serving_certificate(directory, [], f"test-ca-{directory.name}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(files.ca_cert)
    return context, files
