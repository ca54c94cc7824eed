"""Bad requests are refused with the right Status, and nothing is stored."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from luban.embedded.api import ClusterOptions
from luban.embedded.cluster import EmbeddedCluster
from tests.embedded.threaded import cluster_in_thread

LIMIT = 64 * 1024
CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    with cluster_in_thread(options=ClusterOptions(max_body_bytes=LIMIT)) as running:
        yield running


@pytest.fixture(scope="module")
def http(cluster: EmbeddedCluster) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {cluster.token}"}
    with httpx.Client(base_url=cluster.url, headers=headers, timeout=10) as client:
        client.post(CMS, json={"metadata": {"name": "existing"}, "data": {"a": "1"}})
        yield client


@pytest.fixture
def unchanged(http: httpx.Client, cluster: EmbeddedCluster) -> Iterator[None]:
    """Assert the test stored nothing: same configmaps, same resourceVersion counter."""
    before = http.get(CMS).json()
    rv = cluster.store.resource_version
    yield
    assert cluster.store.resource_version == rv
    assert http.get(CMS).json() == before


def raw(cluster: EmbeddedCluster, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no client normalisation); the status code and the reply."""
    url = urlsplit(cluster.url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
    reply = b"".join(chunks)
    return int(reply.split(b" ", 2)[1]), reply


def _complete(reply: bytes) -> bool:
    head, _, body = reply.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def _get(cluster: EmbeddedCluster, path: bytes) -> tuple[int, bytes]:
    return raw(
        cluster,
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + cluster.token.encode()
        + b"\r\nConnection: close\r\n\r\n",
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"metadata": {"name": "x"', "application/json"),
        (b"{'metadata': 1}", ""),
        (b"metadata: [unclosed\n  name: x", "application/yaml"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
    ],
)
def test_malformed_bodies(
    http: httpx.Client, unchanged: None, body: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post(CMS, content=body, headers=headers)
    assert response.status_code == 400, response.text
    status = response.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "BadRequest"
    update = http.put(CMS + "/existing", content=body, headers=headers)
    assert update.status_code == 400, update.text
    patch = http.patch(
        CMS + "/existing", content=body, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert patch.status_code == 400, patch.text


def test_body_too_large(http: httpx.Client, unchanged: None) -> None:
    big = {"metadata": {"name": "big"}, "data": {"k": "x" * LIMIT}}
    response = http.post(CMS, json=big)
    assert response.status_code == 413, response.text
    assert response.json()["reason"] == "RequestEntityTooLarge"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit still holds
        yield b'{"metadata": {"name": "big"}, "data": {"k": "'
        for _ in range(LIMIT // 1024 + 1):
            yield b"x" * 1024
        yield b'"}}'

    assert http.post(CMS, content=chunks()).status_code == 413
    patch = http.patch(
        CMS + "/existing", json=big, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert patch.status_code == 413


@pytest.mark.parametrize(
    "params",
    [
        {"labelSelector": "a in (b"},
        {"labelSelector": "=x"},
        {"labelSelector": "a==b==c"},
        {"fieldSelector": "spec.nope=1"},
        {"fieldSelector": "metadata.name"},
        {"limit": "lots"},
    ],
)
def test_invalid_list_queries(http: httpx.Client, unchanged: None, params: dict[str, Any]) -> None:
    response = http.get(CMS, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "BadRequest"
    watch = http.get(CMS, params={**params, "watch": "true", "timeoutSeconds": "1"})
    assert watch.status_code == 400
    delete = http.request("DELETE", CMS, params=params)
    assert delete.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/namespaces/default/widgets"),
        ("POST", "/api/v1/namespaces/default/widgets"),
        ("GET", "/apis/nope.example.com/v1/things"),
        ("POST", "/apis/apps/v9/namespaces/default/deployments"),
        ("GET", "/api/v1/namespaces/default/configmaps/existing/nosuchsub"),
        ("PUT", "/api/v1/namespaces/default/configmaps/existing/status"),
    ],
)
def test_unknown_resources(http: httpx.Client, unchanged: None, method: str, path: str) -> None:
    response = http.request(method, path, json={"metadata": {"name": "x"}})
    assert response.status_code == 404, response.text
    assert response.json()["kind"] == "Status"
    assert response.json()["reason"] == "NotFound"


def test_huge_headers(cluster: EmbeddedCluster, unchanged: None) -> None:
    filler = b"X-Filler: " + b"a" * (1024 * 1024 + 10) + b"\r\n"
    code, _ = raw(
        cluster,
        b"POST "
        + CMS.encode()
        + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + cluster.token.encode()
        + b"\r\n"
        + filler
        + b"Content-Type: application/json\r\n"
        b"Content-Length: 27\r\nConnection: close\r\n\r\n" + b'{"metadata":{"name":"hdr"}}',
    )
    assert code == 431
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(1100))
    code, _ = raw(
        cluster,
        b"GET " + CMS.encode() + b" HTTP/1.1\r\nHost: x\r\n" + many + b"Connection: close\r\n\r\n",
    )
    assert code == 431


@pytest.mark.parametrize(
    "path",
    [
        b"/api/v1/namespaces/default/configmaps/../secrets",
        b"/api/v1/namespaces/default/configmaps/./existing",
        b"/api/v1/namespaces//configmaps",
        b"/api/v1/namespaces/default//configmaps/existing",
        b"/apis/apps/v1/namespaces/default/../../../../api/v1/secrets",
        b"/api/v1/namespaces/default/configmaps/%2e%2e",
    ],
)
def test_path_tricks(cluster: EmbeddedCluster, unchanged: None, path: bytes) -> None:
    code, reply = _get(cluster, path)
    assert code == 400, reply


def test_path_tricks_on_writes(cluster: EmbeddedCluster, unchanged: None) -> None:
    body = b'{"metadata":{"name":"sneaky"}}'
    for path in (CMS.encode() + b"/../configmaps", b"/api/v1/namespaces/default//configmaps"):
        code, reply = raw(
            cluster,
            b"POST "
            + path
            + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + cluster.token.encode()
            + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body,
        )
        assert code == 400, reply


def test_name_in_body_must_match_url(http: httpx.Client, unchanged: None) -> None:
    response = http.put(CMS + "/existing", json={"metadata": {"name": "other"}})
    assert response.status_code == 400, response.text
    wrong_ns = http.post(CMS, json={"metadata": {"name": "x", "namespace": "kube-system"}})
    assert wrong_ns.status_code == 400, wrong_ns.text
