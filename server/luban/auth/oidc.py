"""OpenID Connect ID tokens: discovery, JWKS with key rotation, signature and claim checks.

Tokens are checked the way the API server's OIDC authenticator checks them: the issuer is
discovered at ``{issuer}/.well-known/openid-configuration``; keys come from its ``jwks_uri``
and are fetched again (at most once per ``refresh_interval``) when a token names a key the
kernel does not have, which is how rotation shows up. Only asymmetric signature algorithms
are accepted (never ``none``, never an HMAC keyed by something public).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from luban.auth.user import AUTHENTICATED_GROUP, UserInfo

logger = logging.getLogger("luban.auth")

ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
FETCH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class OIDCOptions:
    """What the kernel trusts: the issuer, the audiences, and how claims map to a user."""

    issuer_url: str
    audiences: tuple[str, ...]
    username_claim: str = "sub"
    username_prefix: str | None = None
    groups_claim: str = ""
    groups_prefix: str = ""
    ca_file: Path | None = None
    clock_skew_seconds: int = 60
    refresh_interval: float = 10.0
    required_claims: dict[str, str] = field(default_factory=dict)

    @property
    def effective_username_prefix(self) -> str:
        """The API server's rule: ``issuer#`` unless the claim is ``email``; ``-`` means none."""
        if self.username_prefix == "-":
            return ""
        if self.username_prefix is not None:
            return self.username_prefix
        return "" if self.username_claim == "email" else f"{self.issuer_url}#"


class OIDCAuthenticator:
    """Recognises ID tokens the configured issuer signed for the configured audience."""

    def __init__(self, options: OIDCOptions, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self._clock = clock
        self._keys: KeySet | None = None
        self._jwks_uri: str | None = None
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0

    async def start(self) -> None:
        """Open the HTTP session and try a first discovery (failures are retried on use)."""
        context: ssl.SSLContext | None = None
        if self.options.ca_file is not None:
            context = await asyncio.to_thread(
                ssl.create_default_context, cafile=str(self.options.ca_file)
            )
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context if context is not None else True),
            timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS),
        )
        await self._refresh(force=True)

    async def stop(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def authenticate_token(self, token: str) -> UserInfo | None:
        """The user an ID token names, or ``None`` for anything not a valid token of ours."""
        try:
            peeked = jws.extract_compact(token.encode("ascii"))
            claims = orjson.loads(peeked.payload)
        except (JoseError, ValueError, TypeError, UnicodeError):
            return None  # not a JWT at all: another authenticator's token
        header = peeked.headers()
        if not isinstance(claims, dict) or claims.get("iss") != self.options.issuer_url:
            return None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            return None
        key = await self._key(header.get("kid"), str(alg))
        if key is None:
            return None
        try:
            verified = jwt.decode(token, key, algorithms=[str(alg)])
            self._claims_registry().validate(verified.claims)
        except (JoseError, ValueError, TypeError) as exc:
            logger.debug("OIDC token rejected: %s", exc)
            return None
        return self._user(verified.claims)

    def _claims_registry(self) -> jwt.JWTClaimsRegistry:
        opts = self.options
        required: dict[str, Any] = {
            name: {"essential": True, "value": value}
            for name, value in opts.required_claims.items()
        }
        return jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=opts.clock_skew_seconds,
            iss={"essential": True, "value": opts.issuer_url},
            aud={"essential": True, "values": list(opts.audiences)},
            exp={"essential": True},
            **required,
        )

    def _user(self, claims: dict[str, Any]) -> UserInfo | None:
        opts = self.options
        username = claims.get(opts.username_claim)
        if not isinstance(username, str) or not username:
            return None
        if opts.username_claim == "email" and claims.get("email_verified", True) is not True:
            return None
        groups: list[str] = []
        if opts.groups_claim:
            raw = claims.get(opts.groups_claim, [])
            values = [raw] if isinstance(raw, str) else raw
            if not isinstance(values, list) or not all(isinstance(g, str) for g in values):
                return None
            groups = [opts.groups_prefix + g for g in values]
        return UserInfo(
            name=opts.effective_username_prefix + username,
            uid=str(claims.get("sub", "")),
            groups=(*groups, AUTHENTICATED_GROUP),
        )

    async def _key(self, kid: object, alg: str) -> Key | None:
        if kid is not None and not isinstance(kid, str):
            return None
        key = self._find(kid, alg)
        if key is None and await self._refresh(force=False):
            key = self._find(kid, alg)
        return key

    def _find(self, kid: str | None, alg: str) -> Key | None:
        if self._keys is None:
            return None
        candidates = [
            k
            for k in self._keys
            if (kid is None or k.kid == kid)
            and k.get("use", "sig") == "sig"
            and k.get("alg", alg) == alg
        ]
        return candidates[0] if len(candidates) == 1 else None

    async def _refresh(self, *, force: bool) -> bool:
        """Fetch discovery + JWKS unless done within ``refresh_interval``; True if it ran."""
        async with self._lock:
            now = time.monotonic()
            if not force and now - self._last_fetch < self.options.refresh_interval:
                return False
            self._last_fetch = now
            try:
                await self._fetch()
            except (aiohttp.ClientError, TimeoutError, ValueError, JoseError, KeyError) as exc:
                logger.warning("OIDC issuer %s: %s", self.options.issuer_url, exc)
            return True

    async def _fetch(self) -> None:
        if self._session is None:
            raise ValueError("not started")
        self.fetches += 1
        if self._jwks_uri is None:
            discovery = await self._get_json(
                self.options.issuer_url.rstrip("/") + "/.well-known/openid-configuration"
            )
            if discovery.get("issuer") != self.options.issuer_url:
                raise ValueError(f"discovery names issuer {discovery.get('issuer')!r}")
            uri = discovery.get("jwks_uri")
            if not isinstance(uri, str) or not uri.startswith("https://"):
                raise ValueError("discovery has no https jwks_uri")
            self._jwks_uri = uri
        document = await self._get_json(self._jwks_uri)
        self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]

    async def _get_json(self, url: str) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(url) as response:
            if response.status != 200:
                raise ValueError(f"{url} answered {response.status}")
            document = orjson.loads(await response.read())
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return document
