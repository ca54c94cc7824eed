"""The official ``kubernetes`` and ``kubernetes_asyncio`` clients against the embedded cluster."""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import kubernetes_asyncio
import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException, ConflictException, NotFoundException
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio import config as aconfig
from kubernetes_asyncio import watch as awatch

from luban.embedded.api import ClusterOptions
from luban.embedded.cluster import EmbeddedCluster
from tests.procs import ClusterProcess

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
_names = itertools.count()

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.clients.example.com"},
    "spec": {
        "group": "clients.example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer", "minimum": 1}},
                            }
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def api(cluster: ClusterProcess) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(cluster.kubeconfig)) as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> str:
    name = f"clients-{next(_names)}"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata={"name": name}))
    return name


def _cm(name: str, data: dict[str, str] | None = None, **labels: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or None), data=data or {}
    )


def _deployment(name: str) -> client.V1Deployment:
    container = client.V1Container(
        name="app", image="nginx:1", env=[client.V1EnvVar(name="A", value="1")]
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}),
                spec=client.V1PodSpec(containers=[container]),
            ),
        ),
    )


def test_configmap_crud(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map(namespace, _cm("one", {"a": "1"}))
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.kind == "ConfigMap"
    assert created.api_version == "v1"
    assert core.read_namespaced_config_map("one", namespace).data == {"a": "1"}

    patched = core.patch_namespaced_config_map(
        "one", namespace, {"data": {"b": "2"}}, _content_type=MERGE
    )
    assert patched.data == {"a": "1", "b": "2"}
    patched = core.patch_namespaced_config_map(
        "one", namespace, {"metadata": {"labels": {"x": "y"}}}, _content_type=STRATEGIC
    )
    assert patched.metadata.labels == {"x": "y"}
    assert patched.data == {"a": "1", "b": "2"}
    patched = core.patch_namespaced_config_map(
        "one", namespace, [{"op": "remove", "path": "/data/a"}], _content_type=JSON_PATCH
    )
    assert patched.data == {"b": "2"}

    patched.data = {"c": "3"}
    replaced = core.replace_namespaced_config_map("one", namespace, patched)
    assert replaced.data == {"c": "3"}
    assert int(replaced.metadata.resource_version) > int(patched.metadata.resource_version)

    status = core.delete_namespaced_config_map("one", namespace)
    assert status["status"] == "Success"
    with pytest.raises(NotFoundException) as caught:
        core.read_namespaced_config_map("one", namespace)
    assert json.loads(caught.value.body)["reason"] == "NotFound"


def test_deployment_crud_with_strategic_merge(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, _deployment("web"))
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}
            }
        }
    }
    patched = apps.patch_namespaced_deployment("web", namespace, patch, _content_type=STRATEGIC)
    container = patched.spec.template.spec.containers[0]
    assert container.image == "nginx:1"
    assert [(e.name, e.value) for e in container.env] == [("B", "2"), ("A", "1")]
    assert patched.metadata.generation == 2

    patched = apps.patch_namespaced_deployment(
        "web", namespace, {"spec": {"replicas": 3}}, _content_type=MERGE
    )
    assert patched.spec.replicas == 3
    patched.spec.replicas = 2
    assert apps.replace_namespaced_deployment("web", namespace, patched).spec.replicas == 2
    listed = apps.list_namespaced_deployment(namespace)
    assert [d.metadata.name for d in listed.items] == ["web"]
    apps.delete_namespaced_deployment("web", namespace)
    assert apps.list_namespaced_deployment(namespace).items == []


def test_custom_objects(api: client.ApiClient, namespace: str) -> None:
    client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
    custom = client.CustomObjectsApi(api)
    group, version, plural = "clients.example.com", "v1", "widgets"
    body = {"apiVersion": f"{group}/{version}", "kind": "Widget", "metadata": {"name": "w"}}
    for _ in range(50):  # the resource is served "within a second"
        try:
            custom.create_namespaced_custom_object(
                group, version, namespace, plural, {**body, "spec": {"size": 2}}
            )
            break
        except NotFoundException:
            asyncio.run(asyncio.sleep(0.05))
    got = custom.get_namespaced_custom_object(group, version, namespace, plural, "w")
    assert got["spec"] == {"size": 2}
    patched = custom.patch_namespaced_custom_object(
        group, version, namespace, plural, "w", {"spec": {"size": 5}}
    )
    assert patched["spec"]["size"] == 5
    listed = custom.list_namespaced_custom_object(group, version, namespace, plural)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["w"]
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(
            group,
            version,
            namespace,
            plural,
            {**body, "metadata": {"name": "bad"}, "spec": {"size": 0}},
        )
    assert caught.value.status == 422
    custom.delete_namespaced_custom_object(group, version, namespace, plural, "w")
    listed = custom.list_namespaced_custom_object(group, version, namespace, plural)
    assert listed["items"] == []


