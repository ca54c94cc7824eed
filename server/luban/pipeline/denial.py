"""Refusing a request from a pipeline stage: a ``Status`` answer, over HTTP or a WebSocket."""

from __future__ import annotations

import orjson
from starlette.types import Scope, Send

from luban.kube.errors import APIError


async def deny(scope: Scope, send: Send, error: APIError) -> None:
    """Answer ``error`` as a ``Status``; a WebSocket without the denial extension is closed."""
    body = orjson.dumps(error.status())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
    prefix = ""
    if scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            # Without the denial-response extension a WebSocket can only be closed (1008: policy).
            await send({"type": "websocket.close", "code": 1008, "reason": error.reason or ""})
            return
        prefix = "websocket."
    await send({"type": prefix + "http.response.start", "status": error.code, "headers": headers})
    await send({"type": prefix + "http.response.body", "body": body})
