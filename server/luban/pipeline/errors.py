"""Stage: no exception escapes; an unhandled one is logged and answered as a 500 ``Status``."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luban.pipeline.request_id import request_id_of
from luban.status import send_status

logger = logging.getLogger("luban.errors")


class ErrorMiddleware:
    """Catches what the layers inside let through, so clients never see a stack trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error serving %s %s", scope["method"], scope["path"])
            if not started:
                await send_status(send, 500, f"Internal error (request id {request_id_of(scope)})")
