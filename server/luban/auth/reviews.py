"""Posting TokenReview and SubjectAccessReview objects to the upstream API server.

The kernel asks with its own upstream credentials (those the proxy uses), the way an
aggregated API server or a webhook front-end delegates authentication and authorization.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from luban.proxy.upstream import Upstream

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"  # noqa: S105 - a URL
SUBJECT_ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
REVIEW_TIMEOUT_SECONDS = 10.0


class ReviewError(Exception):
    """The upstream could not answer a review (unreachable, or a non-2xx answer)."""


UpstreamSource = Callable[[], Upstream | None]


class ReviewClient:
    """Creates review objects on the upstream ``upstream()`` returns when called."""

    def __init__(self, upstream: UpstreamSource, timeout: float = REVIEW_TIMEOUT_SECONDS) -> None:
        self._upstream = upstream
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.posted = 0

    @property
    def available(self) -> bool:
        """Whether an upstream is there to ask."""
        upstream = self._upstream()
        return upstream is not None and upstream.session is not None

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` and return the created object (with its ``status``)."""
        upstream = self._upstream()
        if upstream is None or upstream.session is None:
            raise ReviewError("no upstream API server")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            # The pooled session does not decompress (the proxy streams bodies as they are).
            "Accept-Encoding": "identity",
        }
        authorization = await upstream.credentials.authorization()
        if authorization:
            headers["Authorization"] = authorization
        self.posted += 1
        try:
            async with upstream.session.post(
                upstream.server + path,
                data=orjson.dumps(body),
                headers=headers,
                timeout=self._timeout,
            ) as response:
                payload = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ReviewError(f"upstream unreachable ({exc.__class__.__name__})") from None
        if status not in (200, 201):
            raise ReviewError(f"upstream answered {status} to {path}")
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ReviewError(f"upstream sent malformed JSON for {path}") from None
        if not isinstance(document, dict):
            raise ReviewError(f"upstream sent a non-object for {path}")
        return document
