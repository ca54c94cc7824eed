"""Policies without a server: patterns, rates, config errors, addresses, reload semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from luban.config import ConfigError, load_settings
from luban.ratelimit.clientip import ClientAddress
from luban.ratelimit.config import PolicyConfig
from luban.ratelimit.limits import RateLimits
from luban.ratelimit.pattern import compile_pattern
from luban.ratelimit.rate import parse_rate
from luban.ratelimit.reload import load_policies


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("/version", ["/version", "/version/"], ["/versions", "/version/x", "/"]),
        ("/kapis/x.io/**", ["/kapis/x.io", "/kapis/x.io/v1/a/b"], ["/kapis/x.iox", "/kapis"]),
        (
            "/api/v1/namespaces/{namespace}/pods",
            ["/api/v1/namespaces/a/pods", "/api/v1/namespaces/a/pods/"],
            ["/api/v1/namespaces//pods", "/api/v1/namespaces/a/b/pods", "/api/v1/pods"],
        ),
        ("/apis/**/watch/**", ["/apis/watch", "/apis/a/b/watch/c"], ["/apis/a/watcher"]),
        ("/**", ["/", "/anything/at/all"], []),
        ("/{group}/x.io", ["/a/x.io"], ["/a/xxio", "/a/b/x.io"]),
    ],
)
def test_path_patterns(pattern: str, matching: list[str], not_matching: list[str]) -> None:
    compiled = compile_pattern(pattern)
    assert all(compiled.test(path) for path in matching)
    assert not any(compiled.test(path) for path in not_matching)


@pytest.mark.parametrize("bad", ["version", "/a/*", "/a//b", "/a/{b", "/a/x{b}"])
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="path pattern"):
        compile_pattern(bad)


def test_rates() -> None:
    rate = parse_rate("100/minute")
    assert (rate.count, rate.period, rate.burst, rate.window) == (100, 60, 100, 60)
    rate = parse_rate("10/second", burst=20)
    assert (rate.per_second, rate.burst, rate.window) == (10, 20, 2)
    assert parse_rate("5 / 30s").per_second == pytest.approx(5 / 30)
    assert parse_rate("1000/day").period == 86400
    for bad in ["", "fast", "10", "10/fortnight", "0/second", "-1/second"]:
        with pytest.raises(ValueError, match="rate"):
            parse_rate(bad)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("rateLimits: [{name: a}]\n", "rateLimits.0: Value error, policy 'a': give a rate"),
        ("rateLimits: [{name: a, rate: often}]\n", "rateLimits.0.rate: Value error, 'often'"),
        ("rateLimits: [{name: a, rate: 1/s, key: cookie}]\n", "rateLimits.0.key: Value error"),
        ("rateLimits: [{name: a, rate: 1/s, mode: drop}]\n", "rateLimits.0.mode: Input should"),
        ("rateLimits: [{name: a, rate: 1/s, colour: red}]\n", "rateLimits.0.colour: unknown key"),
        (
            "rateLimits: [{name: a, rate: 1/s, match: {path: nope}}]\n",
            "rateLimits.0.match.path: Value error, path pattern 'nope'",
        ),
        (
            "rateLimits: [{name: a, rate: 1/s}, {name: a, rate: 2/s}]\n",
            "rateLimits: Value error, policy name 'a' is used twice",
        ),
        ("trustedProxies: [10.0.0.0/33]\n", "trustedProxies: Value error, '10.0.0.0/33'"),
        ("rateLimitHeaders: sometimes\n", "rateLimitHeaders: Input should be 'always'"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, content: str, expected: str) -> None:
    config = tmp_path / "luban.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert expected in str(error.value)


def test_reload_reads_only_the_rate_limits_section(tmp_path: Path) -> None:
    config = tmp_path / "luban.yaml"
    config.write_text("server: {port: 1}\nrateLimits:\n  - {name: a, rate: 2/minute}\n")
    assert [p.name for p in load_policies(config)] == ["a"]
    config.write_text("rateLimits:\n  - {name: a, rate: soon}\n")
    with pytest.raises(ConfigError, match=r"luban.yaml: rateLimits.0.rate: .*'soon'"):
        load_policies(config)


def test_settings_carry_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "luban.yaml"
    config.write_text("rateLimits: [{name: a, rate: 1/s, key: 'header:X-Tenant'}]\n")
    settings = load_settings(config, environ={})
    assert settings.config_file == config
    assert settings.rate_limits[0].key == "header:x-tenant"
    assert settings.rate_limit_exempt_paths == ["/healthz", "/livez", "/readyz", "/metrics"]


def _scope(peer: str, forwarded: str | None = None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 1), "headers": headers}


def test_client_address_behind_trusted_proxies() -> None:
    clients = ClientAddress(["10.0.0.0/8", "fd00::/8"])
    scope = _scope("10.0.0.1", "1.2.3.4, 5.6.7.8, 10.0.0.2")
    assert clients.resolve(scope) == "5.6.7.8"
    assert scope["luban.forwarded_for"] == b"5.6.7.8, 10.0.0.2"
    # Every hop trusted: the left-most is the client.
    assert clients.resolve(_scope("10.0.0.1", "10.1.1.1, 10.2.2.2")) == "10.1.1.1"
    # Garbage in the chain: the trusted hop that wrote it stands for the client.
    scope = _scope("fd00::1", "nonsense, 10.0.0.7")
    assert clients.resolve(scope) == "10.0.0.7"
    # An untrusted peer: the header is ignored and no chain is recorded.
    scope = _scope("192.0.2.1", "1.2.3.4")
    assert clients.resolve(scope) == "192.0.2.1"
    assert "luban.forwarded_for" not in scope


def test_unchanged_policies_keep_their_buckets_across_updates() -> None:
    a = PolicyConfig(name="a", rate="5/minute")
    b = PolicyConfig(name="b", rate="5/minute")
    limits = RateLimits([a, b])
    old_a, old_b = limits.policy("a"), limits.policy("b")
    assert old_a is not None
    assert old_b is not None
    limits.update_policies([a, PolicyConfig(name="b", rate="6/minute")])
    new_a, new_b = limits.policy("a"), limits.policy("b")
    assert new_a is not None
    assert new_b is not None
    assert new_a.buckets is old_a.buckets
    assert new_b.buckets is not old_b.buckets
    limits.set_route_defaults("ext", "r", "/kapis/ext.io/v1/r", ["GET"], "1/second")
    newer_a = limits.policy("a")
    assert newer_a is not None
    assert newer_a.buckets is old_a.buckets


def test_route_defaults_are_validated_and_indexed() -> None:
    limits = RateLimits()
    with pytest.raises(ValueError, match="not a rate"):
        limits.set_route_defaults("ext", "r", "/kapis/ext.io/v1/r", ["GET"], "often")
    with pytest.raises(ValueError, match="path pattern"):
        limits.set_route_defaults("ext", "r", "kapis", ["GET"], "1/s")
    limits.set_route_defaults(
        "ext", "watch", "/kapis/ext.io/v1/{ns}/events", ["GET"], None, "ip", concurrency=3
    )
    limits.set_route_defaults("ext", "post", "/kapis/ext.io/v1/things", ["POST"], "20/minute")
    table = limits.table
    assert [p.name for p in table.candidates("/kapis/ext.io/v1/things", "POST")] == ["ext/post"]
    assert [p.name for p in table.candidates("/kapis/ext.io/v1/things", "GET")] == []
    assert [p.name for p in table.candidates("/kapis/ext.io/v1/a/events", "GET")] == ["ext/watch"]
    assert table.candidates("/api/v1/pods", "GET") == ()
    assert table.candidates("/kapis/ext.io/v1/things", "BREW") == ()
    limits.remove_route_defaults("ext", "post")
    assert [p.name for p in limits.policies] == ["ext/watch"]
