"""The in-memory store behind one resource type's cache.

Each object is kept as its compact JSON bytes (what list responses are made of) plus the few
fields queries look at: namespace, name, creation time and labels always, and any other
dotted path once a query has asked for it (extracted from then on as events arrive). That keeps
memory close to the objects' JSON size. Indexes: namespace -> keys always; label
``key=value`` -> keys and, per sort path, the keys in order, each built once a query has used
that label key or path and maintained incrementally from then on (labels nobody filters on,
such as pod-template hashes, cost no index). Every index shares the one ``(namespace, name)``
tuple per object, and a bucket holding a single key is that key rather than a set. Everything
here is synchronous and runs on the event loop, so a query sees one consistent snapshot,
tagged with :attr:`Store.resource_version`.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from sys import intern
from typing import Any

import orjson

from luban.resources.changelog import ADDED, DELETED, MODIFIED, Change, ChangeLog, Replay
from luban.resources.fields import Path, lookup, path_text, sort_key

Key = tuple[str, str]  # (namespace, name)
SortEntry = tuple[Any, ...]  # where an entry sorts in a SortIndex
Bucket = Key | set[Key]  # the keys under one index value: a lone key is kept bare
Layout = dict[Path, int]  # registered path -> its position in every Entry.fields

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

    __slots__ = ("created", "fields", "folded", "key", "labels", "layout", "name", "namespace",
                 "raw", "rv")  # fmt: skip

    def __init__(self, obj: Mapping[str, Any], layout: Layout, raw: bytes | None = None) -> None:
        meta = obj.get("metadata") or {}
        self.namespace: str = intern(meta.get("namespace") or "")
        self.name: str = meta.get("name") or ""
        self.key: Key = (self.namespace, self.name)
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
        self.raw: bytes = memoryview(orjson.dumps(obj)).tobytes() if raw is None else raw
        # The registered paths' values, in the layout's order: a tuple costs 8 bytes a value
        # where a dict per object cost about 200 bytes.
        self.layout = layout
        self.fields: tuple[Any, ...] | None = (
            tuple([lookup(obj, p) for p in layout]) if layout else None
        )

    @classmethod
    def from_raw(cls, raw: bytes, layout: Layout) -> Entry:
        """The entry of an object given as its (compact) JSON bytes."""
        return cls(orjson.loads(raw), layout, raw)

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
        fields = self.fields
        if fields is None:
            return None
        index = self.layout.get(path)
        # Shorter than the layout: built before the path was registered.
        return fields[index] if index is not None and index < len(fields) else None

    def obj(self) -> dict[str, Any]:
        """The whole object, parsed."""
        result: dict[str, Any] = orjson.loads(self.raw)
        return result


def is_builtin(path: Path) -> bool:
    """Whether :meth:`Entry.value` answers ``path`` without registering it."""
    if len(path) == 2 and path[0] == "metadata":
        return path[1] in ("name", "namespace", "creationTimestamp", "labels")
    return len(path) == 3 and path[:2] == LABELS


def bucket_add(buckets: dict[str, Bucket], value: str, key: Key) -> None:
    """File ``key`` under ``value``."""
    bucket = buckets.get(value)
    if bucket is None:
        buckets[value] = key
    elif isinstance(bucket, set):
        bucket.add(key)
    elif bucket != key:
        buckets[value] = {bucket, key}


def bucket_discard(buckets: dict[str, Bucket], value: str, key: Key) -> None:
    """Unfile ``key`` from ``value`` (dropping the value when no key is left)."""
    bucket = buckets.get(value)
    if bucket is None:
        return
    if isinstance(bucket, set):
        bucket.discard(key)
        if len(bucket) <= 1:
            if bucket:
                buckets[value] = next(iter(bucket))
            else:
                del buckets[value]
    elif bucket == key:
        del buckets[value]


def bucket_keys(bucket: Bucket | None) -> set[Key]:
    """The keys of a bucket, as a set the caller must not change."""
    if bucket is None:
        return set()
    return bucket if isinstance(bucket, set) else {bucket}


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
    """Keys in ascending order of one path's value, then namespace, then name.

    Only the keys are kept (8 bytes each; the tuples are the store's), in blocks of up to
    ``2 * BLOCK`` so an insertion moves a few KB rather than the whole list (a 100k-key list
    costs about 10 us a move). Their order is computed from the store's entries, so an entry
    must be removed before it is replaced in ``entries`` and added after.
    """

    BLOCK = 1000

    def __init__(self, path: Path, entries: Mapping[Key, Entry]) -> None:
        self.path = path
        self.entries = entries
        self.entry_key, self._key_of = _sort_keys(path, entries)
        ordered = sorted(entries, key=self._key_of)
        size = self.BLOCK
        self.blocks: list[list[Key]] = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        self.lasts: list[Key] = [block[-1] for block in self.blocks]
        # The name index also answers substring searches: per block, its names as one text
        # (built by the first search after the block changed).
        self._texts: list[_BlockText | None] | None = None
        if path == NAME:
            self._texts = [None] * len(self.blocks)

    @property
    def order(self) -> list[Key]:
        """Every key in order, as one list."""
        return list(itertools.chain.from_iterable(self.blocks))

    def add(self, entry: Entry) -> None:
        """File ``entry`` (already in the store's entries)."""
        key = entry.key
        blocks, lasts, texts = self.blocks, self.lasts, self._texts
        if not blocks:
            blocks.append([key])
            lasts.append(key)
            if texts is not None:
                texts.append(None)
            return
        target = self.entry_key(entry)
        at = min(bisect.bisect_left(lasts, target, key=self._key_of), len(blocks) - 1)
        block = blocks[at]
        index = bisect.bisect_left(block, target, key=self._key_of)
        block.insert(index, key)
        if index == len(block) - 1:
            lasts[at] = key
        if texts is not None:
            texts[at] = None
        if len(block) > 2 * self.BLOCK:
            blocks.insert(at + 1, block[self.BLOCK :])
            del block[self.BLOCK :]
            lasts[at] = block[-1]
            lasts.insert(at + 1, blocks[at + 1][-1])
            if texts is not None:
                texts.insert(at + 1, None)

    def remove(self, entry: Entry) -> None:
        """Unfile ``entry`` (still in the store's entries)."""
        target = self.entry_key(entry)
        blocks, lasts = self.blocks, self.lasts
        at = bisect.bisect_left(lasts, target, key=self._key_of)
        if at == len(blocks):
            return
        block = blocks[at]
        index = bisect.bisect_left(block, target, key=self._key_of)
        if index == len(block) or block[index] != entry.key:
            return
        del block[index]
        texts = self._texts
        if not block:
            del blocks[at], lasts[at]
            if texts is not None:
                del texts[at]
        else:
            if index == len(block):
                lasts[at] = block[-1]
            if texts is not None:
                texts[at] = None

    def keys(self, descending: bool) -> Iterator[Key]:
        """Every key in order."""
        if descending:
            return itertools.chain.from_iterable(reversed(b) for b in reversed(self.blocks))
        return itertools.chain.from_iterable(self.blocks)

    def search(self, needle: str) -> list[Key]:
        """Keys whose lowercase name contains ``needle`` (of the name index only).

        Scanning one text per block reads contiguous memory; visiting 100k entries instead
        costs a cache miss or two each once updates have scattered them (5 ms after a sync,
        over 20 ms after churn).
        """
        texts = self._texts
        if texts is None:
            raise ValueError(f"{path_text(self.path)} is not a name index")
        found: list[Key] = []
        for at, block in enumerate(self.blocks):
            text = texts[at]
            if text is None:
                text = texts[at] = _BlockText(block, self.entries)
            text.search(needle, block, found)
        return found


class _BlockText:
    """A block's lowercase names joined by newlines, and where each starts."""

    __slots__ = ("starts", "text")

    def __init__(self, block: list[Key], entries: Mapping[Key, Entry]) -> None:
        names = [entries[key].folded for key in block]
        self.text = "\n".join(names)
        self.starts = array("I", itertools.accumulate((len(n) + 1 for n in names), initial=0))

    def search(self, needle: str, block: list[Key], found: list[Key]) -> None:
        """Append the keys of ``block`` (the keys this text was built from) that match."""
        text, starts, size = self.text, self.starts, len(needle)
        at = text.find(needle)
        while at != -1:
            index = bisect.bisect_right(starts, at) - 1
            end = starts[index + 1] - 1  # where this name ends
            if at + size <= end:  # not across a separator (a name may contain one)
                found.append(block[index])
                at = text.find(needle, end + 1)
            else:
                at = text.find(needle, at + 1)


def _sort_keys(
    path: Path, entries: Mapping[Key, Entry]
) -> tuple[Callable[[Entry], SortEntry], Callable[[Key], SortEntry]]:
    """Where an entry sorts by ``path``, from the entry and from its key.

    The generic form is ``(rank, value, key)`` with values ranked by
    :func:`~luban.resources.fields.sort_key`; the fields every entry keeps have shorter forms
    that order the same way (a missing value is "", which sorts first, as rank 0 does), so
    bisecting an index (some 17 calls of the key function per insertion) stays cheap.
    """
    if path == NAME:
        return (lambda e: (e.name, e.namespace)), itemgetter(1, 0)
    if path == NAMESPACE:
        return (lambda e: e.key), (lambda k: k)
    if path == CREATED:
        return (lambda e: (e.created, e.key)), (lambda k: (entries[k].created, k))

    def of_entry(entry: Entry) -> SortEntry:
        rank, value = sort_key(entry.value(path))
        return (rank, value, entry.key)

    return of_entry, lambda k: of_entry(entries[k])


class Store:
    """Objects of one resource type, their indexes, the recent change log and watchers."""

    def __init__(self, log_size: int = 10_000) -> None:
        self.entries: dict[Key, Entry] = {}
        self.by_namespace: dict[str, Bucket] = {}
        # Only label keys a query has used: label key -> value -> keys.
        self.by_label: dict[str, dict[str, Bucket]] = {}
        self.layout: Layout = {}
        self.sort_indexes: dict[Path, SortIndex] = {}
        self.resource_version = 0
        self.log = ChangeLog(log_size)
        self.subscriptions: set[Subscription] = set()
        self.json_bytes = 0
        self._rv_changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def oldest_resumable(self) -> int:
        """The oldest resourceVersion a watch may resume from."""
        return self.log.oldest_resumable

    # -- reading ---------------------------------------------------------------------------

    def ensure_paths(self, paths: Iterable[Path]) -> None:
        """Start keeping ``paths`` for every object (one parse of each object the first time)."""
        new = sorted({p for p in paths if not is_builtin(p)} - self.layout.keys())
        if not new:
            return
        for path in new:
            self.layout[path] = len(self.layout)
        for entry in self.entries.values():
            obj = entry.obj()
            entry.fields = (entry.fields or ()) + tuple(lookup(obj, p) for p in new)

    def sort_index(self, path: Path) -> SortIndex:
        """The sorted index of ``path``, built on first use and maintained from then on."""
        index = self.sort_indexes.get(path)
        if index is None:
            self.ensure_paths([path])
            index = self.sort_indexes[path] = SortIndex(path, self.entries)
        return index

    def search_names(self, needle: str) -> list[Key]:
        """Keys of the objects whose lowercase name contains ``needle``."""
        return self.sort_index(NAME).search(needle)

    def namespace_keys(self, namespace: str) -> set[Key]:
        """Keys of the objects in ``namespace`` (a set the caller must not change)."""
        return bucket_keys(self.by_namespace.get(namespace))

    def label_index(self, key: str) -> dict[str, Bucket]:
        """Value -> keys for label ``key``, built on first use and maintained from then on."""
        values = self.by_label.get(key)
        if values is None:
            values = self.by_label[key] = {}
            for entry in self.entries.values():
                value = entry.labels.get(key)
                if value is not None:
                    bucket_add(values, value, entry.key)
        return values

    def label_keys(self, key: str, value: str) -> set[Key]:
        """Keys of objects labelled ``key=value`` (a set the caller must not change)."""
        return bucket_keys(self.label_index(key).get(value))

    def label_key_keys(self, key: str) -> set[Key]:
        """Keys of objects that have label ``key`` (any value)."""
        values = self.label_index(key)
        result: set[Key] = set()
        for bucket in values.values():
            if isinstance(bucket, set):
                result |= bucket
            else:
                result.add(bucket)
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

    def changes_since(self, rv: int) -> Replay | None:
        """Logged changes after ``rv``, or None when some of them are no longer logged."""
        layout = self.layout
        return self.log.since(rv, self.entries, lambda raw: Entry.from_raw(raw, layout))

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
        entry = Entry(obj, self.layout)
        old = self.entries.get(entry.key)
        self._put(entry, old)
        self._record(Change(rv or entry.rv, MODIFIED if old else ADDED, old, entry))

    def delete(self, obj: Mapping[str, Any], rv: int | None = None) -> None:
        """Apply a DELETED event."""
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        old = self.entries.get(key)
        if old is None:
            self.bookmark(rv or parse_rv(meta.get("resourceVersion")))
            return
        self._remove(old)
        self._record(Change(rv or parse_rv(meta.get("resourceVersion")), DELETED, old, None))

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
        if old is not None:
            # One key tuple per object, shared by the entries dict and every index.
            entry.key = old.key
            self._unindex(old, entry)
        key = entry.key
        self.entries[key] = entry
        self.json_bytes += len(entry.raw)
        if old is None:
            bucket_add(self.by_namespace, entry.namespace, key)
        if self.by_label and entry.labels:
            for label, values in self.by_label.items():
                value = entry.labels.get(label)
                if value is not None and (old is None or old.labels.get(label) != value):
                    bucket_add(values, value, key)
        for index in self.sort_indexes.values():
            if old is None or index.entry_key(old) != index.entry_key(entry):
                index.add(entry)

    def _unindex(self, old: Entry, new: Entry | None) -> None:
        key = old.key
        self.json_bytes -= len(old.raw)
        if self.by_label and old.labels:
            for label, values in self.by_label.items():
                value = old.labels.get(label)
                if value is not None and (new is None or new.labels.get(label) != value):
                    bucket_discard(values, value, key)
        for index in self.sort_indexes.values():
            if new is None or index.entry_key(old) != index.entry_key(new):
                index.remove(old)

    def _remove(self, old: Entry) -> None:
        self._unindex(old, None)
        del self.entries[old.key]
        bucket_discard(self.by_namespace, old.namespace, old.key)

    def _record(self, change: Change, wake: bool = True) -> None:
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
            entry = Entry(obj, store.layout)
            old = store.entries.get(entry.key)
            self.seen.add(entry.key if old is None else old.key)
            if old is not None and old.rv == entry.rv and old.raw == entry.raw:
                continue
            store._put(entry, old)
            if not self.first:
                store._record(Change(rv, MODIFIED if old else ADDED, old, entry), wake=False)

    def finish(self, rv: int) -> None:
        """Delete every object the list did not name; the store is now as of ``rv``."""
        store = self.store
        for key in [k for k in store.entries if k not in self.seen]:
            old = store.entries[key]
            store._remove(old)
            store._record(Change(rv, DELETED, old, None), wake=False)
        if self.first or not store.log:
            store.log.oldest_resumable = rv
        store.resource_version = max(store.resource_version, rv)
        store._wake()
