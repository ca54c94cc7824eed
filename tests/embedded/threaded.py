"""An in-process ``EmbeddedCluster`` on a loop of its own thread, for sync module fixtures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from luban.embedded.api import ClusterOptions
from luban.embedded.cluster import EmbeddedCluster


@contextmanager
def cluster_in_thread(
    data_dir: Path | None = None, options: ClusterOptions | None = None, tls: bool = False
) -> Iterator[EmbeddedCluster]:
    """Start an ``EmbeddedCluster`` served from a background thread; stop it afterwards."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="embedded-cluster", daemon=True)
    thread.start()
    cluster = EmbeddedCluster(data_dir, tls=tls, options=options)
    try:
        asyncio.run_coroutine_threadsafe(cluster.start(), loop).result(30)
        yield cluster
    finally:
        asyncio.run_coroutine_threadsafe(cluster.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
