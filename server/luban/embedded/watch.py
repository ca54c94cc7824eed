"""Watch fan-out: one change stream from the store, many filtered watchers.

A watcher sees an object that starts matching its filter as ADDED and one that stops
matching as DELETED, like the API server's watch cache. Subscribing (including replaying
retained events or the current state) happens without awaiting, so no event can fall in
a gap between the replay and the live stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from luban.embedded.store import Event, Store, Stored

logger = logging.getLogger(__name__)

Predicate = Callable[[dict[str, Any]], bool]
WatchEvent = tuple[str, Stored]
MAX_BACKLOG = 100_000


@dataclass(eq=False)
class Watcher:
    """One open watch: a filter and the queue its events wait in."""

    type_key: str
    namespace: str | None
    predicate: Predicate
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def _matches(self, stored: Stored | None) -> bool:
        if stored is None:
            return False
        if (
            self.namespace is not None
            and stored.obj["metadata"].get("namespace", "") != self.namespace
        ):
            return False
        return self.predicate(stored.obj)

    def offer(self, event: Event) -> None:
        """Translate one store event for this watcher's filter and queue it."""
        if self.closed:
            return
        if event.type == "DELETED":
            if self._matches(event.stored):
                self._put(("DELETED", event.stored))
            return
        now = self._matches(event.stored)
        before = event.type == "MODIFIED" and self._matches(event.previous)
        if now:
            self._put(("MODIFIED" if before else "ADDED", event.stored))
        elif before:
            assert event.previous is not None
            self._put(("DELETED", _restamp(event.previous, event.stored.rv)))

    def _put(self, item: WatchEvent) -> None:
        if self.queue.qsize() >= MAX_BACKLOG:
            logger.warning(
                "closing a watch on %s that fell %d events behind", self.type_key, MAX_BACKLOG
            )
            self.close()
            return
        self.queue.put_nowait(item)

    def close(self) -> None:
        """End the watch: the consumer sees ``None`` after what is queued."""
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


def _restamp(stored: Stored, rv: int) -> Stored:
    obj = stored.copy()
    obj["metadata"]["resourceVersion"] = str(rv)
    return Stored(obj, orjson.dumps(obj), rv)


class WatchHub:
    """Routes committed store events to the watchers of each type."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_type: dict[str, set[Watcher]] = {}
        store.add_listener(self._on_events)

    @property
    def open_watches(self) -> int:
        """How many watches are open."""
        return sum(len(watchers) for watchers in self._by_type.values())

    def open_watches_on(self, type_key: str, namespace: str | None = None) -> int:
        """How many watches on one type (``/configmaps``, ``apps/deployments``) are open,
        or only those scoped to ``namespace`` when given."""
        watchers = self._by_type.get(type_key, ())
        if namespace is None:
            return len(watchers)
        return sum(1 for watcher in watchers if watcher.namespace == namespace)

    def subscribe(
        self,
        type_key: str,
        namespace: str | None,
        predicate: Predicate,
        since_rv: int | None,
        initial: Iterable[Stored] = (),
    ) -> Watcher:
        """Open a watch from ``since_rv`` (retained events replayed) or from ``initial``."""
        watcher = Watcher(type_key, namespace, predicate)
        if since_rv is None:
            for stored in initial:
                if watcher._matches(stored):
                    watcher._put(("ADDED", stored))
        else:
            for event in self.store.events_after(since_rv):
                if event.type_key == type_key:
                    watcher.offer(event)
        self._by_type.setdefault(type_key, set()).add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        """Forget a watcher (its consumer went away or it ended)."""
        watchers = self._by_type.get(watcher.type_key)
        if watchers is not None:
            watchers.discard(watcher)
        watcher.closed = True

    def close_type(self, type_key: str) -> None:
        """End every watch on a type (its CRD went away)."""
        for watcher in list(self._by_type.pop(type_key, ())):
            watcher.close()

    def close_all(self) -> None:
        """End every watch (shutdown)."""
        for type_key in list(self._by_type):
            self.close_type(type_key)

    def _on_events(self, events: list[Event]) -> None:
        for event in events:
            watchers = self._by_type.get(event.type_key)
            if watchers:
                for watcher in watchers:
                    watcher.offer(event)
