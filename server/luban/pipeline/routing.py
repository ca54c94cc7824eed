"""Stage: the proxied Kubernetes API goes to the proxy; everything else to the kernel's routes."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.proxy.paths import is_proxied


def proxy_route_template(path: str) -> str:
    """A low-cardinality route label for a proxied path (``/apis/**``)."""
    prefix = ""
    if path.startswith("/clusters/"):
        parts = path.split("/", 3)
        prefix, path = "/clusters/{name}", "/" + (parts[3] if len(parts) > 3 else "")
    head = path.split("/", 2)[1] if path.count("/") >= 1 else ""
    return f"{prefix}/{head}/**" if path.count("/") > 1 else f"{prefix}/{head}"


class KernelRouter:
    """Sends each request to the proxy or to the kernel's own application."""

    def __init__(self, proxy: ASGIApp, app: ASGIApp) -> None:
        self.proxy = proxy
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and is_proxied(scope["path"]):
            scope["luban.route"] = proxy_route_template(scope["path"])
            await self.proxy(scope, receive, send)
            return
        await self.app(scope, receive, send)
