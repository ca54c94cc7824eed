"""The kernel's own endpoints over real HTTPS sockets: health, auth, Status errors, ids, metrics."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.procs import KernelProcess


def assert_status(response: httpx.Response, code: int, reason: str) -> dict:
    assert response.status_code == code
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == code
    assert body["reason"] == reason
    assert body["message"]
    return body


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_health_endpoints_answer_ok_without_a_token(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.text == "ok"
    verbose = client.get(path, params={"verbose": ""})
    assert "[+]ping ok" in verbose.text
    assert verbose.text.rstrip().endswith(f"{path[1:]} check passed")


def test_serving_certificate_chains_to_the_generated_ca(kernel: KernelProcess) -> None:
    assert kernel.url.startswith("https://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):
        httpx.get(kernel.url + "/healthz", verify=ssl.create_default_context())
    assert httpx.get(kernel.url + "/healthz", verify=kernel.verify).status_code == 200


def test_routes_other_than_health_and_metrics_require_the_admin_token(
    client: httpx.Client, kernel: KernelProcess
) -> None:
    assert_status(client.get("/version"), 401, "Unauthorized")
    assert_status(
        client.get("/version", headers={"Authorization": "Bearer nope"}), 401, "Unauthorized"
    )
    assert_status(
        client.get("/version", headers={"Authorization": f"Basic {kernel.token}"}),
        401,
        "Unauthorized",
    )
    assert_status(client.get("/nowhere"), 401, "Unauthorized")
    response = client.get("/version", headers=kernel.auth)
    assert response.status_code == 200
    assert response.json()["gitVersion"].startswith("v")
    assert client.get("/metrics").status_code == 200


def test_unknown_paths_and_methods_are_status_objects(
    client: httpx.Client, kernel: KernelProcess
) -> None:
    body = assert_status(client.get("/no/such/thing", headers=kernel.auth), 404, "NotFound")
    assert body["message"] == "the server could not find the requested resource"
    response = client.post("/version", headers=kernel.auth)
    assert_status(response, 405, "MethodNotAllowed")
    assert "GET" in response.headers["allow"]


def test_request_ids_are_kept_or_generated(client: httpx.Client) -> None:
    kept = client.get("/healthz", headers={"X-Request-Id": "trace-42"})
    assert kept.headers["x-request-id"] == "trace-42"
    generated = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{24}", generated.headers["x-request-id"])
    assert generated.headers["x-request-id"] != client.get("/healthz").headers["x-request-id"]
    hostile = client.get("/healthz", headers={"X-Request-Id": "a b\tc" + "x" * 300})
    assert re.fullmatch(r"[0-9a-f]{24}", hostile.headers["x-request-id"])
    error = client.get("/version")
    assert error.status_code == 401
    assert error.headers["x-request-id"]


def _sample(metrics: str, name: str, **labels: str) -> float:
    for line in metrics.splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.find("}") + 1]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_route_method_and_code(
    client: httpx.Client, kernel: KernelProcess
) -> None:
    before = client.get("/metrics").text
    for _ in range(3):
        client.get("/version", headers=kernel.auth)
    client.get("/missing", headers=kernel.auth)
    after = client.get("/metrics").text
    ok = dict(route="/version", method="GET", code="200")
    assert (
        _sample(after, "luban_http_requests_total", **ok)
        - _sample(before, "luban_http_requests_total", **ok)
        == 3
    )
    missing = dict(route="<unmatched>", method="GET", code="404")
    assert (
        _sample(after, "luban_http_requests_total", **missing)
        - _sample(before, "luban_http_requests_total", **missing)
        == 1
    )
    count = "luban_http_request_duration_seconds_count"
    assert _sample(after, count, route="/version", method="GET") >= 3
    # The scrape itself is in flight while it renders.
    assert _sample(after, "luban_http_requests_in_flight") == 1


def test_kubectl_reaches_the_kernel_with_the_written_kubeconfig(
    kernel: KernelProcess, kubectl: Path
) -> None:
    result = subprocess.run(
        [str(kubectl), "--kubeconfig", str(kernel.kubeconfig), "version", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    from luban import __version__

    # /version is the upstream's (the embedded cluster here), with the kernel's added.
    assert json.loads(result.stdout)["serverVersion"]["gitVersion"].startswith("v1.")
    raw_version = subprocess.run(
        [str(kubectl), "--kubeconfig", str(kernel.kubeconfig), "get", "--raw", "/version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(raw_version.stdout)["luban"]["version"] == __version__
    raw = subprocess.run(
        [str(kubectl), "--kubeconfig", str(kernel.kubeconfig), "get", "--raw", "/readyz"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert raw.stdout == "ok"
    missing = subprocess.run(
        [str(kubectl), "--kubeconfig", str(kernel.kubeconfig), "get", "--raw", "/nothing"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_secrets_in_the_data_dir_are_private(kernel: KernelProcess) -> None:
    for name in ("admin-token", "admin.kubeconfig", "pki/ca.key", "pki/serving.key"):
        assert (kernel.data_dir / name).stat().st_mode & 0o077 == 0, name
    assert kernel.token in kernel.kubeconfig.read_text()
    assert kernel.token not in kernel.log()


@pytest.mark.parametrize(
    "path",
    [
        "/kapi/v1/namespaces/../secrets",
        "/kapis/hello.luban.io/v1/greetings/%2e%2e",
        "/kapis/hello.luban.io/v1/greetings/a%2Fb",
        "/kapi/v1//pods",
        "/dist/hello/..%2f..%2fetc/passwd",
        "/version%00",
    ],
)
def test_path_tricks_are_refused_on_every_route(kernel: KernelProcess, path: str) -> None:
    import socket

    # Raw request line: HTTP clients normalize dot segments before sending.
    host, port = kernel.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(kernel.ca_file))
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {kernel.token}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert json.loads(body)["reason"] == "BadRequest"
