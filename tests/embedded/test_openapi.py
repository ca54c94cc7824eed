"""The OpenAPI documents: their shape, their caching, and real kubectl reading them."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from luban.embedded.openapi import (
    OpenAPIDocuments,
    etag_of,
    openapi_v2_document,
    openapi_v3_document,
    openapi_v3_index,
)
from luban.embedded.openapi_http import openapi_routes
from luban.embedded.openapi_v2_proto import encode_document
from luban.kube.resources import BUILTIN_TYPES, ResourceType

KUBECTL = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl")
CS = "#/components/schemas/"

CRONTAB = ResourceType(
    "stable.example.com",
    "v1",
    "crontabs",
    "CronTab",
    True,
    short_names=("ct",),
    subresources=("status", "scale"),
    custom=True,
    schema={
        "type": "object",
        "description": "A CronTab runs a job on a schedule.",
        "properties": {
            "spec": {
                "type": "object",
                "description": "What to run and when.",
                "properties": {
                    "cronSpec": {"type": "string", "description": "The schedule."},
                    "image": {"type": "string"},
                    "replicas": {"type": "integer"},
                },
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    },
)
TYPES = (*BUILTIN_TYPES, CRONTAB)
APPS = [t for t in TYPES if t.group == "apps"]


def _schemas(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["components"]["schemas"]  # type: ignore[no-any-return]


def _resolve(doc: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    target = prop.get("$ref") or prop["allOf"][0]["$ref"]
    return _schemas(doc)[target.removeprefix(CS)]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def apps_doc() -> dict[str, Any]:
    return openapi_v3_document("apps", "v1", TYPES)


# --- unit: documents -------------------------------------------------------------------


def test_index_format() -> None:
    index = openapi_v3_index(["apis/apps/v1", "api/v1"], lambda key: f"H-{key[-2:]}")
    assert index == {
        "paths": {
            "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H-v1"},
            "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=H-v1"},
        }
    }


def test_etag_is_upper_hex_sha512() -> None:
    tag = etag_of(b"x")
    assert len(tag) == 128
    assert tag == tag.upper()


def test_deployment_schema(apps_doc: dict[str, Any]) -> None:
    schemas = _schemas(apps_doc)
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert "declarative updates" in deployment["description"]
    meta = _resolve(apps_doc, deployment["properties"]["metadata"])
    assert meta is schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    assert (
        schemas["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"][0]["kind"]
        == "DeploymentList"
    )
    spec = _resolve(apps_doc, deployment["properties"]["spec"])
    assert set(spec["required"]) == {"selector", "template"}
    assert spec["properties"]["replicas"]["type"] == "integer"
    strategy = spec["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"


def test_pod_spec_merge_facts(apps_doc: dict[str, Any]) -> None:
    pod_spec = _schemas(apps_doc)["io.k8s.api.core.v1.PodSpec"]
    containers = pod_spec["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["items"]["allOf"][0]["$ref"] == CS + "io.k8s.api.core.v1.Container"
    assert pod_spec["properties"]["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"


def test_special_types(apps_doc: dict[str, Any]) -> None:
    schemas = _schemas(apps_doc)
    quantity = schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity["oneOf"] == [{"type": "string"}, {"type": "number"}]
    ios = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert ios["x-kubernetes-int-or-string"] is True
    assert ios["format"] == "int-or-string"
    time_ = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]
    assert time_ == {**time_, "type": "string", "format": "date-time"}
    assert schemas["io.k8s.apimachinery.pkg.runtime.RawExtension"]["type"] == "object"
    limits = schemas["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["limits"]
    assert limits["additionalProperties"]["$ref"].endswith("resource.Quantity")
    rolling = schemas["io.k8s.api.apps.v1.RollingUpdateDeployment"]["properties"]["maxSurge"]
    assert _resolve(apps_doc, rolling) is ios
    created = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"][
        "creationTimestamp"
    ]
    assert _resolve(apps_doc, created) is time_
    revision = schemas["io.k8s.api.apps.v1.ControllerRevision"]["properties"]["data"]
    assert _resolve(apps_doc, revision) is schemas["io.k8s.apimachinery.pkg.runtime.RawExtension"]
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas


def test_every_ref_resolves() -> None:
    for group, version in {(t.group, t.version) for t in TYPES}:
        doc = openapi_v3_document(group, version, TYPES)
        text = orjson.dumps(doc).decode()
        for part in text.split('"$ref":"')[1:]:
            target = part.split('"', 1)[0]
            assert target.removeprefix(CS) in _schemas(doc), (group, version, target)


def test_core_names() -> None:
    doc = openapi_v3_document("", "v1", TYPES)
    schemas = _schemas(doc)
    assert "io.k8s.api.core.v1.Event" in schemas  # the client's CoreV1Event
    assert "io.k8s.api.core.v1.PodSpec" in schemas
    assert "/api/v1/namespaces/{namespace}/pods/{name}/log" in doc["paths"]
    storage = _schemas(openapi_v3_document("storage.k8s.io", "v1", TYPES))
    assert "io.k8s.api.core.v1.TopologySelectorTerm" in storage


def test_paths_for_kubectl(apps_doc: dict[str, Any]) -> None:
    paths = apps_doc["paths"]
    item = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "kind": "Deployment",
        "version": "v1",
    }
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= {
        p["name"] for p in patch["parameters"] if p["in"] == "query"
    }
    listing = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"]
    assert listing["operationId"] == "listAppsV1NamespacedDeployment"
    assert listing["x-kubernetes-action"] == "list"
    assert "/apis/apps/v1/deployments" in paths
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"]
    assert scale["x-kubernetes-group-version-kind"]["kind"] == "Scale"


def test_custom_resource_document() -> None:
    doc = openapi_v3_document("stable.example.com", "v1", TYPES)
    schemas = _schemas(doc)
    crontab = schemas["com.example.stable.v1.CronTab"]
    assert crontab["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
    ]
    assert crontab["properties"]["spec"]["properties"]["cronSpec"]["type"] == "string"
    assert (
        _resolve(doc, crontab["properties"]["metadata"])
        is schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    )
    assert crontab["properties"]["apiVersion"]["type"] == "string"
    item = doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]
    content = item["patch"]["requestBody"]["content"]
    assert "application/merge-patch+json" in content
    assert "application/strategic-merge-patch+json" not in content
    assert CRONTAB.schema is not None
    assert "apiVersion" not in CRONTAB.schema["properties"]


def test_v2_document() -> None:
    doc = openapi_v2_document(TYPES)
    assert doc["swagger"] == "2.0"
    defs = doc["definitions"]
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    assert defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    spec = defs["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]
    assert spec["$ref"] == "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["parameters"][0]["in"] == "body"
    assert "#/components" not in orjson.dumps(doc).decode()
    assert encode_document(doc)[:1] == b"\x0a"  # field 1 (swagger), length-delimited


def test_documents_cache_and_invalidation() -> None:
    docs = OpenAPIDocuments(BUILTIN_TYPES)
    first = docs.v3("apis/apps/v1")
    assert first is not None
    assert docs.v3("apis/apps/v1") is first
    assert docs.v3("apis/stable.example.com/v1") is None
    index_before = docs.index()
    docs.set_types(TYPES)
    assert docs.v3("apis/apps/v1") is first  # unchanged group version kept
    assert docs.v3("apis/stable.example.com/v1") is not None
    index_after = orjson.loads(docs.index()[0])
    assert index_after != orjson.loads(index_before[0])
    url = index_after["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"]
    assert url.endswith("?hash=" + etag_of(docs.v3("apis/stable.example.com/v1")[0]))  # type: ignore[index]


# --- HTTP + kubectl end to end -----------------------------------------------------------


def _resource_list(group_version: str, types: list[ResourceType]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for t in types:
        resources.append(
            {
                "name": t.resource,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": list(t.verbs),
                "shortNames": list(t.short_names),
            }
        )
        resources.extend(
            {
                "name": f"{t.resource}/{s}",
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }
            for s in t.subresources
            if s in ("status",)
        )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


E2E_TYPES = [t for t in TYPES if t.group in ("", "apps")] + [CRONTAB]


def _app(seen: list[str]) -> Starlette:
    docs = OpenAPIDocuments(E2E_TYPES)
    groups = sorted({t.group for t in E2E_TYPES if t.group})

    async def version(_: Request) -> Response:
        return JSONResponse({"major": "1", "minor": "37", "gitVersion": "v1.37.0"})

    async def api(_: Request) -> Response:
        return JSONResponse(
            {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        )

    async def apis(_: Request) -> Response:
        items = [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
            }
            for g in groups
        ]
        return JSONResponse({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})

    async def core(_: Request) -> Response:
        return JSONResponse(_resource_list("v1", [t for t in E2E_TYPES if not t.group]))

    async def group(request: Request) -> Response:
        g, v = request.path_params["g"], request.path_params["v"]
        found = [t for t in E2E_TYPES if t.group == g and t.version == v]
        if not found:
            return JSONResponse({"kind": "Status", "code": 404, "reason": "NotFound"}, 404)
        return JSONResponse(_resource_list(f"{g}/{v}", found))

    async def anything(request: Request) -> Response:
        seen.append(f"{request.method} {request.url.path}?{request.url.query}")
        name = request.url.path.rsplit("/", 1)[-1]
        return JSONResponse(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f'"{name}" not found',
                "reason": "NotFound",
                "code": 404,
            },
            404,
        )

    async def record(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/openapi"):
            seen.append(f"{request.method} {request.url.path}?{request.url.query}")
        response: Response = await call_next(request)
        return response

    return Starlette(
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=record)],
        routes=[
            Route("/version", version),
            Route("/api", api),
            Route("/api/v1", core),
            Route("/apis", apis),
            *openapi_routes(lambda: docs),
            Route("/apis/{g}/{v}", group),
            Route("/{rest:path}", anything, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ],
    )


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app(seen), log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(srv.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", seen
    srv.should_exit = True
    thread.join(5)
    sock.close()


@pytest.fixture(scope="module")
def kubectl(server: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    url, _ = server
    home = tmp_path_factory.mktemp("kube")
    config = home / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
        f"    server: {url}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
        "    namespace: default\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n"
    )

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KUBECTL, f"--kubeconfig={config}", f"--cache-dir={home / 'cache'}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
        )

    return run


def test_http_index_and_hash_caching(server: tuple[str, list[str]]) -> None:
    url, _ = server
    with httpx.Client(base_url=url) as client:
        index = client.get("/openapi/v3")
        assert index.status_code == 200
        assert index.headers["content-type"] == "application/json"
        rel = index.json()["paths"]["apis/apps/v1"]["serverRelativeURL"]
        doc = client.get(rel)
        assert doc.status_code == 200
        assert doc.headers["cache-control"] == "public, immutable"
        assert "expires" in doc.headers
        assert doc.headers["vary"] == "Accept"
        etag = doc.headers["etag"]
        assert etag == f'"{rel.split("hash=")[1]}"'
        again = client.get(rel, headers={"If-None-Match": etag})
        assert again.status_code == 304
        stale = client.get("/openapi/v3/apis/apps/v1?hash=ABC")
        assert stale.status_code == 301
        assert stale.headers["location"] == rel
        plain = client.get("/openapi/v3/apis/apps/v1")
        assert "cache-control" not in plain.headers
        assert client.get("/openapi/v3/apis/nope/v1").status_code == 404
        proto = client.get("/openapi/v3/api/v1", headers={"Accept": "application/x-protobuf"})
        assert proto.status_code == 406
        v2 = client.get("/openapi/v2", headers={"Accept": "application/json"})
        assert v2.json()["swagger"] == "2.0"


def test_kubectl_explain_builtin(kubectl: Any) -> None:
    out = kubectl("explain", "deployment.spec.template.spec.containers")
    assert out.returncode == 0, out.stderr
    assert "GROUP:      apps" in out.stdout
    assert "KIND:       Deployment" in out.stdout
    assert "FIELD: containers <[]Container>" in out.stdout
    assert "image\t<string>" in out.stdout
    assert "resources\t<ResourceRequirements>" in out.stdout
    assert "List of containers belonging to the pod" in out.stdout
    meta = kubectl("explain", "pods.metadata.creationTimestamp")
    assert meta.returncode == 0, meta.stderr
    assert "FIELD: creationTimestamp <string>" in meta.stdout


def test_kubectl_explain_crd(kubectl: Any) -> None:
    out = kubectl("explain", "crontabs.spec")
    assert out.returncode == 0, out.stderr
    assert "GROUP:      stable.example.com" in out.stdout
    assert "KIND:       CronTab" in out.stdout
    assert "cronSpec\t<string>" in out.stdout
    assert "The schedule." in out.stdout


def test_kubectl_explain_openapiv2(kubectl: Any) -> None:
    out = kubectl("explain", "deployment.spec.strategy", "--output=plaintext-openapiv2")
    assert out.returncode == 0, out.stderr
    assert "rollingUpdate" in out.stdout
    assert "DeploymentStrategy" in out.stdout


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - containerPort: 80
        resources:
          limits: {cpu: 500m, memory: 128Mi}
        livenessProbe:
          httpGet: {path: /, port: 80}
"""


