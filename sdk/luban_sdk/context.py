"""What a handler can reach while serving a request: caller, Kubernetes client, config, logger."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from starlette.requests import HTTPConnection

CONTEXT_KEY = "luban.extension.context"
ConfigT = TypeVar("ConfigT", bound=BaseModel)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller (Kubernetes ``user.Info``)."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class KubeError(Exception):
    """The Kubernetes API answered with an error; ``status`` is its ``Status`` body."""

    def __init__(self, code: int, status: Mapping[str, Any]) -> None:
        super().__init__(f"{code}: {status.get('message', '')}")
        self.code = code
        self.status = dict(status)


class KubeClient(Protocol):
    """A Kubernetes API client that acts as the caller (the API server sees the caller)."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send ``method path`` and return the decoded JSON body; raise :class:`KubeError`."""
        ...

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """``GET path``: one object or a list."""
        ...


class ResourceQueries(Protocol):
    """The kernel's Resource API (filter/sort/paginate over cached resources) as the caller."""

    async def list(
        self,
        group: str,
        version: str,
        resource: str,
        *,
        namespace: str | None = None,
        **query: str,
    ) -> Mapping[str, Any]:
        """``{"items": [...], "totalItems": N}``, as ``GET /kapis/{group}/{version}/...``.

        ``query``: ``name``, ``labelSelector``, ``fieldSelector``, ``sortBy``, ``ascending``,
        ``page``, ``limit``. Raises :class:`KubeError` when refused.
        """
        ...


@dataclass(frozen=True)
class RequestContext:
    """Per-request context the kernel hands to an extension's handlers."""

    caller: Caller | None
    kube: KubeClient | None
    config: BaseModel | None
    logger: logging.Logger
    extension: str
    resources: ResourceQueries | None = None

    def config_as(self, model: type[ConfigT]) -> ConfigT:
        """The extension's config, typed: ``ctx.config_as(HelloConfig).greeting``."""
        if not isinstance(self.config, model):
            raise TypeError(f"extension {self.extension!r} has no config of type {model.__name__}")
        return self.config


def context(connection: HTTPConnection) -> RequestContext:
    """The :class:`RequestContext` of the request (or WebSocket) being served."""
    try:
        ctx = connection.scope[CONTEXT_KEY]
    except KeyError:
        raise RuntimeError("not serving a request of a Luban extension") from None
    assert isinstance(ctx, RequestContext)
    return ctx
