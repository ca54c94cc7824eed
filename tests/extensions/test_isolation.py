"""Isolation, guards, collisions, UI bundles and in-flight requests across a swap."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.extensions.helpers import (
    ADMIN_API,
    answer,
    client,
    eventually,
    extension_source,
    install,
    kernel_with_site,
    replica_status,
    write,
)
from tests.procs import KernelProcess

DEV_TOKEN = "dev-token-abcdef0123"

FAULTY = """
import asyncio
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocket
from luban_sdk import Extension, KubeError, context

TAG = "{tag}"
extension = Extension(name="faulty", api_group="faulty.test.io", version="v1",
                      ui_dir=Path(__file__).parent / "ui")


@extension.get("/answer")
async def answer(request: Request) -> Response:
    return JSONResponse({{"answer": TAG}})


@extension.get("/boom")
async def boom(request: Request) -> Response:
    raise ValueError("handler bug")


@extension.get("/pods", permission=("list", "pods"))
async def pods(request: Request) -> Response:
    return JSONResponse({{"ok": True}})


@extension.get("/configmaps")
async def configmaps(request: Request) -> Response:
    ctx = context(request)
    try:
        body = await ctx.resources.list("", "v1", "configmaps", namespace="default", name="probe")
    except KubeError as exc:
        return JSONResponse(exc.status, status_code=exc.code)
    return JSONResponse({{"names": [i["metadata"]["name"] for i in body["items"]],
                          "total": body["totalItems"]}})


@extension.get("/limited", rate_limit="2/minute")
async def limited(request: Request) -> Response:
    return JSONResponse({{"ok": True}})


@extension.get("/stream")
async def stream(request: Request) -> Response:
    async def chunks():
        for i in range(10):
            await asyncio.sleep(0.15)
            yield f"{{TAG}}-{{i}}\\n".encode()
    return StreamingResponse(chunks(), media_type="text/plain")


@extension.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(f"{{TAG}}:{{text}}")


@extension.on_shutdown
async def stopped() -> None:
    marker = Path(__file__).parent / "shutdowns.log"
    with marker.open("a") as f:
        f.write(f"{{TAG}}\\n")
"""

HANG = """
import asyncio
from luban_sdk import Extension

extension = Extension(name="hang", api_group="hang.test.io", version="v1")


@extension.on_startup
async def forever() -> None:
    await asyncio.sleep(3600)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    init = install(site, "faulty", FAULTY.format(tag="v1"))
    ui = init.parent / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html><title>faulty</title>")
    (ui / "assets" / "app.3f9a1c2b7d.js").write_text("console.log('hi')")
    install(site, "hang", HANG)
    install(site, "twin", extension_source("twin", "twin", group="faulty.test.io"))
    install(site, "sneaky", extension_source("sneaky", "x", group="extensions.luban.io"))
    return site


@pytest.fixture(scope="module")
def kernel(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    tokens = tmp_path_factory.mktemp("auth") / "tokens.csv"
    tokens.write_text(f'{DEV_TOKEN},dev,dev-uid,"developers"\n')
    config = {"auth": {"tokenFile": str(tokens)}}
    with kernel_with_site(tmp_path_factory.mktemp("k") / "data", site, config) as kernel:
        yield kernel


def test_handler_exception_is_a_500_status_for_that_request_only(kernel: KernelProcess) -> None:
    with client(kernel) as http:
        response = http.get("/kapis/faulty.test.io/v1/boom")
        assert response.status_code == 500
        body = response.json()
        assert body["kind"] == "Status"
        assert "handler bug" not in body["message"]
        assert answer(http, "faulty") == "v1"
        assert http.get("/healthz").status_code == 200
    assert "handler bug" in kernel.log()


def test_hanging_startup_times_out_and_its_prefix_answers_503(kernel: KernelProcess) -> None:
    with client(kernel) as http:
        status = replica_status(http, "hang")
        assert status["state"] == "Failed"
        assert "startup did not finish" in status["lastError"]
        response = http.get("/kapis/hang.test.io/v1/anything")
        assert response.status_code == 503
        assert response.json()["kind"] == "Status"


def test_collisions_and_reserved_groups_are_refused(kernel: KernelProcess) -> None:
    with client(kernel) as http:
        clash = replica_status(http, "twin")
        assert clash["state"] == "Failed"
        assert "route collision" in clash["lastError"]
        assert "faulty" in clash["lastError"]
        sneaky = replica_status(http, "sneaky")
        assert sneaky["state"] == "Failed"
        assert "reserved" in sneaky["lastError"]
        assert answer(http, "faulty") == "v1"
        assert http.get(ADMIN_API).status_code == 200


def test_permission_and_rate_limit_guards(kernel: KernelProcess) -> None:
    with client(kernel) as admin, client(kernel, DEV_TOKEN) as dev:
        assert admin.get("/kapis/faulty.test.io/v1/pods").status_code == 200
        denied = dev.get("/kapis/faulty.test.io/v1/pods")
        assert denied.status_code == 403
        assert denied.json()["kind"] == "Status"
        assert dev.get(ADMIN_API).status_code == 403
        assert dev.post(f"{ADMIN_API}/faulty/disable").status_code == 403
        codes = [dev.get("/kapis/faulty.test.io/v1/limited").status_code for _ in range(3)]
        assert codes == [200, 200, 429]


def test_resource_api_queries_as_the_caller(kernel: KernelProcess) -> None:
    with client(kernel) as admin, client(kernel, DEV_TOKEN) as dev:
        for name in ("probe-1", "other"):
            made = admin.post(
                "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": name}}
            )
            assert made.status_code == 201

        def listed() -> object:
            body = admin.get("/kapis/faulty.test.io/v1/configmaps").json()
            return body if body.get("names") == ["probe-1"] else None

        assert eventually(listed)["total"] == 1
        denied = dev.get("/kapis/faulty.test.io/v1/configmaps")
        assert denied.status_code == 403
        assert denied.json()["kind"] == "Status"


