"""Live updates of a filtered list: Kubernetes watch event lines, or Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import orjson
from starlette.types import Receive, Scope, Send

from luban.resources.changelog import Change
from luban.resources.discovery import ResourceInfo
from luban.resources.engine import Predicate
from luban.resources.store import Entry, Store, Subscription

BOOKMARK_SECONDS = 5.0
REPLAY_SLICE = 100  # changes replayed per turn of the event loop (about 2 ms)


def _status_410(message: str) -> bytes:
    return orjson.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Failure", "message": message, "reason": "Expired",
                         "code": 410})  # fmt: skip


def translate(change: Change, matches: Predicate) -> tuple[str, Entry] | None:
    """The event a watcher with filter ``matches`` sees for ``change`` (None: nothing)."""
    before = change.old is not None and matches(change.old)
    after = change.new is not None and matches(change.new)
    if after and change.new is not None:
        return ("MODIFIED" if before else "ADDED", change.new)
    if before and change.old is not None:
        return ("DELETED", change.new or change.old)
    return None


class EventFormat:
    """One event on the wire: a JSON line, or an SSE message whose id resumes the stream."""

    def __init__(self, sse: bool) -> None:
        self.sse = sse

    def event(self, kind: str, raw: bytes, rv: int) -> bytes:
        line = b'{"type":"' + kind.encode() + b'","object":' + raw + b"}"
        if self.sse:
            return b"id: %d\nevent: %s\ndata: %s\n\n" % (rv, kind.encode(), line)
        return line + b"\n"


async def stream(
    store: Store,
    info: ResourceInfo,
    matches: Predicate,
    since: int | None,
    fmt: EventFormat,
    *,
    bookmarks: bool,
    seconds: float | None,
    backlog: int,
) -> AsyncGenerator[bytes, None]:
    """Events matching ``matches`` after ``since`` (None: the current state first, as ADDED)."""
    subscription: Subscription = store.subscribe(backlog)
    try:
        if since is None:
            start = store.resource_version
            for entry in list(store.entries.values()):
                if matches(entry):
                    yield fmt.event("ADDED", entry.raw, start)
        else:
            replay = store.changes_since(since)
            if replay is None:
                yield fmt.event("ERROR", _status_410(f"too old resource version: {since}"), since)
                return
            for count, logged in enumerate(replay, start=1):
                event = translate(logged, matches)
                if event is not None:
                    yield fmt.event(event[0], event[1].raw, logged.rv)
                if count % REPLAY_SLICE == 0:
                    await asyncio.sleep(0)  # a long replay must not hold up everything else
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        while True:
            wait = BOOKMARK_SECONDS if bookmarks or fmt.sse else None
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                wait = remaining if wait is None else min(wait, remaining)
            try:
                change = await asyncio.wait_for(subscription.queue.get(), wait)
            except TimeoutError:
                if bookmarks:
                    meta = {"resourceVersion": str(store.resource_version)}
                    body = orjson.dumps({"kind": info.kind, "apiVersion": info.api_version,
                                         "metadata": meta})  # fmt: skip
                    yield fmt.event("BOOKMARK", body, store.resource_version)
                elif fmt.sse:
                    yield b": keep-alive\n\n"
                continue
            if change is None:
                yield fmt.event("ERROR", _status_410("the watch fell behind or the resource "
                                                     "type is gone; list again"), 0)  # fmt: skip
                return
            event = translate(change, matches)
            if event is not None:
                yield fmt.event(event[0], event[1].raw, change.rv)
    finally:
        store.unsubscribe(subscription)


class WatchResponse:
    """Streams ``events`` until they end or the client goes away (noticed at once, not at
    the next write, so an idle watch does not outlive its client)."""

    def __init__(
        self, events: AsyncGenerator[bytes, None], media_type: str, headers: dict[str, str]
    ) -> None:
        self.events = events
        self.headers = [(b"content-type", media_type.encode())] + [
            (k.lower().encode(), v.encode()) for k, v in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})

        async def pump() -> None:
            async for chunk in self.events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        tasks = [asyncio.create_task(pump()), asyncio.create_task(disconnected())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task
            await self.events.aclose()
