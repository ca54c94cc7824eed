"""A bounded LRU cache whose entries expire, with concurrent misses for one key coalesced."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """At most ``max_entries`` values, each kept for the TTL ``ttl_of(value)`` returns.

    ``get_or_load`` runs one loader per key at a time: a burst of requests for an uncached
    key waits on the same upstream call instead of each making its own.
    """

    def __init__(
        self,
        max_entries: int,
        ttl_of: Callable[[V], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self._ttl_of = ttl_of
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._loading: dict[K, asyncio.Future[V]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The cached, unexpired value for ``key``, or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` (not at all when its TTL is zero or less)."""
        ttl = self._ttl_of(value)
        if ttl <= 0 or self.max_entries <= 0:
            return
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or the result of ``load()`` (shared by concurrent callers).

        The load runs in its own task, so a caller that gives up (disconnects) does not
        cancel it for the others waiting on the same key.
        """
        value = self.get(key)
        if value is not None:
            self.hits += 1
            return value
        task = self._loading.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.ensure_future(load())
            self._loading[key] = task
            task.add_done_callback(lambda done: self._loaded(key, done))
        else:
            self.hits += 1
        return await asyncio.shield(task)

    def _loaded(self, key: K, task: asyncio.Future[V]) -> None:
        if self._loading.get(key) is task:
            del self._loading[key]
        if not task.cancelled() and task.exception() is None:
            self.put(key, task.result())

    async def aclose(self) -> None:
        """Cancel loads still running (at shutdown) and wait for them."""
        tasks = list(self._loading.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
