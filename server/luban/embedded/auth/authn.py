"""The embedded cluster's authenticator chain: admin token, token file, ServiceAccount JWTs."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from luban.auth.user import AUTHENTICATED_GROUP, MASTERS_GROUP, UserInfo
from luban.embedded.auth.serviceaccounts import ServiceAccountTokens
from luban.embedded.auth.tokens import TokenFile

ADMIN_USER = UserInfo("system:admin", groups=(MASTERS_GROUP, AUTHENTICATED_GROUP))
ANONYMOUS_USER = UserInfo("system:anonymous", groups=("system:unauthenticated",))


class Authenticator:
    """Turns a bearer token into a user, trying each source in the API server's order."""

    def __init__(
        self,
        admin_token: str,
        token_file: TokenFile,
        service_accounts: ServiceAccountTokens,
        admin_user: UserInfo = ADMIN_USER,
    ) -> None:
        self._admin_token = admin_token.encode()
        self.admin_user = admin_user
        self.token_file = token_file
        self.service_accounts = service_accounts

    def authenticate(self, token: str) -> UserInfo | None:
        """The caller a token belongs to (for this API server's audiences), or ``None``."""
        found = self.review(token, None)
        return found[0] if found else None

    def review(
        self, token: str, audiences: Sequence[str] | None
    ) -> tuple[UserInfo, tuple[str, ...]] | None:
        """Authenticate for ``audiences`` (default: the API server's); TokenReview's view.

        Tokens that carry no audience (admin, token file) are valid for the API server's
        own audiences only, as the real server treats audience-unaware authenticators.
        """
        if not token:
            return None
        api = self.service_accounts.audiences
        wanted = tuple(audiences) if audiences else api
        unaware = tuple(a for a in wanted if a in api) if audiences else wanted
        if unaware or not audiences:
            if hmac.compare_digest(token.encode(), self._admin_token):
                return self.admin_user, unaware
            user = self.token_file.lookup(token)
            if user is not None:
                return user, unaware
        return self.service_accounts.authenticate(token, wanted)
