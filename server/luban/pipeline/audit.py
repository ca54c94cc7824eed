"""Stage: one audit event per request: who, what, the decision, the code and the latency.

Never tokens or bodies: only the identity the kernel established, the request's
attributes and the outcome. The kernel's own impersonation of the caller upstream is
invisible here: the event names the caller (and whom they impersonated, if they did).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from luban.auth.audit import AuditLog
from luban.auth.authorizer import Decision
from luban.auth.user import UserInfo
from luban.kube.requestinfo import RequestInfo
from luban.pipeline.authentication import USER_KEY
from luban.pipeline.authorization import DECISION_KEY
from luban.pipeline.impersonation import IMPERSONATOR_KEY
from luban.pipeline.request_id import request_id_of, response_status
from luban.pipeline.request_info import REQUEST_INFO_KEY


def _user(user: UserInfo | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"username": user.name, "uid": user.uid, "groups": list(user.groups)}


def _decision(code: int, decision: Decision | None) -> str:
    if decision is not None and not decision.allowed:
        return "error" if decision.error else "forbid"
    if code == 401:
        return "unauthenticated"
    if code == 403:
        return "forbid"
    return "allow"


class AuditMiddleware:
    """Records every request (except ``skip_paths``) in the audit log once it finished.

    Runs inside the request-id stage, which records the response status.
    """

    def __init__(self, app: ASGIApp, log: AuditLog, skip_paths: frozenset[str]) -> None:
        self.app = app
        self.log = log
        self.skip_paths = skip_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.skip_paths:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            code = response_status(scope) or 500
            self.log.record(self._event(scope, code, time.perf_counter() - start))

    def _event(self, scope: Scope, code: int, seconds: float) -> dict[str, Any]:
        user: UserInfo | None = scope.get(USER_KEY)
        impersonator: UserInfo | None = scope.get(IMPERSONATOR_KEY)
        info: RequestInfo | None = scope.get(REQUEST_INFO_KEY)
        decision: Decision | None = scope.get(DECISION_KEY)
        headers = dict(scope["headers"])
        event: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "requestId": request_id_of(scope),
            "user": _user(impersonator or user),
            "impersonatedUser": _user(user) if impersonator else None,
            "sourceIP": (scope.get("client") or ("",))[0],
            "userAgent": headers.get(b"user-agent", b"").decode("latin-1")[:256],
            "method": scope.get("method", "GET"),
            "path": scope["path"],
            "verb": info.verb if info else "",
            "decision": _decision(code, decision),
            "code": code,
            "latencySeconds": round(seconds, 6),
        }
        if info is not None and info.is_resource_request:
            event.update(
                apiGroup=info.api_group,
                apiVersion=info.api_version,
                resource=info.resource,
                subresource=info.subresource,
                namespace=info.namespace,
                name=info.name,
            )
        if decision is not None and decision.reason:
            event["reason"] = decision.reason
        cluster = scope.get("luban.cluster")
        if cluster:
            event["cluster"] = cluster
        return event
