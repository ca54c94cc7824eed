"""Who may read what: the seam between the Resource API and the kernel's authorizer.

The cache is shared by every caller, so each request is checked before it reads it. The
kernel passes its SubjectAccessReview authorizer (``luban.auth.authorizer.Authorizer``).
"""

from __future__ import annotations

from typing import Any, Protocol

from luban.auth.user import UserInfo


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
