"""Starlette endpoints for ``/openapi/v3``, ``/openapi/v3/{gv}`` and ``/openapi/v2``.

They answer the way k8s.io/kube-openapi's handlers do: ETag on every document, 304 for a
matching ``If-None-Match``, ``?hash=`` pinned URLs marked ``Cache-Control: public, immutable``
(one-year ``Expires``), a 301 to the current URL for a stale hash, ``Vary: Accept``, and 406
for an ``Accept`` nothing here can satisfy. Documents are built off the event loop.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from luban.embedded.openapi import OpenAPIDocuments
from luban.embedded.openapi_v2_proto import V2_PROTOBUF_TYPES, v2_protobuf

_YEAR = 365 * 24 * 3600


def _status(code: int, reason: str, message: str) -> Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return Response(orjson.dumps(body), code, media_type="application/json")


def _accepts(request: Request, offered: tuple[str, ...]) -> str | None:
    """The first of ``offered`` that the request's Accept header allows (``*/*`` by default)."""
    header = request.headers.get("accept") or "*/*"
    clauses = [c.split(";")[0].strip().lower() for c in header.split(",") if c.strip()]
    for clause in clauses:
        for media in offered:
            main, _, sub = media.partition("/")
            c_main, _, c_sub = clause.partition("/")
            if c_main in (main, "*") and c_sub in (sub, "*"):
                return media
    return None


def _document(request: Request, data: bytes, etag: str, media: str) -> Response:
    headers = {"ETag": f'"{etag}"', "Vary": "Accept"}
    if etag in request.headers.get("if-none-match", "").replace('"', " ").split():
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media, headers=headers)


def openapi_routes(documents: Callable[[], OpenAPIDocuments]) -> list[Route]:
    """Routes serving the documents of ``documents()`` (called per request, so it may change)."""

    async def index(request: Request) -> Response:
        data, etag = await run_in_threadpool(documents().index)
        return _document(request, data, etag, "application/json")

    async def group_version(request: Request) -> Response:
        key = request.path_params["gv"].strip("/")
        media = _accepts(request, ("application/json",))
        if media is None:
            return _status(406, "NotAcceptable", "only application/json is served")
        found = await run_in_threadpool(documents().v3, key)
        if found is None:
            return _status(
                404, "NotFound", f"the server could not find the requested resource: {key}"
            )
        data, etag = found
        wanted = request.query_params.get("hash")
        if wanted and wanted != etag:
            return RedirectResponse(f"/openapi/v3/{key}?hash={etag}", status_code=301)
        response = _document(request, data, etag, media)
        if wanted:
            response.headers["Cache-Control"] = "public, immutable"
            response.headers["Expires"] = email.utils.formatdate(time.time() + _YEAR, usegmt=True)
        return response

    async def v2(request: Request) -> Response:
        media = _accepts(request, ("application/json", *V2_PROTOBUF_TYPES))
        if media is None:
            return _status(406, "NotAcceptable", "unsupported Accept for /openapi/v2")
        if media == "application/json":
            data, etag = await run_in_threadpool(documents().v2)
            return _document(request, data, etag, media)
        data, etag = await run_in_threadpool(v2_protobuf, documents())
        return _document(request, data, etag, V2_PROTOBUF_TYPES[1])

    return [
        Route("/openapi/v3", index, methods=["GET"]),
        Route("/openapi/v3/{gv:path}", group_version, methods=["GET"]),
        Route("/openapi/v2", v2, methods=["GET"]),
    ]
