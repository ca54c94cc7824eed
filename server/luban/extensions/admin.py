"""The admin API: list, get, enable, disable and reload extensions (cluster-admin only).

``/kapis/extensions.luban.io/v1alpha1/extensions[/{name}[/enable|/disable|/reload]]``
"""

from __future__ import annotations

import orjson
from starlette.types import Receive, Scope, Send

from luban.extensions import desired
from luban.extensions.desired import DesiredStateError
from luban.extensions.manager import ExtensionManager
from luban.pipeline.authorization import AUTHORIZER_KEY, Permission, authorize
from luban.status import send_status

PREFIX = f"/kapis/{desired.GROUP}/{desired.VERSION}/{desired.PLURAL}"
ACTIONS = ("enable", "disable", "reload")
ADMIN_PERMISSION = Permission("*", desired.PLURAL, desired.GROUP, namespace="", name="")


class AdminAPI:
    """Pure-ASGI handler for the admin paths; answers Status objects on every error."""

    def __init__(self, manager: ExtensionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        path: str = scope["path"]
        rest = path[len(PREFIX) :] if path.startswith(PREFIX) else None
        if rest is None or (rest and not rest.startswith("/")):
            await send_status(send, 404, "the server could not find the requested resource")
            return
        parts = [p for p in rest.split("/") if p]
        scope["luban.route"] = PREFIX + ["", "/{name}", "/{name}/{action}"][min(len(parts), 2)]
        authorizer = scope.get(AUTHORIZER_KEY)
        if authorizer is None:
            await send_status(send, 503, "no authorizer")
            return
        # Cluster-admin: every verb on the kernel's Extension objects.
        if not await authorize(scope, send, authorizer, ADMIN_PERMISSION):
            return
        method = scope["method"]
        if len(parts) > 2 or (len(parts) == 2 and parts[1] not in ACTIONS):
            await send_status(send, 404, "the server could not find the requested resource")
            return
        if parts and parts[0] not in self.manager.slots:
            await send_status(
                send, 404, f'extensions.{desired.GROUP} "{parts[0]}" not found', "NotFound"
            )
            return
        expected = "POST" if len(parts) == 2 else "GET"
        if method != expected:
            await send_status(send, 405, f"{method} is not allowed here; use {expected}")
            return
        try:
            body = await self._handle(parts)
        except DesiredStateError as exc:
            await send_status(send, exc.code if exc.code >= 400 else 502, str(exc))
            return
        data = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _handle(self, parts: list[str]) -> dict[str, object]:
        manager = self.manager
        if not parts:
            return {
                "apiVersion": f"{desired.GROUP}/{desired.VERSION}",
                "kind": "ExtensionList",
                "metadata": {},
                "items": [manager.describe(name) for name in sorted(manager.slots)],
            }
        name = parts[0]
        if len(parts) == 2:
            action = parts[1]
            if action == "reload":
                await manager.reload(name)
            else:
                await manager.set_enabled(name, action == "enable")
        return manager.describe(name)
