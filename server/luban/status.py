"""Kubernetes ``Status`` objects: the one error shape every route answers with."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Send

# The reasons apimachinery's StatusReason uses for each code (k8s.io/apimachinery/pkg/apis/meta/v1).
REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    431: "BadRequest",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(
    code: int,
    message: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a failure ``Status`` object for HTTP ``code``."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, HTTPStatus(code).phrase.replace(" ", "")),
        "code": code,
    }
    if details:
        body["details"] = dict(details)
    return body


class StatusResponse(Response):
    """A JSON ``Status`` response with the matching HTTP code."""

    media_type = "application/json"

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            orjson.dumps(status_body(code, message, reason, details)),
            status_code=code,
            headers=headers,
        )


async def send_status(
    send: Send,
    code: int,
    message: str,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Send a ``Status`` response straight on an ASGI ``send`` (for pure-ASGI stages)."""
    body = orjson.dumps(status_body(code, message, reason))
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": code, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
