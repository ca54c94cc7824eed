"""The file watcher behind hot swap, on real files: batches, recovery, a clean stop."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path

from luban.extensions.watch import Watcher


async def wait_for(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll ``check`` until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_failing_notifier_is_replaced_and_the_owner_catches_up(tmp_path: Path) -> None:
    batches: list[set[Path]] = []
    ready: list[int] = []

    async def on_change(paths: set[Path]) -> None:
        batches.append(paths)

    async def on_ready() -> None:
        ready.append(len(ready))

    watcher = Watcher("test-watch", [tmp_path], on_change, step_ms=10, on_ready=on_ready)
    watcher.start()
    try:
        await wait_for(lambda: ready == [0])
        (tmp_path / "a.py").write_text("a = 1\n")
        await wait_for(lambda: any(tmp_path / "a.py" in b for b in batches))
        # A name the notifier cannot decode fails it: it is replaced, and the owner told.
        (tmp_path / os.fsdecode(b"bad-\xff.py")).write_text("")
        await wait_for(lambda: len(ready) == 2)
        (tmp_path / "b.py").write_text("b = 1\n")
        await wait_for(lambda: any(tmp_path / "b.py" in b for b in batches))
    finally:
        await watcher.stop()


async def test_stop_ends_the_notifier_thread(tmp_path: Path) -> None:
    async def ignore(paths: set[Path]) -> None:
        return None

    before = set(threading.enumerate())
    watcher = Watcher("test-stop", [tmp_path], ignore, step_ms=10)
    watcher.start()
    await wait_for(lambda: any(t.name.startswith("test-stop") for t in threading.enumerate()))
    await watcher.stop()
    await wait_for(lambda: set(threading.enumerate()) <= before)
