"""Resource API queries for extensions, answered in-process by the kernel's Resource API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from starlette.types import ASGIApp, Message

from luban.auth.user import UserInfo
from luban_sdk.context import KubeError

USER_KEY = "luban.user"


class CallerResourceQueries:
    """Lists through the Resource API (``/kapi``, ``/kapis``) with the caller's rights."""

    def __init__(self, app: ASGIApp, user: UserInfo | None) -> None:
        self.app = app
        self.user = user

    async def list(
        self,
        group: str,
        version: str,
        resource: str,
        *,
        namespace: str | None = None,
        **query: str,
    ) -> Mapping[str, Any]:
        """``{"items": [...], "totalItems": N}``; :class:`KubeError` when refused or unknown."""
        base = f"/kapis/{group}/{version}" if group else f"/kapi/{version}"
        scoped = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
        path = f"{base}{scoped}/{quote(resource, safe='')}"
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": urlencode(query).encode(),
            "headers": [(b"accept", b"application/json")],
            "client": None,
            "server": None,
            USER_KEY: self.user,
        }
        status = 500
        chunks: list[bytes] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        body = orjson.loads(b"".join(chunks) or b"{}")
        if status >= 400:
            raise KubeError(status, body if isinstance(body, dict) else {"message": str(body)})
        result: Mapping[str, Any] = body
        return result
