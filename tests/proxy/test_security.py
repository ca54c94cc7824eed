"""Who gets through the proxy and what reaches the upstream: tokens, impersonation, path
tricks, cluster names, credentials, passthrough and DNS rebinding."""

from __future__ import annotations

import ssl

import aiohttp
import httpx
import orjson
import pytest

from tests.procs import KernelProcess
from tests.proxy import rawhttp
from tests.proxy.conftest import BOB_TOKEN, EVE_TOKEN, Upstreams
from tests.proxy.upstreams import UPSTREAM_TOKEN


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-known-token"}])
def test_unauthenticated_callers_get_401(
    kernel: KernelProcess, upstreams: Upstreams, headers: dict[str, str]
) -> None:
    before = len(upstreams.plain.requests)
    response = httpx.get(kernel.url + "/api/v1/namespaces", headers=headers, verify=kernel.verify)
    assert response.status_code == 401
    assert response.json()["reason"] == "Unauthorized"
    # (a TokenReview may ask the upstream about the token; the request itself never goes)
    assert all(r.path != "/api/v1/namespaces" for r in upstreams.plain.requests[before:])


def test_spoofed_impersonation_is_not_forwarded(
    kernel: KernelProcess, upstreams: Upstreams
) -> None:
    spoof = {"Impersonate-User": "mallory", "Impersonate-Group": "system:masters",
             "Impersonate-Extra-Scopes": "all", "Impersonate-Uid": "0"}  # fmt: skip
    before = len(upstreams.plain.requests)
    response = httpx.get(
        kernel.url + "/api/v1/configmaps",
        headers={"Authorization": f"Bearer {BOB_TOKEN}", **spoof},
        verify=kernel.verify,
    )
    # bob may not impersonate: refused, or (at most) sent on as himself
    assert response.status_code in (200, 403), response.text
    forwarded = [r for r in upstreams.plain.requests[before:] if r.path == "/api/v1/configmaps"]
    for seen in forwarded:
        assert seen.header("Impersonate-User") == "bob"
        values = {v for k, v in seen.headers if k.lower().startswith("impersonate-")}
        assert not values & {"mallory", "system:masters", "all", "0"}, seen.headers
        assert seen.header("Authorization") == f"Bearer {UPSTREAM_TOKEN}"


def test_caller_identity_goes_upstream_as_impersonation(
    kernel: KernelProcess, upstreams: Upstreams
) -> None:
    response = httpx.get(
        kernel.url + "/api/v1/limitranges",
        headers={"Authorization": f"Bearer {BOB_TOKEN}"},
        verify=kernel.verify,
    )
    assert response.status_code == 200
    seen = upstreams.plain.last("/api/v1/limitranges")
    assert seen.header("Impersonate-User") == "bob"
    assert seen.header("Impersonate-Uid") == "bob-uid"
    groups = {v for k, v in seen.headers if k.lower() == "impersonate-group"}
    assert "devs" in groups
    assert seen.header("Authorization") == f"Bearer {UPSTREAM_TOKEN}"


@pytest.mark.parametrize(
    "target",
    [
        b"/api/v1/../../etc/passwd",
        b"/api/v1/namespaces/./default",
        b"/api/v1/%2e%2e/secrets",
        b"/api/v1/%2E%2e/secrets",
        b"/api/v1/namespaces%2Fdefault/pods",
        b"/api//v1/pods",
        b"/api/v1/pods%00",
        b"/api/v1/pods%0a",
        b"/api/v1/pods\\..\\x",
        b"/clusters/ws/api/v1/%2e%2e/%2e%2e/x",
    ],
)
def test_path_tricks_are_rejected(
    kernel: KernelProcess, upstreams: Upstreams, target: bytes
) -> None:
    before = len(upstreams.plain.requests)
    code, raw = rawhttp.request(kernel, target, kernel.auth)
    assert code == 400, raw
    assert b'"kind":"Status"' in raw
    assert len(upstreams.plain.requests) == before


