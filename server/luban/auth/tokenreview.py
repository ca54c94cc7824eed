"""Authenticating bearer tokens by asking the upstream API server (TokenReview)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from luban.auth.cache import TTLCache
from luban.auth.reviews import TOKEN_REVIEWS, ReviewClient, ReviewError
from luban.auth.user import UserInfo

logger = logging.getLogger("luban.auth")


@dataclass(frozen=True)
class _Review:
    user: UserInfo | None


class TokenReviewAuthenticator:
    """Tokens the upstream recognises (ServiceAccount tokens, its own token file, ...).

    Answers are cached by a hash of the token (the token itself is never kept): accepted
    tokens for ``ttl`` seconds, rejected ones for ``negative_ttl``; failures to ask are not
    cached at all.
    """

    def __init__(
        self,
        client: ReviewClient,
        *,
        ttl: float = 10.0,
        negative_ttl: float = 2.0,
        max_entries: int = 4096,
        audiences: tuple[str, ...] = (),
    ) -> None:
        self.client = client
        self.audiences = audiences
        self.cache: TTLCache[bytes, _Review] = TTLCache(
            max_entries, lambda review: ttl if review.user is not None else negative_ttl
        )

    async def authenticate_token(self, token: str) -> UserInfo | None:
        """The user the upstream says the token belongs to, or ``None``."""
        if not self.client.available:
            return None
        key = hashlib.sha256(token.encode()).digest()
        try:
            review = await self.cache.get_or_load(key, lambda: self._review(token))
        except ReviewError as exc:
            logger.warning("TokenReview failed: %s", exc)
            return None
        return review.user

    async def _review(self, token: str) -> _Review:
        spec: dict[str, Any] = {"token": token}
        if self.audiences:
            spec["audiences"] = list(self.audiences)
        answer = await self.client.create(
            TOKEN_REVIEWS,
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec},
        )
        return _Review(user_from_review(answer.get("status")))

    async def aclose(self) -> None:
        """Stop reviews still in flight."""
        await self.cache.aclose()


def user_from_review(status: object) -> UserInfo | None:
    """The user of an authenticated TokenReview ``status``, or ``None``."""
    if not isinstance(status, dict) or status.get("authenticated") is not True:
        return None
    user = status.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("username"), str):
        return None
    if not user["username"]:
        return None
    groups = user.get("groups") or []
    extra = user.get("extra") or {}
    if not isinstance(groups, list) or not isinstance(extra, dict):
        return None
    return UserInfo(
        name=user["username"],
        uid=str(user.get("uid") or ""),
        groups=tuple(str(g) for g in groups),
        extra={
            str(k): tuple(str(v) for v in values)
            for k, values in extra.items()
            if isinstance(values, list)
        },
    )
