"""The embedded cluster's object store: memory for reads, SQLite for durability.

Every write is decided on the event loop against the in-memory state (so conflict checks
need no locks), stamped with the next value of one global resourceVersion counter, and
then committed by a single writer thread that batches whatever is queued into one SQLite
transaction (group commit). A write is acknowledged, and its watch events published, only
after its transaction committed: nothing acknowledged is lost if the process dies.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

logger = logging.getLogger(__name__)

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Key = tuple[str, str]  # (namespace, name)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (type, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """One object version. ``obj`` is shared: never mutate it (copy with :meth:`copy`)."""

    obj: dict[str, Any]
    raw: bytes
    rv: int

    def copy(self) -> dict[str, Any]:
        """A private deep copy of the object."""
        result: dict[str, Any] = orjson.loads(self.raw)
        return result


@dataclass(frozen=True, slots=True)
class Event:
    """A change to one object, as watchers see it."""

    type: EventType
    type_key: str
    namespace: str
    name: str
    stored: Stored
    previous: Stored | None


@dataclass(frozen=True, slots=True)
class Write:
    """One change in a transaction: ``obj`` None deletes."""

    type_key: str
    namespace: str
    name: str
    obj: dict[str, Any] | None


Listener = Callable[[list[Event]], None]


class _Writer(threading.Thread):
    """The only thread that touches the SQLite file; commits queued batches together."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name="luban-store-writer", daemon=True)
        self.path = path
        self.loop = loop
        self.jobs: queue.SimpleQueue[tuple[list[tuple[Any, ...]], int, asyncio.Future[None]] | None]
        self.jobs = queue.SimpleQueue()

    def run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                batch = [job]
                stop = False
                while True:
                    try:
                        more = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                self._commit(db, batch)
                if stop:
                    return
        finally:
            db.close()

    def _commit(
        self,
        db: sqlite3.Connection,
        batch: list[tuple[list[tuple[Any, ...]], int, asyncio.Future[None]]],
    ) -> None:
        error: BaseException | None = None
        try:
            db.execute("BEGIN IMMEDIATE")
            for rows, _, _ in batch:
                for row in rows:
                    if row[4] is None:
                        db.execute(
                            "DELETE FROM objects WHERE type=? AND namespace=? AND name=?", row[:3]
                        )
                    else:
                        db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)", row)
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (max(rv for _, rv, _ in batch),)
            )
            db.execute("COMMIT")
        except BaseException as exc:  # report to every waiter, keep the thread alive
            error = exc
            if db.in_transaction:
                db.execute("ROLLBACK")
        for _, _, future in batch:
            self.loop.call_soon_threadsafe(_settle, future, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class Store:
    """All objects of the embedded cluster, by type key (``group/resource``) and (ns, name)."""

    def __init__(self, path: Path | None, window: int = 10_000) -> None:
        self.path = path
        self._objects: dict[str, dict[Key, Stored]] = {}
        self._sorted: dict[str, list[Stored]] = {}
        self._rv = 0
        self._start_rv = 0
        self._events: deque[Event] = deque(maxlen=window)
        self._listeners: list[Listener] = []
        self._writer: _Writer | None = None
        self._pending: deque[tuple[asyncio.Future[None], list[Event]]] = deque()

    async def start(self) -> None:
        """Load the persisted state and start the writer thread."""
        if self.path is not None:
            await asyncio.to_thread(self._load, self.path)
            self._writer = _Writer(self.path, asyncio.get_running_loop())
            self._writer.start()
        self._start_rv = self._rv

    def _load(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
            self._rv = int(row[0]) if row else 0
            for type_key, namespace, name, rv, data in db.execute("SELECT * FROM objects"):
                stored = Stored(orjson.loads(data), bytes(data), rv)
                self._objects.setdefault(type_key, {})[(namespace, name)] = stored
        finally:
            db.close()

    async def stop(self) -> None:
        """Wait for queued commits and stop the writer thread."""
        if self._writer is not None:
            self._writer.jobs.put(None)
            await asyncio.to_thread(self._writer.join)
            self._writer = None

    @property
    def resource_version(self) -> int:
        """The newest resourceVersion handed out."""
        return self._rv

    @property
    def oldest_watchable(self) -> int:
        """Watches may start from this resourceVersion or later; older ones are gone (410)."""
        if self._events.maxlen and len(self._events) == self._events.maxlen:
            return self._events[0].stored.rv - 1
        return self._start_rv

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every committed batch of events, in order."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def events_after(self, rv: int) -> Iterable[Event]:
        """Retained events newer than ``rv``, oldest first."""
        return (event for event in self._events if event.stored.rv > rv)

    def get(self, type_key: str, namespace: str, name: str) -> Stored | None:
        """The current version of one object, or ``None``."""
        objects = self._objects.get(type_key)
        return objects.get((namespace, name)) if objects else None

    def list_objects(self, type_key: str, namespace: str | None = None) -> list[Stored]:
        """Current objects of a type (in one namespace, or all), sorted by namespace/name."""
        ordered = self._sorted.get(type_key)
        if ordered is None:
            objects = self._objects.get(type_key, {})
            ordered = [objects[key] for key in sorted(objects)]
            self._sorted[type_key] = ordered
        if namespace is None:
            return ordered
        return [s for s in ordered if s.obj["metadata"].get("namespace", "") == namespace]

    def count(self, type_key: str) -> int:
        """How many objects of a type exist."""
        return len(self._objects.get(type_key, ()))

    def type_keys(self) -> list[str]:
        """Every type key that has objects."""
        return [key for key, objects in self._objects.items() if objects]

    def write(self, writes: list[Write]) -> tuple[list[Event], asyncio.Future[None]]:
        """Apply ``writes`` in memory now (as one transaction) and queue their commit.

        Returns the events and a future that completes once they are durable; the events
        are published to listeners at that moment. Callers must not await between reading
        the state they based the writes on and calling this.
        """
        events: list[Event] = []
        rows: list[tuple[Any, ...]] = []
        for write in writes:
            objects = self._objects.setdefault(write.type_key, {})
            key = (write.namespace, write.name)
            previous = objects.get(key)
            if write.obj is None and previous is None:
                continue
            self._rv += 1
            rv = self._rv
            if write.obj is None:
                assert previous is not None
                last = previous.copy()
                last["metadata"]["resourceVersion"] = str(rv)
                raw = orjson.dumps(last)
                del objects[key]
                events.append(
                    Event("DELETED", write.type_key, *key, Stored(last, raw, rv), previous)
                )
                rows.append((write.type_key, *key, rv, None))
            else:
                write.obj["metadata"]["resourceVersion"] = str(rv)
                raw = orjson.dumps(write.obj)
                stored = Stored(write.obj, raw, rv)
                objects[key] = stored
                kind: EventType = "ADDED" if previous is None else "MODIFIED"
                events.append(Event(kind, write.type_key, *key, stored, previous))
                rows.append((write.type_key, *key, rv, raw))
            self._sorted.pop(write.type_key, None)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((future, events))
        future.add_done_callback(self._publish_ready)
        if self._writer is None or not rows:
            future.set_result(None)
        else:
            self._writer.jobs.put((rows, self._rv, future))
        return events, future

    def _publish_ready(self, _: object) -> None:
        # Futures complete in commit order; publish every leading completed batch.
        while self._pending and self._pending[0][0].done():
            future, events = self._pending.popleft()
            if future.cancelled() or future.exception() is not None:
                logger.error("commit failed; %d event(s) not published", len(events))
                continue
            self._events.extend(events)
            for listener in list(self._listeners):
                try:
                    listener(events)
                except Exception:
                    logger.exception("store listener failed")
