"""Holding many idle watches open through a proxy."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from bench.lib.registry import BenchmarkError


@dataclass
class OpenWatches:
    """Client ends of the watches held open."""

    writers: list[asyncio.StreamWriter]
    seconds: float


async def _open_one(
    port: int, request: bytes, connect_gate: asyncio.Semaphore
) -> asyncio.StreamWriter:
    async with connect_gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            writer.close()
            raise BenchmarkError(f"watch answered {head.splitlines()[0]!r}")
        # The upstream sends one BOOKMARK event: the watch is relayed end to end.
        await reader.readuntil(b'"BOOKMARK"')
    return writer


@contextlib.asynccontextmanager
async def open_watches(
    port: int, path: str, count: int, headers: Mapping[str, str], parallel: int = 100
) -> AsyncIterator[OpenWatches]:
    """Open ``count`` watches on ``127.0.0.1:port`` and keep them open for the block."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    gate = asyncio.Semaphore(parallel)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(_open_one(port, request, gate) for _ in range(count)), return_exceptions=True
    )
    writers = [r for r in results if isinstance(r, asyncio.StreamWriter)]
    failures = [r for r in results if not isinstance(r, asyncio.StreamWriter)]
    try:
        if failures:
            raise BenchmarkError(
                f"{len(failures)} of {count} watches failed to open; first: {failures[0]!r}"
            )
        yield OpenWatches(writers, time.perf_counter() - started)
    finally:
        for writer in writers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
