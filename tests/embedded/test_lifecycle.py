"""Object lifecycle on the embedded cluster: finalizers, namespaces, GC, dryRun, status."""

from __future__ import annotations

import itertools
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.procs import ClusterProcess

MERGE = {"Content-Type": "application/merge-patch+json"}
_names = itertools.count()


@pytest.fixture(scope="module")
def http(cluster: ClusterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=cluster.url,
        verify=ssl.create_default_context(cafile=str(cluster.ca_file)),
        headers={"Authorization": f"Bearer {cluster.token}"},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
def ns(http: httpx.Client) -> str:
    name = f"life-{next(_names)}"
    response = http.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert response.status_code == 201, response.text
    return name


def eventually(check: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def deploy_path(ns: str, name: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments" + (f"/{name}" if name else "")


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
            },
        },
    }


def create(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def list_rv(http: httpx.Client, ns: str) -> str:
    return str(http.get(cm_path(ns)).json()["metadata"]["resourceVersion"])


def test_finalizers_hold_deletion(http: httpx.Client, ns: str) -> None:
    create(http, cm_path(ns), {"metadata": {"name": "held", "finalizers": ["example.com/x"]}})
    response = http.delete(cm_path(ns, "held"))
    assert response.status_code in (200, 202), response.text
    obj = http.get(cm_path(ns, "held")).json()
    assert obj["metadata"]["deletionTimestamp"]
    assert obj["metadata"]["finalizers"] == ["example.com/x"]
    # a second delete keeps it too
    assert http.delete(cm_path(ns, "held")).status_code in (200, 202)
    assert http.get(cm_path(ns, "held")).status_code == 200
    obj["metadata"]["finalizers"] = []
    response = http.put(cm_path(ns, "held"), json=obj)
    assert response.status_code == 200, response.text
    eventually(lambda: http.get(cm_path(ns, "held")).status_code == 404)


def test_namespace_deletion(http: httpx.Client, ns: str) -> None:
    create(http, cm_path(ns), {"metadata": {"name": "plain"}})
    create(http, cm_path(ns), {"metadata": {"name": "stuck", "finalizers": ["example.com/x"]}})
    create(http, deploy_path(ns), deployment("app"))
    response = http.delete(f"/api/v1/namespaces/{ns}")
    assert response.status_code in (200, 202), response.text
    got = http.get(f"/api/v1/namespaces/{ns}").json()
    assert got["status"]["phase"] == "Terminating"
    assert got["metadata"]["deletionTimestamp"]
    refused = http.post(cm_path(ns), json={"metadata": {"name": "late"}})
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "Forbidden"
    eventually(
        lambda: [i["metadata"]["name"] for i in http.get(cm_path(ns)).json()["items"]] == ["stuck"]
    )
    assert http.get(deploy_path(ns)).json()["items"] == []
    assert http.get(f"/api/v1/namespaces/{ns}").json()["status"]["phase"] == "Terminating"
    http.patch(cm_path(ns, "stuck"), json={"metadata": {"finalizers": None}}, headers=MERGE)
    eventually(lambda: http.get(f"/api/v1/namespaces/{ns}").status_code == 404)
    assert http.get(cm_path(ns)).json()["items"] == []


def _owned(http: httpx.Client, ns: str, owner: dict[str, Any], name: str) -> None:
    ref = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    create(http, cm_path(ns), {"metadata": {"name": name, "ownerReferences": [ref]}})


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
def test_propagation_policy(http: httpx.Client, ns: str, policy: str) -> None:
    owner = create(http, deploy_path(ns), deployment("owner"))
    _owned(http, ns, owner, "child")
    create(http, cm_path(ns), {"metadata": {"name": "bystander"}})
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy}
    response = http.request("DELETE", deploy_path(ns, "owner"), json=body)
    assert response.status_code in (200, 202), response.text
    if policy == "Foreground":
        deleting = response.json()
        assert "foregroundDeletion" in deleting["metadata"]["finalizers"]
    eventually(lambda: http.get(deploy_path(ns, "owner")).status_code == 404)
    if policy == "Orphan":
        child = http.get(cm_path(ns, "child")).json()
        assert not child["metadata"].get("ownerReferences")
    else:
        eventually(lambda: http.get(cm_path(ns, "child")).status_code == 404)
    assert http.get(cm_path(ns, "bystander")).status_code == 200


def test_dangling_owner_is_collected(http: httpx.Client, ns: str) -> None:
    owner = create(http, deploy_path(ns), deployment("gone"))
    http.delete(deploy_path(ns, "gone"), params={"propagationPolicy": "Orphan"})
    eventually(lambda: http.get(deploy_path(ns, "gone")).status_code == 404)
    _owned(http, ns, owner, "orphan-child")  # its owner's uid no longer exists
    eventually(lambda: http.get(cm_path(ns, "orphan-child")).status_code == 404)


