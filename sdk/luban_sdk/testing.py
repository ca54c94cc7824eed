"""pytest fixtures: a real kernel with your extensions, on an embedded cluster.

Installed as a pytest plugin (entry point ``pytest11``). In a test module::

    import pytest

    @pytest.fixture(scope="module")
    def luban_extensions() -> list[str]:
        return ["hello=luban_hello:extension"]

    async def test_greets(luban_http):
        response = await luban_http.get("/kapis/hello.luban.io/v1/greetings/ada")
        assert response.status_code == 200

``luban_kernel`` starts ``luban serve --embedded`` in a temporary directory (a subprocess:
the SDK never imports the kernel); ``luban_http`` is an ``httpx.AsyncClient`` authenticated
as the cluster admin; ``luban_kube`` is a ``kubernetes_asyncio`` ``ApiClient`` for the same
kernel (its Kubernetes API is the embedded cluster, proxied).
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

START_TIMEOUT = 60.0


@dataclass
class LubanKernel:
    """A running kernel: URL, admin token, CA file, data dir and process."""

    url: str
    token: str
    ca_file: Path
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig the kernel wrote."""
        return self.data_dir / "admin.kubeconfig"

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the kernel's generated CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def log(self) -> str:
        """The kernel's output so far."""
        return self.log_file.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def start_kernel(
    data_dir: Path,
    extensions: list[str],
    config: Mapping[str, Any] | None = None,
    pythonpath: list[str] | None = None,
    upstream: Path | None = None,
) -> LubanKernel:
    """Start ``luban serve`` serving only ``extensions`` (``name=module:attr``).

    The upstream is a fresh embedded cluster, or the cluster of the ``upstream`` kubeconfig.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {"extensions": {"entryPoints": False, "sources": extensions}}
    for key, value in (config or {}).items():
        if key == "extensions" and isinstance(value, dict):
            settings["extensions"].update(value)
        else:
            settings[key] = value
    config_file = data_dir / "luban-test.yaml"
    config_file.write_text(yaml.safe_dump(settings))
    log_file = data_dir / "kernel.log"
    kubeconfig = data_dir / "admin.kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    env = dict(os.environ)
    paths = [*(pythonpath or []), os.getcwd(), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "luban.cli", "serve", "--port", "0",
             *(["--kubeconfig", str(upstream)] if upstream else ["--embedded"]),
             "--data-dir", str(data_dir), "--config", str(config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while not kubeconfig.exists():
        if process.poll() is not None:
            raise RuntimeError(f"luban exited with {process.returncode}:\n{log_file.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"kernel did not start:\n{log_file.read_text()}")
        time.sleep(0.05)
    parsed = yaml.safe_load(kubeconfig.read_text())
    return LubanKernel(
        url=parsed["clusters"][0]["cluster"]["server"],
        token=parsed["users"][0]["user"]["token"],
        ca_file=data_dir / "pki" / "ca.crt",
        data_dir=data_dir,
        process=process,
        log_file=log_file,
    )


@pytest.fixture(scope="module")
def luban_extensions() -> list[str]:
    """Override: the extensions to serve, as ``name=module:attribute``."""
    return []


@pytest.fixture(scope="module")
def luban_config() -> dict[str, Any]:
    """Override: extra kernel config (``{"extensions": {"hello": {"greeting": "Hi"}}}``)."""
    return {}


@pytest.fixture(scope="module")
def luban_kernel(
    luban_extensions: list[str],
    luban_config: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[LubanKernel]:
    """A kernel serving ``luban_extensions`` on a fresh embedded cluster."""
    kernel = start_kernel(
        tmp_path_factory.mktemp("luban"),
        luban_extensions,
        luban_config,
        [str(request.config.rootpath)],
    )
    try:
        yield kernel
    finally:
        kernel.stop()


@pytest_asyncio.fixture
async def luban_http(luban_kernel: LubanKernel) -> AsyncIterator[Any]:
    """An ``httpx.AsyncClient`` for the kernel, authenticated as the cluster admin."""
    import httpx

    async with httpx.AsyncClient(
        base_url=luban_kernel.url,
        headers={"Authorization": f"Bearer {luban_kernel.token}"},
        verify=luban_kernel.ssl_context(),
        timeout=30,
    ) as client:
        yield client


@pytest_asyncio.fixture
async def luban_kube(luban_kernel: LubanKernel) -> AsyncIterator[Any]:
    """A ``kubernetes_asyncio`` ``ApiClient`` talking to the kernel as the cluster admin."""
    from kubernetes_asyncio import config

    client = await config.new_client_from_config(config_file=str(luban_kernel.kubeconfig))
    try:
        yield client
    finally:
        await client.close()
