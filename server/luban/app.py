"""Assembling the kernel: its parts, its routes and the request pipeline around them."""

from __future__ import annotations

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
from luban.auth.bearer import AdminTokenAuthenticator, Authenticator
from luban.config import ConfigError, Settings
from luban.credentials import ensure_admin_token
from luban.observability.health import Health
from luban.observability.metrics import KernelMetrics
from luban.pipeline import build_pipeline
from luban.pipeline.request_id import request_id_of
from luban.proxy.app import KubeProxy, upstream_specs
from luban.proxy.credentials import CredentialsError
from luban.proxy.metrics import ProxyMetrics
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
        self.authenticators: list[Authenticator] = [AdminTokenAuthenticator(self.admin_token)]
        self.proxy = KubeProxy(settings.proxy, ProxyMetrics(self.metrics.registry), settings.scheme)
        self.proxy_enabled = settings.upstream.kubeconfig is not None or bool(
            os.environ.get("KUBERNETES_SERVICE_HOST")
        )

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Start the parts before serving; stop them after the last request drained."""
        if self.proxy_enabled:
            try:
                await self.proxy.start(upstream_specs(self.settings))
            except CredentialsError as exc:
                raise ConfigError(f"upstream: {exc}") from None
            for name, upstream in self.proxy.upstreams.items():
                self.health.add_readiness(f"upstream-{name}", upstream.health)
        try:
            yield
        finally:
            await self.proxy.stop()

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
    )


def create_app_from_environment() -> ASGIApp:
    """App factory for uvicorn worker processes: settings arrive as JSON in the environment."""
    return create_app(Settings.model_validate(orjson.loads(os.environ[SETTINGS_ENV])))
