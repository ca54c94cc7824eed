"""The request pipeline: every stage a small pure-ASGI class, composed in one visible place."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from starlette.types import ASGIApp

from luban.auth.bearer import Authenticator
from luban.observability.metrics import KernelMetrics
from luban.pipeline.authentication import AuthenticationMiddleware
from luban.pipeline.errors import ErrorMiddleware
from luban.pipeline.metrics import MetricsMiddleware
from luban.pipeline.request_id import RequestIdMiddleware

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})

Stage = Callable[[ASGIApp], ASGIApp]


def build_pipeline(
    app: ASGIApp,
    *,
    metrics: KernelMetrics,
    authenticators: list[Authenticator],
    require_auth: bool,
) -> ASGIApp:
    """Wrap ``app`` in the request stages; a request passes them top to bottom."""
    stages: list[Stage] = [
        RequestIdMiddleware,
        partial(MetricsMiddleware, metrics=metrics),
        ErrorMiddleware,
        partial(
            AuthenticationMiddleware,
            authenticators=authenticators,
            public_paths=PUBLIC_PATHS,
            required=require_auth,
        ),
    ]
    for stage in reversed(stages):
        app = stage(app)
    return app