def test_kubectl_apply_client_dry_run(kubectl: Any, server: tuple[str, list[str]]) -> None:
    out = kubectl("apply", "--dry-run=client", "--validate=strict", "-f", "-", stdin=DEPLOYMENT)
    assert out.returncode == 0, out.stderr
    assert "deployment.apps/web created (dry run)" in out.stdout


def test_kubectl_strict_validation_rejects_unknown_field(kubectl: Any) -> None:
    # A manifest of kind List is validated client-side from /openapi/v2 (protobuf) even when
    # the server supports fieldValidation, so this is where kubectl itself rejects the field.
    def as_list(manifest: str) -> str:
        items = "\n".join("  " + line for line in manifest.splitlines())
        return "apiVersion: v1\nkind: List\nitems:\n-" + items[1:] + "\n"

    bad = as_list(DEPLOYMENT.replace("  replicas: 2", "  replicas: 2\n  bogus: true"))
    out = kubectl("apply", "--dry-run=client", "--validate=strict", "-f", "-", stdin=bad)
    assert out.returncode != 0
    assert 'unknown field "bogus" in io.k8s.api.apps.v1.DeploymentSpec' in out.stderr, out.stderr
    good = as_list(DEPLOYMENT)
    ok = kubectl("apply", "--dry-run=client", "--validate=strict", "-f", "-", stdin=good)
    assert ok.returncode == 0, ok.stderr


def test_kubectl_sends_field_validation_for_server_checks(
    kubectl: Any, server: tuple[str, list[str]]
) -> None:
    # The v3 PATCH operations advertise fieldValidation, so kubectl leaves strict checking
    # to the server, like against a real cluster.
    _, seen = server
    seen.clear()
    kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", stdin=DEPLOYMENT)
    posts = [s for s in seen if s.startswith("POST /apis/apps/v1/namespaces/default/deployments")]
    assert posts, seen
    assert "fieldValidation=Strict" in posts[0], seen
    assert not any(s.startswith("GET /openapi/v2") for s in seen), seen
