"""``luban serve`` plus two routes tests need: a slow one and one that raises."""

from __future__ import annotations

import asyncio
import sys

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from luban.cli import main


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("seconds", "1")))
    return PlainTextResponse("finished")


async def boom(request: Request) -> Response:
    raise RuntimeError("secret internal detail: password=hunter2")


if __name__ == "__main__":
    routes = [Route("/test/slow", slow), Route("/test/boom", boom)]
    sys.exit(main(["serve", *sys.argv[1:]], routes=routes))
