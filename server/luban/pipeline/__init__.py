"""The request pipeline: every stage a small pure-ASGI class, composed in one visible place."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from starlette.types import ASGIApp

from luban.auth.bearer import Authenticator
from luban.config import Settings
from luban.observability.health import Health
from luban.observability.metrics import KernelMetrics
from luban.pipeline.authentication import AuthenticationMiddleware
from luban.pipeline.errors import ErrorMiddleware
from luban.pipeline.host_check import LoopbackHostMiddleware, is_loopback_bind
from luban.pipeline.metrics import MetricsMiddleware
from luban.pipeline.probes import ProbeMiddleware
from luban.pipeline.request_id import RequestIdMiddleware
from luban.pipeline.request_info import RequestInfoMiddleware
from luban.pipeline.routing import KernelRouter

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})

Stage = Callable[[ASGIApp], ASGIApp]


def build_pipeline(
    app: ASGIApp,
    *,
    proxy: ASGIApp | None,
    settings: Settings,
    metrics: KernelMetrics,
    health: Health,
    authenticators: list[Authenticator],
) -> ASGIApp:
    """Wrap ``app`` in the request stages; a request passes them top to bottom."""
    passthrough = proxy is not None and settings.proxy.identity == "passthrough"
    stages: list[Stage] = [
        partial(ProbeMiddleware, health=health, registry=metrics.registry),
        RequestIdMiddleware,
        partial(MetricsMiddleware, metrics=metrics),
        ErrorMiddleware,
    ]
    if is_loopback_bind(settings.server.host):
        stages.append(LoopbackHostMiddleware)
    stages += [
        RequestInfoMiddleware,
        partial(
            AuthenticationMiddleware,
            authenticators=authenticators,
            public_paths=PUBLIC_PATHS,
            required=settings.auth.require,
            upstream_decides=passthrough,
        ),
    ]
    routed: ASGIApp = KernelRouter(proxy, app) if proxy is not None else app
    for stage in reversed(stages):
        routed = stage(routed)
    return routed
