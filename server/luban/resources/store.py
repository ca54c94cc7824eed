"""The in-memory store behind one resource type's cache.

Each object is kept as its compact JSON bytes (what list responses are made of) plus the few
fields queries look at: namespace, name, creation time and labels always, and any other
dotted path once a query has asked for it (extracted from then on as events arrive). That keeps
memory close to the objects' JSON size. Indexes: namespace -> keys, label ``key=value`` ->
keys, and per sort path a sorted list maintained incrementally once a query has used it.
Everything here is synchronous and runs on the event loop, so a query sees one consistent
snapshot, tagged with :attr:`Store.resource_version`.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any

import orjson

from luban.resources.fields import Path, lookup, sort_key

Key = tuple[str, str]  # (namespace, name)
SortEntry = tuple[int, Any, str, str]  # (rank, value, namespace, name): one flat tuple

NAME = ("metadata", "name")
NAMESPACE = ("metadata", "namespace")
UID = ("metadata", "uid")
CREATED = ("metadata", "creationTimestamp")
LABELS = ("metadata", "labels")
_NO_LABELS: dict[str, str] = {}


def parse_rv(value: Any) -> int:
    """A resourceVersion as an integer (0 when it is not one)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class Entry:
    """One cached object: its JSON bytes and the fields queries read."""

    __slots__ = ("created", "fields", "folded", "labels", "name", "namespace", "raw", "rv")

    def __init__(self, obj: Mapping[str, Any], paths: Iterable[Path]) -> None:
        meta = obj.get("metadata") or {}
        self.namespace: str = intern(meta.get("namespace") or "")
        self.name: str = meta.get("name") or ""
        # The lowercase name for substring search; the same object when already lowercase.
        folded = self.name.lower()
        self.folded: str = self.name if folded == self.name else folded
        self.created: str = meta.get("creationTimestamp") or ""
        self.rv: int = parse_rv(meta.get("resourceVersion"))
        # Label keys and values repeat across objects: share one copy of each.
        labels = meta.get("labels")
        self.labels: dict[str, str] = (
            {intern(k): intern(v) for k, v in labels.items()} if labels else _NO_LABELS
        )
        # orjson's output keeps the capacity it grew to (often 2.5x the length): copy it.
        self.raw: bytes = memoryview(orjson.dumps(obj)).tobytes()
        self.fields: dict[Path, Any] | None = {p: lookup(obj, p) for p in paths} or None

    @property
    def key(self) -> Key:
        """``(namespace, name)``."""
        return (self.namespace, self.name)

    def value(self, path: Path) -> Any:
        """The value at ``path`` (a registered one, or one of the always-kept fields)."""
        if len(path) == 2 and path[0] == "metadata":
            if path[1] == "name":
                return self.name
            if path[1] == "namespace":
                return self.namespace or None
            if path[1] == "creationTimestamp":
                return self.created or None
            if path[1] == "labels":
                return self.labels
        elif len(path) == 3 and path[0] == "metadata" and path[1] == "labels":
            return self.labels.get(path[2])
        if self.fields is None:
            return None
        return self.fields.get(path)

    def obj(self) -> dict[str, Any]:
        """The whole object, parsed."""
        result: dict[str, Any] = orjson.loads(self.raw)
        return result


def is_builtin(path: Path) -> bool:
    """Whether :meth:`Entry.value` answers ``path`` without registering it."""
    if len(path) == 2 and path[0] == "metadata":
        return path[1] in ("name", "namespace", "creationTimestamp", "labels")
    return len(path) == 3 and path[:2] == LABELS


@dataclass(frozen=True, slots=True)
class Change:
    """One change the store applied: ``old`` is None for ADDED, ``new`` None for DELETED."""

    rv: int
    type: str
    old: Entry | None
    new: Entry | None


@dataclass(eq=False)
class Subscription:
    """A watcher's queue of changes (None: the store was dropped or the watcher fell behind)."""

    queue: asyncio.Queue[Change | None] = field(default_factory=asyncio.Queue)
    limit: int = 50_000
    closed: bool = False

    def put(self, change: Change | None) -> None:
        if self.closed:
            return
        if change is not None and self.queue.qsize() >= self.limit:
            change, self.closed = None, True
        self.queue.put_nowait(change)


