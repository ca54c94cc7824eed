"""Baseline: the least a Starlette app can do, served by uvicorn exactly as the kernel is.

``/healthz`` answers ``ok``; every other path gets Starlette's default 404. Run it with
``python -m bench.baselines.bare_starlette --port P --workers N``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


async def healthz(request: Request) -> Response:
    """``GET /healthz``: the same body and content type as the kernel's."""
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/healthz", healthz, methods=["GET"])])


def main(argv: Sequence[str] | None = None) -> None:
    """Serve :data:`app` with the kernel's uvicorn options (uvloop, httptools, no access log)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(
        "bench.baselines.bare_starlette:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
