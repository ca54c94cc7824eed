"""Long-lived requests through the proxy: watches resume, callers leaving close the upstream
request at once, and a thousand watches leave no upstream connection behind."""

from __future__ import annotations

import asyncio
import re
import ssl
import time

import aiohttp
import httpx
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.watch import Watch

from luban.runtime import raise_open_file_limit
from tests.procs import KernelProcess
from tests.proxy.conftest import Embedded, Upstreams, wait_until

WATCHES = 1000


def _api_client(kernel: KernelProcess) -> k8s.ApiClient:
    config = k8s.Configuration(host=kernel.url)
    config.ssl_ca_cert = str(kernel.ca_file)
    config.api_key = {"BearerToken": kernel.token}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    return k8s.ApiClient(config)


async def test_watch_caller_leaving_closes_the_upstream_watch(
    kernel: KernelProcess, upstreams: Upstreams
) -> None:
    upstream = upstreams.plain
    assert await asyncio.to_thread(wait_until, lambda: upstream.open_streams == 0, 5)
    context = ssl.create_default_context(cafile=str(kernel.ca_file))
    async with aiohttp.ClientSession(headers=kernel.auth) as http:
        response = await http.get(kernel.url + "/api/v1/stream?watch=true", ssl=context)
        assert response.status == 200
        assert b'"ADDED"' in await response.content.readline()
        assert await asyncio.to_thread(wait_until, lambda: upstream.open_streams == 1, 5)
        left = time.monotonic()
        response.close()  # the caller goes away mid-watch
        closed = await asyncio.to_thread(wait_until, lambda: upstream.open_streams == 0, 1.0)
    assert closed, upstream.open_streams
    assert upstream.stream_ends[-1] - left < 1.0


def test_watch_caller_leaving_closes_the_embedded_clusters_watch(embedded: Embedded) -> None:
    kernel, hub, namespace = embedded.kernel, embedded.cluster.hub, "leave"

    # Counted on the cluster's loop (its watcher sets change there), in this test's namespace
    # only: other tests' configmap watches may still be winding down.
    async def count() -> int:
        return hub.open_watches_on("/configmaps", namespace)

    def open_watches() -> int:
        return embedded.loop.run(count())

    with httpx.Client(base_url=kernel.url, verify=kernel.verify, headers=kernel.auth) as client:
        created = client.post("/api/v1/namespaces", json={"metadata": {"name": namespace}})
        assert created.status_code == 201, created.text
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        client.post(path, json={"metadata": {"name": "before"}}).raise_for_status()
        with client.stream("GET", path + "?watch=true") as response:
            # Hold the line iterator: httpx hangs up when a half-read iterator is dropped (its
            # GeneratorExit reaches httpcore, which closes the connection on any exception), so
            # ``next(response.iter_lines())`` would be this caller leaving, not staying.
            lines = response.iter_lines()
            first = next(lines)
            assert response.status_code == 200, first
            assert '"type":"ADDED"' in first.replace(" ", ""), first
            assert open_watches() == 1
            client.post(path, json={"metadata": {"name": "during"}}).raise_for_status()
            assert '"name":"during"' in next(lines).replace(" ", "")  # still relayed live
            assert open_watches() == 1
        # Leaving the block closes the caller's connection mid-watch.
        assert wait_until(lambda: open_watches() == 0, 1.0), open_watches()


def test_large_list_caller_leaving_closes_the_upstream_request(
    client: httpx.Client, upstreams: Upstreams
) -> None:
    assert wait_until(lambda: upstreams.plain.open_streams == 0, 5)
    with client.stream("GET", f"/api/v1/big?n={1 << 33}") as response:  # 8 GiB: never finishes
        chunks = response.iter_raw()  # held: a dropped half-read iterator hangs up (see above)
        for _ in zip(range(4), chunks, strict=False):
            pass
        assert upstreams.plain.open_streams == 1
    assert wait_until(lambda: upstreams.plain.open_streams == 0, 1.0)


def _open_watches_metric(kernel: KernelProcess) -> float:
    text = httpx.get(kernel.url + "/metrics", verify=kernel.verify).text
    values = re.findall(r'^luban_proxy_open_watches\{cluster="default"\} (\S+)$', text, re.M)
    return float(values[0]) if values else 0.0


async def test_watch_resumes_from_its_resource_version_after_a_forced_reconnect(
    embedded: Embedded,
) -> None:
    async with _api_client(embedded.kernel) as api:
        v1 = k8s.CoreV1Api(api)
        await v1.create_namespace({"metadata": {"name": "resume"}})
        await v1.create_namespaced_config_map("resume", {"metadata": {"name": "w0"}})
        listed = await v1.list_namespaced_config_map("resume")
        watch = Watch()
        stream = watch.stream(
            v1.list_namespaced_config_map, "resume",
            resource_version=listed.metadata.resource_version,
        )  # fmt: skip
        try:
            await v1.create_namespaced_config_map("resume", {"metadata": {"name": "w1"}})
            first = await asyncio.wait_for(stream.__anext__(), 10)
            assert (first["type"], first["object"].metadata.name) == ("ADDED", "w1")
            # End the watch under the kernel: the kernel ends the client's response, the
            # client reconnects from the last resourceVersion it saw.
            await asyncio.to_thread(embedded.loop.run, _close_watches(embedded))
            await v1.create_namespaced_config_map("resume", {"metadata": {"name": "w2"}})
            second = await asyncio.wait_for(stream.__anext__(), 10)
            # Resumed, not restarted: a fresh watch would replay w0 and w1 first.
            assert (second["type"], second["object"].metadata.name) == ("ADDED", "w2")
        finally:
            watch.stop()
            await watch.close()
    # Let the client's SSL connections finish closing before this test's event loop goes away.
    await asyncio.sleep(0.25)


async def _close_watches(embedded: Embedded) -> None:
    embedded.cluster.hub.close_all()


async def test_a_thousand_watches_cancelled_leave_no_upstream_connections(
    kernel: KernelProcess, upstreams: Upstreams
) -> None:
    raise_open_file_limit()  # this process holds both ends' sockets: ~2,000 descriptors
    upstream = upstreams.plain
    assert await asyncio.to_thread(wait_until, lambda: upstream.open_streams == 0, 5)
    context = ssl.create_default_context(cafile=str(kernel.ca_file))
    connector = aiohttp.TCPConnector(limit=0, ssl=context)
    async with aiohttp.ClientSession(connector=connector, headers=kernel.auth) as http:

        async def watch() -> None:
            async with http.get(kernel.url + "/api/v1/stream?watch=true") as response:
                assert response.status == 200
                await response.content.readline()
                await asyncio.sleep(3600)

        tasks = [asyncio.create_task(watch()) for _ in range(WATCHES)]
        try:
            opened = await asyncio.to_thread(
                wait_until, lambda: upstream.open_streams == WATCHES, 60
            )
            assert opened, upstream.open_streams
            assert _open_watches_metric(kernel) == WATCHES
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert await asyncio.to_thread(wait_until, lambda: upstream.open_streams == 0, 10)
    assert await asyncio.to_thread(wait_until, lambda: _open_watches_metric(kernel) == 0, 5)
