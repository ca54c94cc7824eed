"""File watching for hot swap and for distributions coming and going (watchfiles' notifier).

:class:`Watcher` drives watchfiles' Rust notifier itself rather than through ``awatch``, to lose
no change: ``awatch`` waits with a timeout whose expiry clears changes that arrive in the same
instant, gives no moment at which the notifier is registered (needed to catch up after a
restart), and ends for good when the notifier fails (an undecodable file name, an inotify
error such as ENOSPC), taking the batch that held the error with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from watchfiles import Change
from watchfiles._rust_notify import RustNotify, WatchfilesRustInternalError

logger = logging.getLogger("luban.extensions")

CODE_SUFFIXES = (".py", ".so", ".pyd")
COMPILED_SUFFIXES = (".so", ".pyd")
RETRY_SECONDS = (0.2, 30.0)


def code_filter(change: Change, path: str) -> bool:
    """Source and metadata changes; never bytecode caches or editor droppings."""
    name = path.rsplit("/", 1)[-1]
    if "/__pycache__/" in path or name.startswith(".#") or name.endswith("~"):
        return False
    return name.endswith(CODE_SUFFIXES)


def distribution_filter(change: Change, path: str) -> bool:
    """Distributions being installed or removed (dist-info directories, ``.pth`` files)."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.endswith((".dist-info", ".pth", ".egg-link"))


def _force_polling() -> bool:
    # The switch watchfiles documents, for file systems without inotify (some network mounts).
    value = os.environ.get("WATCHFILES_FORCE_POLLING", "")
    return bool(value) and value.lower() not in {"false", "disable", "disabled"}


class Watcher:
    """Calls ``on_change`` with each debounced batch of changed paths, until :meth:`stop`.

    Changes that arrive while ``on_change`` runs are batched into the next call. When the
    notifier fails, it is logged and replaced. ``on_ready`` runs each time a notifier is in
    place (first start and every restart): changes made before that moment reach no batch,
    so the owner catches up with them there.
    """

    def __init__(
        self,
        name: str,
        paths: list[Path],
        on_change: Callable[[set[Path]], Awaitable[None]],
        *,
        step_ms: int,
        recursive: bool = True,
        watch_filter: Callable[[Change, str], bool] = code_filter,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.paths = paths
        self.on_change = on_change
        self.on_ready = on_ready
        self.step_ms = step_ms
        self.debounce_ms = max(step_ms * 20, 400)
        self.recursive = recursive
        self.watch_filter = watch_filter
        # Read by the notifier's thread between steps: a threading.Event is safe there.
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching (in a task this watcher owns)."""
        self._task = asyncio.create_task(self._run(), name=self.name)

    def cancel(self) -> None:
        """Stop watching, now; :meth:`stop` also waits for the end."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Stop watching; returns once the task has ended (its thread ends within a step)."""
        self.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        # One thread of its own: the notifier's wait blocks it for as long as nothing changes.
        executor = ThreadPoolExecutor(1, thread_name_prefix=self.name)
        delay = RETRY_SECONDS[0]
        try:
            while not self._stop.is_set():
                existing = [str(p) for p in self.paths if p.exists()]
                if not existing:
                    return
                try:
                    notify = RustNotify(
                        existing, False, _force_polling(), 300, self.recursive, True
                    )
                except (OSError, RuntimeError) as exc:
                    logger.error("%s: file watcher failed to start (%s); retrying", self.name, exc)
                else:
                    try:
                        await self._ready()
                        while True:
                            raw = await loop.run_in_executor(
                                executor,
                                notify.watch,
                                self.debounce_ms,
                                self.step_ms,
                                0,
                                self._stop,
                            )
                            if raw == "stop":
                                return
                            if not isinstance(raw, str):
                                await self._deliver(raw)
                                delay = RETRY_SECONDS[0]
                    except WatchfilesRustInternalError as exc:
                        logger.error("%s: file watcher failed (%s); watching anew", self.name, exc)
                    finally:
                        notify.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_SECONDS[1])
        finally:
            # A cancelled wait leaves the thread in the notifier until it sees this.
            self._stop.set()
            executor.shutdown(wait=False)

    async def _ready(self) -> None:
        if self.on_ready is None:
            return
        try:
            await self.on_ready()
        except Exception:
            logger.exception("%s: catching up after (re)starting the watch failed", self.name)

    async def _deliver(self, raw: set[tuple[int, str]]) -> None:
        changes = {Path(path) for change, path in raw if self.watch_filter(Change(change), path)}
        if not changes:
            return
        try:
            await self.on_change(changes)
        except Exception:
            logger.exception("%s: handling file changes failed", self.name)
