"""Reading bearer tokens off requests and checking them against the kernel's admin token."""

from __future__ import annotations

import hmac
from typing import Protocol

from luban.auth.user import AUTHENTICATED_GROUP, MASTERS_GROUP, UserInfo

ADMIN_USER = UserInfo(name="admin", uid="luban-admin", groups=(MASTERS_GROUP, AUTHENTICATED_GROUP))

# Far above any real token; bounds the work a hostile header can cause.
MAX_TOKEN_LENGTH = 16 * 1024


class Authenticator(Protocol):
    """Turns a bearer token into a user, or ``None`` when it does not recognise it."""

    async def authenticate_token(self, token: str) -> UserInfo | None:
        """Return the caller the token belongs to, or ``None``."""
        ...


def bearer_token(authorization: bytes | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        return token.decode("ascii")
    except UnicodeDecodeError:
        return None


class AdminTokenAuthenticator:
    """Recognises the kernel's own admin token (a member of ``system:masters``)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def authenticate_token(self, token: str) -> UserInfo | None:
        """``ADMIN_USER`` for the admin token (compared in constant time), else ``None``."""
        if hmac.compare_digest(token.encode(), self._token):
            return ADMIN_USER
        return None
