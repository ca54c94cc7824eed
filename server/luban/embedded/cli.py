"""``luban cluster serve``: the embedded cluster as a process of its own."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import uvloop

from luban.embedded.cluster import EmbeddedCluster
from luban.runtime import tune_garbage_collection


async def _run(data_dir: Path, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with EmbeddedCluster(data_dir, host, port):
        await stop.wait()


def serve_cluster(data_dir: Path, host: str, port: int) -> int:
    """Serve until SIGTERM/SIGINT; exit code 0 after a clean stop."""
    tune_garbage_collection()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_run(data_dir, host, port))
    return 0
