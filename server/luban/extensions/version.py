"""One loaded version of an extension: its routes as an ASGI app, in-flight accounting, hooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from pydantic import BaseModel
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send

from luban.auth.user import UserInfo
from luban.extensions.guards import split_resource
from luban.extensions.metrics import ExtensionMetrics
from luban.extensions.sources import ExtensionSource
from luban.kube.errors import APIError
from luban.pipeline.authorization import AUTHORIZER_KEY, Permission, authorize
from luban.pipeline.denial import deny
from luban.status import send_status
from luban_sdk import Extension, RouteSpec
from luban_sdk.context import (
    CONTEXT_KEY,
    Caller,
    KubeClient,
    RequestContext,
    ResourceQueries,
)

USER_KEY = "luban.user"
ROUTE_KEY = "luban.route"
_PINNING_KEYS = (CONTEXT_KEY, "endpoint", "route", "app")


@dataclass(frozen=True)
class Services:
    """What the kernel lends every loaded version."""

    metrics: ExtensionMetrics
    kube: Callable[[UserInfo | None], KubeClient | None]
    resources: Callable[[UserInfo | None], ResourceQueries | None]


def _caller(user: UserInfo | None) -> Caller | None:
    if user is None:
        return None
    return Caller(user.name, user.uid, user.groups, dict(user.extra))


class LoadedVersion:
    """An imported, validated extension version; serves requests once started."""

    def __init__(
        self,
        source: ExtensionSource,
        extension: Extension,
        modules: dict[str, ModuleType],
        config: BaseModel | None,
        services: Services,
    ) -> None:
        self.source = source
        self.extension = extension
        self.modules = modules
        self.config = config
        self.services = services
        self.logger = logging.getLogger(f"luban.ext.{extension.name}")
        self.routes: list[tuple[RouteSpec, BaseRoute]] = [
            (spec, self._route(spec)) for spec in extension.routes
        ]
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.started = False

    def _route(self, spec: RouteSpec) -> BaseRoute:
        path = self.extension.prefix + spec.path
        if spec.websocket:
            return WebSocketRoute(path, spec.handler)
        return Route(path, spec.handler, methods=list(spec.methods))

    # -- lifecycle ----------------------------------------------------------------------------

    async def startup(self) -> None:
        """Run the startup hooks in declaration order."""
        for hook in self.extension.startup_hooks:
            await hook()
        self.started = True

    async def shutdown(self) -> None:
        """Run the shutdown hooks in reverse order; log (and survive) their errors."""
        for hook in reversed(self.extension.shutdown_hooks):
            try:
                await hook()
            except Exception:
                self.logger.exception("shutdown hook %s failed", getattr(hook, "__name__", hook))
        self.started = False

    async def drained(self) -> None:
        """Wait until no request is being served by this version."""
        await self._idle.wait()

    # -- serving ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.in_flight += 1
        self._idle.clear()
        try:
            await self._dispatch(scope, receive, send)
        finally:
            # Servers may keep a finished request's scope (keep-alive): drop what pins us.
            for key in _PINNING_KEYS:
                scope.pop(key, None)
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        partial: tuple[RouteSpec, BaseRoute] | None = None
        for spec, route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                scope[ROUTE_KEY] = self.extension.prefix + spec.path
                await self._serve(spec, route, scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial = (spec, route)
        name = self.extension.name
        if partial is not None:
            scope[ROUTE_KEY] = self.extension.prefix + partial[0].path
            await self._refuse(scope, send, 405, "the server does not allow this method")
        else:
            scope[ROUTE_KEY] = self.extension.prefix + "/**"
            await self._refuse(scope, send, 404, f"extension {name} has no such route")

    async def _refuse(
        self, scope: Scope, send: Send, code: int, message: str, **headers: str
    ) -> None:
        self.services.metrics.requests.labels(self.extension.name, str(code)).inc()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008 if code < 500 else 1011})
            return
        await send_status(send, code, message, headers=headers or None)

    async def _serve(
        self, spec: RouteSpec, route: BaseRoute, scope: Scope, receive: Receive, send: Send
    ) -> None:
        user: UserInfo | None = scope.get(USER_KEY)
        if spec.permission is not None and not await self._permitted(spec, scope, send):
            self.services.metrics.requests.labels(self.extension.name, "403").inc()
            return
        scope[CONTEXT_KEY] = RequestContext(
            caller=_caller(user),
            kube=self.services.kube(user),
            config=self.config,
            logger=self.logger,
            extension=self.extension.name,
            resources=self.services.resources(user),
        )
        started = False
        code = 500

        async def tracking_send(message: Message) -> None:
            nonlocal started, code
            if message["type"] in ("http.response.start", "websocket.accept"):
                started = True
                code = message.get("status", 101)
            await send(message)

        try:
            await route.handle(scope, receive, tracking_send)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 400 <= status < 600 and not started:
                await self._refuse(scope, send, status, str(getattr(exc, "detail", exc)))
                return
            self.logger.exception(
                "extension %s: %s %s failed",
                self.extension.name,
                scope.get("method", "WS"),
                scope["path"],
            )
            if not started:
                await self._refuse(
                    scope,
                    send,
                    500,
                    f"extension {self.extension.name} failed to answer (internal error)",
                )
            return
        self.services.metrics.requests.labels(self.extension.name, str(code)).inc()

    async def _permitted(self, spec: RouteSpec, scope: Scope, send: Send) -> bool:
        assert spec.permission is not None
        authorizer = scope.get(AUTHORIZER_KEY)
        if authorizer is None:
            # Served outside the kernel's pipeline: refuse rather than serve unchecked.
            await deny(scope, send, APIError(503, "no authorizer", "ServiceUnavailable"))
            return False
        verb, resource = spec.permission
        name, group = split_resource(resource)
        return await authorize(scope, send, authorizer, Permission(verb, name, group))
