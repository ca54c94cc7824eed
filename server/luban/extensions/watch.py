"""File watching for hot swap and for distributions coming and going (``watchfiles``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, awatch

logger = logging.getLogger("luban.extensions")
# watchfiles logs every batch at INFO; swaps are logged (and counted) by the manager.
logging.getLogger("watchfiles.main").setLevel(logging.WARNING)

CODE_SUFFIXES = (".py", ".so", ".pyd")
COMPILED_SUFFIXES = (".so", ".pyd")


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


async def watch(
    paths: list[Path],
    on_change: Callable[[set[Path]], Awaitable[None]],
    *,
    step_ms: int,
    recursive: bool = True,
    watch_filter: Callable[[Change, str], bool] = code_filter,
) -> None:
    """Call ``on_change`` with each debounced batch of changed paths, until cancelled.

    Changes that arrive while ``on_change`` runs are batched into the next call.
    """
    existing = [p for p in paths if p.exists()]
    if not existing:
        return
    stop = asyncio.Event()
    try:
        async for changes in awatch(
            *existing,
            watch_filter=watch_filter,
            step=step_ms,
            debounce=max(step_ms * 20, 400),
            recursive=recursive,
            stop_event=stop,
            rust_timeout=1000,
            ignore_permission_denied=True,
        ):
            try:
                await on_change({Path(path) for _, path in changes})
            except Exception:
                logger.exception("handling file changes failed")
    finally:
        stop.set()
