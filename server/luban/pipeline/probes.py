"""Stage: answer plain liveness/readiness probes before the rest of the pipeline.

Kubelets and load balancers probe every few seconds per replica; a probe needs no
authentication, routing or per-route metrics, only the health checks. ``?verbose`` and
``?exclude=`` probes fall through to the full endpoints. Probes still get an
``X-Request-Id`` and are counted in ``luban_probe_requests_total``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from luban.observability.health import Health
from luban.pipeline.request_id import request_id_for

_OK_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]


class ProbeMiddleware:
    """Serves ``GET /healthz|/livez|/readyz`` (no query string) straight from the checks."""

    def __init__(self, app: ASGIApp, health: Health, registry: CollectorRegistry) -> None:
        self.app = app
        self.health = health
        counter = Counter(
            "luban_probe_requests_total",
            "Health probes answered by the probe fast path, by endpoint and code.",
            ["endpoint", "code"],
            registry=registry,
        )
        self._ok = {p: counter.labels(p, "200") for p in ("/healthz", "/livez", "/readyz")}
        self._failed = {p: counter.labels(p, "503") for p in ("/healthz", "/livez", "/readyz")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if (
            path not in self._ok
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["query_string"]
        ):
            await self.app(scope, receive, send)
            return
        problems = await self.health.failures(path[1:])
        request_id = (b"x-request-id", request_id_for(scope["headers"]))
        if not problems:
            self._ok[path].inc()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*_OK_HEADERS, request_id]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"ok"})
            return
        self._failed[path].inc()
        body = "".join(f"[-]{name} failed: {why}\n" for name, why in problems)
        body += f"{path[1:]} check failed\n"
        raw = body.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(raw)).encode()),
            request_id,
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": raw})
