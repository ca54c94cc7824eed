"""The cache, the token file parser/follower, impersonation parsing and the config section."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from luban.auth.authorizer import Attributes, forbidden_error
from luban.auth.cache import TTLCache
from luban.auth.tokenfile import TokenFileAuthenticator, TokenFileError, parse_token_file
from luban.auth.user import UserInfo
from luban.config import ConfigError, validate_settings
from luban.pipeline.impersonation import checks, requested_identity


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_cache_coalesces_concurrent_loads_and_expires() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(10, lambda v: 5.0, clock)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return loads

    values = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(100)))
    assert values == [1] * 100
    assert loads == 1
    clock.now = 4.9
    assert await cache.get_or_load("k", load) == 1
    clock.now = 5.0
    assert await cache.get_or_load("k", load) == 2


async def test_cache_is_bounded_lru_and_does_not_keep_failures() -> None:
    cache: TTLCache[int, int] = TTLCache(3, lambda v: 0.0 if v < 0 else 60.0)
    for key in range(5):
        cache.put(key, key)
    assert len(cache) == 3
    assert cache.get(0) is None
    assert cache.get(4) == 4
    cache.put(9, -1)  # TTL 0: not stored
    assert cache.get(9) is None

    async def fail() -> int:
        raise RuntimeError("upstream down")

    with pytest.raises(RuntimeError):
        await cache.get_or_load(7, fail)

    async def ok() -> int:
        return 7

    assert await cache.get_or_load(7, ok) == 7


def test_token_file_format() -> None:
    tokens = parse_token_file(
        '# comment\n\nt1,alice,uid-1,"devs,ops"\nt2,bob,uid-2\nt3,carol,,admins\n'
    )
    assert tokens["t1"] == UserInfo("alice", "uid-1", ("devs", "ops"))
    assert tokens["t2"] == UserInfo("bob", "uid-2", ())
    assert tokens["t3"].groups == ("admins",)
    for bad in ["t1,alice\n", ",alice,1\n", "t1,a,1\nt1,b,2\n"]:
        with pytest.raises(TokenFileError):
            parse_token_file(bad)


async def test_token_file_follows_edits_and_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text("keep,alice,1\ndrop,bob,2\n")
    authenticator = TokenFileAuthenticator(path, poll_seconds=0.05)
    await authenticator.start()
    try:
        assert await authenticator.authenticate_token("drop") is not None
        path.write_text("keep,alice,1\n")
        deadline = time.monotonic() + 10
        while await authenticator.authenticate_token("drop") is not None:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert await authenticator.authenticate_token("keep") is not None
        path.write_text("keep,alice\n")  # malformed: nothing is accepted until fixed
        while await authenticator.authenticate_token("keep") is not None:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        await authenticator.stop()


def test_impersonation_headers_become_reviews() -> None:
    target = requested_identity([
        (b"impersonate-user", b"system:serviceaccount:ns1:robot"),
        (b"impersonate-group", b"g1"), (b"impersonate-uid", b"u-9"),
        (b"impersonate-extra-scopes%2Fx", b"view"), (b"accept", b"*/*"),
    ])  # fmt: skip
    assert target is not None
    assert [(a.resource, a.namespace, a.name, a.subresource) for a in checks(target)] == [
        ("serviceaccounts", "ns1", "robot", ""),
        ("groups", "", "g1", ""),
        ("uids", "", "u-9", ""),
        ("userextras", "", "view", "scopes/x"),
    ]
    assert requested_identity([(b"accept", b"*/*")]) is None
    with pytest.raises(ValueError, match="without a user"):
        requested_identity([(b"impersonate-group", b"g1")])


def test_forbidden_messages_match_the_api_server() -> None:
    alice = UserInfo("alice")
    error = forbidden_error(alice, Attributes("get", "pods", name="p", namespace="a",
                                              subresource="log"))  # fmt: skip
    assert error.message == (
        'pods "p" is forbidden: User "alice" cannot get resource "pods/log" '
        'in API group "" in the namespace "a"'
    )
    error = forbidden_error(alice, Attributes("list", "deployments", "apps"), "no binding")
    assert error.message == (
        'deployments.apps is forbidden: User "alice" cannot list resource "deployments" '
        'in API group "apps" at the cluster scope: no binding'
    )
    error = forbidden_error(alice, Attributes("get", path="/metrics/x"))
    assert error.message == 'forbidden: User "alice" cannot get path "/metrics/x"'


def test_auth_config_section() -> None:
    settings = validate_settings({"auth": {
        "authenticators": ["tokenReview", "adminToken"], "anonymous": True,
        "oidc": {"issuerURL": "https://issuer.example", "clientID": "luban"},
    }, "audit": {"path": "-"}})  # fmt: skip
    assert settings.auth.authenticators == ["tokenReview", "adminToken"]
    assert settings.auth.oidc is not None
    assert settings.auth.authorization.ttl_seconds <= 5
    with pytest.raises(ConfigError, match=r"auth\.authenticators"):
        validate_settings({"auth": {"authenticators": ["magic"]}})
    with pytest.raises(ConfigError, match="issuerURL"):
        validate_settings({"auth": {"oidc": {"issuerURL": "http://plain", "clientID": "x"}}})
