"""Stage: give every request an id (kept from ``X-Request-Id`` when the caller sent a sane one)."""

from __future__ import annotations

import itertools
import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luban.observability.logging import request_id_var

HEADER = b"x-request-id"
# The response's status, set when it starts: 101 for an accepted WebSocket, 403 for one
# closed before it was accepted. Read by the metrics, audit and error stages, so only this
# stage wraps ``send``.
STATUS_KEY = "luban.response_status"
MAX_LENGTH = 128
_ALLOWED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/+=-")
# Ids are a random per-process prefix plus a counter: unique, and cheaper than urandom per request.
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


def new_request_id() -> bytes:
    """A fresh request id (24 hex characters)."""
    return f"{_PREFIX}{next(_COUNTER):012x}".encode()


def _acceptable(value: bytes) -> bool:
    return 0 < len(value) <= MAX_LENGTH and _ALLOWED.issuperset(value)


def request_id_for(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The caller's ``X-Request-Id`` when it is sane, otherwise a fresh one."""
    for name, value in headers:
        if name == HEADER:
            return value if _acceptable(value) else new_request_id()
    return new_request_id()


def request_id_of(scope: Scope) -> str:
    """The id the request-id stage assigned to ``scope`` ("-" before it ran)."""
    return str(scope.get("state", {}).get("request_id", "-"))


def response_status(scope: Scope) -> int | None:
    """The status the response started with (None while it has not started)."""
    status: int | None = scope.get(STATUS_KEY)
    return status


class RequestIdMiddleware:
    """Assigns the id, exposes it to logs and ``request.state``, and echoes it on the response.

    Its ``send`` wrapper also records the response status in the scope (``STATUS_KEY``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id_for(scope["headers"])
        text = rid.decode()
        scope.setdefault("state", {})["request_id"] = text
        token = request_id_var.set(text)

        async def send_with_id(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                scope[STATUS_KEY] = message["status"]
                headers = message.get("headers")
                if isinstance(headers, list):
                    headers.append((HEADER, rid))
                else:
                    message["headers"] = [*(headers or ()), (HEADER, rid)]
            elif kind == "websocket.http.response.start":
                scope[STATUS_KEY] = message["status"]
            elif kind == "websocket.accept":
                scope[STATUS_KEY] = 101
            elif kind == "websocket.close" and STATUS_KEY not in scope:
                scope[STATUS_KEY] = 403
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
