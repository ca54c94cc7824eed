"""The kernel's authenticators in configured order, plus their lifecycles."""

from __future__ import annotations

from luban.auth.bearer import AdminTokenAuthenticator, Authenticator
from luban.auth.oidc import OIDCAuthenticator, OIDCOptions
from luban.auth.reviews import ReviewClient
from luban.auth.tokenfile import TokenFileAuthenticator
from luban.auth.tokenreview import TokenReviewAuthenticator
from luban.config import AuthConfig, OIDCConfig


def oidc_options(config: OIDCConfig) -> OIDCOptions:
    """The OIDC authenticator's options from its config section."""
    return OIDCOptions(
        issuer_url=config.issuer_url,
        audiences=(config.client_id, *config.audiences),
        username_claim=config.username_claim,
        username_prefix=config.username_prefix,
        groups_claim=config.groups_claim,
        groups_prefix=config.groups_prefix,
        ca_file=config.ca_file,
        clock_skew_seconds=config.clock_skew_seconds,
        refresh_interval=config.jwks_refresh_interval_seconds,
        required_claims=dict(config.required_claims),
    )


class AuthChain:
    """Builds ``authenticators`` from ``auth.authenticators``; names not configured are skipped."""

    def __init__(self, config: AuthConfig, admin_token: str, reviews: ReviewClient) -> None:
        self.authenticators: list[Authenticator] = []
        self.token_file: TokenFileAuthenticator | None = None
        self.oidc: OIDCAuthenticator | None = None
        self.token_review: TokenReviewAuthenticator | None = None
        for name in dict.fromkeys(config.authenticators):
            if name == "adminToken":
                self.authenticators.append(AdminTokenAuthenticator(admin_token))
            elif name == "tokenFile" and config.token_file is not None:
                self.token_file = TokenFileAuthenticator(config.token_file)
                self.authenticators.append(self.token_file)
            elif name == "oidc" and config.oidc is not None:
                self.oidc = OIDCAuthenticator(oidc_options(config.oidc))
                self.authenticators.append(self.oidc)
            elif name == "tokenReview":
                review = config.token_review
                self.token_review = TokenReviewAuthenticator(
                    reviews,
                    ttl=review.ttl_seconds,
                    negative_ttl=review.negative_ttl_seconds,
                    max_entries=review.max_entries,
                    audiences=tuple(review.audiences),
                )
                self.authenticators.append(self.token_review)

    async def start(self) -> None:
        """Start following the token file and fetch the OIDC issuer's keys."""
        if self.token_file is not None:
            await self.token_file.start()
        if self.oidc is not None:
            await self.oidc.start()

    async def stop(self) -> None:
        """Stop every background task and session."""
        if self.token_file is not None:
            await self.token_file.stop()
        if self.oidc is not None:
            await self.oidc.stop()
        if self.token_review is not None:
            await self.token_review.aclose()
