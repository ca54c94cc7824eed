from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.procs import KernelProcess, run_kernel

TOKENS = {"alice": "token-alice-0123456789abcdef"}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    """``luban serve`` in front of its embedded cluster, with a static token for alice."""
    root = tmp_path_factory.mktemp("resources")
    tokens = root / "tokens.csv"
    tokens.write_text("".join(f"{t},{n},uid-{n}\n" for n, t in TOKENS.items()))
    config = root / "luban.yaml"
    config.write_text(yaml.safe_dump({
        "auth": {"tokenFile": str(tokens)},
        "resources": {"readYourWritesTimeoutSeconds": 0.5},
    }))  # fmt: skip
    with run_kernel(root / "data", "--config", str(config)) as process:
        yield process


@pytest.fixture(scope="module")
def client(kernel: KernelProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=kernel.url, headers=kernel.auth, verify=kernel.verify, timeout=30
    ) as http:
        yield http


def as_user(kernel: KernelProcess, name: str) -> httpx.Client:
    return httpx.Client(
        base_url=kernel.url,
        headers={"Authorization": f"Bearer {TOKENS[name]}"},
        verify=kernel.verify,
        timeout=30,
    )


def create(client: httpx.Client, path: str, body: dict) -> dict:
    response = client.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def ensure_namespace(client: httpx.Client, name: str) -> None:
    response = client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert response.status_code in (201, 409), response.text


__all__ = ["Path", "as_user", "create", "ensure_namespace"]
