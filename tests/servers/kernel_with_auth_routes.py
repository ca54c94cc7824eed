"""``luban serve`` plus routes that declare permissions, the way extensions will."""

from __future__ import annotations

import sys

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, request_response

from luban.cli import main
from luban.pipeline.authentication import USER_KEY
from luban.pipeline.authorization import AUTHORIZER_KEY, Permission, RequirePermission


async def pods(request: Request) -> Response:
    return JSONResponse({"user": request.scope[USER_KEY].name})


async def can_i(request: Request) -> Response:
    """Checks explicitly through the authorizer in the scope."""
    decision = await request.scope[AUTHORIZER_KEY].allowed(
        request.scope[USER_KEY], verb=request.query_params["verb"], resource="secrets",
        namespace=request.query_params.get("namespace", ""),
    )  # fmt: skip
    return JSONResponse({"allowed": decision.allowed, "reason": decision.reason})


if __name__ == "__main__":
    routes = [
        Route("/test/namespaces/{namespace}/pods",
              RequirePermission(request_response(pods), Permission("list", "pods"))),
        Route("/test/can-i", can_i),
    ]  # fmt: skip
    sys.exit(main(["serve", *sys.argv[1:]], routes=routes))
