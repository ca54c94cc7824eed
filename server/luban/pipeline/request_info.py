"""Stage: resolve what a request addresses once; every later stage reads it from the scope."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.kube.requestinfo import parse_request_info

REQUEST_INFO_KEY = "luban.request_info"


class RequestInfoMiddleware:
    """Puts a ``RequestInfo`` (verb, group, resource, namespace, name...) in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path.startswith("/clusters/"):
                parts = path.split("/", 3)
                path = "/" + parts[3] if len(parts) > 3 else "/"
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            method = scope.get("method", "GET")
            scope[REQUEST_INFO_KEY] = parse_request_info(method, path, query)
        await self.app(scope, receive, send)
