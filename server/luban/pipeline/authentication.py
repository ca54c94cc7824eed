"""Stage: establish who the caller is; refuse with 401 when nobody recognises them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.auth.bearer import Authenticator, bearer_token
from luban.auth.user import ANONYMOUS_USER, UserInfo, authenticated
from luban.kube.errors import APIError
from luban.pipeline.denial import deny
from luban.proxy.paths import is_proxied

USER_KEY = "luban.user"

logger = logging.getLogger("luban.auth")


class AuthenticationMiddleware:
    """Tries each authenticator in order; the first that recognises the token wins."""

    def __init__(
        self,
        app: ASGIApp,
        authenticators: Sequence[Authenticator],
        public_paths: frozenset[str],
        required: bool = True,
        upstream_decides: bool = False,
        anonymous: bool = False,
    ) -> None:
        self.app = app
        self.authenticators = tuple(authenticators)
        self.public_paths = public_paths
        self.required = required
        # Passthrough proxying: callers the kernel does not know may still reach the upstream.
        self.upstream_decides = upstream_decides
        # Only callers that present no credentials at all become anonymous (as in Kubernetes).
        self.anonymous = anonymous

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
        user = await self._authenticate(token) if token is not None else None
        if user is None and authorization is None and self.anonymous:
            user = ANONYMOUS_USER
        if user is not None:
            scope[USER_KEY] = user
            await self.app(scope, receive, send)
            return
        if not self.required or (self.upstream_decides and is_proxied(scope["path"])):
            await self.app(scope, receive, send)
            return
        await _deny(scope, send)

    async def _authenticate(self, token: str) -> UserInfo | None:
        for authenticator in self.authenticators:
            try:
                user = await authenticator.authenticate_token(token)
            except Exception:
                # A broken authenticator must not turn a bad token into a 500.
                logger.exception("authenticator %s failed", type(authenticator).__name__)
                continue
            if user is not None:
                return authenticated(user)
        return None


async def _deny(scope: Scope, send: Send) -> None:
    await deny(scope, send, APIError(401, "Unauthorized", "Unauthorized"))
