"""The caches: one watch-fed store per resource type, started on first use, evicted when idle,
and the served types, refreshed whenever a CustomResourceDefinition changes (a watch, no polling).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

from luban.config import ResourcesConfig
from luban.kube.errors import APIError
from luban.resources.discovery import GVR, ResourceInfo, discover
from luban.resources.informer import Informer
from luban.resources.store import Store
from luban.resources.upstream import UpstreamError, UpstreamSource

logger = logging.getLogger("luban.resources")

CRDS = ResourceInfo(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
    False, frozenset({"list", "watch"}),
)  # fmt: skip
MISS_REFRESH_SECONDS = 1.0
TICK_SECONDS = 1.0


class CacheMetrics:
    """Readiness, sizes and event counts of the caches."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.ready = Gauge("luban_resource_cache_ready", "1 when a cache has synced.",
                           ["resource"], multiprocess_mode="max", registry=registry)  # fmt: skip
        self.objects = Gauge("luban_resource_cache_objects", "Objects in a cache.",
                             ["resource"], multiprocess_mode="max", registry=registry)  # fmt: skip
        self.bytes = Gauge("luban_resource_cache_json_bytes", "JSON bytes held by a cache.",
                           ["resource"], multiprocess_mode="max", registry=registry)  # fmt: skip
        self.events = Counter("luban_resource_cache_events_total",
                              "Watch events applied, by resource and type.",
                              ["resource", "type"], registry=registry)  # fmt: skip
        self.relists = Counter("luban_resource_cache_lists_total",
                               "Full (re)lists from the upstream.", ["resource"],
                               registry=registry)  # fmt: skip


@dataclass(eq=False)
class Cache:
    """One resource type's store and the task keeping it in step."""

    info: ResourceInfo
    store: Store
    informer: Informer
    task: asyncio.Task[None]
    last_used: float = field(default_factory=time.monotonic)
    lists_seen: int = 0


class CacheManager:
    """Served types and their caches."""

    def __init__(
        self,
        source: UpstreamSource,
        config: ResourcesConfig,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self.metrics = CacheMetrics(registry)
        self.types: dict[GVR, ResourceInfo] = {}
        self.caches: dict[GVR, Cache] = {}
        self._discovered = asyncio.Event()
        self._refresh_wanted = asyncio.Event()
        self._last_refresh = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._crd_cache: Cache | None = None

    async def start(self) -> None:
        """Start discovery, the CRD watch and the housekeeping loop (returns at once)."""
        self._tasks = [
            asyncio.create_task(self._discovery_loop(), name="resources-discovery"),
            asyncio.create_task(self._housekeeping(), name="resources-housekeeping"),
        ]
        self._refresh_wanted.set()

    async def stop(self) -> None:
        """Cancel every task and end every watcher."""
        tasks = [*self._tasks, *(c.task for c in self.caches.values())]
        if self._crd_cache is not None:
            tasks.append(self._crd_cache.task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for cache in self.caches.values():
            cache.store.close()
        self.caches.clear()

    # -- served types ----------------------------------------------------------------------

    async def resolve(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        """The served type, or None; an unknown name refreshes discovery (rate-limited) first."""
        if not self._tasks:
            raise APIError(503, "the Resource API has no upstream API server", "ServiceUnavailable")
        try:
            await asyncio.wait_for(
                self._discovered.wait(), self.config.initial_sync_timeout_seconds
            )
        except TimeoutError:
            raise APIError(503, "the upstream's API discovery is not available yet") from None
        info = self.types.get((group, version, resource))
        if info is None and time.monotonic() - self._last_refresh > MISS_REFRESH_SECONDS:
            await self._refresh()
            info = self.types.get((group, version, resource))
        return info

    def served_group_version(self, group: str, version: str) -> bool:
        """Whether any type is served in ``group/version``."""
        return any(g == group and v == version for g, v, _ in self.types)

    async def _refresh(self) -> None:
        self._last_refresh = time.monotonic()
        try:
            types = await discover(self.source)
        except UpstreamError as exc:
            logger.warning("resource discovery failed: %s", exc)
            return
        gone = [gvr for gvr in self.caches if gvr not in types]
        self.types = types
        for gvr in gone:
            self._drop(gvr)
        self._discovered.set()

    async def _discovery_loop(self) -> None:
        """Refresh discovery whenever asked (startup, CRD changes), debounced."""
        while True:
            await self._refresh_wanted.wait()
            await asyncio.sleep(0.05)
            self._refresh_wanted.clear()
            await self._refresh()
            if self._crd_cache is None and CRDS.gvr in self.types:
                self._crd_cache = self._start(CRDS, lambda _type: self._refresh_wanted.set())

    # -- caches ----------------------------------------------------------------------------

    async def store(self, info: ResourceInfo) -> Store:
        """The synced store of ``info`` (started on first use; the wait is bounded)."""
        cache = self.caches.get(info.gvr)
        if cache is None:
            cache = self.caches[info.gvr] = self._start(info)
        cache.last_used = time.monotonic()
        if not cache.informer.ready.is_set():
            try:
                await asyncio.wait_for(
                    asyncio.shield(cache.informer.ready.wait()),
                    self.config.initial_sync_timeout_seconds,
                )
            except TimeoutError:
                why = cache.informer.last_error or "still listing"
                raise APIError(504, f"the cache of {info.label} is not synced yet: {why}",
                               "Timeout", {"retryAfterSeconds": 1}) from None  # fmt: skip
        return cache.store

    def _start(self, info: ResourceInfo, on_event: object = None) -> Cache:
        store = Store(self.config.change_log_size)
        label = info.label
        events = self.metrics.events
        children: dict[str, Counter] = {}  # kind -> its labelled counter (labels() costs ~1 us)

        def counted(kind: str) -> None:
            child = children.get(kind)
            if child is None:
                child = children[kind] = events.labels(label, kind)
            child.inc()
            if callable(on_event):
                on_event(kind)

        informer = Informer(
            self.source, info, store, watch_timeout=self.config.watch_timeout_seconds,
            on_event=counted,
        )  # fmt: skip
        task = asyncio.create_task(informer.run(), name=f"resources-{label}")
        return Cache(info, store, informer, task)

    def _drop(self, gvr: GVR) -> None:
        cache = self.caches.pop(gvr, None)
        if cache is None:
            return
        cache.task.cancel()
        cache.store.close()
        label = cache.info.label
        for gauge in (self.metrics.ready, self.metrics.objects, self.metrics.bytes):
            with contextlib.suppress(KeyError):
                gauge.remove(label)
        logger.info("dropped the cache of %s", label)

    async def _housekeeping(self) -> None:
        """Evict idle caches (no recent request, no open watch); export sizes."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            for gvr, cache in list(self.caches.items()):
                idle = now - cache.last_used > self.config.idle_eviction_seconds
                if idle and not cache.store.subscriptions:
                    self._drop(gvr)
                    continue
                label = cache.info.label
                self.metrics.ready.labels(label).set(1 if cache.informer.ready.is_set() else 0)
                self.metrics.objects.labels(label).set(len(cache.store))
                self.metrics.bytes.labels(label).set(cache.store.json_bytes)
                if cache.informer.relists != cache.lists_seen:
                    self.metrics.relists.labels(label).inc(
                        cache.informer.relists - cache.lists_seen
                    )
                    cache.lists_seen = cache.informer.relists
