"""The kernel's authorizer against the real embedded cluster's RBAC (SubjectAccessReview)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.procs import REPO, KernelProcess, run_kernel

AUTH_KERNEL = [sys.executable, str(REPO / "tests" / "servers" / "kernel_with_auth_routes.py")]
ALICE = "alice-token-7f3a9c"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    root = tmp_path_factory.mktemp("embedded-rbac")
    (root / "tokens.csv").write_text(f"{ALICE},alice,uid-alice\n")
    config = root / "luban.yaml"
    config.write_text(yaml.safe_dump({"auth": {"tokenFile": str(root / "tokens.csv")}}))
    with run_kernel(root / "data", "--config", str(config), command=AUTH_KERNEL) as process:
        yield process


def _apply(client: httpx.Client, path: str, body: dict) -> None:
    response = client.post(path, json=body)
    assert response.status_code in (201, 409), response.text


def test_rolebinding_grants_and_revocation_takes_effect_within_ttl(
    kernel: KernelProcess, tmp_path: Path
) -> None:
    admin = httpx.Client(base_url=kernel.url, verify=kernel.verify, headers=kernel.auth, timeout=20)
    alice = httpx.Client(base_url=kernel.url, verify=kernel.verify, timeout=20,
                         headers={"Authorization": f"Bearer {ALICE}"})  # fmt: skip
    with admin, alice:
        probe = admin.post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            json={"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": "x", "resourceAttributes": {"verb": "get", "resource": "pods"}}},
        )  # fmt: skip
        if probe.status_code == 404:
            pytest.skip("the embedded cluster does not serve SubjectAccessReview yet")
        for ns in ("a", "b"):
            _apply(admin, "/api/v1/namespaces", {"metadata": {"name": ns}})
        _apply(admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings", {
            "metadata": {"name": "alice-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                          "name": "alice"}],
        })  # fmt: skip
        deadline = time.monotonic() + 30
        while alice.get("/test/namespaces/a/pods").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        denied = alice.get("/test/namespaces/b/pods")
        assert denied.status_code == 403
        assert denied.json()["message"].startswith(
            'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
            'in the namespace "b"'
        )
        secrets = alice.get("/test/can-i", params={"verb": "get", "namespace": "a"})
        assert secrets.json()["allowed"] is False  # view excludes secrets
        # The proxied API: the kernel impersonates alice, the embedded RBAC decides.
        assert alice.get("/api/v1/namespaces/a/pods").status_code == 200
        assert alice.get("/api/v1/namespaces/b/pods").status_code == 403
        refused = alice.get("/api/v1/namespaces/a/pods", headers={"Impersonate-User": "admin"})
        assert refused.status_code == 403
        revoked = admin.delete(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings/alice-view"
        )
        assert revoked.status_code == 200, revoked.text
        deadline = time.monotonic() + 30  # the TTL is 5 s; generous for a loaded machine
        while alice.get("/test/namespaces/a/pods").status_code == 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
