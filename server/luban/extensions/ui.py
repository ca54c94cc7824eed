"""Serving an extension's UI bundle under ``/dist/{name}/`` (no path escape, cache headers)."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from luban.status import send_status

# Hashed asset names may be cached for long; the entry page must be revalidated.
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"


class UIBundle:
    """Static files of one extension's UI directory."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.files = StaticFiles(directory=directory, html=True, check_dir=False)
        self.prefix = f"/dist/{name}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        relative = scope["path"][len(self.prefix) :] or "/"
        child = {**scope, "path": relative, "root_path": scope.get("root_path", "") + self.prefix}
        cache = _IMMUTABLE if _looks_hashed(relative) else _REVALIDATE

        async def send_with_cache(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", cache.encode()),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        scope["luban.route"] = self.prefix + "/**"
        try:
            await self.files(child, receive, send_with_cache)
        except HTTPException as exc:
            await send_status(send, exc.status_code, f"{scope['path']}: {exc.detail}")


def _looks_hashed(path: str) -> bool:
    """``/assets/app.3f9a1c2b.js``: a content hash in the name."""
    parts = path.rsplit("/", 1)[-1].split(".")
    return len(parts) >= 3 and len(parts[-2]) >= 8 and parts[-2].isalnum()
