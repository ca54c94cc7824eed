"""Deciding what a caller may do on kernel-served routes: SubjectAccessReview upstream, cached.

The kernel does not keep RBAC rules of its own; it asks the API server it fronts, so a
Role or binding changed there takes effect here within the cache TTL. Answers are cached
per (user, groups, extra, attributes) in a bounded LRU, and concurrent questions with the
same key share one review.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from luban.auth.cache import TTLCache
from luban.auth.reviews import SUBJECT_ACCESS_REVIEWS, ReviewClient, ReviewError
from luban.auth.user import UserInfo
from luban.kube.errors import APIError, forbidden

logger = logging.getLogger("luban.auth")


@dataclass(frozen=True)
class Decision:
    """An authorization answer; ``error`` is set when nobody could decide (not cached)."""

    allowed: bool
    reason: str = ""
    error: str = ""


@dataclass(frozen=True)
class Attributes:
    """What is asked: a resource request (``resource`` set) or a non-resource ``path``."""

    verb: str
    resource: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    path: str = ""

    @property
    def is_resource(self) -> bool:
        """Whether this names a resource (otherwise a non-resource URL)."""
        return bool(self.resource)

    def spec(self) -> dict[str, Any]:
        """The ``resourceAttributes`` / ``nonResourceAttributes`` part of a review spec."""
        if not self.is_resource:
            return {"nonResourceAttributes": {"path": self.path, "verb": self.verb}}
        attributes = {
            "verb": self.verb,
            "group": self.group,
            "version": self.version,
            "resource": self.resource,
            "subresource": self.subresource,
            "namespace": self.namespace,
            "name": self.name,
        }
        return {"resourceAttributes": {k: v for k, v in attributes.items() if v}}


_Key = tuple[str, str, tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...], Attributes]


class Authorizer:
    """``await allowed(user, verb=..., resource=...)``: may this caller do this?"""

    def __init__(
        self,
        client: ReviewClient,
        *,
        ttl: float = 5.0,
        negative_ttl: float = 5.0,
        max_entries: int = 10000,
    ) -> None:
        self.client = client
        self.cache: TTLCache[_Key, Decision] = TTLCache(
            max_entries,
            lambda d: 0.0 if d.error else (ttl if d.allowed else negative_ttl),
        )

    async def allowed(
        self,
        user: UserInfo,
        *,
        verb: str,
        resource: str = "",
        group: str = "",
        version: str = "",
        namespace: str = "",
        name: str = "",
        subresource: str = "",
        path: str = "",
    ) -> Decision:
        """Whether ``user`` may ``verb`` the resource (or non-resource ``path``)."""
        return await self.check(
            user, Attributes(verb, resource, group, version, namespace, name, subresource, path)
        )

    async def check(self, user: UserInfo, attributes: Attributes) -> Decision:
        """``allowed`` with the attributes already gathered."""
        if user.is_admin:
            return Decision(True, "system:masters")
        key: _Key = (
            user.name,
            user.uid,
            tuple(sorted(user.groups)),
            tuple(sorted(user.extra.items())),
            attributes,
        )
        return await self.cache.get_or_load(key, lambda: self._review(user, attributes))

    async def _review(self, user: UserInfo, attributes: Attributes) -> Decision:
        spec: dict[str, Any] = {"user": user.name, "groups": list(user.groups), **attributes.spec()}
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
        }
        try:
            answer = await self.client.create(SUBJECT_ACCESS_REVIEWS, body)
        except ReviewError as exc:
            logger.warning("SubjectAccessReview failed: %s", exc)
            return Decision(False, "", str(exc))
        status = answer.get("status")
        if not isinstance(status, dict):
            return Decision(False, "", "upstream SubjectAccessReview has no status")
        reason = status.get("reason")
        allowed = status.get("allowed") is True and status.get("denied") is not True
        return Decision(allowed, reason if isinstance(reason, str) else "")

    async def aclose(self) -> None:
        """Stop reviews still in flight."""
        await self.cache.aclose()


def forbidden_error(user: UserInfo, attributes: Attributes, reason: str = "") -> APIError:
    """The API server's 403, e.g. ``pods is forbidden: User "alice" cannot list resource ...``."""
    suffix = f": {reason}" if reason else ""
    if not attributes.is_resource:
        why = f'User "{user.name}" cannot {attributes.verb} path "{attributes.path}"'
        return APIError(403, f"forbidden: {why}{suffix}", "Forbidden")
    resource = attributes.resource
    if attributes.subresource:
        resource += "/" + attributes.subresource
    where = (
        f'in the namespace "{attributes.namespace}"'
        if attributes.namespace
        else "at the cluster scope"
    )
    why = (
        f'User "{user.name}" cannot {attributes.verb} resource "{resource}" '
        f'in API group "{attributes.group}" {where}{suffix}'
    )
    return forbidden(attributes.resource, attributes.group, attributes.name, why)
