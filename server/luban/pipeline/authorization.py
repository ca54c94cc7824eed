"""Stage: enforce the permission a kernel-served route declares, asking the ``Authorizer``.

A route (or whatever mounts it: the Resource API, the extension manager, the admin API)
declares what a caller needs by putting a ``Permission`` in ``scope["luban.permission"]``
before this stage runs, or by wrapping its app in ``RequirePermission``. The stage also puts
the authorizer in ``scope["luban.authorizer"]`` so handlers can check explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.auth.authorizer import Attributes, Authorizer, Decision, forbidden_error
from luban.auth.user import UserInfo
from luban.kube.errors import APIError
from luban.kube.requestinfo import RequestInfo
from luban.pipeline.authentication import USER_KEY
from luban.pipeline.denial import deny
from luban.pipeline.request_info import REQUEST_INFO_KEY

PERMISSION_KEY = "luban.permission"
AUTHORIZER_KEY = "luban.authorizer"
DECISION_KEY = "luban.decision"


@dataclass(frozen=True)
class Permission:
    """What a route needs, e.g. ``Permission("list", "pods")``.

    ``namespace``/``name`` left as ``None`` come from the request: the route's
    ``namespace``/``name`` path parameters, else the request info of a Kubernetes path.
    A permission without ``resource`` is on the non-resource ``path`` (the request path
    when empty).
    """

    verb: str
    resource: str = ""
    group: str = ""
    subresource: str = ""
    namespace: str | None = None
    name: str | None = None
    path: str = ""

    def attributes(self, scope: Scope) -> Attributes:
        """The review attributes for this permission on the request in ``scope``."""
        if not self.resource:
            return Attributes(self.verb, path=self.path or scope["path"])
        params: dict[str, str] = scope.get("path_params") or {}
        info: RequestInfo | None = scope.get(REQUEST_INFO_KEY)
        namespace = self.namespace
        if namespace is None:
            namespace = params.get("namespace") or (info.namespace if info else "")
        name = self.name if self.name is not None else params.get("name", "")
        return Attributes(
            self.verb,
            resource=self.resource,
            group=self.group,
            namespace=namespace,
            name=name,
            subresource=self.subresource,
        )


async def authorize(
    scope: Scope, send: Send, authorizer: Authorizer, permission: Permission
) -> bool:
    """Check ``permission`` for the caller; on refusal answer the request and return False."""
    user: UserInfo | None = scope.get(USER_KEY)
    if user is None:
        await deny(scope, send, APIError(401, "Unauthorized", "Unauthorized"))
        return False
    attributes = permission.attributes(scope)
    decision = await authorizer.check(user, attributes)
    scope[DECISION_KEY] = decision
    if decision.allowed:
        return True
    await deny(scope, send, refusal(user, attributes, decision))
    return False


def refusal(user: UserInfo, attributes: Attributes, decision: Decision) -> APIError:
    """The error for a refused (or undecidable) request."""
    if decision.error:
        return APIError(
            503, "authorization is unavailable: " + decision.error, "ServiceUnavailable"
        )
    return forbidden_error(user, attributes, decision.reason)


class AuthorizationMiddleware:
    """Enforces ``scope["luban.permission"]`` when a route declared one."""

    def __init__(self, app: ASGIApp, authorizer: Authorizer) -> None:
        self.app = app
        self.authorizer = authorizer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[AUTHORIZER_KEY] = self.authorizer
            permission: Permission | None = scope.get(PERMISSION_KEY)
            if permission is not None and not await authorize(
                scope, send, self.authorizer, permission
            ):
                return
        await self.app(scope, receive, send)


class RequirePermission:
    """Wraps a route's ASGI app: the caller needs ``permission`` (checked after routing)."""

    def __init__(self, app: ASGIApp, permission: Permission) -> None:
        self.app = app
        self.permission = permission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[PERMISSION_KEY] = self.permission
            authorizer: Authorizer | None = scope.get(AUTHORIZER_KEY)
            if authorizer is None:
                # Mounted outside the pipeline: refuse rather than serve unchecked.
                await deny(scope, send, APIError(503, "no authorizer", "ServiceUnavailable"))
                return
            if not await authorize(scope, send, authorizer, self.permission):
                return
        await self.app(scope, receive, send)
