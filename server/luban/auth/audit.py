"""The audit log: one JSON object per line, to a file or stdout, written off the event loop.

Requests only enqueue a record; a background task writes batches in a worker thread, so a
slow disk never stalls a request. When the queue is full records are dropped and counted
rather than holding requests back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from typing import Any

import orjson

logger = logging.getLogger("luban.audit")

QUEUE_SIZE = 10000
STDOUT = "-"


class AuditLog:
    """Appends records to ``path`` (``-``: standard output)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self._fd: int | None = None
        self.dropped = 0
        self.written = 0

    def record(self, event: dict[str, Any]) -> None:
        """Queue one event for writing."""
        try:
            self._queue.put_nowait(orjson.dumps(event) + b"\n")
        except asyncio.QueueFull:
            self.dropped += 1

    async def start(self) -> None:
        """Open the file and start the writer."""
        if self.path == STDOUT:
            self._fd = sys.stdout.fileno()
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            self._fd = await asyncio.to_thread(os.open, self.path, flags, 0o600)
        self._task = asyncio.create_task(self._write_batches(), name="luban-audit")

    async def stop(self) -> None:
        """Write what is queued, stop the writer and close the file."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()
        if self._fd is not None and self.path != STDOUT:
            os.close(self._fd)
        self._fd = None

    async def _write_batches(self) -> None:
        while True:
            first = await self._queue.get()
            await self._write([first, *self._drain()])

    def _drain(self) -> list[bytes]:
        lines: list[bytes] = []
        while not self._queue.empty():
            lines.append(self._queue.get_nowait())
        return lines

    async def _flush(self) -> None:
        lines = self._drain()
        if lines:
            await self._write(lines)

    async def _write(self, lines: list[bytes]) -> None:
        if self._fd is None:
            return
        data = b"".join(lines)
        try:
            # O_APPEND: concurrent workers appending whole batches do not interleave lines.
            await asyncio.to_thread(_write_all, self._fd, data)
        except OSError as exc:
            self.dropped += len(lines)
            logger.error("audit log %s: %s", self.path, exc)
            return
        self.written += len(lines)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
