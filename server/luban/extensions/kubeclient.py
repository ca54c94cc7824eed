"""A Kubernetes client for extensions that acts as the caller (impersonation upstream)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from luban.auth.user import UserInfo
from luban.proxy.headers import impersonation_headers, text_headers
from luban.proxy.upstream import Upstream
from luban_sdk.context import KubeError


class CallerKubeClient:
    """Talks to the kernel's upstream with the kernel's credentials, impersonating the caller."""

    def __init__(self, upstream: Upstream, user: UserInfo | None) -> None:
        self.upstream = upstream
        self.user = user

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send ``method path`` as the caller; decoded JSON back, or :class:`KubeError`."""
        session = self.upstream.session
        if session is None or not path.startswith("/"):
            raise KubeError(503, {"message": "the upstream is not available", "code": 503})
        headers: list[tuple[str, str]] = [
            ("Accept", "application/json"),
            ("Accept-Encoding", "identity"),
        ]
        authorization = await self.upstream.credentials.authorization()
        if authorization:
            headers.append(("Authorization", authorization))
        if self.user is not None:
            headers += text_headers(impersonation_headers(self.user))
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers.append(("Content-Type", content_type))
        async with session.request(
            method, self.upstream.server + path, params=params, data=data, headers=headers
        ) as response:
            raw = await response.read()
            status = response.status
        try:
            decoded = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            decoded = {"message": raw[:200].decode("utf-8", "replace")}
        if status >= 400:
            detail = decoded if isinstance(decoded, dict) else {"message": str(decoded)}
            raise KubeError(status, detail)
        return decoded

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """``GET path`` as the caller."""
        return await self.request("GET", path, params=params)
