"""The embedded API server's ASGI application: auth, limits, discovery, OpenAPI, resources."""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from luban.embedded.api import ResourceAPI
from luban.embedded.auth.gate import ClusterSecurity
from luban.embedded.discovery import Discovery, accepts_aggregated
from luban.embedded.openapi import OpenAPIDocuments
from luban.embedded.openapi_http import openapi_routes
from luban.embedded.podstreams import POD_STREAMS
from luban.kube.errors import APIError
from luban.kube.requestinfo import RequestInfo, parse_request_info
from luban.status import StatusResponse, send_status

logger = logging.getLogger("luban.embedded")

KUBERNETES_VERSION = ("1", "36", "v1.36.0+luban")
MAX_HEADER_BYTES = 1024 * 1024
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
WEBSOCKET_KEY = "luban.websocket"  # set on the HTTP scope a WebSocket handshake is served as


def version_info() -> dict[str, str]:
    """``/version`` of the embedded cluster: the Kubernetes API level it serves."""
    major, minor, git = KUBERNETES_VERSION
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        404: "the server could not find the requested resource",
        405: "the server does not allow this method on the requested resource",
    }
    return StatusResponse(
        exc.status_code, messages.get(exc.status_code, exc.detail), headers=exc.headers
    )


def _takes_upgrade(info: RequestInfo) -> bool:
    return not info.api_group and info.resource == "pods" and info.subresource in POD_STREAMS


def _as_denial(send: Send) -> Send:
    """``send`` for an HTTP answer to a WebSocket handshake (the ASGI denial extension)."""

    async def denial_send(message: Message) -> None:
        await send({**message, "type": "websocket." + message["type"]})

    return denial_send


class ClusterApp:
    """ASGI entry point of the embedded cluster."""

    def __init__(
        self,
        api: ResourceAPI,
        discovery: Discovery,
        openapi: Callable[[], OpenAPIDocuments],
        security: ClusterSecurity,
        ready: Callable[[], bool],
    ) -> None:
        self.api = api
        self.discovery = discovery
        self.security = security
        self._ready = ready
        self._version = orjson.dumps(version_info())
        self.router = Starlette(
            exception_handlers={HTTPException: _http_error},
            routes=[
                Route("/healthz", self._health),
                Route("/livez", self._health),
                Route("/readyz", self._readyz),
                Route("/version", self._version_endpoint),
                *openapi_routes(openapi),
            ],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.router(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        size = 0
        for name, value in scope["headers"]:
            size += len(name) + len(value)
        if size > MAX_HEADER_BYTES:
            await send_status(
                send, 431, "Request Header Fields Too Large", "RequestHeaderFieldsTooLarge"
            )
            return
        path: str = scope["path"]
        try:  # authentication, impersonation and RBAC; leaves the user at scope["luban.user"]
            self.security.admit(scope, path in PUBLIC_PATHS)
        except APIError as exc:
            body = orjson.dumps(exc.status())
            await Response(body, exc.code, media_type="application/json")(scope, receive, send)
            return
        if path == "/api" or path.startswith(("/api/", "/apis")):
            response = await self._api(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.router(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade, answered with the HTTP response its request gets.

        Only the pod streams take upgrades, and without kubelets they always answer before
        upgrading (so ``kubectl exec`` shows why, as with a real server). The answer goes
        back as the handshake's denial response.
        """
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008, "reason": "not supported"})
            return
        as_http = {**scope, "type": "http", "method": "GET", WEBSOCKET_KEY: True}
        await self(as_http, receive, _as_denial(send))

    async def _api(self, request: Request) -> Response:
        path = request.url.path
        try:
            if any(part in (".", "..") for part in path.split("/")) or "//" in path:
                raise APIError(400, f"invalid path: {path}", "BadRequest")
            info = parse_request_info(request.method, path, request.query_params)
            if request.scope.get(WEBSOCKET_KEY) and not _takes_upgrade(info):
                raise APIError(
                    400,
                    "WebSocket upgrades are served only for pods/log, exec, attach and "
                    "portforward (watch over HTTP instead)",
                    "BadRequest",
                )
            if info.is_resource_request:
                served = await self.security.serve(request, info)  # reviews, TokenRequest
                return served or await self.api.handle(request, info)
            return self._discovery(request, path)
        except APIError as exc:
            return Response(
                orjson.dumps(exc.status()), exc.code, exc.headers, media_type="application/json"
            )
        except Exception:
            logger.exception("embedded cluster failed serving %s %s", request.method, path)
            return StatusResponse(500, "Internal error")

    def _discovery(self, request: Request, path: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise APIError(405, "the server does not allow this method on the requested resource")
        parts = [p for p in path.split("/") if p]
        media = accepts_aggregated(request.headers.get("accept", ""))
        body: bytes | None = None
        if parts == ["api"]:
            if media:
                return Response(self.discovery.aggregated(True, media), media_type=media)
            body = self.discovery.api_versions()
        elif parts == ["apis"]:
            if media:
                return Response(self.discovery.aggregated(False, media), media_type=media)
            body = self.discovery.group_list()
        elif len(parts) == 2 and parts[0] == "api":
            body = self.discovery.resource_list("", parts[1])
        elif len(parts) == 2:
            body = self.discovery.group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            body = self.discovery.resource_list(parts[1], parts[2])
        if body is None:
            raise APIError(404, "the server could not find the requested resource", "NotFound")
        return Response(body, media_type="application/json")

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _readyz(self, request: Request) -> Response:
        if not self._ready():
            return PlainTextResponse("[-]store not ready\nreadyz check failed\n", 503)
        return PlainTextResponse("ok")

    async def _version_endpoint(self, request: Request) -> Response:
        return Response(self._version, media_type="application/json")
