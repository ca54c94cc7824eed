"""Keeping a :class:`Store` in step with the upstream: list, then watch; relist on 410 Gone;
reconnect with exponential backoff and full jitter."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import orjson

from luban.resources.discovery import ResourceInfo
from luban.resources.store import Store, parse_rv
from luban.resources.upstream import UpstreamError, UpstreamSource, get_bytes, watch_lines

logger = logging.getLogger("luban.resources")

LIST_PAGE = 500
BACKOFF_BASE, BACKOFF_MAX = 0.2, 30.0


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic GC while a list page is parsed and applied (synchronously, no await).

    A page parses into tens of thousands of short-lived objects; collections during that
    promote them and then rescan the whole (large, long-lived) cache, which made a 100k-object
    sync several times slower. Refcounting frees the page as soon as it is applied.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Gone(Exception):
    """The watch's resourceVersion is too old: relist."""


class Informer:
    """One resource type's list+watch loop feeding ``store``; :attr:`ready` after the first list."""

    def __init__(
        self,
        source: UpstreamSource,
        info: ResourceInfo,
        store: Store,
        *,
        watch_timeout: float = 300.0,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.source = source
        self.info = info
        self.store = store
        self.watch_timeout = watch_timeout
        self.on_event = on_event or (lambda _type: None)
        self.ready = asyncio.Event()
        self.last_error: str | None = None
        self.relists = 0

    async def run(self) -> None:
        """Run until cancelled."""
        failures = 0
        rv: int | None = None
        while True:
            try:
                if rv is None:
                    rv = await self._list()
                    self.relists += 1
                    self.ready.set()
                rv = await self._watch(rv)
                failures = 0
            except _Gone:
                rv = None
            except UpstreamError as exc:
                self.last_error = str(exc)
                if exc.code == 410:
                    rv = None
                    continue
                failures += 1
                delay = random.uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**failures))  # noqa: S311
                logger.info("%s: %s; retrying in %.1fs", self.info.label, exc, delay)
                await asyncio.sleep(delay)

    def _item(self, obj: dict[str, Any]) -> dict[str, Any]:
        # Lists leave out each item's kind and apiVersion; the API's answers carry them.
        if "kind" not in obj:
            obj = {"kind": self.info.kind, "apiVersion": self.info.api_version, **obj}
        return obj

    async def _list(self) -> int:
        relist = self.store.begin_relist()
        token = ""
        while True:
            path = f"{self.info.path()}?limit={LIST_PAGE}"
            if token:
                path += f"&continue={quote(token)}"
            payload = await get_bytes(self.source, path, seconds=120)
            with collector_paused():
                page = orjson.loads(payload)
                meta = page.get("metadata") or {}
                rv = parse_rv(meta.get("resourceVersion"))
                relist.add((self._item(o) for o in page.get("items") or []), rv)
                del page
            token = meta.get("continue") or ""
            if not token:
                relist.finish(rv)
                return rv

    async def _watch(self, rv: int) -> int:
        timeout = int(self.watch_timeout * random.uniform(0.8, 1.0))  # noqa: S311
        path = (f"{self.info.path()}?watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
                f"&timeoutSeconds={timeout}")  # fmt: skip
        started = time.monotonic()
        async for event in watch_lines(self.source, path, idle_timeout=timeout + 30):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Gone
                raise UpstreamError(int(obj.get("code") or 0), str(obj.get("message")))
            event_rv = parse_rv((obj.get("metadata") or {}).get("resourceVersion"))
            if kind in ("ADDED", "MODIFIED"):
                self.store.upsert(self._item(obj), event_rv)
            elif kind == "DELETED":
                self.store.delete(obj, event_rv)
            elif kind == "BOOKMARK":
                self.store.bookmark(event_rv)
            else:
                continue
            self.on_event(kind)
            rv = max(rv, event_rv)
        if time.monotonic() - started < 1:
            await asyncio.sleep(random.uniform(0.1, 0.5))  # noqa: S311 - no hot loop
        return rv
