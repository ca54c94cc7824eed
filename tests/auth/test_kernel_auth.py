"""The kernel's authn/authz/impersonation/audit over real sockets, with a counting upstream."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.auth.fake_upstream import FakeUpstream, serve_fake_upstream
from tests.procs import REPO, KernelProcess, run_cluster, run_kernel

AUTH_KERNEL = [sys.executable, str(REPO / "tests" / "servers" / "kernel_with_auth_routes.py")]
USERS = [f"user{i}" for i in range(10)]
TOKENS = {name: f"token-{name}-0123456789" for name in [*USERS, "alice", "carol"]}


def _rule(spec: dict[str, Any]) -> bool:
    attrs = spec.get("resourceAttributes", {})
    user = spec["user"]
    if attrs.get("verb") == "impersonate":
        return user == "carol"
    if user in USERS or user == "alice":
        return attrs.get("resource") == "pods" and attrs.get("namespace") == "a"
    return False


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with run_cluster(tmp_path_factory.mktemp("backend") / "data") as cluster:
        fake = FakeUpstream(
            tokens={"reviewed-token": {"username": "sa-user", "uid": "u-1", "groups": ["team"]}},
            allow=_rule,
            backend=cluster.url,
            backend_token=cluster.token,
            backend_ca=cluster.ca_file,
        )
        with serve_fake_upstream(fake) as running:
            yield running


@pytest.fixture(scope="module")
def setup(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[KernelProcess, Path, Path]]:
    root = tmp_path_factory.mktemp("auth-kernel")
    token_file = root / "tokens.csv"
    token_file.write_text("".join(f'{t},{n},uid-{n},"devs,{n}-group"\n' for n, t in TOKENS.items()))
    audit = root / "audit.log"
    config = root / "luban.yaml"
    config.write_text(yaml.safe_dump({
        "upstream": {"kubeconfig": str(upstream.kubeconfig(root / "upstream.kubeconfig"))},
        "auth": {"tokenFile": str(token_file)},
        "audit": {"path": str(audit)},
    }))  # fmt: skip
    with run_kernel(root / "data", "--config", str(config), command=AUTH_KERNEL) as kernel:
        yield kernel, token_file, audit


def _client(kernel: KernelProcess, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=kernel.url, verify=kernel.verify, headers=headers, timeout=20)


def test_permission_route_allows_and_forbids_in_the_real_message_shape(setup: Any) -> None:
    kernel, _, _ = setup
    with _client(kernel, TOKENS["alice"]) as client:
        ok = client.get("/test/namespaces/a/pods")
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"user": "alice"}
        denied = client.get("/test/namespaces/b/pods")
    assert denied.status_code == 403
    assert denied.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
                   'in the namespace "b"',
        "reason": "Forbidden", "details": {"name": "", "kind": "pods"}, "code": 403,
    }  # fmt: skip


def test_explicit_check_through_the_scope_authorizer(setup: Any) -> None:
    kernel, _, _ = setup
    with _client(kernel, TOKENS["alice"]) as client:
        answer = client.get("/test/can-i", params={"verb": "get", "namespace": "a"})
    assert answer.json() == {"allowed": False, "reason": ""}
    with _client(kernel, kernel.token) as client:
        answer = client.get("/test/can-i", params={"verb": "get"})
    assert answer.json() == {"allowed": True, "reason": "system:masters"}


def test_token_review_authenticates_tokens_the_kernel_does_not_know(
    setup: Any, upstream: FakeUpstream
) -> None:
    kernel, _, _ = setup
    before = upstream.token_reviews
    with _client(kernel, "reviewed-token") as client:
        for _ in range(5):
            assert client.get("/version").status_code == 200
    with _client(kernel, "unknown-token") as client:
        for _ in range(5):
            assert client.get("/version").status_code == 401
    # Positive and negative answers are cached: one review each.
    assert upstream.token_reviews - before == 2


def test_sar_cache_keeps_upstream_reviews_far_below_request_rate(
    setup: Any, upstream: FakeUpstream
) -> None:
    kernel, _, _ = setup

    async def burst() -> tuple[list[int], float]:
        limits = httpx.Limits(max_connections=20)  # keep-alive: measure requests, not handshakes
        async with httpx.AsyncClient(
            base_url=kernel.url, verify=kernel.verify, timeout=60, limits=limits
        ) as c:
            start = time.monotonic()
            codes = await asyncio.gather(*(
                c.get("/test/namespaces/a/pods",
                      headers={"Authorization": f"Bearer {TOKENS[USERS[i % 10]]}"})
                for i in range(1000)
            ))  # fmt: skip
            return [r.status_code for r in codes], time.monotonic() - start

    before = upstream.sars
    codes, seconds = asyncio.run(burst())
    reviews = upstream.sars - before
    assert codes == [200] * 1000
    # One review per user per TTL window (5 s): 10 per window, never near one per request.
    windows = int(seconds // 5) + 1
    assert reviews <= 10 * windows
    assert reviews / max(seconds, 1.0) < 20


def test_revoked_permission_takes_effect_within_the_ttl(setup: Any, upstream: FakeUpstream) -> None:
    kernel, _, _ = setup
    granted = {"on": True}
    previous = upstream.allow
    upstream.allow = lambda spec: spec["user"] == "user9" and granted["on"]
    try:
        with _client(kernel, TOKENS["user9"]) as client:
            assert client.get("/test/namespaces/z/pods").status_code == 200
            granted["on"] = False
            deadline = time.monotonic() + 30
            while client.get("/test/namespaces/z/pods").status_code == 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        upstream.allow = previous


def test_impersonation_refused_for_callers_rbac_does_not_allow(
    setup: Any, upstream: FakeUpstream
) -> None:
    kernel, _, _ = setup
    with _client(kernel, TOKENS["alice"]) as client:
        response = client.get("/api/v1/namespaces/a/pods", headers={"Impersonate-User": "admin"})
    assert response.status_code == 403
    assert response.json()["message"] == (
        'users "admin" is forbidden: User "alice" cannot impersonate resource "users" '
        'in API group "" at the cluster scope'
    )


def test_allowed_impersonation_forwards_the_callers_headers(
    setup: Any, upstream: FakeUpstream
) -> None:
    kernel, _, _ = setup
    with _client(kernel, TOKENS["carol"]) as client:
        response = client.get(
            "/api/v1/namespaces/a/pods",
            headers={"Impersonate-User": "admin", "Impersonate-Group": "ops"},
        )
    assert response.status_code == 200, response.text
    seen = upstream.seen[-1]
    assert seen["impersonate-user"] == ["admin"]
    assert seen["impersonate-group"] == ["ops"]
    assert seen["authorization"] == ["Bearer kernel-upstream-credential"]


def test_without_impersonation_headers_the_kernel_impersonates_the_caller(
    setup: Any, upstream: FakeUpstream
) -> None:
    kernel, _, _ = setup
    with _client(kernel, TOKENS["alice"]) as client:
        assert client.get("/api/v1/namespaces/a/pods").status_code == 200
    seen = upstream.seen[-1]
    assert seen["impersonate-user"] == ["alice"]
    assert set(seen["impersonate-group"]) == {"devs", "alice-group", "system:authenticated"}


def test_removed_token_stops_working_without_restart(setup: Any) -> None:
    kernel, token_file, _ = setup
    lines = token_file.read_text().splitlines(keepends=True)
    with _client(kernel, TOKENS["user0"]) as client:
        assert client.get("/version").status_code == 200
        token_file.write_text("".join(line for line in lines if "user0" not in line))
        removed = time.monotonic()
        while client.get("/version").status_code == 200:
            assert time.monotonic() - removed < 10
            time.sleep(0.05)
        # By design one poll interval (0.5 s); allow for a loaded machine in the assertion.
        token_file.write_text("".join(lines))
        while client.get("/version").status_code != 200:
            assert time.monotonic() - removed < 20
            time.sleep(0.05)


def _jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"sig") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([part(json.dumps(header).encode()), part(json.dumps(claims).encode()),
                     part(signature)])  # fmt: skip


MALFORMED = [
    "", "Bearer", "Bearer ", "Bearer  ", "bearer x", "Basic YWRtaW46YWRtaW4=", "Bearer \x01",
    "Bearer " + "A" * 20000, "Bearer " + "A" * 16000, "Bearer a.b.c", "Bearer ...",
    "Bearer !!!.@@@.###", "Bearer eyJ.eyJ.eyJ",
    "Bearer " + _jwt({"alg": "none"}, {"iss": "x", "sub": "admin"}, b""),
    "Bearer " + _jwt({"alg": "HS256"}, {"iss": "x", "sub": "admin", "exp": 1}),
    "Bearer " + _jwt({"alg": "RS256", "kid": "nope"}, {"iss": "x", "aud": "y", "exp": 1}),
    "Bearer " + "é" * 10, "Bearer token-user0-0123456789x", "Bearer token-user0 extra",
]  # fmt: skip


def _raw_get(kernel: KernelProcess, authorization: bytes | None) -> tuple[int, bytes]:
    """GET /version with an Authorization header sent byte for byte (no client checks)."""
    url = httpx.URL(kernel.url)
    context = kernel.verify
    assert isinstance(context, ssl.SSLContext)
    request = b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if authorization is not None:
        request += b"Authorization: " + authorization + b"\r\n"
    with socket.create_connection((url.host, url.port), timeout=20) as raw, \
            context.wrap_socket(raw, server_hostname=url.host) as tls:  # fmt: skip
        tls.sendall(request + b"\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_malformed_credentials_are_always_401_never_500(setup: Any) -> None:
    kernel, _, _ = setup
    for value in [*MALFORMED, "Bearer \t ", "Bearer x\t", "Bearer " + "\x7f" * 3]:
        code, body = _raw_get(kernel, value.encode("utf-8"))
        assert code in (400, 401), (value[:40], body[:200])
        if code == 401:
            assert json.loads(body)["reason"] == "Unauthorized"
    # Bytes that are not UTF-8 at all.
    assert _raw_get(kernel, b"Bearer \xff\xfe\xfd")[0] == 401
    assert _raw_get(kernel, None)[0] == 401


def test_audit_log_names_the_caller_and_never_the_token(setup: Any) -> None:
    kernel, _, audit = setup
    with _client(kernel, TOKENS["carol"]) as client:
        client.get("/api/v1/namespaces/a/pods", headers={"Impersonate-User": "admin"})
    with _client(kernel, TOKENS["alice"]) as client:
        client.get("/test/namespaces/b/pods")
    deadline = time.monotonic() + 10
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        text = audit.read_text()
        events = [json.loads(line) for line in text.splitlines()]
        if any(e["path"] == "/test/namespaces/b/pods" for e in events):
            break
        time.sleep(0.1)
    text = audit.read_text()
    assert not any(token in text for token in [*TOKENS.values(), "reviewed-token", kernel.token])
    impersonated = [e for e in events if e["impersonatedUser"]][-1]
    assert impersonated["user"]["username"] == "carol"
    assert impersonated["impersonatedUser"]["username"] == "admin"
    assert impersonated["resource"] == "pods"
    assert impersonated["namespace"] == "a"
    assert impersonated["verb"] == "list"
    assert impersonated["code"] == 200
    forbidden = [e for e in events if e["path"] == "/test/namespaces/b/pods"][-1]
    assert forbidden["user"]["username"] == "alice"
    assert forbidden["decision"] == "forbid"
    assert forbidden["code"] == 403
    assert forbidden["requestId"]
    assert forbidden["latencySeconds"] >= 0
