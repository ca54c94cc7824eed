"""An in-process uvicorn server: request-info -> authentication -> rate limit -> routes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from luban.auth.user import UserInfo
from luban.pipeline.authentication import AuthenticationMiddleware
from luban.pipeline.request_info import RequestInfoMiddleware
from luban.ratelimit.limits import RateLimits
from luban.ratelimit.middleware import RateLimitMiddleware


class NameTokens:
    """Test authenticator: the bearer token is the user's name."""

    async def authenticate_token(self, token: str) -> UserInfo | None:
        return UserInfo(name=token)


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _pods(request: Request) -> Response:
    if request.query_params.get("watch") != "true":
        return PlainTextResponse("list")

    async def events() -> AsyncIterator[bytes]:
        yield b'{"type":"ADDED"}\n'
        await asyncio.sleep(float(request.query_params.get("hold", "30")))

    return StreamingResponse(events(), media_type="application/json")


async def _client(request: Request) -> Response:
    forwarded = request.scope.get("luban.forwarded_for")
    return PlainTextResponse(
        f"{request.scope.get('luban.client_ip')}|{forwarded.decode() if forwarded else ''}"
    )


ROUTES = [
    Route("/healthz", _ok),
    Route("/kapis/demo.io/v1/things", _ok, methods=["GET", "POST"]),
    Route("/kapis/demo.io/v1/namespaces/{ns}/things", _ok),
    Route("/api/v1/pods", _pods),
    Route("/api/v1/namespaces/{ns}/pods", _pods),
    Route("/client", _client),
]


@contextlib.asynccontextmanager
async def serve(limits: RateLimits) -> AsyncIterator[str]:
    """Serve the pipeline on 127.0.0.1 (ephemeral port); yield its base URL."""
    app = Starlette(routes=ROUTES)
    pipeline = RequestInfoMiddleware(
        AuthenticationMiddleware(
            RateLimitMiddleware(app, limits),
            authenticators=[NameTokens()],
            public_paths=frozenset({"/healthz", "/client"}),
        )
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        pipeline, log_config=None, lifespan="off", http="httptools", proxy_headers=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await task
        sock.close()
