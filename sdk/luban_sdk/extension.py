"""The ``Extension`` declaration: identity, metadata, routes, lifecycle hooks, config and UI."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.websockets import WebSocket

Handler = Callable[[Request], Awaitable[Response]]
WebSocketHandler = Callable[[WebSocket], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]
RateLimitKey = Literal["user", "ip", "global"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VERSION = re.compile(r"^v[0-9]+((alpha|beta)[0-9]+)?$")
_RATE = re.compile(r"^([1-9][0-9]*)/(second|minute|hour|day)$")
_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def parse_rate(rate: str) -> tuple[int, float]:
    """``"20/minute"`` -> ``(20, 60.0)``: requests allowed per period in seconds."""
    match = _RATE.match(rate)
    if match is None:
        raise ValueError(f"rate limit {rate!r} must look like 20/minute (second|minute|hour|day)")
    return int(match.group(1)), _PERIODS[match.group(2)]


@dataclass(frozen=True)
class RouteSpec:
    """One route of an extension, relative to its ``/kapis/{group}/{version}`` prefix.

    ``permission`` is a ``(verb, resource)`` pair (``("list", "pods")``, or
    ``("get", "deployments.apps")`` for a non-core group) the caller must be allowed; the
    kernel checks it in the request's namespace (the ``namespace`` path parameter) if any.
    """

    path: str
    methods: tuple[str, ...]
    handler: Handler | WebSocketHandler
    name: str
    websocket: bool = False
    rate_limit: str | None = None
    rate_limit_key: RateLimitKey = "user"
    permission: tuple[str, str] | None = None


@dataclass
class Extension:
    """Declares an extension: identity, metadata, routes, hooks, config model and UI bundle.

    ::

        ext = Extension(name="hello", api_group="hello.luban.io", version="v1")

        @ext.get("/greetings/{name}", permission=("get", "namespaces"), rate_limit="20/minute")
        async def greet(request: Request) -> Response: ...
    """

    name: str
    api_group: str
    version: str
    display_name: str = ""
    description: str = ""
    extension_version: str = "0.0.0"
    min_kernel_version: str = "0.0.0"
    config_model: type[BaseModel] | None = None
    ui_dir: Path | None = None
    routes: list[RouteSpec] = field(default_factory=list)
    startup_hooks: list[Hook] = field(default_factory=list)
    shutdown_hooks: list[Hook] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _DNS_LABEL.match(self.name) or len(self.name) > 63:
            raise ValueError(f"extension name {self.name!r} must be a DNS label")
        if not _DNS_SUBDOMAIN.match(self.api_group) or "." not in self.api_group:
            raise ValueError(f"api_group {self.api_group!r} must be a dotted DNS subdomain")
        if not _VERSION.match(self.version):
            raise ValueError(f"version {self.version!r} must look like v1, v1beta1, v2alpha3")
        if self.config_model is not None and not (
            isinstance(self.config_model, type) and issubclass(self.config_model, BaseModel)
        ):
            raise TypeError("config_model must be a pydantic BaseModel subclass")
        if self.ui_dir is not None:
            self.ui_dir = Path(self.ui_dir)

    @property
    def prefix(self) -> str:
        """The URL prefix every route of this extension lives under."""
        return f"/kapis/{self.api_group}/{self.version}"

    # -- routes -------------------------------------------------------------------------------

    def route(
        self,
        path: str,
        methods: tuple[str, ...],
        *,
        rate_limit: str | None = None,
        rate_limit_key: RateLimitKey = "user",
        permission: tuple[str, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a handler for ``path`` (relative to :attr:`prefix`) and ``methods``.

        A handler may return any Starlette response, including a ``StreamingResponse``.
        """
        self._check(path, methods, rate_limit, permission)

        def register(handler: Handler) -> Handler:
            self.routes.append(
                RouteSpec(
                    path,
                    methods,
                    handler,
                    handler.__name__,
                    rate_limit=rate_limit,
                    rate_limit_key=rate_limit_key,
                    permission=permission,
                )
            )
            return handler

        return register

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        """Register a GET route (options as for :meth:`route`)."""
        return self.route(path, ("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        """Register a POST route."""
        return self.route(path, ("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        """Register a PUT route."""
        return self.route(path, ("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        """Register a PATCH route."""
        return self.route(path, ("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        """Register a DELETE route."""
        return self.route(path, ("DELETE",), **options)

    def websocket(
        self, path: str, *, permission: tuple[str, str] | None = None
    ) -> Callable[[WebSocketHandler], WebSocketHandler]:
        """Register a WebSocket route; the handler receives a Starlette ``WebSocket``."""
        self._check(path, ("GET",), None, permission)

        def register(handler: WebSocketHandler) -> WebSocketHandler:
            self.routes.append(
                RouteSpec(path, ("GET",), handler, handler.__name__, True, permission=permission)
            )
            return handler

        return register

    # -- lifecycle ----------------------------------------------------------------------------

    def on_startup(self, hook: Hook) -> Hook:
        """Run ``hook`` before the extension serves (open clients, fill caches)."""
        self.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        """Run ``hook`` after the extension stopped serving (close what startup opened)."""
        self.shutdown_hooks.append(hook)
        return hook

    def _check(
        self,
        path: str,
        methods: tuple[str, ...],
        rate_limit: str | None,
        permission: tuple[str, str] | None,
    ) -> None:
        if not path.startswith("/") or "//" in path or ".." in path:
            raise ValueError(f"route path {path!r} must start with '/' and be normalized")
        try:
            compile_path(path)
        except (ValueError, AssertionError, KeyError) as exc:
            # Duplicated or badly converted parameters: refused here, at the author's line.
            raise ValueError(f"route path {path!r}: {exc}") from None
        for method in methods:
            if method not in _METHODS:
                raise ValueError(f"route method {method!r} is not one of {', '.join(_METHODS)}")
        if rate_limit is not None:
            parse_rate(rate_limit)
        if permission is not None and (
            len(permission) != 2 or not all(isinstance(p, str) and p for p in permission)
        ):
            raise ValueError(f"permission {permission!r} must be a (verb, resource) pair")
