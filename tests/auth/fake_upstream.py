"""A tiny stand-in API server answering TokenReview and SubjectAccessReview, counting them.

Only for what the embedded cluster cannot do on demand in a test: count reviews, change
answers mid-test, and echo the identity headers a proxied request arrived with. Every
other request is relayed to a real embedded cluster (``backend``), so the rest of the
kernel (extensions, resource caches) finds a working API server behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

UPSTREAM_TOKEN = "kernel-upstream-credential"
Rule = Callable[[dict[str, Any]], bool]


@dataclass
class FakeUpstream:
    """Answers reviews from ``tokens`` and ``allow``; records what reached it."""

    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    allow: Rule = lambda spec: False
    sars: int = 0
    token_reviews: int = 0
    seen: list[dict[str, list[str]]] = field(default_factory=list)
    url: str = ""
    backend: str = ""
    backend_token: str = ""
    backend_ca: Path | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/apis/authorization.k8s.io/v1/subjectaccessreviews", self._sar)
        app.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", self._token_review)
        app.router.add_get("/readyz", self._ok)
        app.router.add_get("/version", self._ok)
        app.router.add_get("/api/v1/namespaces/{ns}/pods", self._echo)
        app.router.add_route("*", "/{tail:.*}", self._relay)
        return app

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        if not self.backend:
            return web.json_response({"kind": "Status", "code": 404}, status=404)
        context = ssl.create_default_context(cafile=str(self.backend_ca))
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "authorization", "content-length")
        }
        headers["Authorization"] = f"Bearer {self.backend_token}"
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                self.backend + request.path_qs,
                headers=headers,
                data=await request.read(),
                ssl=context,
            ) as answer,
        ):
            response = web.StreamResponse(
                status=answer.status,
                headers={
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() not in ("transfer-encoding", "content-length", "connection")
                },
            )
            await response.prepare(request)
            with contextlib.suppress(ConnectionResetError):  # a watch the caller closed
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            return response

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {UPSTREAM_TOKEN}"

    async def _sar(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        self.sars += 1
        body = await request.json()
        allowed = self.allow(body["spec"])
        body["status"] = {"allowed": allowed, "reason": "fake rule" if allowed else ""}
        return web.json_response(body, status=201)

    async def _token_review(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        self.token_reviews += 1
        body = await request.json()
        user = self.tokens.get(body["spec"]["token"])
        body["status"] = {"authenticated": True, "user": user} if user else {}
        return web.json_response(body, status=201)

    async def _ok(self, request: web.Request) -> web.Response:
        return web.json_response({"gitVersion": "v1.99.0-fake"})

    async def _echo(self, request: web.Request) -> web.Response:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        self.seen.append(headers)
        return web.json_response({"kind": "PodList", "apiVersion": "v1", "items": []})

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "kernel", "user": {"token": UPSTREAM_TOKEN}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "kernel"}}],
        }))  # fmt: skip
        return path


@contextmanager
def serve_fake_upstream(upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    """Run ``upstream`` on 127.0.0.1 (an ephemeral port) in a thread with its own loop."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(upstream.app(), access_log=None)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        upstream.url = f"http://127.0.0.1:{port}"
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    ready.wait(10)
    try:
        yield upstream
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