@pytest.mark.parametrize(
    "target",
    [
        b"/clusters/evil.com/api/v1/pods",
        b"/clusters/evil.com:443/api/v1/pods",
        b"/clusters/nope/api/v1/pods",
        b"/clusters/@evil.com/api/v1/pods",
        b"/clusters/127.0.0.1/api/v1/pods",
        b"/clusters/..%2f../api/v1/pods",
        b"/clusters/..%2f..%2fevil.com/api/v1/pods",
    ],
)
def test_cluster_names_cannot_escape(
    kernel: KernelProcess, upstreams: Upstreams, target: bytes
) -> None:
    before = len(upstreams.plain.requests)
    code, raw = rawhttp.request(kernel, target, kernel.auth)
    if b"%2f" in target:  # a path trick: refused by the path-safety stage for every route
        assert code == 400, raw
        assert b'"reason":"BadRequest"' in raw
    else:
        assert code == 404, raw
        assert b'"reason":"NotFound"' in raw
    assert len(upstreams.plain.requests) == before


def test_named_cluster_reaches_its_upstream(client: httpx.Client, upstreams: Upstreams) -> None:
    assert client.get("/clusters/ws/apis/apps/v1/deployments").status_code == 200
    assert upstreams.plain.last("/apis/apps/v1/deployments").path == "/apis/apps/v1/deployments"


def test_upstream_credentials_never_reach_the_client(client: httpx.Client) -> None:
    for path in ("/api/v1/namespaces", "/clusters/refused/api/v1/x", "/api/v1/slow",
                 "/clusters/wrongca/api", "/version"):  # fmt: skip
        response = client.get(path)
        exposed = response.content + orjson.dumps(dict(response.headers))
        assert UPSTREAM_TOKEN.encode() not in exposed, path
        assert b"127.0.0.1:" not in response.content or path == "/api/v1/namespaces", path


def test_passthrough_forwards_the_callers_authorization(
    passthrough_kernel: KernelProcess, upstreams: Upstreams
) -> None:
    response = httpx.get(
        passthrough_kernel.url + "/api/v1/persistentvolumes",
        headers={"Authorization": "Bearer callers-own-token"},
        verify=passthrough_kernel.verify,
    )
    assert response.status_code == 200
    seen = upstreams.plain.last("/api/v1/persistentvolumes")
    assert seen.header("Authorization") == "Bearer callers-own-token"
    assert seen.header("Impersonate-User") is None


def test_dns_rebinding_host_is_refused(kernel: KernelProcess) -> None:
    code, raw = rawhttp.request(kernel, b"/api/v1/pods", {**kernel.auth, "Host": "evil.example"})
    assert code == 403
    assert b"loopback" in raw


def test_reject_paths_are_enforced(client: httpx.Client, upstreams: Upstreams) -> None:
    before = len(upstreams.plain.requests)
    response = client.get("/api/v1/nodes/n1/proxy/metrics")
    assert response.status_code == 403
    assert response.json()["kind"] == "Status"
    assert len(upstreams.plain.requests) == before


@pytest.mark.parametrize("path", ["/api/v1/namespaces", "/version"])
def test_identity_with_a_line_break_is_refused_not_sent(
    kernel: KernelProcess, upstreams: Upstreams, path: str
) -> None:
    # eve's group (tokens.csv) holds CR LF: as an Impersonate-Group header it would forge a
    # header line upstream. The request is refused with a Status and never goes upstream.
    before = len(upstreams.plain.requests)
    response = httpx.get(
        kernel.url + path, headers={"Authorization": f"Bearer {EVE_TOKEN}"}, verify=kernel.verify
    )
    assert response.status_code == 400, response.text
    assert response.json()["kind"] == "Status"
    assert all(r.path != path for r in upstreams.plain.requests[before:])
    assert all(k.lower() != "x-injected" for r in upstreams.plain.requests for k, _ in r.headers)


async def test_websocket_with_a_line_break_identity_is_refused(
    kernel: KernelProcess, upstreams: Upstreams
) -> None:
    before = len(upstreams.plain.requests)
    context = ssl.create_default_context(cafile=str(kernel.ca_file))
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(
                kernel.url + "/api/v1/namespaces/default/pods/web/exec?command=sh",
                protocols=("v4.channel.k8s.io",), ssl=context,
                headers={"Authorization": f"Bearer {EVE_TOKEN}"},
            )  # fmt: skip
    assert refused.value.status == 400
    assert len(upstreams.plain.requests) == before
