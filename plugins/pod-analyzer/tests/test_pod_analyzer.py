"""pod-analyzer against pods with realistic statuses in the embedded cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from luban_sdk.testing import LubanKernel

BASE = "/kapis/podanalyzer.luban.io/v1alpha1"
DEV_TOKEN = "dev-token-0123456789"


@pytest.fixture(scope="module")
def luban_extensions() -> list[str]:
    return ["pod-analyzer=luban_pod_analyzer:extension"]


@pytest.fixture(scope="module")
def luban_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tokens: Path = tmp_path_factory.mktemp("auth") / "tokens.csv"
    tokens.write_text(f'{DEV_TOKEN},dev,dev-uid,"developers"\n')
    return {
        "auth": {"tokenFile": str(tokens)},
        "extensions": {"pod-analyzer": {"restart_threshold": 3}},
    }


def _pod(name: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": containers},
    }


def _waiting(name: str, reason: str, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": extra.pop("image", "app:1"),
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": "m"}},
        **extra,
    }


PODS: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    "crashy": (
        [{"name": "app", "image": "app:1"}],
        {
            "phase": "Running",
            "containerStatuses": [
                _waiting(
                    "app",
                    "CrashLoopBackOff",
                    7,
                    lastState={"terminated": {"exitCode": 1, "reason": "Error"}},
                )
            ],
        },
    ),
    "pull": (
        [{"name": "app", "image": "registry.invalid/nope:9"}],
        {
            "phase": "Pending",
            "containerStatuses": [
                _waiting("app", "ImagePullBackOff", image="registry.invalid/nope:9")
            ],
        },
    ),
    "errpull": (
        [{"name": "app", "image": "nope:1"}],
        {"phase": "Pending", "containerStatuses": [_waiting("app", "ErrImagePull")]},
    ),
    "oom": (
        [{"name": "app", "image": "app:1", "resources": {"limits": {"memory": "64Mi"}}}],
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "app:1",
                    "ready": True,
                    "restartCount": 2,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                }
            ],
        },
    ),
    "pending": (
        [{"name": "app", "image": "app:1"}],
        {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient cpu.",
                }
            ],
        },
    ),
    "unready": (
        [
            {
                "name": "app",
                "image": "app:1",
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
            }
        ],
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "app:1",
                    "ready": False,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ],
        },
    ),
    "flappy": (
        [{"name": "app", "image": "app:1"}],
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "app:1",
                    "ready": True,
                    "restartCount": 4,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                    "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}},
                }
            ],
        },
    ),
    "evicted": (
        [{"name": "app", "image": "app:1"}],
        {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory.",
        },
    ),
    "healthy": (
        [{"name": "app", "image": "app:1"}],
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "app:1",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ],
        },
    ),
}

EXPECTED = {
    ("crashy", "CrashLoopBackOff", "critical"),
    ("pull", "ImagePullBackOff", "high"),
    ("errpull", "ErrImagePull", "high"),
    ("oom", "OOMKilled", "high"),
    ("pending", "Unschedulable", "high"),
    ("unready", "ReadinessProbeFailing", "medium"),
    ("flappy", "FrequentRestarts", "medium"),
    ("evicted", "Evicted", "medium"),
}


@pytest.fixture(scope="module")
def troubled(luban_kernel: LubanKernel) -> LubanKernel:
    """Namespaces team-a (the pods above) and team-b (one crashing pod); dev may read team-a."""
    with httpx.Client(
        base_url=luban_kernel.url,
        headers={"Authorization": f"Bearer {luban_kernel.token}"},
        verify=luban_kernel.ssl_context(),
    ) as http:
        for ns in ("team-a", "team-b"):
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            assert http.post("/api/v1/namespaces", json=body).status_code == 201
        for ns, pods in (("team-a", PODS), ("team-b", {"crashy": PODS["crashy"]})):
            for name, (containers, status) in pods.items():
                created = http.post(f"/api/v1/namespaces/{ns}/pods", json=_pod(name, containers))
                assert created.status_code == 201, created.text
                patched = http.patch(
                    f"/api/v1/namespaces/{ns}/pods/{name}/status",
                    json={"status": status},
                    headers={"Content-Type": "application/merge-patch+json"},
                )
                assert patched.status_code == 200, patched.text
        rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a"
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "dev-reads-pods"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pod-reader",
            },
            "subjects": [{"kind": "User", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}],
        }
        assert http.post(f"{rbac}/roles", json=role).status_code == 201
        assert http.post(f"{rbac}/rolebindings", json=binding).status_code == 201
    return luban_kernel


async def test_finds_every_kind_of_trouble(
    troubled: LubanKernel, luban_http: httpx.AsyncClient
) -> None:
    response = await luban_http.get(f"{BASE}/namespaces/team-a/findings", params={"limit": "100"})
    assert response.status_code == 200, response.text
    body = response.json()
    found = {(f["pod"], f["problem"], f["severity"]) for f in body["items"]}
    assert found == EXPECTED
    assert body["totalItems"] == len(EXPECTED)
    first = body["items"][0]
    assert (first["pod"], first["severity"]) == ("crashy", "critical")
    assert first["evidence"]["restartCount"] == 7
    assert first["evidence"]["lastExitCode"] == 1
    assert "logs" in first["suggestion"]
    oom = next(f for f in body["items"] if f["problem"] == "OOMKilled")
    assert oom["evidence"]["memoryLimit"] == "64Mi"
    pending = next(f for f in body["items"] if f["problem"] == "Unschedulable")
    assert "Insufficient cpu" in pending["evidence"]["message"]


async def test_sorts_and_paginates(troubled: LubanKernel, luban_http: httpx.AsyncClient) -> None:
    pages = []
    for page in (1, 2, 3):
        response = await luban_http.get(
            f"{BASE}/namespaces/team-a/findings",
            params={"sortBy": "name", "ascending": "true", "limit": "3", "page": str(page)},
        )
        assert response.status_code == 200
        assert response.json()["totalItems"] == len(EXPECTED)
        pages.append([f["pod"] for f in response.json()["items"]])
    assert [len(p) for p in pages] == [3, 3, 2]
    names = [name for page in pages for name in page]
    assert names == sorted(p for p, _, _ in EXPECTED)
    bad = await luban_http.get(f"{BASE}/namespaces/team-a/findings", params={"sortBy": "x"})
    assert bad.status_code == 400
    assert bad.json()["kind"] == "Status"


async def test_all_namespaces_and_severity_filter(
    troubled: LubanKernel, luban_http: httpx.AsyncClient
) -> None:
    response = await luban_http.get(f"{BASE}/findings", params={"severity": "critical"})
    assert response.status_code == 200
    assert {(f["namespace"], f["pod"]) for f in response.json()["items"]} == {
        ("team-a", "crashy"),
        ("team-b", "crashy"),
    }


async def test_works_as_the_caller(troubled: LubanKernel) -> None:
    async with httpx.AsyncClient(
        base_url=troubled.url,
        headers={"Authorization": f"Bearer {DEV_TOKEN}"},
        verify=troubled.ssl_context(),
    ) as dev:
        mine = await dev.get(f"{BASE}/namespaces/team-a/findings")
        assert mine.status_code == 200, mine.text
        assert mine.json()["totalItems"] == len(EXPECTED)
        other = await dev.get(f"{BASE}/namespaces/team-b/findings")
        assert other.status_code == 403
        assert other.json()["kind"] == "Status"
        everything = await dev.get(f"{BASE}/findings")
        assert everything.status_code == 403
