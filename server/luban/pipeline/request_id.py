"""Stage: give every request an id (kept from ``X-Request-Id`` when the caller sent a sane one)."""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luban.observability.logging import request_id_var

HEADER = b"x-request-id"
_ACCEPTABLE = re.compile(rb"^[A-Za-z0-9._:/+=-]{1,128}$")


def request_id_of(scope: Scope) -> str:
    """The id the request-id stage assigned to ``scope`` ("-" before it ran)."""
    return str(scope.get("state", {}).get("request_id", "-"))


class RequestIdMiddleware:
    """Assigns the id, exposes it to logs and ``request.state``, and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = b""
        for name, value in scope["headers"]:
            if name == HEADER:
                raw = value
                break
        rid = raw if _ACCEPTABLE.match(raw) else os.urandom(12).hex().encode()
        text = rid.decode()
        scope.setdefault("state", {})["request_id"] = text
        token = request_id_var.set(text)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, rid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