def test_ui_bundle(kernel: KernelProcess) -> None:
    with client(kernel) as http:
        index = http.get("/dist/faulty/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert index.headers["cache-control"] == "no-cache"
        asset = http.get("/dist/faulty/assets/app.3f9a1c2b7d.js")
        assert asset.status_code == 200
        assert "javascript" in asset.headers["content-type"]
        assert "immutable" in asset.headers["cache-control"]
        for path in ("/dist/faulty/%2e%2e/__init__.py", "/dist/faulty/../ext_faulty/x"):
            escaped = http.get(path)
            assert escaped.status_code == 404 or escaped.status_code == 400
            assert "extension = " not in escaped.text
        assert http.get("/dist/faulty/missing.js").json()["code"] == 404
        assert http.get("/dist/hang/").status_code == 404


def test_in_flight_stream_and_websocket_finish_on_the_old_version(
    kernel: KernelProcess, site: Path
) -> None:
    init = site / "ext_faulty" / "__init__.py"
    shutdowns = init.parent / "shutdowns.log"
    ctx = ssl.create_default_context(cafile=str(kernel.ca_file))
    ws_url = kernel.url.replace("https://", "wss://") + "/kapis/faulty.test.io/v1/echo"
    streamed: list[str] = []
    stream_started = threading.Event()

    def read_stream() -> None:
        with client(kernel) as http, http.stream("GET", "/kapis/faulty.test.io/v1/stream") as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                stream_started.set()
                streamed.append(line)

    with connect(ws_url, ssl=ctx, additional_headers=dict(kernel.auth)) as ws:
        ws.send("a")
        assert ws.recv(timeout=10) == "v1:a"
        reader = threading.Thread(target=read_stream)
        reader.start()
        assert stream_started.wait(10)
        write(init, FAULTY.format(tag="v2"))
        with client(kernel) as http:
            eventually(lambda: answer(http, "faulty") == "v2")
        # The swap is done; the old version still holds this WebSocket and the stream.
        ws.send("b")
        assert ws.recv(timeout=10) == "v1:b"
        reader.join(20)
        assert streamed == [f"v1-{i}" for i in range(10)]
        time.sleep(0.3)
        assert not shutdowns.exists() or "v1" not in shutdowns.read_text()
    eventually(lambda: shutdowns.exists() and "v1" in shutdowns.read_text())
    with connect(ws_url, ssl=ctx, additional_headers=dict(kernel.auth)) as ws:
        ws.send("c")
        assert ws.recv(timeout=10) == "v2:c"


def test_disabled_answers_404_then_enable_brings_it_back(kernel: KernelProcess) -> None:
    with client(kernel) as http:
        response = http.post(f"{ADMIN_API}/faulty/disable")
        assert response.status_code == 200
        assert response.json()["spec"]["enabled"] is False
        gone = http.get("/kapis/faulty.test.io/v1/answer")
        assert gone.status_code == 404
        assert gone.json()["kind"] == "Status"
        assert replica_status(http, "faulty")["state"] == "Disabled"
        assert http.post(f"{ADMIN_API}/faulty/enable").status_code == 200
        assert answer(http, "faulty") in ("v1", "v2")
        reloaded = http.post(f"{ADMIN_API}/faulty/reload")
        assert reloaded.status_code == 200
        assert http.post(f"{ADMIN_API}/nope/reload").status_code == 404
        assert http.get(f"{ADMIN_API}/faulty/explode").status_code == 404


def test_metrics(kernel: KernelProcess) -> None:
    text = httpx.get(kernel.url + "/metrics", verify=kernel.verify).text
    assert 'luban_extension_state{extension="faulty",state="Running"} 1.0' in text
    assert 'luban_extension_state{extension="hang",state="Failed"} 1.0' in text
    assert 'luban_extension_reloads_total{extension="faulty",result="ok"}' in text
    assert 'luban_extension_requests_total{code="500",extension="faulty"}' in text
    assert "luban_extension_swap_duration_seconds_bucket" in text
