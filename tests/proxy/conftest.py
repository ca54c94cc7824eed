"""Fixtures for the proxy's tests: recording upstreams (plain, mTLS, wrong CA) and kernels
(``luban serve`` processes) configured with them as named clusters."""

from __future__ import annotations

import asyncio
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvloop
import yaml

from luban.embedded.cluster import EmbeddedCluster
from luban.tls import ServingFiles
from tests.procs import KernelProcess, run_kernel
from tests.proxy.upstreams import (
    UPSTREAM_TOKEN,
    LoopThread,
    RecordingUpstream,
    client_certificate,
    server_context,
    write_kubeconfig,
)

EXEC_TOKEN = "exec-plugin-token-91"
EVE_TOKEN = "eve-token-with-a-crlf-group"
BOB_TOKEN = "bob-static-token-77"
ALLOWED_ORIGIN = "https://console.example"


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The relay client's own tests run on asyncio's loop and on uvloop (the kernel's)."""
    if item.path.name == "test_client.py":
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


@dataclass
class Upstreams:
    """The test upstreams of one package run and where their credentials live."""

    loop: LoopThread
    plain: RecordingUpstream
    mtls: RecordingUpstream
    wrong_ca: RecordingUpstream
    directory: Path
    token_file: Path
    mtls_pki: ServingFiles

    @property
    def mtls_ca(self) -> Path:
        return self.mtls_pki.ca_cert


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="package")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstreams]:
    directory = tmp_path_factory.mktemp("upstreams")
    loop = LoopThread()
    plain, mtls, wrong_ca = RecordingUpstream(), RecordingUpstream(), RecordingUpstream()
    mtls_context, mtls_pki = server_context(directory / "mtls-pki", require_client_cert=True)
    other_context, _ = server_context(directory / "other-pki", require_client_cert=False)
    loop.run(plain.start())
    loop.run(mtls.start(mtls_context))
    loop.run(wrong_ca.start(other_context))
    token_file = directory / "token"
    token_file.write_text("rotating-token-1\n")
    try:
        yield Upstreams(loop, plain, mtls, wrong_ca, directory, token_file, mtls_pki)
    finally:
        for upstream in (plain, mtls, wrong_ca):
            loop.run(upstream.stop())
        loop.stop()


def cluster_kubeconfigs(up: Upstreams) -> dict[str, Path]:
    """One kubeconfig per named cluster, each with a different kind of credential."""
    d = up.directory
    cert, key = client_certificate(up.mtls_pki, d, "luban-proxy-client")
    plugin = d / "exec-plugin.py"
    plugin.write_text(
        f"#!{sys.executable}\nimport json\nprint(json.dumps({{'apiVersion': "
        "'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', "
        f"'status': {{'token': '{EXEC_TOKEN}'}}}}))\n"
    )
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                          "command": str(plugin), "interactiveMode": "Never"}}  # fmt: skip
    return {
        "ws": write_kubeconfig(d / "ws.kubeconfig", up.plain.url, {"token": UPSTREAM_TOKEN}),
        "mtls": write_kubeconfig(
            d / "mtls.kubeconfig",
            up.mtls.url,
            {"client-certificate": str(cert), "client-key": str(key)},
            up.mtls_ca,
        ),
        "tokenfile": write_kubeconfig(
            d / "tokenfile.kubeconfig", up.plain.url, {"tokenFile": str(up.token_file)}
        ),
        "exec": write_kubeconfig(d / "exec.kubeconfig", up.plain.url, exec_user),
        "refused": write_kubeconfig(
            d / "refused.kubeconfig", f"http://127.0.0.1:{_closed_port()}", {"token": "t"}
        ),
        "wrongca": write_kubeconfig(
            d / "wrongca.kubeconfig", up.wrong_ca.url, {"token": "t"}, up.mtls_ca
        ),
    }


def _kernel_config(up: Upstreams, identity: str) -> Path:
    default = write_kubeconfig(
        up.directory / "default.kubeconfig", up.plain.url, {"token": UPSTREAM_TOKEN}
    )
    clusters = [{"name": n, "kubeconfig": str(p)} for n, p in cluster_kubeconfigs(up).items()]
    tokens = up.directory / "tokens.csv"
    # eve's group smuggles a header line: what the kernel sends upstream must not carry it.
    tokens.write_text(
        f'{BOB_TOKEN},bob,bob-uid,"devs"\n{EVE_TOKEN},eve,eve-uid,"devs\r\nX-Injected: 1"\n'
    )
    config = {
        "upstream": {"kubeconfig": str(default), "clusters": clusters},
        "auth": {"tokenFile": str(tokens)},
        # No kernel parts that need a real API server behind it (this one only records).
        "resources": {"enabled": False},
        "extensions": {"entryPoints": False, "watchEnvironment": False},
        "proxy": {
            "identity": identity,
            "requestTimeoutSeconds": 1,
            "allowedOrigins": [ALLOWED_ORIGIN],
            "rejectPaths": ["^/api/v1/nodes/[^/]+/proxy"],
        },
    }
    path = up.directory / f"luban-{identity}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="package")
def kernel(
    upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelProcess]:
    """A kernel (impersonation) fronting the recording upstreams."""
    config = _kernel_config(upstreams, "impersonate")
    with run_kernel(tmp_path_factory.mktemp("kernel") / "data", "--config", str(config)) as k:
        yield k


@pytest.fixture(scope="package")
def passthrough_kernel(
    upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KernelProcess]:
    """A kernel in passthrough mode fronting the same upstreams."""
    config = _kernel_config(upstreams, "passthrough")
    with run_kernel(tmp_path_factory.mktemp("passthrough") / "data", "--config", str(config)) as k:
        yield k


@pytest.fixture
def client(kernel: KernelProcess) -> Iterator[httpx.Client]:
    """An HTTPS client for ``kernel`` carrying the admin token."""
    with httpx.Client(
        base_url=kernel.url, verify=kernel.verify, headers=kernel.auth, timeout=30
    ) as c:
        yield c


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass
class Embedded:
    """An in-process embedded cluster (on its own loop thread) and a kernel fronting it."""

    loop: LoopThread
    cluster: EmbeddedCluster
    kernel: KernelProcess


@pytest.fixture(scope="package")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    loop = LoopThread()
    cluster = EmbeddedCluster()
    loop.run(cluster.start())
    data = tmp_path_factory.mktemp("embedded-kernel") / "data"
    try:
        with run_kernel(data, "--kubeconfig", str(cluster.kubeconfig)) as kernel:
            yield Embedded(loop, cluster, kernel)
    finally:
        loop.run(cluster.stop())
        loop.stop()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
