"""Stage: no exception escapes; an unhandled one is logged and answered as a 500 ``Status``."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.pipeline.request_id import request_id_of, response_status
from luban.status import send_status

logger = logging.getLogger("luban.errors")


class ErrorMiddleware:
    """Catches what the layers inside let through, so clients never see a stack trace.

    Runs inside the request-id stage, which records whether the response started.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception:
            logger.exception("unhandled error serving %s %s", scope["method"], scope["path"])
            if response_status(scope) is None:
                await send_status(send, 500, f"Internal error (request id {request_id_of(scope)})")
