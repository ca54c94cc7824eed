"""Stage: count requests and time them, by route template, method and code."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.observability.metrics import KernelMetrics
from luban.pipeline.request_id import response_status

UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The matched route's template (``/api/v1/{path}``), or ``<unmatched>``."""
    template = scope.get("luban.route")
    if template is not None:
        return str(template)
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else UNMATCHED


class MetricsMiddleware:
    """Feeds ``luban_http_*`` metrics; cheap enough to stay on for every request.

    Runs inside the request-id stage, which records the response status.
    """

    def __init__(self, app: ASGIApp, metrics: KernelMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, str], tuple[object, object]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        in_flight = self.metrics.in_flight
        in_flight.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            in_flight.dec()
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            key = (route_template(scope), method, str(response_status(scope) or 500))
            children = self._children.get(key)
            if children is None:
                children = (
                    self.metrics.requests.labels(*key),
                    self.metrics.latency.labels(key[0], key[1]),
                )
                self._children[key] = children
            counter, histogram = children
            counter.inc()  # type: ignore[attr-defined]
            histogram.observe(time.perf_counter() - start)  # type: ignore[attr-defined]
