"""Desired state in the cluster: survives restarts; several kernels converge on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.extensions.helpers import (
    ADMIN_API,
    answer,
    client,
    eventually,
    extension_source,
    install,
    kernel_with_site,
)
from tests.procs import run_cluster

CRD_PATH = "/apis/extensions.luban.io/v1alpha1/extensions"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    install(site, "state", extension_source("state", "on"))
    return site


def test_disable_survives_a_restart(tmp_path: Path, site: Path) -> None:
    data = tmp_path / "data"
    with kernel_with_site(data, site) as kernel, client(kernel) as http:
        assert answer(http, "state") == "on"
        assert http.post(f"{ADMIN_API}/state/disable").status_code == 200
        assert http.get("/kapis/state.test.io/v1/answer").status_code == 404
        # The desired state is a cluster object, visible through the proxied CRD too.
        obj = http.get(f"{CRD_PATH}/state").json()
        assert obj["spec"]["enabled"] is False
    with kernel_with_site(data, site) as kernel, client(kernel) as http:
        assert http.get("/kapis/state.test.io/v1/answer").status_code == 404
        status = http.get(f"{ADMIN_API}/state").json()
        assert status["spec"]["enabled"] is False
        assert http.post(f"{ADMIN_API}/state/enable").status_code == 200
        assert answer(http, "state") == "on"


def test_two_kernels_converge(tmp_path: Path, site: Path) -> None:
    with run_cluster(tmp_path / "cluster") as cluster:
        args = ("--kubeconfig", str(cluster.kubeconfig))
        with (
            kernel_with_site(tmp_path / "a", site, args=args) as a,
            kernel_with_site(tmp_path / "b", site, args=args) as b,
            client(a) as http_a,
            client(b) as http_b,
        ):
            assert answer(http_a, "state") == "on"
            assert answer(http_b, "state") == "on"
            # Disable through kernel A's admin API; kernel B converges from the watch.
            assert http_a.post(f"{ADMIN_API}/state/disable").status_code == 200
            eventually(lambda: http_b.get("/kapis/state.test.io/v1/answer").status_code == 404)
            # Enable by editing the object directly (kubectl-style) through B's proxy.
            patched = http_b.patch(
                f"{CRD_PATH}/state",
                json={"spec": {"enabled": True}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert patched.status_code == 200
            eventually(lambda: answer(http_a, "state") == "on")
            eventually(lambda: answer(http_b, "state") == "on")

            def both_report() -> bool:
                obj = http_a.get(f"{CRD_PATH}/state").json()
                replicas = obj.get("status", {}).get("replicas", {})
                return len(replicas) == 2 and all(
                    r["state"] == "Running" for r in replicas.values()
                )

            eventually(both_report)
