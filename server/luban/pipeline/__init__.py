"""The request pipeline: every stage a small pure-ASGI class, composed in one visible place."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from starlette.types import ASGIApp

from luban.auth.audit import AuditLog
from luban.auth.authorizer import Authorizer
from luban.auth.bearer import Authenticator
from luban.config import Settings
from luban.observability.health import Health
from luban.observability.metrics import KernelMetrics
from luban.pipeline.audit import AuditMiddleware
from luban.pipeline.authentication import AuthenticationMiddleware
from luban.pipeline.authorization import AuthorizationMiddleware
from luban.pipeline.errors import ErrorMiddleware
from luban.pipeline.host_check import LoopbackHostMiddleware, is_loopback_bind
from luban.pipeline.impersonation import ImpersonationMiddleware
from luban.pipeline.metrics import MetricsMiddleware
from luban.pipeline.path_safety import PathSafetyMiddleware
from luban.pipeline.probes import ProbeMiddleware
from luban.pipeline.request_id import RequestIdMiddleware
from luban.pipeline.request_info import RequestInfoMiddleware
from luban.pipeline.routing import ExtensionRoutes, KernelRouter
from luban.ratelimit.limits import RateLimits
from luban.ratelimit.middleware import RateLimitMiddleware

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
    authorizer: Authorizer,
    audit: AuditLog | None = None,
    rate_limits: RateLimits | None = None,
    extensions: ExtensionRoutes | None = None,
) -> ASGIApp:
    """Wrap ``app`` in the request stages; a request passes them top to bottom."""
    passthrough = proxy is not None and settings.proxy.identity == "passthrough"
    stages: list[Stage] = [
        partial(ProbeMiddleware, health=health, registry=metrics.registry),
        RequestIdMiddleware,
        partial(MetricsMiddleware, metrics=metrics),
    ]
    if audit is not None:
        stages.append(partial(AuditMiddleware, log=audit, skip_paths=PUBLIC_PATHS))
    stages += [ErrorMiddleware, PathSafetyMiddleware]
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
            anonymous=settings.auth.anonymous,
        ),
        *([partial(RateLimitMiddleware, limits=rate_limits)] if rate_limits is not None else []),
        partial(ImpersonationMiddleware, authorizer=authorizer, upstream_decides=passthrough),
        partial(AuthorizationMiddleware, authorizer=authorizer),
    ]
    routed: ASGIApp = (
        KernelRouter(proxy, app, extensions) if proxy is not None or extensions is not None else app
    )
    for stage in reversed(stages):
        routed = stage(routed)
    return routed
