"""The proxy's ASGI entry: checks, identity, then the HTTP or WebSocket relay."""

from __future__ import annotations

import logging

import orjson
from starlette.types import Receive, Scope, Send
from yarl import URL

from luban.auth.user import UserInfo
from luban.config import ProxyConfig, Settings
from luban.kube.errors import APIError, bad_request, forbidden
from luban.kube.requestinfo import RequestInfo
from luban.pipeline.authentication import USER_KEY
from luban.proxy.client import InvalidHeader, UpstreamError, check_headers
from luban.proxy.headers import (
    forwarded_headers,
    impersonation_headers,
    text_headers,
    upstream_request_headers,
)
from luban.proxy.http import RelayOptions, relay_http, upstream_error
from luban.proxy.metrics import ProxyMetrics
from luban.proxy.paths import PathFilter, resolve_target
from luban.proxy.upstream import Upstream, UpstreamSpec, connect
from luban.proxy.websocket import deny_websocket, refuse_spdy, relay_websocket
from luban.status import send_status

logger = logging.getLogger("luban.proxy")

DEFAULT_CLUSTER = "default"
REQUEST_INFO_KEY = "luban.request_info"
BAD_HEADER_MESSAGE = "a request header contains a line break or NUL"


def upstream_specs(settings: Settings) -> list[UpstreamSpec]:
    """The default upstream and the named clusters from the settings."""
    specs = [
        UpstreamSpec(
            DEFAULT_CLUSTER,
            settings.upstream.kubeconfig,
            settings.upstream.context,
            in_cluster=settings.upstream.kubeconfig is None,
        )
    ]
    specs += [UpstreamSpec(c.name, c.kubeconfig, c.context) for c in settings.upstream.clusters]
    return specs


class KubeProxy:
    """Forwards ``/api``, ``/apis``, ``/version``, ``/openapi`` (and ``/clusters/{name}/...``)."""

    def __init__(self, config: ProxyConfig, metrics: ProxyMetrics, scheme: str) -> None:
        self.config = config
        self.metrics = metrics
        self.scheme = scheme
        self.scheme_bytes = scheme.encode()
        self.upstreams: dict[str, Upstream] = {}
        self.filter = PathFilter(config.accept_paths, config.reject_paths)
        self.options = RelayOptions(config.request_timeout_seconds, config.small_body_bytes)
        self.passthrough = config.identity == "passthrough"

    async def start(self, specs: list[UpstreamSpec]) -> None:
        """Load every upstream's credentials and open its pool."""
        for spec in specs:
            self.upstreams[spec.name] = await connect(spec, self.config.connect_timeout_seconds)
            logger.info("upstream %s: %s", spec.name, self.upstreams[spec.name].server)

    async def stop(self) -> None:
        """Close every pool."""
        for upstream in self.upstreams.values():
            await upstream.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = scope["type"] == "websocket"
        try:
            await self._forward(scope, receive, send, websocket)
        except (APIError, InvalidHeader) as error:
            # A header the kernel would send with a line break (an identity's group, say)
            # would forge header lines upstream: nothing was sent, the caller gets a 400.
            exc = error if isinstance(error, APIError) else bad_request(BAD_HEADER_MESSAGE)
            if websocket:
                await deny_websocket(scope, send, exc.code, orjson.dumps(exc.status()))
            else:
                await send_status(send, exc.code, exc.message, exc.reason, exc.headers)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, websocket: bool) -> None:
        path: str = scope["path"]
        raw_path: bytes = scope.get("raw_path") or path.encode()
        route = resolve_target(path, DEFAULT_CLUSTER)
        upstream = self.upstreams.get(route.cluster)
        if upstream is None:
            raise APIError(404, f'cluster "{route.cluster}" not found', "NotFound",
                           {"name": route.cluster, "kind": "clusters"})  # fmt: skip
        if not self.filter.allows(route.path):
            raise APIError(403, f"the path {route.path} is not allowed by this proxy", "Forbidden")
        headers_in = scope["headers"]
        spdy = not websocket and _is_spdy_upgrade(headers_in)
        if websocket:
            self._check_origin(headers_in)
        user: UserInfo | None = scope.get(USER_KEY)
        headers = upstream_request_headers(
            headers_in,
            keep_authorization=self.passthrough,
            keep_impersonation=self.passthrough or bool(scope.get("luban.may_impersonate")),
            websocket=websocket,
        )
        if not self.passthrough:
            if user is None:
                raise APIError(401, "Unauthorized", "Unauthorized")
            authorization = await upstream.credentials.authorization()
            if authorization:
                headers.append((b"Authorization", authorization.encode("latin-1")))
            if not scope.get("luban.may_impersonate") or not _has_impersonation(headers_in):
                headers += impersonation_headers(user)
        client = scope.get("client") or ("", 0)
        host = next((v for k, v in headers_in if k == b"host"), b"")
        prior = scope.get("luban.forwarded_for")
        headers += forwarded_headers(client[0], self.scheme_bytes, host, prior)
        upstream_path = raw_path
        if path.startswith("/clusters/"):
            upstream_path = b"/" + raw_path.split(b"/", 3)[3]
        query: bytes = scope.get("query_string", b"")
        target = upstream_path + b"?" + query if query else upstream_path
        scope["luban.cluster"] = upstream.name
        info: RequestInfo | None = scope.get(REQUEST_INFO_KEY)
        if websocket:
            check_headers(headers)  # aiohttp's handshake would fail on them with a ValueError
            url = URL(upstream.server + target.decode("latin-1"), encoded=True)
            await relay_websocket(scope, receive, send, upstream, url, text_headers(headers),
                                  self.metrics)  # fmt: skip
            return
        if spdy:
            await refuse_spdy(send, upstream, target, headers, self.options.request_timeout)
            return
        long_running = _long_running(info, query)
        labels = (info.verb, info.resource) if info and info.is_resource_request else ("", "")
        if route.path == "/version" and scope["method"] == "GET":
            await self._version(send, upstream, target, headers)
            return
        await relay_http(scope, receive, send, upstream, target, headers, long_running,
                         self.options, self.metrics, labels)  # fmt: skip

    def _check_origin(self, headers: list[tuple[bytes, bytes]]) -> None:
        origin = next((v.decode("latin-1") for k, v in headers if k == b"origin"), None)
        if origin is not None and origin not in self.config.allowed_origins:
            raise forbidden("websockets", "", "", f"origin {origin!r} is not allowed")

    async def _version(
        self, send: Send, upstream: Upstream, target: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Upstream's ``/version`` with the kernel's own version added under ``luban``."""
        from luban import __version__

        timeout = self.options.request_timeout
        try:
            response = await upstream.pool.request("GET", target, headers, read_timeout=timeout)
            try:
                body = await response.read(timeout)
            finally:
                response.release()
            status = response.status
        except (UpstreamError, TimeoutError) as exc:
            raise upstream_error(exc, timeout) from None
        if status == 200:
            try:
                document = orjson.loads(body)
                document["luban"] = {"version": __version__}
                body = orjson.dumps(document)
            except (orjson.JSONDecodeError, TypeError):
                pass
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def _is_spdy_upgrade(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"upgrade" and value.lower().startswith(b"spdy") for name, value in headers)


def _has_impersonation(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name.startswith(b"impersonate-") for name, _ in headers)


def _long_running(info: RequestInfo | None, query: bytes) -> bool:
    if info is not None and info.verb == "watch":
        return True
    return b"follow=true" in query or b"follow=1" in query
