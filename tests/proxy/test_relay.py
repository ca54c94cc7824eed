"""The HTTP relay over real sockets: bodies and headers as the upstream sent them, streaming
with flat memory, upstream failures as Status, and each kind of upstream credential."""

from __future__ import annotations

import gzip
import os
import time

import httpx
import orjson
import pytest

from tests.procs import KernelProcess
from tests.proxy.conftest import EXEC_TOKEN, Upstreams, rss_bytes
from tests.proxy.upstreams import PROTOBUF, TABLE, UPSTREAM_TOKEN, YAML_BODY


@pytest.mark.parametrize(
    ("kind", "media", "body"),
    [
        ("json", "application/json", None),
        ("yaml", "application/yaml", YAML_BODY),
        ("protobuf", "application/vnd.kubernetes.protobuf", PROTOBUF),
        ("table", "application/json;as=Table;v=v1;g=meta.k8s.io", TABLE),
    ],
)
def test_content_types_pass_untouched(
    client: httpx.Client, kind: str, media: str, body: bytes | None
) -> None:
    response = client.get(f"/api/v1/content/{kind}", headers={"Accept": media})
    assert response.status_code == 200
    assert response.headers["content-type"] == media
    if body is not None:
        assert response.content == body


@pytest.mark.parametrize("items", [10, 50_000])  # read whole / streamed
def test_gzip_passes_through(client: httpx.Client, upstreams: Upstreams, items: int) -> None:
    with client.stream("GET", f"/api/v1/gzip?n={items}",
                       headers={"Accept-Encoding": "gzip"}) as response:  # fmt: skip
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    plain = orjson.dumps({"kind": "List", "items": [{"i": i} for i in range(items)]})
    assert raw == gzip.compress(plain, mtime=0)
    assert upstreams.plain.last("/gzip").header("Accept-Encoding") == "gzip"


def test_hop_by_hop_stripped_and_forwarded_headers_added(
    client: httpx.Client, kernel: KernelProcess, upstreams: Upstreams
) -> None:
    response = client.get(
        "/api/v1/namespaces/default/configmaps",
        headers={
            "Connection": "keep-alive, X-Caller-Hop",
            "X-Caller-Hop": "1",
            "Keep-Alive": "timeout=9",
            "TE": "trailers",
            "Proxy-Authorization": "Basic abc",
            "Proxy-Connection": "keep-alive",
            "X-Forwarded-For": "10.9.9.9",
            "X-Forwarded-Host": "spoofed.example",
            "X-Custom": "end-to-end",
        },
    )
    assert response.status_code == 200
    seen = upstreams.plain.last("/api/v1/namespaces/default/configmaps")
    for name in ("x-caller-hop", "keep-alive", "te", "proxy-authorization", "proxy-connection"):
        assert name not in seen.names(), name
    assert seen.header("X-Custom") == "end-to-end"
    assert seen.header("X-Forwarded-For") == "127.0.0.1"
    assert seen.header("X-Forwarded-Proto") == "https"
    assert seen.header("X-Forwarded-Host") == kernel.url.removeprefix("https://")
    for name in ("keep-alive", "proxy-authenticate", "x-upstream-hop"):
        assert name not in response.headers, name
    assert response.headers["x-end-to-end"] == "kept"


def test_request_body_streams_upstream(client: httpx.Client) -> None:
    def chunks():  # no length: sent chunked, relayed as a stream
        for _ in range(40):
            yield b"x" * 100_000

    response = client.post("/api/v1/namespaces/default/configmaps", content=chunks())
    assert response.status_code == 200
    assert response.json()["bytes"] == 4_000_000


def test_100mb_list_streams_with_flat_memory(client: httpx.Client, kernel: KernelProcess) -> None:
    size = 100 * 1024 * 1024
    client.get("/api/v1/big?n=1000000")  # warm the path (imports, pools) before measuring
    before = rss_bytes(kernel.process.pid)
    peak = before
    received = 0
    with client.stream("GET", f"/api/v1/big?n={size}") as response:
        assert response.headers["content-length"] == str(size)
        for index, chunk in enumerate(response.iter_raw(1024 * 1024)):
            received += len(chunk)
            if index % 8 == 0:
                peak = max(peak, rss_bytes(kernel.process.pid))
    assert received == size
    assert peak - before < 50 * 1024 * 1024, (before, peak)


def test_a_list_cut_off_upstream_is_not_passed_on_as_complete(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", "/api/v1/broken") as r:
        b"".join(r.iter_raw())


def test_upstream_status_passes_through_unchanged(client: httpx.Client) -> None:
    response = client.get("/api/v1/namespaces/default/pods/missing")
    assert response.status_code == 404
    body = response.json()
    assert body["message"] == 'pods "missing" not found'
    assert body["metadata"] == {"upstream": "yes"}


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        ("/clusters/refused/api/v1/namespaces", 503, "ServiceUnavailable"),
        ("/clusters/wrongca/api/v1/namespaces", 502, "BadGateway"),
        ("/api/v1/slow", 504, "Timeout"),
    ],
)
def test_upstream_failures_are_status(
    client: httpx.Client, path: str, code: int, reason: str
) -> None:
    response = client.get(path)
    assert response.status_code == code
    body = response.json()
    assert body["kind"] == "Status"
    assert body["reason"] == reason
    assert body["code"] == code


def test_client_certificate_credentials(client: httpx.Client, upstreams: Upstreams) -> None:
    response = client.get("/clusters/mtls/api/v1/namespaces")
    assert response.status_code == 200
    seen = upstreams.mtls.last("/api/v1/namespaces")
    assert seen.header("Authorization") is None  # the certificate is the credential
    assert seen.header("Impersonate-User") == "admin"


def test_bearer_token_credentials(client: httpx.Client, upstreams: Upstreams) -> None:
    assert client.get("/clusters/ws/api/v1/pods").status_code == 200
    assert (
        upstreams.plain.last("/api/v1/pods").header("Authorization") == f"Bearer {UPSTREAM_TOKEN}"
    )


def test_token_file_is_reread_when_it_changes(client: httpx.Client, upstreams: Upstreams) -> None:
    upstreams.token_file.write_text("rotating-token-1\n")
    assert client.get("/clusters/tokenfile/api/v1/services").status_code == 200
    first = upstreams.plain.last("/api/v1/services").header("Authorization")
    upstreams.token_file.write_text("rotating-token-2\n")
    later = time.time() + 5  # a new mtime even on coarse-grained file systems
    os.utime(upstreams.token_file, (later, later))
    assert client.get("/clusters/tokenfile/api/v1/services").status_code == 200
    second = upstreams.plain.last("/api/v1/services").header("Authorization")
    assert (first, second) == ("Bearer rotating-token-1", "Bearer rotating-token-2")


def test_exec_plugin_credentials(client: httpx.Client, upstreams: Upstreams) -> None:
    assert client.get("/clusters/exec/api/v1/secrets").status_code == 200
    assert upstreams.plain.last("/api/v1/secrets").header("Authorization") == f"Bearer {EXEC_TOKEN}"
