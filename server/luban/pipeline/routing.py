"""Stage: extensions first, then the proxied Kubernetes API; the rest to the kernel's routes."""

from __future__ import annotations

from typing import Protocol

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


class ExtensionRoutes(Protocol):
    """The extension manager as the router sees it (``luban.extensions.manager``)."""

    def route_for(self, path: str) -> ASGIApp | None:
        """The app serving ``path`` (an extension's ``/kapis/{g}/{v}/``, ``/dist/{name}/``)."""
        ...


class KernelRouter:
    """Sends each request to an extension, the proxy or the kernel's own application.

    Extensions are asked first: under ``/kapis/{group}/{version}/`` an extension takes
    precedence over the Resource API for its own group/version.
    """

    def __init__(
        self, proxy: ASGIApp | None, app: ASGIApp, extensions: ExtensionRoutes | None = None
    ) -> None:
        self.proxy = proxy
        self.app = app
        self.extensions = extensions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.extensions is not None and scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path.startswith(("/kapis/", "/dist/")):
                target = self.extensions.route_for(path)
                if target is not None:
                    await target(scope, receive, send)
                    return
        if (
            self.proxy is not None
            and scope["type"] in ("http", "websocket")
            and is_proxied(scope["path"])
        ):
            scope["luban.route"] = proxy_route_template(scope["path"])
            await self.proxy(scope, receive, send)
            return
        await self.app(scope, receive, send)
