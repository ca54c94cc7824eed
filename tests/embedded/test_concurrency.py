"""Concurrent writers never lose updates; many watchers each see every event, in order."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

import httpx

from luban.embedded.cluster import EmbeddedCluster

CMS = "/api/v1/namespaces/default/configmaps"
WRITERS = 50
WATCHERS = 100
BURST = 20


def _client(cluster: EmbeddedCluster) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    return httpx.AsyncClient(
        base_url=cluster.url,
        headers={"Authorization": f"Bearer {cluster.token}"},
        limits=limits,
        timeout=30,
    )


async def test_read_modify_write_loses_no_update() -> None:
    async with EmbeddedCluster(tls=False) as cluster, _client(cluster) as http:
        created = await http.post(CMS, json={"metadata": {"name": "counter"}, "data": {"n": "0"}})
        assert created.status_code == 201
        codes: list[int] = []

        async def writer() -> int:
            successes = 0
            while successes < 1:
                current = (await http.get(CMS + "/counter")).json()
                current["data"]["n"] = str(int(current["data"]["n"]) + 1)
                response = await http.put(CMS + "/counter", json=current)
                codes.append(response.status_code)
                if response.status_code == 200:
                    successes += 1
                else:
                    assert response.json()["reason"] == "Conflict"
                    await asyncio.sleep(random.random() * 0.02)
            return successes

        done = await asyncio.gather(*(writer() for _ in range(WRITERS)))
        assert set(codes) <= {200, 409}
        assert 409 in codes  # the writers really did race
        final = (await http.get(CMS + "/counter")).json()
        assert int(final["data"]["n"]) == sum(done) == codes.count(200) == WRITERS


async def test_many_watchers_see_every_event_in_order() -> None:
    async with EmbeddedCluster(tls=False) as cluster, _client(cluster) as http:
        start = (await http.get(CMS)).json()["metadata"]["resourceVersion"]
        ready = asyncio.Semaphore(0)

        async def watch() -> list[tuple[str, str, int]]:
            seen: list[tuple[str, str, int]] = []
            params = {"watch": "1", "resourceVersion": start, "timeoutSeconds": "20"}
            async with http.stream("GET", CMS, params=params) as response:
                assert response.status_code == 200
                ready.release()
                lines: AsyncIterator[str] = response.aiter_lines()
                async for line in lines:
                    event = json.loads(line)
                    meta = event["object"]["metadata"]
                    seen.append((event["type"], meta["name"], int(meta["resourceVersion"])))
                    if len(seen) == 2 * BURST:
                        break
            return seen

        watchers = [asyncio.create_task(watch()) for _ in range(WATCHERS)]
        for _ in range(WATCHERS // 2):  # half join before the burst, half replay part of it
            await ready.acquire()
        expected: list[tuple[str, str, int]] = []

        async def write(i: int) -> None:
            made = (await http.post(CMS, json={"metadata": {"name": f"b{i}"}})).json()
            expected.append(("ADDED", f"b{i}", int(made["metadata"]["resourceVersion"])))

        await asyncio.gather(*(write(i) for i in range(BURST)))
        for i in range(BURST):
            changed = await http.patch(
                CMS + f"/b{i}",
                json={"data": {"x": "1"}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            rv = int(changed.json()["metadata"]["resourceVersion"])
            expected.append(("MODIFIED", f"b{i}", rv))
        expected.sort(key=lambda event: event[2])
        results = await asyncio.wait_for(asyncio.gather(*watchers), 25)
        for seen in results:
            assert seen == expected
        assert cluster.hub.open_watches == 0 or all(w.done() for w in watchers)