def test_dry_run_changes_nothing(http: httpx.Client, ns: str) -> None:
    create(http, cm_path(ns), {"metadata": {"name": "real"}, "data": {"a": "1"}})
    before = http.get(cm_path(ns)).json()
    dry = {"dryRun": "All"}
    response = http.post(cm_path(ns), json={"metadata": {"name": "ghost"}}, params=dry)
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["name"] == "ghost"
    current = http.get(cm_path(ns, "real")).json()
    changed = {**current, "data": {"a": "2"}}
    assert http.put(cm_path(ns, "real"), json=changed, params=dry).json()["data"] == {"a": "2"}
    patched = http.patch(cm_path(ns, "real"), json={"data": {"b": "3"}}, params=dry, headers=MERGE)
    assert patched.status_code == 200
    assert patched.json()["data"] == {"a": "1", "b": "3"}
    assert http.delete(cm_path(ns, "real"), params=dry).status_code == 200
    assert http.get(cm_path(ns)).json() == before
    assert http.get(cm_path(ns, "ghost")).status_code == 404
    bad = http.post(cm_path(ns), json={"metadata": {"name": "real"}}, params=dry)
    assert bad.status_code == 409


def test_generation_and_status_subresource(http: httpx.Client, ns: str) -> None:
    created = create(http, deploy_path(ns), deployment("gen"))
    assert created["metadata"]["generation"] == 1
    labelled = http.patch(
        deploy_path(ns, "gen"), json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE
    ).json()
    assert labelled["metadata"]["generation"] == 1
    scaled = http.patch(deploy_path(ns, "gen"), json={"spec": {"replicas": 4}}, headers=MERGE)
    assert scaled.json()["metadata"]["generation"] == 2

    obj = scaled.json()
    obj["status"] = {"replicas": 9, "observedGeneration": 2}
    obj["spec"]["replicas"] = 5
    updated = http.put(deploy_path(ns, "gen"), json=obj).json()
    assert updated["spec"]["replicas"] == 5
    assert updated["metadata"]["generation"] == 3
    assert updated.get("status", {}).get("replicas") != 9

    updated["status"] = {"replicas": 7, "observedGeneration": 3}
    updated["spec"]["replicas"] = 1
    status = http.put(deploy_path(ns, "gen") + "/status", json=updated)
    assert status.status_code == 200, status.text
    assert status.json()["status"]["replicas"] == 7
    assert status.json()["spec"]["replicas"] == 5
    assert status.json()["metadata"]["generation"] == 3
    patched = http.patch(
        deploy_path(ns, "gen") + "/status", json={"status": {"readyReplicas": 2}}, headers=MERGE
    ).json()
    assert patched["status"]["readyReplicas"] == 2
    assert patched["metadata"]["generation"] == 3


def test_write_errors(http: httpx.Client, ns: str) -> None:
    first = create(http, cm_path(ns), {"metadata": {"name": "cm"}})
    http.patch(cm_path(ns, "cm"), json={"data": {"x": "1"}}, headers=MERGE)
    rv = list_rv(http, ns)

    stale = http.put(cm_path(ns, "cm"), json={**first, "data": {"y": "2"}})
    assert stale.status_code == 409
    assert stale.json()["reason"] == "Conflict"
    again = http.post(cm_path(ns), json={"metadata": {"name": "cm"}})
    assert again.status_code == 409
    assert again.json()["reason"] == "AlreadyExists"
    assert again.json()["details"] == {"name": "cm", "kind": "configmaps"}

    wrong_kind = http.post(cm_path(ns), json={"kind": "Secret", "metadata": {"name": "k"}})
    assert wrong_kind.status_code == 400, wrong_kind.text
    wrong_version = http.post(
        cm_path(ns), json={"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "k"}}
    )
    assert wrong_version.status_code == 400, wrong_version.text

    for bad_name in ("Upper", "under_score", "-lead", "a" * 254):
        invalid = http.post(cm_path(ns), json={"metadata": {"name": bad_name}})
        assert invalid.status_code == 422, (bad_name, invalid.text)
        status = invalid.json()
        assert status["reason"] == "Invalid"
        assert status["details"]["kind"] == "ConfigMap"
        assert status["details"]["causes"][0]["field"] == "metadata.name"
    bad_deploy = http.post(deploy_path(ns), json=deployment("Bad.Name"))
    assert bad_deploy.status_code == 422

    missing = http.post(cm_path("no-such-ns"), json={"metadata": {"name": "x"}})
    assert missing.status_code == 404
    assert missing.json()["reason"] == "NotFound"
    assert missing.json()["details"] == {"name": "no-such-ns", "kind": "namespaces"}

    assert list_rv(http, ns) == rv
    names = [i["metadata"]["name"] for i in http.get(cm_path(ns)).json()["items"]]
    assert names == ["cm"]


def test_generate_name(http: httpx.Client, ns: str) -> None:
    made = create(http, cm_path(ns), {"metadata": {"generateName": "gen-"}})
    assert made["metadata"]["name"].startswith("gen-")
    assert len(made["metadata"]["name"]) > 4
