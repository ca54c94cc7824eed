"""Stage: admit, delay or refuse a request by every rate-limit policy that matches it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from aiolimiter import AsyncLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luban.ratelimit.headers import (
    POLICY_HEADER,
    REJECTED_BY_HEADER,
    STATE_HEADER,
    policy_item,
    state_item,
    whole_seconds,
)
from luban.ratelimit.limits import RateLimits
from luban.ratelimit.policy import Policy
from luban.ratelimit.store import seconds_until
from luban.status import status_body

logger = logging.getLogger("luban.ratelimit")

SHADOW_LOG_INTERVAL = 10.0


@dataclass(slots=True)
class _Hit:
    """A matching policy, the request's key under it and its bucket (rate policies)."""

    policy: Policy
    key: str
    bucket: AsyncLimiter | None
    outcome: str = "admitted"


class Rejection(Exception):
    """A policy refused the request; ``retry_after`` in seconds."""

    def __init__(self, hit: _Hit, retry_after: float) -> None:
        super().__init__(hit.policy.name)
        self.hit = hit
        self.retry_after = retry_after


class RateLimitMiddleware:
    """Applies :class:`RateLimits`; every matching policy must admit the request.

    A request whose path no policy matches passes after one dict lookup (a per-path cache).
    ``reject`` policies refuse at once, ``wait`` policies queue up to ``maxWait`` first,
    ``shadow`` policies only count and log; concurrency policies count open requests per key
    until the response ends.
    """

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits
        self._clients = limits.clients if limits.clients.networks else None
        self._shadow_logged: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._clients is not None and scope["type"] in ("http", "websocket"):
            self._clients.resolve(scope)
        table = self.limits.table
        if table.policies and scope["type"] in ("http", "websocket"):
            found = table.for_path(scope["path"])
            if found:
                method = scope.get("method", "GET")
                matched = [p for p in found if p.matches(scope, method)]
                if matched:
                    await self._limited(scope, receive, send, matched)
                    return
        await self.app(scope, receive, send)

    async def _limited(
        self, scope: Scope, receive: Receive, send: Send, policies: Sequence[Policy]
    ) -> None:
        ip = scope.get("luban.client_ip") or (scope.get("client") or ("",))[0]
        hits: list[_Hit] = []
        for policy in policies:
            key = policy.key_of(scope, ip)
            bucket = None
            if policy.buckets is not None:
                bucket, created = policy.buckets.get(key)
                if created:
                    policy.metrics.keys.set(len(policy.buckets))
            hits.append(_Hit(policy, key, bucket))
        entered: list[_Hit] = []
        try:
            await self._admit(hits, entered)
        except Rejection as rejection:
            self._release(entered)
            rejection.hit.policy.metrics.rejected.inc()
            await self._reject(scope, send, rejection)
            return
        try:
            await self.app(scope, receive, self._with_headers(send, hits))
        finally:
            self._release(entered)

    async def _admit(self, hits: list[_Hit], entered: list[_Hit]) -> None:
        """Take a token from every bucket and a slot from every concurrency limit, or raise."""
        for hit in hits:  # refuse before anything is taken
            mode = hit.policy.config.mode
            if mode == "reject" and hit.bucket is not None and not hit.bucket.has_capacity():
                raise Rejection(hit, seconds_until(hit.bucket, 1))
        for hit in hits:
            counter = hit.policy.open
            if counter is None:
                continue
            if counter.try_enter(hit.key):
                entered.append(hit)
                hit.policy.metrics.open.inc()
            elif hit.policy.config.mode == "shadow":
                self._shadow(hit)
            else:
                raise Rejection(hit, 1.0)
        for hit in hits:
            if hit.bucket is None or hit.policy.config.mode != "wait":
                continue
            if not hit.bucket.has_capacity():
                await self._wait(hit)
                hit.outcome = "waited"
            else:
                await hit.bucket.acquire()
        for hit in hits:
            bucket = hit.bucket
            if bucket is None or hit.policy.config.mode == "wait":
                continue
            if bucket.has_capacity():
                await bucket.acquire()  # has room: returns without suspending
            elif hit.policy.config.mode == "shadow":
                self._shadow(hit)
            else:  # drained while this request waited for another policy
                raise Rejection(hit, seconds_until(bucket, 1))
        for hit in hits:
            metrics = hit.policy.metrics
            if hit.outcome == "admitted":
                metrics.admitted.inc()
            elif hit.outcome == "waited":
                metrics.waited.inc()

    async def _wait(self, hit: _Hit) -> None:
        bucket = hit.bucket
        assert bucket is not None
        max_wait = hit.policy.config.max_wait
        if seconds_until(bucket, 1) > max_wait:
            raise Rejection(hit, seconds_until(bucket, 1))
        try:
            async with asyncio.timeout(max_wait):
                await bucket.acquire()
        except TimeoutError:
            raise Rejection(hit, seconds_until(bucket, 1)) from None

    def _shadow(self, hit: _Hit) -> None:
        hit.outcome = "shadow_rejected"
        hit.policy.metrics.shadow_rejected.inc()
        now = time.monotonic()
        name = hit.policy.name
        if now - self._shadow_logged.get(name, 0.0) >= SHADOW_LOG_INTERVAL:
            self._shadow_logged[name] = now
            logger.warning(
                "rate limit policy %s (shadow) would have rejected a request (key %r); "
                'see luban_ratelimit_requests_total{outcome="shadow_rejected"}',
                name,
                hit.key,
            )

    @staticmethod
    def _release(entered: list[_Hit]) -> None:
        for hit in entered:
            assert hit.policy.open is not None
            hit.policy.open.leave(hit.key)
            hit.policy.metrics.open.dec()

    def _with_headers(self, send: Send, hits: list[_Hit]) -> Send:
        if self.limits.headers != "always":
            return send
        shown = [h for h in hits if h.bucket is not None and h.policy.config.mode != "shadow"]
        if not shown:
            return send

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = _rate_headers(shown)
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        return send_with_headers

    async def _reject(self, scope: Scope, send: Send, rejection: Rejection) -> None:
        hit = rejection.hit
        retry = max(whole_seconds(rejection.retry_after), 1)
        headers = [
            (b"retry-after", str(retry).encode()),
            (REJECTED_BY_HEADER, hit.policy.name.encode()),
        ]
        if self.limits.headers != "never" and hit.bucket is not None and hit.policy.rate:
            name = hit.policy.name
            headers += [
                (POLICY_HEADER, policy_item(name, hit.policy.rate).encode()),
                (STATE_HEADER, state_item(name, hit.bucket, reset=retry).encode()),
            ]
        body = orjson.dumps(
            status_body(
                429,
                f"Too many requests (rate limit policy {hit.policy.name}), "
                f"please try again in {retry} seconds",
                details={"retryAfterSeconds": retry},
            )
        )
        await _send_response(scope, send, 429, headers, body)


def _rate_headers(hits: list[_Hit]) -> list[tuple[bytes, bytes]]:
    policies, states = [], []
    for hit in hits:
        assert hit.bucket is not None
        assert hit.policy.rate is not None
        policies.append(policy_item(hit.policy.name, hit.policy.rate))
        states.append(state_item(hit.policy.name, hit.bucket))
    return [
        (POLICY_HEADER, ", ".join(policies).encode()),
        (STATE_HEADER, ", ".join(states).encode()),
    ]


async def _send_response(
    scope: Scope, send: Send, code: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    prefix = ""
    if scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            # Without the denial-response extension a WebSocket can only be closed (1008: policy).
            await send({"type": "websocket.close", "code": 1008, "reason": "TooManyRequests"})
            return
        prefix = "websocket."
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": prefix + "http.response.start", "status": code, "headers": raw})
    await send({"type": prefix + "http.response.body", "body": body})
