"""OIDC ID tokens against a real HTTPS issuer (discovery + JWKS) on a loopback port."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from luban.auth.oidc import OIDCAuthenticator, OIDCOptions
from luban.tls import ensure_serving_certificate


@dataclass
class Issuer:
    url: str
    ca: Path
    keys: list[Any]
    jwks_requests: int = 0


@pytest.fixture
async def issuer(tmp_path: Path) -> AsyncIterator[Issuer]:
    files = ensure_serving_certificate(tmp_path / "pki", [])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    state = Issuer("", files.ca_cert, [RSAKey.generate_key(2048, {"kid": "k1"})])

    async def discovery(request: web.Request) -> web.Response:
        return web.json_response({"issuer": state.url, "jwks_uri": state.url + "/keys"})

    async def keys(request: web.Request) -> web.Response:
        state.jwks_requests += 1
        return web.json_response({"keys": [k.as_dict(private=False) for k in state.keys]})

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovery)
    app.router.add_get("/keys", keys)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    state.url = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


def _options(issuer: Issuer, **overrides: Any) -> OIDCOptions:
    values: dict[str, Any] = {
        "issuer_url": issuer.url, "audiences": ("luban",), "groups_claim": "groups",
        "ca_file": issuer.ca, "refresh_interval": 0.0,
    }  # fmt: skip
    values.update(overrides)
    return OIDCOptions(**values)


def _claims(issuer: Issuer, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": "luban", "sub": "alice", "exp": now + 300, "iat": now,
              "groups": ["devs"], "email": "alice@example.com"}  # fmt: skip
    claims.update(overrides)
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(key: Any, claims: dict[str, Any], alg: str = "RS256", kid: str | None = "k1") -> str:
    header: dict[str, Any] = {"alg": alg}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, claims, key, algorithms=[alg])


async def _authenticator(issuer: Issuer, **overrides: Any) -> OIDCAuthenticator:
    authenticator = OIDCAuthenticator(_options(issuer, **overrides))
    await authenticator.start()
    return authenticator


async def test_valid_token_maps_claims_to_a_prefixed_user(issuer: Issuer) -> None:
    oidc = await _authenticator(issuer)
    try:
        user = await oidc.authenticate_token(_sign(issuer.keys[0], _claims(issuer)))
    finally:
        await oidc.stop()
    assert user is not None
    assert user.name == f"{issuer.url}#alice"
    assert user.groups == ("devs", "system:authenticated")


async def test_email_claim_has_no_prefix_and_must_be_verified(issuer: Issuer) -> None:
    oidc = await _authenticator(issuer, username_claim="email", groups_prefix="oidc:")
    try:
        user = await oidc.authenticate_token(_sign(issuer.keys[0], _claims(issuer)))
        unverified = _claims(issuer, email_verified=False)
        refused = await oidc.authenticate_token(_sign(issuer.keys[0], unverified))
    finally:
        await oidc.stop()
    assert user is not None
    assert user.name == "alice@example.com"
    assert user.groups == ("oidc:devs", "system:authenticated")
    assert refused is None


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"exp": int(time.time()) - 3600},
        {"iss": "https://evil.example"},
        {"nbf": int(time.time()) + 3600},
        {"exp": None},
        {"sub": ""},
    ],
)
async def test_bad_claims_are_refused(issuer: Issuer, claims: dict[str, Any]) -> None:
    oidc = await _authenticator(issuer)
    try:
        token_claims = {k: v for k, v in _claims(issuer, **claims).items() if v is not None}
        assert await oidc.authenticate_token(_sign(issuer.keys[0], token_claims)) is None
    finally:
        await oidc.stop()


async def test_clock_skew_is_tolerated_up_to_the_configured_leeway(issuer: Issuer) -> None:
    oidc = await _authenticator(issuer, clock_skew_seconds=60)
    try:
        recent = _claims(issuer, exp=int(time.time()) - 20)
        assert await oidc.authenticate_token(_sign(issuer.keys[0], recent)) is not None
        old = _claims(issuer, exp=int(time.time()) - 120)
        assert await oidc.authenticate_token(_sign(issuer.keys[0], old)) is None
    finally:
        await oidc.stop()


async def test_none_and_hmac_algorithms_are_refused(issuer: Issuer) -> None:
    oidc = await _authenticator(issuer)
    try:
        # The classic confusion attack: HS256 keyed with the issuer's public key.
        secret = issuer.keys[0].as_pem(private=False)
        signing_input = (
            _b64(b'{"alg":"HS256","kid":"k1"}') + "." + _b64(json.dumps(_claims(issuer)).encode())
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert await oidc.authenticate_token(signing_input + "." + _b64(mac)) is None
        _, payload, _ = _sign(issuer.keys[0], _claims(issuer)).split(".")
        unsigned = "eyJhbGciOiJub25lIn0." + payload + "."
        assert await oidc.authenticate_token(unsigned) is None
        # A valid signature by a key the issuer does not publish.
        stranger = RSAKey.generate_key(2048, {"kid": "k1"})
        assert await oidc.authenticate_token(_sign(stranger, _claims(issuer))) is None
    finally:
        await oidc.stop()


async def test_key_rotation_refetches_on_unknown_kid_rate_limited(issuer: Issuer) -> None:
    oidc = await _authenticator(issuer, refresh_interval=3600.0)
    try:
        fetched = issuer.jwks_requests
        rotated = ECKey.generate_key("P-256", {"kid": "k2"})
        issuer.keys.append(rotated)
        token = _sign(rotated, _claims(issuer), alg="ES256", kid="k2")
        # Started moments ago: the rate limit holds back a refetch, so k2 is unknown yet.
        assert await oidc.authenticate_token(token) is None
        assert issuer.jwks_requests == fetched
    finally:
        await oidc.stop()
    issuer.keys.append(ECKey.generate_key("P-256", {"kid": "k3"}))
    oidc = await _authenticator(issuer, refresh_interval=0.0)
    try:
        before = issuer.jwks_requests
        newest = _sign(issuer.keys[-1], _claims(issuer), alg="ES256", kid="k3")
        assert await oidc.authenticate_token(newest) is not None
        assert issuer.jwks_requests == before  # k3 was in the set fetched at start
        issuer.keys = [ECKey.generate_key("P-256", {"kid": "k4"})]
        rotated_token = _sign(issuer.keys[0], _claims(issuer), alg="ES256", kid="k4")
        assert await oidc.authenticate_token(rotated_token) is not None
        assert issuer.jwks_requests == before + 1
    finally:
        await oidc.stop()


async def test_garbage_is_not_recognised(issuer: Issuer) -> None:
    oidc = await _authenticator(issuer)
    try:
        for token in ["", "a.b.c", "...", "x" * 20000, "eyJ.eyJ.eyJ", "não.é.jwt"]:
            assert await oidc.authenticate_token(token) is None
    finally:
        await oidc.stop()
