"""Stage: refuse path tricks on every route (400), before anything acts on the path.

Dot segments, encoded separators or dots, empty segments, backslashes and control
characters never reach the proxy, the Resource API, extensions or UI bundles.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.kube.errors import APIError, bad_request
from luban.pipeline.denial import deny

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Encodings of '/', '\', '.', NUL: a decoded path segment must not hide a separator or a dot.
_ENCODED_TRICKS = re.compile(rb"%(2f|5c|2e|00)", re.IGNORECASE)


def check_path(path: str, raw_path: bytes) -> None:
    """Refuse dot segments, encoded separators, empty segments and control characters (400)."""
    if _CONTROL.search(path):
        raise bad_request("the request path contains control characters")
    if _ENCODED_TRICKS.search(raw_path):
        raise bad_request("the request path contains an encoded '/', '\\', '.' or NUL")
    segments = path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments):
        raise bad_request("the request path contains '.' or '..' segments")
    if "//" in path or "\\" in path:
        raise bad_request("the request path contains empty segments or backslashes")


class PathSafetyMiddleware:
    """Answers a 400 ``Status`` for an unsafe path, whatever route it would reach."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            try:
                check_path(path, scope.get("raw_path") or path.encode())
            except APIError as error:
                await deny(scope, send, error)
                return
        await self.app(scope, receive, send)
