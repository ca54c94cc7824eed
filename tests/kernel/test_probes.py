"""The probe fast path answers from the same checks as the full health endpoints."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry
from starlette.responses import PlainTextResponse

from luban.observability.health import Health
from luban.pipeline.probes import ProbeMiddleware


async def _fallthrough(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    await PlainTextResponse("full endpoint")(scope, receive, send)


async def test_failing_readiness_is_a_503_listing_the_check_and_liveness_stays_ok() -> None:
    health = Health()
    state: dict[str, str | None] = {"problem": "upstream unreachable (ClientConnectorError)"}

    async def upstream() -> str | None:
        return state["problem"]

    health.add_readiness("upstream-default", upstream)
    registry = CollectorRegistry()
    app = ProbeMiddleware(_fallthrough, health, registry)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://k") as c:
        ready = await c.get("/readyz", headers={"X-Request-Id": "probe-1"})
        assert ready.status_code == 503
        assert "[-]upstream-default failed: upstream unreachable" in ready.text
        assert ready.headers["x-request-id"] == "probe-1"
        assert (await c.get("/livez")).text == "ok"
        assert (await c.get("/healthz")).status_code == 503
        state["problem"] = None
        assert (await c.get("/readyz")).text == "ok"
        # Anything with a query string or another method goes to the full endpoint.
        assert (await c.get("/readyz?verbose")).text == "full endpoint"
        assert (await c.post("/readyz")).text == "full endpoint"
    failed = registry.get_sample_value(
        "luban_probe_requests_total", {"endpoint": "/readyz", "code": "503"}
    )
    assert failed == 1
