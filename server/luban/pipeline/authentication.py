"""Stage: establish who the caller is; refuse with 401 when nobody recognises them."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.auth.bearer import Authenticator, bearer_token
from luban.proxy.paths import is_proxied
from luban.status import send_status

USER_KEY = "luban.user"


class AuthenticationMiddleware:
    """Tries each authenticator in order; the first that recognises the token wins."""

    def __init__(
        self,
        app: ASGIApp,
        authenticators: Sequence[Authenticator],
        public_paths: frozenset[str],
        required: bool = True,
        upstream_decides: bool = False,
    ) -> None:
        self.app = app
        self.authenticators = tuple(authenticators)
        self.public_paths = public_paths
        self.required = required
        # Passthrough proxying: callers the kernel does not know may still reach the upstream.
        self.upstream_decides = upstream_decides

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
                break
        token = bearer_token(authorization)
        if token is not None:
            for authenticator in self.authenticators:
                user = await authenticator.authenticate_token(token)
                if user is not None:
                    scope[USER_KEY] = user
                    await self.app(scope, receive, send)
                    return
        if not self.required or (self.upstream_decides and is_proxied(scope["path"])):
            await self.app(scope, receive, send)
            return
        await _deny(scope, send)


async def _deny(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        # Without the denial-response extension a WebSocket can only be closed (1008: policy).
        if "websocket.http.response" in scope.get("extensions", {}):
            await send_status(_websocket_denial(send), 401, "Unauthorized")
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": "Unauthorized"})
        return
    await send_status(send, 401, "Unauthorized")


def _websocket_denial(send: Send) -> Send:
    async def denial_send(message: dict[str, object]) -> None:
        await send({**message, "type": "websocket." + str(message["type"])})

    return denial_send  # type: ignore[return-value]
