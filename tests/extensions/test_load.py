"""Under a steady 200 req/s on an extension, 50 consecutive hot swaps fail no request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.extensions.helpers import extension_source, install, kernel_with_site, write

RATE = 200
SWAPS = 50


async def test_fifty_swaps_under_load_fail_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    init = install(site, "busy", extension_source("busy", "v0"))
    with kernel_with_site(tmp_path / "data", site) as kernel:
        codes: dict[int, int] = {}
        errors: list[str] = []
        seen: set[str] = set()
        stop = asyncio.Event()
        async with httpx.AsyncClient(
            base_url=kernel.url,
            verify=kernel.verify,
            headers=kernel.auth,
            timeout=30,
            limits=httpx.Limits(max_connections=64),
        ) as http:

            async def one() -> None:
                try:
                    response = await http.get("/kapis/busy.test.io/v1/answer")
                    codes[response.status_code] = codes.get(response.status_code, 0) + 1
                    if response.status_code == 200:
                        seen.add(response.json()["answer"])
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

            async def load() -> None:
                pending: set[asyncio.Task[None]] = set()
                start = time.monotonic()
                sent = 0
                while not stop.is_set():
                    due = int((time.monotonic() - start) * RATE)
                    for _ in range(due - sent):
                        task = asyncio.create_task(one())
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                    sent = max(sent, due)
                    await asyncio.sleep(1 / RATE)
                await asyncio.gather(*pending)

            loader = asyncio.create_task(load())
            try:
                for i in range(1, SWAPS + 1):
                    await asyncio.to_thread(write, init, extension_source("busy", f"v{i}"))
                    deadline = time.monotonic() + 30
                    while f"v{i}" not in seen:
                        assert time.monotonic() < deadline, f"swap {i} never answered"
                        await asyncio.sleep(0.01)
            finally:
                stop.set()
                await loader
        assert errors == []
        assert set(codes) == {200}, codes
        assert sum(codes.values()) > RATE * 2
        assert {f"v{i}" for i in range(1, SWAPS + 1)} <= seen
