"""A tiny upstream that holds watches open: ``python -m bench.lib.watch_upstream --port P``.

Any ``GET ...?watch=true`` (or ``watch=1``) gets response headers and one ``BOOKMARK`` event,
then nothing until the client goes away, like an idle watch on a quiet API server.
``GET /bench/watches`` answers how many watches are open right now (to check that closing
the clients closed every upstream request). Everything else answers a 404 ``Status``;
``/healthz`` and ``/readyz`` answer ``ok``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource

from aiohttp import web

BOOKMARK = (
    b'{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1",'
    b'"metadata":{"resourceVersion":"1"}}}\n'
)
NOT_FOUND = (
    b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
    b'"reason":"NotFound","code":404}'
)

OPEN_WATCHES = web.AppKey("open_watches", list[int])


async def _any(request: web.Request) -> web.StreamResponse:
    if request.query.get("watch") in ("true", "1"):
        return await _watch(request)
    return web.Response(status=404, body=NOT_FOUND, content_type="application/json")


async def _watch(request: web.Request) -> web.StreamResponse:
    counter = request.app[OPEN_WATCHES]
    response = web.StreamResponse()
    response.content_type = "application/json"
    await response.prepare(request)
    counter[0] += 1
    try:
        await response.write(BOOKMARK)
        await asyncio.Event().wait()  # until the client goes away (cancels this handler)
    finally:
        counter[0] -= 1
    return response


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _count(request: web.Request) -> web.Response:
    return web.json_response({"open": request.app[OPEN_WATCHES][0]})


def app() -> web.Application:
    """The upstream's routes."""
    application = web.Application()
    application[OPEN_WATCHES] = [0]
    application.router.add_get("/healthz", _ok)
    application.router.add_get("/readyz", _ok)
    application.router.add_get("/bench/watches", _count)
    application.router.add_route("*", "/{tail:.*}", _any)
    return application


def main() -> None:
    """Serve on ``127.0.0.1:--port`` until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    web.run_app(
        app(),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        handler_cancellation=True,  # a client going away cancels its watch handler
    )


if __name__ == "__main__":
    main()