class SortIndex:
    """Keys in ascending order of one path's value, then namespace, then name."""

    def __init__(self, path: Path, entries: Iterable[Entry]) -> None:
        self.path = path
        self.items: list[SortEntry] = sorted(self.entry_key(e) for e in entries)

    def entry_key(self, entry: Entry) -> SortEntry:
        rank, value = sort_key(entry.value(self.path))
        return (rank, value, entry.namespace, entry.name)

    def add(self, entry: Entry) -> None:
        bisect.insort(self.items, self.entry_key(entry))

    def remove(self, entry: Entry) -> None:
        item = self.entry_key(entry)
        index = bisect.bisect_left(self.items, item)
        if index < len(self.items) and self.items[index] == item:
            del self.items[index]

    def keys(self, descending: bool) -> Iterator[Key]:
        """Every key in order."""
        items = reversed(self.items) if descending else iter(self.items)
        return ((ns, name) for _, _, ns, name in items)


class Store:
    """Objects of one resource type, their indexes, the recent change log and watchers."""

    def __init__(self, log_size: int = 10_000) -> None:
        self.entries: dict[Key, Entry] = {}
        self.by_namespace: dict[str, set[Key]] = {}
        self.by_label: dict[str, dict[str, set[Key]]] = {}
        self.paths: set[Path] = set()
        self.sort_indexes: dict[Path, SortIndex] = {}
        self.resource_version = 0
        self.log: deque[Change] = deque(maxlen=log_size)
        # Oldest resourceVersion a watch may resume from (changes after it are all logged).
        self.oldest_resumable = 0
        self.subscriptions: set[Subscription] = set()
        self.json_bytes = 0
        self._rv_changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self.entries)

    # -- reading ---------------------------------------------------------------------------

    def ensure_paths(self, paths: Iterable[Path]) -> None:
        """Start keeping ``paths`` for every object (one parse of each object the first time)."""
        new = {p for p in paths if not is_builtin(p)} - self.paths
        if not new:
            return
        self.paths |= new
        for entry in self.entries.values():
            obj = entry.obj()
            values = {p: lookup(obj, p) for p in new}
            if entry.fields is None:
                entry.fields = values
            else:
                entry.fields.update(values)

    def sort_index(self, path: Path) -> SortIndex:
        """The sorted index of ``path``, built on first use and maintained from then on."""
        index = self.sort_indexes.get(path)
        if index is None:
            self.ensure_paths([path])
            index = self.sort_indexes[path] = SortIndex(path, self.entries.values())
        return index

    def label_keys(self, key: str, value: str) -> set[Key]:
        """Keys of objects labelled ``key=value``."""
        return self.by_label.get(key, {}).get(value, set())

    def label_key_keys(self, key: str) -> set[Key]:
        """Keys of objects that have label ``key`` (any value)."""
        values = self.by_label.get(key)
        if not values:
            return set()
        result: set[Key] = set()
        for keys in values.values():
            result |= keys
        return result

    async def wait_for(self, rv: int, seconds: float) -> bool:
        """Wait until the store has seen ``rv`` (or ``timeout`` passed); whether it has."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.resource_version < rv:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._rv_changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return self.resource_version >= rv
        return True

    def changes_since(self, rv: int) -> list[Change] | None:
        """Logged changes after ``rv``, or None when some of them are no longer logged."""
        if rv < self.oldest_resumable:
            return None
        return [c for c in self.log if c.rv > rv]

    def subscribe(self, limit: int = 50_000) -> Subscription:
        """A queue of every change from now on."""
        subscription = Subscription(limit=limit)
        self.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to ``subscription``."""
        self.subscriptions.discard(subscription)

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, obj: Mapping[str, Any], rv: int | None = None) -> None:
        """Apply an ADDED or MODIFIED event."""
        entry = Entry(obj, self.paths)
        old = self.entries.get(entry.key)
        self._put(entry, old)
        self._record(Change(rv or entry.rv, "MODIFIED" if old else "ADDED", old, entry))

    def delete(self, obj: Mapping[str, Any], rv: int | None = None) -> None:
        """Apply a DELETED event."""
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        old = self.entries.get(key)
        if old is None:
            self.bookmark(rv or parse_rv(meta.get("resourceVersion")))
            return
        self._remove(old)
        self._record(Change(rv or parse_rv(meta.get("resourceVersion")), "DELETED", old, None))

    def bookmark(self, rv: int) -> None:
        """The upstream has reached ``rv`` for this type."""
        if rv > self.resource_version:
            self.resource_version = rv
            self._wake()

    def replace(self, objs: Iterable[Mapping[str, Any]], rv: int) -> None:
        """Make the contents exactly ``objs`` as of ``rv`` (a (re)list), logging the differences."""
        relist = self.begin_relist()
        relist.add(objs, rv)
        relist.finish(rv)

    def begin_relist(self) -> Relist:
        """Start replacing the contents page by page (a paginated list never sits in memory)."""
        return Relist(self, first=not self.entries and self.resource_version == 0)

    def close(self) -> None:
        """The type is gone: end every watcher."""
        for subscription in self.subscriptions:
            subscription.put(None)
        self.subscriptions.clear()

    def _put(self, entry: Entry, old: Entry | None) -> None:
        key = entry.key
        if old is not None:
            self._unindex(old, entry)
        self.entries[key] = entry
        self.json_bytes += len(entry.raw)
        if old is None:
            self.by_namespace.setdefault(entry.namespace, set()).add(key)
        for label, value in entry.labels.items():
            if old is None or old.labels.get(label) != value:
                self.by_label.setdefault(label, {}).setdefault(value, set()).add(key)
        for index in self.sort_indexes.values():
            if old is None or index.entry_key(old) != index.entry_key(entry):
                index.add(entry)

    def _unindex(self, old: Entry, new: Entry | None) -> None:
        key = old.key
        self.json_bytes -= len(old.raw)
        for label, value in old.labels.items():
            if new is not None and new.labels.get(label) == value:
                continue
            values = self.by_label.get(label)
            if values is None:
                continue
            keys = values.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del values[value]
                    if not values:
                        del self.by_label[label]
        for index in self.sort_indexes.values():
            if new is None or index.entry_key(old) != index.entry_key(new):
                index.remove(old)

    def _remove(self, old: Entry) -> None:
        key = old.key
        self._unindex(old, None)
        del self.entries[key]
        keys = self.by_namespace.get(old.namespace)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.by_namespace[old.namespace]

    def _record(self, change: Change, wake: bool = True) -> None:
        if len(self.log) == self.log.maxlen:
            self.oldest_resumable = self.log[0].rv
        self.log.append(change)
        for subscription in self.subscriptions:
            subscription.put(change)
        if change.rv > self.resource_version:
            self.resource_version = change.rv
        if wake:
            self._wake()

    def _wake(self) -> None:
        self._rv_changed.set()
        self._rv_changed = asyncio.Event()


class Relist:
    """A (re)list in progress: pages of objects, then :meth:`finish` deletes what was not seen."""

    def __init__(self, store: Store, first: bool) -> None:
        self.store = store
        self.first = first
        self.seen: set[Key] = set()

    def add(self, objs: Iterable[Mapping[str, Any]], rv: int) -> None:
        """Apply one page of the list."""
        store = self.store
        for obj in objs:
            entry = Entry(obj, store.paths)
            self.seen.add(entry.key)
            old = store.entries.get(entry.key)
            if old is not None and old.rv == entry.rv and old.raw == entry.raw:
                continue
            store._put(entry, old)
            if not self.first:
                change = Change(rv, "MODIFIED" if old else "ADDED", old, entry)
                store._record(change, wake=False)

    def finish(self, rv: int) -> None:
        """Delete every object the list did not name; the store is now as of ``rv``."""
        store = self.store
        for key in [k for k in store.entries if k not in self.seen]:
            old = store.entries[key]
            store._remove(old)
            store._record(Change(rv, "DELETED", old, None), wake=False)
        if self.first or not store.log:
            store.oldest_resumable = rv
        store.resource_version = max(store.resource_version, rv)
        store._wake()
