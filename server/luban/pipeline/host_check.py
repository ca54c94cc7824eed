"""Stage: a kernel bound to loopback answers only loopback host names (DNS rebinding).

A web page on another site can make a browser resolve its own name to 127.0.0.1; the
``Host`` header still carries that name, so refusing it protects a laptop kernel, as
``kubectl proxy`` does.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.status import send_status

LOOPBACK_HOSTS = frozenset({b"localhost", b"127.0.0.1", b"[::1]", b"::1"})


def is_loopback_bind(host: str) -> bool:
    """Whether the server listens on loopback only."""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def _host_name(value: bytes) -> bytes:
    if value.startswith(b"["):
        return value[: value.find(b"]") + 1]
    return value.rsplit(b":", 1)[0] if value.count(b":") == 1 else value


class LoopbackHostMiddleware:
    """Refuses (403) requests whose ``Host`` is not a loopback name."""

    def __init__(self, app: ASGIApp, extra_hosts: frozenset[bytes] = frozenset()) -> None:
        self.app = app
        self.allowed = LOOPBACK_HOSTS | extra_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v for k, v in scope["headers"] if k == b"host"), b"")
            if host and _host_name(host.lower()) not in self.allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await send_status(
                        send, 403, "the Host header is not a loopback name", "Forbidden"
                    )
                return
        await self.app(scope, receive, send)
