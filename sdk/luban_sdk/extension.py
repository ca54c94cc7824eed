"""The ``Extension`` declaration: identity, metadata and routes of one extension."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VERSION = re.compile(r"^v[0-9]+((alpha|beta)[0-9]+)?$")


@dataclass(frozen=True)
class RouteSpec:
    """One HTTP route of an extension, relative to its ``/kapis/{group}/{version}`` prefix."""

    path: str
    methods: tuple[str, ...]
    handler: Handler
    name: str


@dataclass
class Extension:
    """Declares an extension: its name, API group and version, metadata and routes.

    Routes are added with the method decorators::

        ext = Extension(name="hello", api_group="hello.luban.io", version="v1")

        @ext.get("/greetings")
        async def greetings(request: Request) -> Response: ...
    """

    name: str
    api_group: str
    version: str
    display_name: str = ""
    description: str = ""
    routes: list[RouteSpec] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _DNS_LABEL.match(self.name):
            raise ValueError(f"extension name {self.name!r} must be a DNS label")
        if not _DNS_SUBDOMAIN.match(self.api_group) or "." not in self.api_group:
            raise ValueError(f"api_group {self.api_group!r} must be a dotted DNS subdomain")
        if not _VERSION.match(self.version):
            raise ValueError(f"version {self.version!r} must look like v1, v1beta1, v2alpha3")

    @property
    def prefix(self) -> str:
        """The URL prefix every route of this extension lives under."""
        return f"/kapis/{self.api_group}/{self.version}"

    def route(self, path: str, methods: tuple[str, ...]) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``path`` (relative to :attr:`prefix`) and ``methods``."""
        if not path.startswith("/"):
            raise ValueError(f"route path {path!r} must start with '/'")

        def register(handler: Handler) -> Handler:
            self.routes.append(RouteSpec(path, methods, handler, handler.__name__))
            return handler

        return register

    def get(self, path: str) -> Callable[[Handler], Handler]:
        """Register a GET route."""
        return self.route(path, ("GET",))

    def post(self, path: str) -> Callable[[Handler], Handler]:
        """Register a POST route."""
        return self.route(path, ("POST",))

    def put(self, path: str) -> Callable[[Handler], Handler]:
        """Register a PUT route."""
        return self.route(path, ("PUT",))

    def patch(self, path: str) -> Callable[[Handler], Handler]:
        """Register a PATCH route."""
        return self.route(path, ("PATCH",))

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        """Register a DELETE route."""
        return self.route(path, ("DELETE",))
