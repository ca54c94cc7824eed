"""Under a steady 200 req/s on an extension, 50 consecutive hot swaps fail no request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.extensions.helpers import (
    ADMIN_API,
    extension_source,
    install,
    kernel_with_site,
    write,
)

RATE = 200
SWAPS = 50
# Requests in flight at most (the pool's size). An open-loop generator without a bound
# collapses when the test process is starved of CPU: httpx's pool scans its whole queue
# for every request, so a backlog of thousands grows quadratically and the loop never
# gets back to the test (seen with a loaded 2-core machine: the test sat for 10+ minutes).
IN_FLIGHT = 64
# Idle connections are dropped well before the kernel's keep-alive timeout (uvicorn's 5 s):
# reusing one just as the server closes it fails the request ("Server disconnected without
# sending a response"), a race of HTTP/1.1 keep-alive that clients answer by retrying, not a
# failed swap. Seen under heavy load, after a burst had opened the whole pool.
KEEPALIVE_SECONDS = 1.0


async def test_fifty_swaps_under_load_fail_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    init = install(site, "busy", extension_source("busy", "v0"))
    with kernel_with_site(tmp_path / "data", site) as kernel:
        codes: dict[int, int] = {}
        errors: list[str] = []
        seen: set[str] = set()
        skipped = 0
        stop = asyncio.Event()
        async with httpx.AsyncClient(
            base_url=kernel.url,
            verify=kernel.verify,
            headers=kernel.auth,
            timeout=30,
            limits=httpx.Limits(max_connections=IN_FLIGHT, keepalive_expiry=KEEPALIVE_SECONDS),
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
                nonlocal skipped
                pending: set[asyncio.Task[None]] = set()
                start = time.monotonic()
                sent = 0
                while not stop.is_set():
                    due = int((time.monotonic() - start) * RATE)
                    room = max(0, IN_FLIGHT - len(pending))
                    skipped += max(0, due - sent - room)
                    for _ in range(min(due - sent, room)):
                        task = asyncio.create_task(one())
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                    sent = max(sent, due)
                    await asyncio.sleep(1 / RATE)
                await asyncio.gather(*pending)

            async def kernel_state() -> str:
                body = (await http.get(f"{ADMIN_API}/busy")).json()["status"]
                return f"kernel: {body['replicas'][body['replica']]}, file: {init.read_text()!r}"

            loader = asyncio.create_task(load())
            try:
                for i in range(1, SWAPS + 1):
                    await asyncio.to_thread(write, init, extension_source("busy", f"v{i}"))
                    deadline = time.monotonic() + 30
                    while f"v{i}" not in seen:
                        if time.monotonic() > deadline:
                            raise AssertionError(f"swap {i} never answered; {await kernel_state()}")
                        await asyncio.sleep(0.01)
            finally:
                stop.set()
                await loader
        assert errors == []
        assert set(codes) == {200}, codes
        assert sum(codes.values()) > RATE * 2, (codes, skipped)
        assert {f"v{i}" for i in range(1, SWAPS + 1)} <= seen