def test_missing_content_type_and_type_meta(cluster: ClusterProcess, namespace: str) -> None:
    with httpx.Client(
        base_url=cluster.url,
        verify=ssl.create_default_context(cafile=str(cluster.ca_file)),
        headers={"Authorization": f"Bearer {cluster.token}"},
    ) as http:
        response = http.post(
            f"/api/v1/namespaces/{namespace}/configmaps",
            content=json.dumps({"metadata": {"name": "bare"}, "data": {"k": "v"}}),
        )
        assert response.status_code == 201, response.text
        assert response.json()["kind"] == "ConfigMap"
        assert response.json()["apiVersion"] == "v1"
        got = http.get(f"/api/v1/namespaces/{namespace}/configmaps/bare").json()
        assert got["kind"] == "ConfigMap"
        assert got["data"] == {"k": "v"}


def test_error_types(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, _cm("dup"))
    with pytest.raises(ConflictException) as caught:
        core.create_namespaced_config_map(namespace, _cm("dup"))
    assert json.loads(caught.value.body)["reason"] == "AlreadyExists"
    current = core.read_namespaced_config_map("dup", namespace)
    core.patch_namespaced_config_map("dup", namespace, {"data": {"x": "1"}}, _content_type=MERGE)
    with pytest.raises(ConflictException) as caught:
        core.replace_namespaced_config_map("dup", namespace, current)
    assert json.loads(caught.value.body)["reason"] == "Conflict"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, _cm("Not_Valid"))
    status = json.loads(caught.value.body)
    assert caught.value.status == 422
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    with pytest.raises(NotFoundException):
        core.read_namespaced_config_map("nope", namespace)
    with pytest.raises(NotFoundException):
        core.create_namespaced_config_map("no-such-namespace", _cm("x"))


def test_list_selectors_and_paging(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    for i in range(7):
        core.create_namespaced_config_map(namespace, _cm(f"p{i}", tier="a" if i % 2 else "b"))
    names = [
        c.metadata.name
        for c in core.list_namespaced_config_map(namespace, label_selector="tier=a").items
    ]
    assert names == ["p1", "p3", "p5"]
    names = [
        c.metadata.name
        for c in core.list_namespaced_config_map(
            namespace, label_selector="tier in (b),tier!=a", field_selector="metadata.name!=p0"
        ).items
    ]
    assert names == ["p2", "p4", "p6"]

    page = core.list_namespaced_config_map(namespace, limit=3)
    seen = [c.metadata.name for c in page.items]
    snapshot_rv = page.metadata.resource_version
    assert page.metadata.remaining_item_count == 4
    core.create_namespaced_config_map(namespace, _cm("p3a"))  # after the snapshot
    core.delete_namespaced_config_map("p6", namespace)
    while page.metadata._continue:
        page = core.list_namespaced_config_map(
            namespace, limit=3, _continue=page.metadata._continue
        )
        assert page.metadata.resource_version == snapshot_rv
        seen += [c.metadata.name for c in page.items]
    assert seen == [f"p{i}" for i in range(7)]

    first = core.list_namespaced_config_map(namespace, limit=1).metadata._continue
    for _ in range(300):  # push the first snapshot out of the retained set
        core.list_namespaced_config_map(namespace, limit=1)
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map(namespace, limit=1, _continue=first)
    assert caught.value.status == 410
    assert json.loads(caught.value.body)["reason"] in ("Expired", "Gone")


def test_watch_from_resource_version(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, _cm("before"))
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    expected: list[tuple[str, str, str]] = []
    for i in range(20):
        cm = core.create_namespaced_config_map(namespace, _cm(f"w{i}"))
        expected.append(("ADDED", f"w{i}", cm.metadata.resource_version))
        if i % 3 == 0:
            cm = core.patch_namespaced_config_map(
                f"w{i}", namespace, {"data": {"n": str(i)}}, _content_type=MERGE
            )
            expected.append(("MODIFIED", f"w{i}", cm.metadata.resource_version))
    core.delete_namespaced_config_map("w0", namespace)
    expected.append(("DELETED", "w0", ""))
    got: list[tuple[str, str, str]] = []
    stream = watch.Watch().stream(
        core.list_namespaced_config_map, namespace, resource_version=start, timeout_seconds=5
    )
    for event in stream:
        obj = event["object"]
        got.append((event["type"], obj.metadata.name, obj.metadata.resource_version))
        if len(got) == len(expected):
            break
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    assert got[:-1] == expected[:-1]
    rvs = [int(g[2]) for g in got]
    assert rvs == sorted(rvs)
    assert rvs[0] > int(start)
    assert len(set(rvs)) == len(rvs)


def test_watch_with_selector_transitions(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, _cm("in", role="x"))
    core.create_namespaced_config_map(namespace, _cm("out", role="y"))
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    relabel = {"metadata": {"labels": {"role": "y"}}}
    core.patch_namespaced_config_map("in", namespace, relabel, _content_type=MERGE)
    core.patch_namespaced_config_map(
        "out", namespace, {"metadata": {"labels": {"role": "x"}}}, _content_type=MERGE
    )
    core.patch_namespaced_config_map("out", namespace, {"data": {"a": "b"}}, _content_type=MERGE)
    got = []
    for event in watch.Watch().stream(
        core.list_namespaced_config_map,
        namespace,
        label_selector="role=x",
        resource_version=start,
        timeout_seconds=5,
    ):
        got.append((event["type"], event["object"].metadata.name))
        if len(got) == 3:
            break
    assert got == [("DELETED", "in"), ("ADDED", "out"), ("MODIFIED", "out")]


async def test_asyncio_client_watch_resume(cluster: ClusterProcess, namespace: str) -> None:
    async with await aconfig.new_client_from_config(str(cluster.kubeconfig)) as api_client:
        core = aclient.CoreV1Api(api_client)
        await core.create_namespaced_config_map(
            namespace, aclient.V1ConfigMap(metadata={"name": "a0"})
        )
        listed = await core.list_namespaced_config_map(namespace)
        start = listed.metadata.resource_version
        for i in range(1, 4):
            await core.create_namespaced_config_map(
                namespace, aclient.V1ConfigMap(metadata={"name": f"a{i}"})
            )
        names = []
        async with awatch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=start, timeout_seconds=5
        ) as stream:
            async for event in stream:
                names.append(event["object"].metadata.name)
                if len(names) == 3:
                    break
        assert names == ["a1", "a2", "a3"]


