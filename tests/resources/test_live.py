"""The Resource API's live side: CRDs coming and going, filtered watches, authorization."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

from tests.procs import KernelProcess
from tests.resources.conftest import as_user, create, ensure_namespace

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {
                    "size": {"type": "integer"}, "color": {"type": "string"}}}}}},
        }],
    },
}  # fmt: skip
WIDGETS = "/kapis/example.com/v1/namespaces/crd/widgets"


def _until(check: Any, seconds: float) -> float:
    """Poll ``check`` until truthy; the seconds it took (AssertionError after ``seconds``)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_crd_appears_is_queryable_and_disappears(client: httpx.Client) -> None:
    ensure_namespace(client, "crd")
    assert client.get(WIDGETS).status_code == 404
    create(client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    took = _until(lambda: client.get(WIDGETS).status_code == 200, 10)
    assert took <= 2.0, took
    for i, color in enumerate(["red", "Blue", "green", "blue"]):
        create(client, "/apis/example.com/v1/namespaces/crd/widgets", {
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": f"w{i}"}, "spec": {"size": i * 3, "color": color}})  # fmt: skip
    _until(lambda: client.get(WIDGETS).json()["totalItems"] == 4, 5)
    body = client.get(WIDGETS, params=[("filter", "spec.size>2"), ("filter", "spec.color~BLUE"),
                                       ("sortBy", "spec.size")]).json()  # fmt: skip
    assert [o["metadata"]["name"] for o in body["items"]] == ["w3", "w1"]
    series = 'luban_resource_cache_objects{resource="widgets.example.com"}'
    _until(lambda: series in client.get("/metrics").text, 5)
    deleted = client.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                            "widgets.example.com")  # fmt: skip
    assert deleted.status_code in (200, 202), deleted.text
    _until(lambda: client.get(WIDGETS).status_code == 404, 5)
    # The cache went with it: its metrics series are gone within a housekeeping tick.
    _until(lambda: series not in client.get("/metrics").text, 5)


class Stream:
    """A watch being read: :meth:`next` waits (bounded) for the next non-empty line."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, seconds: float = 5) -> str:
        while True:
            line = await asyncio.wait_for(anext(self._lines), seconds)
            if line:
                return line


@asynccontextmanager
async def watching(kernel: KernelProcess, url: str, params: dict[str, str],
                   headers: dict[str, str] | None = None) -> AsyncIterator[Stream]:  # fmt: skip
    http = httpx.AsyncClient(base_url=kernel.url, headers=kernel.auth, verify=kernel.verify,
                             timeout=httpx.Timeout(30, read=None))  # fmt: skip
    async with http, http.stream("GET", url, params=params, headers=headers or {}) as response:
        yield Stream(response)


def _event(line: str) -> tuple[str, str]:
    event = orjson.loads(line)
    return event["type"], event["object"]["metadata"]["name"]


def _cm(name: str, app: str, value: str = "1") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": app}}, "data": {"v": value}}


def _script(client: httpx.Client) -> list[tuple[str, str]]:
    """Changes in namespace ``live``; returns what a watch of app=web must see."""
    base = "/api/v1/namespaces/live/configmaps"
    create(client, base, _cm("x1", "web"))
    client.patch(f"{base}/x1", json={"data": {"v": "2"}},
                 headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    create(client, base, _cm("x2", "db"))
    client.patch(f"{base}/x2", json={"metadata": {"labels": {"app": "web"}}},
                 headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    client.patch(f"{base}/x1", json={"metadata": {"labels": {"app": "db"}}},
                 headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    client.delete(f"{base}/x2")
    client.delete(f"{base}/x1")
    return [("ADDED", "x1"), ("MODIFIED", "x1"), ("ADDED", "x2"), ("DELETED", "x1"),
            ("DELETED", "x2")]  # fmt: skip


async def test_filtered_watch_sees_objects_move_in_and_out_and_resumes(
    client: httpx.Client, kernel: KernelProcess
) -> None:
    ensure_namespace(client, "live")
    url = "/kapi/v1/namespaces/live/configmaps"
    listed = client.get(url, params={"labelSelector": "app=web"}).json()
    assert listed["items"] == []
    rv = listed["metadata"]["resourceVersion"]
    async with watching(kernel, url, {"watch": "true", "labelSelector": "app=web",
                                "resourceVersion": rv}) as stream:  # fmt: skip
        assert stream.response.status_code == 200
        expected = _script(client)
        assert [_event(await stream.next()) for _ in expected] == expected
    # Resuming from the list's resourceVersion replays the same changes.
    async with watching(kernel, url, {"watch": "true", "labelSelector": "app=web",
                                "resourceVersion": rv}) as stream:  # fmt: skip
        assert [_event(await stream.next()) for _ in expected] == expected


async def test_watch_without_resource_version_starts_with_the_state_and_sse_works(
    client: httpx.Client, kernel: KernelProcess
) -> None:
    ensure_namespace(client, "sse")
    base = "/api/v1/namespaces/sse/configmaps"
    create(client, base, _cm("s1", "web"))
    create(client, base, _cm("s2", "db"))
    url = "/kapi/v1/namespaces/sse/configmaps"
    async with watching(kernel, url, {"watch": "true", "filter": "metadata.labels.app=web"},
                  {"Accept": "text/event-stream"}) as stream:  # fmt: skip
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        lines = [await stream.next() for _ in range(3)]
        assert lines[0].startswith("id: ")
        assert lines[1] == "event: ADDED"
        assert _event(lines[2].removeprefix("data: ")) == ("ADDED", "s1")
        create(client, base, _cm("s3", "web"))
        lines = [await stream.next() for _ in range(3)]
        assert lines[1] == "event: ADDED"
        assert _event(lines[2].removeprefix("data: ")) == ("ADDED", "s3")


async def test_watch_filtering_on_a_field_no_query_used_before_sees_its_objects(
    client: httpx.Client, kernel: KernelProcess
) -> None:
    ensure_namespace(client, "fields")
    base = "/api/v1/namespaces/fields/configmaps"
    create(client, base, {"metadata": {"name": "f1"}, "data": {"flavour": "sweet"}})
    create(client, base, {"metadata": {"name": "f2"}, "data": {"flavour": "sour"}})
    url = "/kapi/v1/namespaces/fields/configmaps"
    params = {"watch": "true", "fieldSelector": "data.flavour=sweet"}
    async with watching(kernel, url, params) as stream:
        assert _event(await stream.next()) == ("ADDED", "f1")
        create(client, base, {"metadata": {"name": "f3"}, "data": {"flavour": "sweet"}})
        assert _event(await stream.next()) == ("ADDED", "f3")


async def test_watch_from_a_forgotten_resource_version_is_410(
    client: httpx.Client, kernel: KernelProcess
) -> None:
    ensure_namespace(client, "live")
    async with watching(kernel, "/kapi/v1/namespaces/live/configmaps",
                  {"watch": "true", "resourceVersion": "1"}) as stream:  # fmt: skip
        event = orjson.loads(await stream.next())
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410


def _rbac_available(client: httpx.Client) -> bool:
    review = client.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "nobody",
                 "resourceAttributes": {"verb": "get", "resource": "pods"}}})  # fmt: skip
    return review.status_code == 201


def test_alice_sees_only_namespace_a(client: httpx.Client, kernel: KernelProcess) -> None:
    assert _rbac_available(client), "the upstream answers no SubjectAccessReviews (RBAC missing)"
    for ns in ("a", "b"):
        ensure_namespace(client, ns)
        create(client, f"/api/v1/namespaces/{ns}/configmaps", _cm(f"in-{ns}", "web"))
    create(client, "/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles", {
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                   "verbs": ["get", "list", "watch", "create"]}]})  # fmt: skip
    create(client, "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings", {
        "metadata": {"name": "alice-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "User", "name": "alice",
                      "apiGroup": "rbac.authorization.k8s.io"}]})  # fmt: skip
    with as_user(kernel, "alice") as alice:
        mine = alice.get("/kapi/v1/namespaces/a/configmaps")
        assert mine.status_code == 200, mine.text
        assert [o["metadata"]["name"] for o in mine.json()["items"]] == ["in-a"]
        assert alice.get("/kapi/v1/namespaces/a/configmaps/in-a").status_code == 200
        for refused in ("/kapi/v1/namespaces/b/configmaps", "/kapi/v1/configmaps",
                        "/kapi/v1/namespaces/b/configmaps/in-b"):  # fmt: skip
            answer = alice.get(refused)
            assert answer.status_code == 403, refused
            assert answer.json()["reason"] == "Forbidden"
        assert alice.get("/kapi/v1/configmaps", params={"namespaces": "a"}).status_code == 200
        assert alice.get("/kapi/v1/configmaps", params={"namespaces": "a,b"}).status_code == 403
        watch = alice.get("/kapi/v1/namespaces/b/configmaps", params={"watch": "true"})
        assert watch.status_code == 403
        # Writes go upstream as alice: allowed in a, refused in b by the upstream itself.
        made = alice.post("/kapi/v1/namespaces/a/configmaps", json=_cm("by-alice", "web"))
        assert made.status_code == 201, made.text
        assert made.json()["metadata"]["managedFields"][0]["manager"]
        refused_write = alice.post("/kapi/v1/namespaces/b/configmaps", json=_cm("no", "web"))
        assert refused_write.status_code == 403
