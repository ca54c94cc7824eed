"""The rate-limit stage over real sockets: in-process uvicorn, httpx clients."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import orjson

from luban.ratelimit.config import PolicyConfig
from luban.ratelimit.limits import RateLimits
from luban.ratelimit.store import remaining
from tests.ratelimit.servers import serve

THINGS = "/kapis/demo.io/v1/things"


def policy(**fields: object) -> PolicyConfig:
    return PolicyConfig.model_validate(fields)


def user(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


async def burst(client: httpx.AsyncClient, path: str, n: int, who: str) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.get(path, headers=user(who)) for _ in range(n))))


async def test_per_user_rate_admits_the_burst_and_rejects_the_rest() -> None:
    limits = RateLimits(
        [policy(name="per-user", match={"path": "/kapis/demo.io/**"}, rate="10/second")]
    )
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        responses = await burst(client, THINGS, 30, "alice")
    codes = [r.status_code for r in responses]
    # 10 fit the bucket; at 10/s at most a couple more drip in while 30 requests run.
    assert 10 <= codes.count(200) <= 13
    rejected = [r for r in responses if r.status_code == 429]
    assert len(rejected) == 30 - codes.count(200)
    answer = rejected[0]
    body = orjson.loads(answer.content)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["reason"] == "TooManyRequests"
    assert body["code"] == 429
    assert body["details"]["retryAfterSeconds"] == 1
    assert "per-user" in body["message"]
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["x-luban-ratelimit-policy"] == "per-user"
    assert answer.headers["ratelimit-policy"] == '"per-user";q=10;w=1'
    assert answer.headers["ratelimit"] == '"per-user";r=0;t=1'
    admitted = next(r for r in responses if r.status_code == 200)
    assert admitted.headers["ratelimit-policy"] == '"per-user";q=10;w=1'
    assert re.fullmatch(r'"per-user";r=\d;t=[01]', admitted.headers["ratelimit"])
    values = next(iter(limits.metrics.requests.collect())).samples
    counts = {s.labels["outcome"]: s.value for s in values if s.labels["policy"] == "per-user"}
    assert counts["admitted"] == codes.count(200)
    assert counts["rejected"] == codes.count(429)


async def test_users_have_their_own_buckets_and_unmatched_routes_are_free() -> None:
    limits = RateLimits([policy(name="per-user", match={"path": THINGS}, rate="3/minute")])
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        alice = await burst(client, THINGS, 5, "alice")
        bob = await burst(client, THINGS, 5, "bob")
        other = await burst(client, "/kapis/demo.io/v1/namespaces/x/things", 5, "alice")
        health = await burst(client, "/healthz", 5, "alice")
    assert [r.status_code for r in alice].count(200) == 3
    assert [r.status_code for r in bob].count(200) == 3
    assert {r.status_code for r in other} == {200}
    assert all("ratelimit" not in r.headers for r in other)
    assert {r.status_code for r in health} == {200}
    assert alice[0].headers["ratelimit-policy"] == '"per-user";q=3;w=60'
    keys = next(iter(limits.metrics.keys.collect())).samples
    assert [s.value for s in keys if s.labels["policy"] == "per-user"] == [2]


async def test_health_is_exempt_even_from_a_catch_all_policy() -> None:
    limits = RateLimits([policy(name="all", key="global", rate="1/minute")])
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        health = await burst(client, "/healthz", 4, "alice")
        things = await burst(client, THINGS, 3, "alice")
    assert {r.status_code for r in health} == {200}
    assert [r.status_code for r in things].count(429) == 2


async def test_methods_and_kubernetes_request_info_narrow_a_policy() -> None:
    limits = RateLimits(
        [
            policy(name="posts", match={"path": THINGS, "methods": ["post"]}, rate="1/minute"),
            policy(
                name="cluster-pod-lists",
                match={"verbs": ["list"], "resources": ["pods"], "namespaces": [""]},
                rate="1/minute",
            ),
        ]
    )
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        gets = await burst(client, THINGS, 3, "alice")
        posts = [await client.post(THINGS, headers=user("alice")) for _ in range(2)]
        lists = [await client.get("/api/v1/pods", headers=user("alice")) for _ in range(2)]
        namespaced = await burst(client, "/api/v1/namespaces/a/pods", 3, "alice")
    assert {r.status_code for r in gets} == {200}
    assert [r.status_code for r in posts] == [200, 429]
    assert [r.status_code for r in lists] == [200, 429]
    assert lists[1].headers["x-luban-ratelimit-policy"] == "cluster-pod-lists"
    assert {r.status_code for r in namespaced} == {200}


async def test_all_matching_policies_must_admit() -> None:
    limits = RateLimits(
        [
            policy(name="loose", match={"path": "/kapis/**"}, rate="100/hour"),
            policy(name="tight", match={"path": THINGS}, rate="2/minute"),
        ]
    )
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        responses = [await client.get(THINGS, headers=user("alice")) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].headers["x-luban-ratelimit-policy"] == "tight"
    assert responses[0].headers["ratelimit-policy"] == '"loose";q=100;w=3600, "tight";q=2;w=60'
    # The refused request took nothing from the policy that would have admitted it.
    loose = limits.policy("loose")
    assert loose is not None
    assert loose.buckets is not None
    assert remaining(loose.buckets.get("alice")[0]) == 98


async def test_wait_mode_delays_instead_of_rejecting() -> None:
    limits = RateLimits(
        [policy(name="queue", match={"path": THINGS}, rate="5/second", mode="wait", maxWait=5)]
    )
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        started = time.monotonic()
        responses = await burst(client, THINGS, 10, "alice")
        elapsed = time.monotonic() - started
    assert {r.status_code for r in responses} == {200}
    # Five pass at once, five more need one fifth of a second each.
    assert elapsed >= 0.8
    samples = next(iter(limits.metrics.requests.collect())).samples
    counts = {s.labels["outcome"]: s.value for s in samples if s.labels["policy"] == "queue"}
    assert counts["waited"] >= 4
    assert counts["admitted"] + counts["waited"] == 10


async def test_wait_mode_rejects_what_would_wait_longer_than_max_wait() -> None:
    limits = RateLimits(
        [policy(name="queue", match={"path": THINGS}, rate="1/minute", mode="wait", maxWait=0.5)]
    )
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        responses = [await client.get(THINGS, headers=user("alice")) for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 429]
    assert 55 <= int(responses[1].headers["retry-after"]) <= 60


async def test_shadow_mode_never_rejects_but_counts() -> None:
    limits = RateLimits(
        [policy(name="trial", match={"path": THINGS}, rate="2/minute", mode="shadow")]
    )
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        responses = await burst(client, THINGS, 6, "alice")
    assert {r.status_code for r in responses} == {200}
    assert all("ratelimit" not in r.headers for r in responses)
    samples = next(iter(limits.metrics.requests.collect())).samples
    counts = {s.labels["outcome"]: s.value for s in samples if s.labels["policy"] == "trial"}
    assert counts["shadow_rejected"] == 4
    assert counts["admitted"] == 2


async def test_concurrency_limit_on_watches() -> None:
    limits = RateLimits([policy(name="watches", match={"longRunning": True}, concurrency=2)])
    async with serve(limits) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        watch = "/api/v1/pods?watch=true&hold=30"
        async with (
            client.stream("GET", watch, headers=user("alice")) as first,
            client.stream("GET", watch, headers=user("alice")) as second,
        ):
            assert (first.status_code, second.status_code) == (200, 200)
            third = await client.get(watch, headers=user("alice"))
            assert third.status_code == 429
            assert third.headers["x-luban-ratelimit-policy"] == "watches"
            assert orjson.loads(third.content)["reason"] == "TooManyRequests"
            # Another user, and non-watch requests, are not counted against alice.
            async with client.stream("GET", watch, headers=user("bob")) as bobs:
                assert bobs.status_code == 200
            plain = await client.get("/api/v1/pods", headers=user("alice"))
            assert plain.status_code == 200
        # Closing the watches frees their slots.
        for _ in range(50):
            watches = limits.policy("watches")
            assert watches is not None
            assert watches.open is not None
            if watches.open.count("alice") == 0:
                break
            await asyncio.sleep(0.05)
        async with client.stream("GET", watch, headers=user("alice")) as again:
            assert again.status_code == 200


async def test_trusted_proxy_forwarded_for() -> None:
    limits = RateLimits(
        [policy(name="per-ip", match={"path": "/client"}, key="ip", rate="2/minute")],
        trusted_proxies=["127.0.0.0/8"],
    )
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        spoofed = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 127.0.0.9"}
        answer = await client.get("/client", headers=spoofed)
        assert answer.text == "203.0.113.7|203.0.113.7, 127.0.0.9"
        second = await client.get("/client", headers={"X-Forwarded-For": "203.0.113.7"})
        third = await client.get("/client", headers={"X-Forwarded-For": "203.0.113.7"})
        assert (second.status_code, third.status_code) == (200, 429)
        # A different forwarded client has its own bucket.
        other = await client.get("/client", headers={"X-Forwarded-For": "198.51.100.1"})
        assert other.text == "198.51.100.1|198.51.100.1"
        direct = await client.get("/client")
        assert direct.text == "127.0.0.1|"


async def test_untrusted_peer_cannot_choose_its_address() -> None:
    limits = RateLimits(
        [policy(name="per-ip", match={"path": "/client"}, key="ip", rate="1/minute")],
        trusted_proxies=["10.0.0.0/8"],
    )
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        first = await client.get("/client", headers={"X-Forwarded-For": "1.1.1.1"})
        second = await client.get("/client", headers={"X-Forwarded-For": "2.2.2.2"})
    assert first.text == "127.0.0.1|"
    assert second.status_code == 429


async def test_extension_defaults_apply_and_config_overrides_them() -> None:
    limits = RateLimits()
    limits.set_route_defaults("demo", "list-things", THINGS, ["GET"], "2/minute")
    async with serve(limits) as url, httpx.AsyncClient(base_url=url) as client:
        declared = [await client.get(THINGS, headers=user("alice")) for _ in range(3)]
        assert [r.status_code for r in declared] == [200, 200, 429]
        assert declared[2].headers["x-luban-ratelimit-policy"] == "demo/list-things"
        # Config overrides by name and keeps the route's match when it gives none.
        limits.update_policies([policy(name="demo/list-things", rate="4/minute")])
        overridden = [await client.get(THINGS, headers=user("bob")) for _ in range(5)]
        assert [r.status_code for r in overridden].count(200) == 4
        assert overridden[0].headers["ratelimit-policy"] == '"demo/list-things";q=4;w=60'
        posts = [await client.post(THINGS, headers=user("bob")) for _ in range(5)]
        assert {r.status_code for r in posts} == {200}
        # An override can switch the default off.
        limits.update_policies([policy(name="demo/list-things", enabled=False)])
        off = await burst(client, THINGS, 5, "carol")
        assert {r.status_code for r in off} == {200}
        # Dropping the override brings the declared default back.
        limits.update_policies([])
        back = [await client.get(THINGS, headers=user("dave")) for _ in range(3)]
        assert [r.status_code for r in back] == [200, 200, 429]
        limits.remove_route_defaults("demo")
        gone = await burst(client, THINGS, 5, "dave")
        assert {r.status_code for r in gone} == {200}
