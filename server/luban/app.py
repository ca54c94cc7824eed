"""Assembling the kernel: its parts, its routes and the request pipeline around them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from luban import __version__
from luban.auth.audit import AuditLog
from luban.auth.authorizer import Authorizer
from luban.auth.bearer import Authenticator
from luban.auth.chain import AuthChain
from luban.auth.reviews import ReviewClient
from luban.config import ConfigError, Settings
from luban.credentials import ensure_admin_token
from luban.extensions.admin import AdminAPI
from luban.extensions.manager import ExtensionManager
from luban.observability.health import Health
from luban.observability.metrics import KernelMetrics
from luban.pipeline import build_pipeline
from luban.pipeline.request_id import request_id_of
from luban.proxy.app import KubeProxy, upstream_specs
from luban.proxy.credentials import CredentialsError
from luban.proxy.metrics import ProxyMetrics
from luban.ratelimit.limits import RateLimits
from luban.ratelimit.reload import watch_config
from luban.resources import CacheManager, ResourceAPI
from luban.runtime import raise_open_file_limit, tune_garbage_collection
from luban.status import StatusResponse

SETTINGS_ENV = "LUBAN_SETTINGS_JSON"

_HTTP_MESSAGES = {
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
}


class Kernel:
    """The kernel's shared parts; one per process (per worker)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = KernelMetrics()
        self.health = Health()
        self.admin_token = ensure_admin_token(settings.data_dir)
        self.proxy = KubeProxy(settings.proxy, ProxyMetrics(self.metrics.registry), settings.scheme)
        # Reviews go to the default upstream with the kernel's own credentials.
        self.reviews = ReviewClient(lambda: self.proxy.upstreams.get("default"))
        self.auth = AuthChain(settings.auth, self.admin_token, self.reviews)
        self.authenticators: list[Authenticator] = self.auth.authenticators
        authz = settings.auth.authorization
        self.authorizer = Authorizer(
            self.reviews,
            ttl=authz.ttl_seconds,
            negative_ttl=authz.negative_ttl_seconds,
            max_entries=authz.max_entries,
        )
        self.audit = AuditLog(settings.audit.path) if settings.audit.path else None
        # Extensions declare their routes' defaults here (RateLimits.set_route_defaults).
        self.rate_limits = RateLimits(
            settings.rate_limits,
            trusted_proxies=settings.trusted_proxies,
            headers=settings.rate_limit_headers,
            exempt_paths=settings.rate_limit_exempt_paths,
            registry=self.metrics.registry,
        )
        self.proxy_enabled = settings.upstream.kubeconfig is not None or bool(
            os.environ.get("KUBERNETES_SERVICE_HOST")
        )
        self.extensions = ExtensionManager(settings.extensions, self.metrics.registry, __version__)
        self.extensions.limits = self.rate_limits
        self.extensions.admin = AdminAPI(self.extensions)
        # The Resource API (/kapi, /kapis): caches fed by the default upstream.
        default_upstream = lambda: self.proxy.upstreams.get("default")  # noqa: E731
        self.caches = CacheManager(default_upstream, settings.resources, self.metrics.registry)
        self.resources = ResourceAPI(
            self.caches, self.authorizer, default_upstream, settings.resources
        )
        self.extensions.resources_app = self.resources

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Start the parts before serving; stop them, in reverse, after the last request.

        A part that fails to start still gets the parts started before it stopped.
        """
        async with contextlib.AsyncExitStack() as started:
            if self.proxy_enabled:
                started.push_async_callback(self.proxy.stop)
                try:
                    await self.proxy.start(upstream_specs(self.settings))
                except CredentialsError as exc:
                    raise ConfigError(f"upstream: {exc}") from None
                for name, upstream in self.proxy.upstreams.items():
                    self.health.add_readiness(f"upstream-{name}", upstream.health)
            if self.audit is not None:
                await self.audit.start()
                started.push_async_callback(self.audit.stop)
            started.push_async_callback(self.authorizer.aclose)
            await self.auth.start()
            started.push_async_callback(self.auth.stop)
            if self.proxy_enabled and self.settings.resources.enabled:
                await self.caches.start()
                started.push_async_callback(self.caches.stop)
            await self.extensions.start(
                self.proxy.upstreams.get("default") if self.proxy_enabled else None
            )
            started.push_async_callback(self.extensions.stop)
            if self.settings.config_file is not None:
                reloader = asyncio.create_task(
                    watch_config(self.settings.config_file, self.rate_limits),
                    name="ratelimit-reload",
                )
                started.push_async_callback(_cancel, reloader)
            yield

    async def version(self, request: Request) -> Response:
        """``GET /version`` in the shape of Kubernetes' ``version.Info``."""
        major, minor, *_ = __version__.split(".")
        body = {
            "major": major,
            "minor": minor,
            "gitVersion": f"v{__version__}",
            "gitCommit": "",
            "gitTreeState": "",
            "buildDate": "",
            "goVersion": f"python{platform.python_version()}",
            "compiler": platform.python_implementation().lower(),
            "platform": f"{sys.platform}/{platform.machine()}",
            "luban": {"version": __version__},
        }
        return Response(orjson.dumps(body), media_type="application/json")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code, exc.detail)
    return StatusResponse(exc.status_code, message, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return StatusResponse(500, f"Internal error (request id {request_id_of(request.scope)})")


def create_app(settings: Settings, routes: Sequence[BaseRoute] = ()) -> ASGIApp:
    """Build the kernel's ASGI application for ``settings`` (plus any extra ``routes``)."""
    kernel = Kernel(settings)
    kernel_routes: list[BaseRoute] = [
        Route("/healthz", kernel.health.healthz, methods=["GET"]),
        Route("/livez", kernel.health.livez, methods=["GET"]),
        Route("/readyz", kernel.health.readyz, methods=["GET"]),
        Route("/metrics", kernel.metrics.endpoint, methods=["GET"]),
        Route("/version", kernel.version, methods=["GET"]),
        *routes,
        # The Resource API; an extension's /kapis/{group}/{version} is routed before (KernelRouter).
        Route("/kapi/{path:path}", kernel.resources),
        Route("/kapis/{path:path}", kernel.resources),
    ]
    app = Starlette(
        routes=kernel_routes,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        lifespan=kernel.lifespan,
    )
    return build_pipeline(
        app,
        proxy=kernel.proxy if kernel.proxy_enabled else None,
        settings=settings,
        metrics=kernel.metrics,
        health=kernel.health,
        authenticators=kernel.authenticators,
        authorizer=kernel.authorizer,
        audit=kernel.audit,
        rate_limits=kernel.rate_limits,
        extensions=kernel.extensions,
    )


def create_app_from_environment() -> ASGIApp:
    """App factory for uvicorn worker processes: settings arrive as JSON in the environment.

    Workers are fresh interpreters (spawned): process settings the parent applied, such as
    the garbage-collection thresholds, must be applied again here.
    """
    tune_garbage_collection()
    raise_open_file_limit()
    return create_app(Settings.model_validate(orjson.loads(os.environ[SETTINGS_ENV])))
