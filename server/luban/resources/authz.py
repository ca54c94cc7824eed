"""Who may read what: the Resource API asks the upstream with a SubjectAccessReview.

The cache is shared by every caller, so each request is checked before it reads it.
:class:`Authorizer` is the seam (the kernel's own authorizer satisfies it);
:class:`SubjectAccessReviewer` is a small self-contained implementation with a short TTL cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import orjson

from luban.auth.user import UserInfo
from luban.proxy.upstream import Upstream

logger = logging.getLogger("luban.resources")

SUBJECT_ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


class Authorizer(Protocol):
    """``await allowed(user, verb=..., ...)``: truthy when the caller may do it."""

    async def allowed(
        self,
        user: UserInfo,
        *,
        verb: str,
        resource: str = "",
        group: str = "",
        namespace: str = "",
        name: str = "",
        subresource: str = "",
    ) -> Any: ...


def is_allowed(decision: Any) -> bool:
    """A decision as a bool (a bool, or an object with an ``allowed`` attribute)."""
    return bool(getattr(decision, "allowed", decision))


class SubjectAccessReviewer:
    """Posts ``SubjectAccessReview``s upstream with the kernel's credentials; caches answers."""

    def __init__(
        self, upstream: Callable[[], Upstream | None], ttl: float = 5.0, max_entries: int = 10_000
    ) -> None:
        self._upstream = upstream
        self._ttl = ttl
        self._max = max_entries
        self._cache: dict[tuple[Any, ...], tuple[float, bool]] = {}

    async def allowed(
        self,
        user: UserInfo,
        *,
        verb: str,
        resource: str = "",
        group: str = "",
        namespace: str = "",
        name: str = "",
        subresource: str = "",
    ) -> bool:
        """Whether ``user`` may ``verb`` the resource; errors deny."""
        if user.is_admin:
            return True
        attributes = (verb, resource, group, namespace, name, subresource)
        key = (user.name, user.uid, user.groups, tuple(sorted(user.extra.items())), attributes)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        answer = await self._review(user, dict(zip(
            ("verb", "resource", "group", "namespace", "name", "subresource"), attributes,
            strict=True)))  # fmt: skip
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = (now + self._ttl, answer)
        return answer

    async def _review(self, user: UserInfo, attributes: dict[str, str]) -> bool:
        upstream = self._upstream()
        if upstream is None or upstream.session is None:
            return False
        spec: dict[str, Any] = {
            "user": user.name,
            "groups": list(user.groups),
            "resourceAttributes": {k: v for k, v in attributes.items() if v},
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": spec}  # fmt: skip
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if authorization := await upstream.credentials.authorization():
            headers["Authorization"] = authorization
        try:
            async with upstream.session.post(
                upstream.server + SUBJECT_ACCESS_REVIEWS,
                data=orjson.dumps(body),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                payload = await response.read()
                if response.status not in (200, 201):
                    logger.warning("SubjectAccessReview answered %s", response.status)
                    return False
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.warning("SubjectAccessReview failed: %s", exc.__class__.__name__)
            return False
        status = orjson.loads(payload).get("status") or {}
        return status.get("allowed") is True and status.get("denied") is not True