async def test_asyncio_watch_resumes_after_reconnect_and_410() -> None:
    options = ClusterOptions(watch_window=5)
    async with (
        EmbeddedCluster(options=options) as cluster,
        await aconfig.new_client_from_config(str(cluster.kubeconfig)) as api_client,
    ):
        core = aclient.CoreV1Api(api_client)
        start = (await core.list_namespaced_config_map("default")).metadata.resource_version
        watcher = kubernetes_asyncio.watch.Watch()
        names: list[str] = []
        stream = watcher.stream(core.list_namespaced_config_map, "default", resource_version=start)
        for i in range(3):
            await core.create_namespaced_config_map(
                "default", aclient.V1ConfigMap(metadata={"name": f"r{i}"})
            )
        async for event in stream:
            names.append(event["object"].metadata.name)
            if len(names) == 2:
                cluster.hub.close_all()  # the server ends every watch: a forced reconnect
                await core.create_namespaced_config_map(
                    "default", aclient.V1ConfigMap(metadata={"name": "r3"})
                )
            if len(names) == 4:
                break
        await watcher.close()
        assert names == ["r0", "r1", "r2", "r3"]

        for i in range(10):  # push ``start`` out of the retained window
            await core.create_namespaced_config_map(
                "default", aclient.V1ConfigMap(metadata={"name": f"s{i}"})
            )
        expired = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=5
        )
        with pytest.raises(aclient.ApiException) as caught:
            await expired.next()
        await expired.close()
        assert caught.value.status == 410

        def sync_410() -> tuple[int, dict[str, Any]]:
            with config.new_client_from_config(str(cluster.kubeconfig)) as sync_client:
                sync_core = client.CoreV1Api(sync_client)
                events = watch.Watch().stream(
                    sync_core.list_namespaced_config_map,
                    "default",
                    resource_version=start,
                    timeout_seconds=5,
                )
                with pytest.raises(ApiException) as raised:
                    list(events)
                response = sync_core.list_namespaced_config_map(
                    "default", watch=True, resource_version=start, _preload_content=False
                )
                first = json.loads(response.data.splitlines()[0])
                return raised.value.status, first

        status, first = await asyncio.to_thread(sync_410)
        assert status == 410
        assert first["type"] == "ERROR"
        assert first["object"]["code"] == 410
        assert first["object"]["reason"] == "Expired"
