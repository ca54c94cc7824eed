"""The resume log: the recent changes of one store, kept compactly, so a watch can resume.

A logged change keeps no object in full. The version it produced is either the store's current
object or the version the next logged change of the same key replaced, so it is never kept
twice. The version it replaced is kept deflated against the version that followed it: a
typical update differs in a few fields, so that is a few dozen bytes instead of the whole
object (keeping replaced objects whole cost 0.16x the cache's JSON size with a 10k-change log
of 3 KB pods). A deleted version has no successor and is deflated against a recently deleted
object of the same type instead (about a quarter of its size). A replay walks the log
backwards from the newest change, inflating each version from the one after it (a few
microseconds each), then yields the changes oldest first, parsing the versions as it goes, so
a long replay can be spread over several turns of the event loop. The changes are exactly the
ones applied, with objects byte for byte as they were.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from luban.resources.store import Entry, Key

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
# A deleted version is deflated against an earlier deleted one; take a fresh one this often.
SAMPLE_EVERY = 256
_WBITS = -15  # raw deflate, 32 KB window: the whole successor is the dictionary up to 32 KB


def deflate(raw: bytes, base: bytes) -> bytes:
    """``raw`` compressed with ``base`` (empty: none) as the preset dictionary."""
    if base:
        compressor = zlib.compressobj(1, zlib.DEFLATED, _WBITS, 8, zlib.Z_DEFAULT_STRATEGY, base)
    else:
        compressor = zlib.compressobj(1, zlib.DEFLATED, _WBITS, 8)
    return compressor.compress(raw) + compressor.flush()


def inflate(blob: bytes, base: bytes) -> bytes:
    """The inverse of :func:`deflate`."""
    decompressor = zlib.decompressobj(_WBITS, zdict=base) if base else zlib.decompressobj(_WBITS)
    return decompressor.decompress(blob) + decompressor.flush()


@dataclass(frozen=True, slots=True)
class Change:
    """One change the store applied: ``old`` is None for ADDED, ``new`` None for DELETED."""

    rv: int
    type: str
    old: Entry | None
    new: Entry | None


class _Logged:
    """A change as the log keeps it: the replaced version deflated (against ``base`` when the
    change is a deletion, else against the version the change produced)."""

    __slots__ = ("base", "key", "old", "rv", "type")

    def __init__(self, rv: int, kind: str, key: Key, old: bytes | None, base: bytes) -> None:
        self.rv = rv
        self.type = kind
        self.key = key
        self.old = old
        self.base = base


class ChangeLog:
    """The last ``size`` changes, and the oldest resourceVersion a watch may resume from."""

    def __init__(self, size: int) -> None:
        self._records: deque[_Logged] = deque(maxlen=size)
        # Changes after this resourceVersion are all logged.
        self.oldest_resumable = 0
        self._sample = b""
        self._deletions = 0

    def __len__(self) -> int:
        return len(self._records)

    def append(self, change: Change) -> None:
        """Log ``change`` (the oldest change drops out when the log is full)."""
        records = self._records
        if len(records) == records.maxlen:
            self.oldest_resumable = records[0].rv
        old, new = change.old, change.new
        blob: bytes | None = None
        base = b""
        if old is not None and new is not None:
            blob = deflate(old.raw, new.raw)
        elif old is not None:
            base = self._sample
            blob = deflate(old.raw, base)
            if self._deletions % SAMPLE_EVERY == 0:
                self._sample = old.raw
            self._deletions += 1
        key = new.key if new is not None else old.key if old is not None else ("", "")
        records.append(_Logged(change.rv, change.type, key, blob, base))

    def since(
        self, rv: int, current: Mapping[Key, Entry], rebuild: Callable[[bytes], Entry]
    ) -> Replay | None:
        """The changes after ``rv``, or None when some are no longer logged.

        ``current`` is the store's objects; ``rebuild`` makes an entry from an older version's
        JSON bytes. Resource versions in the log never decrease (the upstream's order).
        """
        if rv < self.oldest_resumable:
            return None
        steps: list[_Step] = []
        # The version following each key's earliest change seen so far (walking backwards).
        following: dict[Key, Entry | bytes | None] = {}
        for record in reversed(self._records):
            if record.rv <= rv:
                break
            key = record.key
            new: Entry | bytes | None = None
            if record.type != DELETED:
                new = following[key] if key in following else current.get(key)
            old: bytes | None = None
            if record.old is not None:
                base = record.base
                if record.type != DELETED:
                    if new is None:  # cannot happen: every replacement is logged
                        raise RuntimeError(f"change log: no successor for {key} at {record.rv}")
                    base = new if isinstance(new, bytes) else new.raw
                old = inflate(record.old, base)
            following[key] = old
            steps.append((record.rv, record.type, key, old, new))
        steps.reverse()
        return Replay(steps, rebuild)


# rv, type, key, the replaced version's bytes, the new version (an entry when it is current).
_Step = tuple[int, str, "Key", bytes | None, "Entry | bytes | None"]


class Replay:
    """Logged changes, oldest first; each version is parsed when the iteration reaches it."""

    def __init__(self, steps: list[_Step], rebuild: Callable[[bytes], Entry]) -> None:
        self._steps = steps
        self._rebuild = rebuild

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[Change]:
        rebuild = self._rebuild
        produced: dict[Key, Entry] = {}  # per key, the entry its previous change produced
        for rv, kind, key, old_raw, new_version in self._steps:
            old: Entry | None = None
            if old_raw is not None:
                before = produced.get(key)
                # The same bytes object: what this key's previous change produced.
                old = before if before is not None and before.raw is old_raw else rebuild(old_raw)
            new = rebuild(new_version) if isinstance(new_version, bytes) else new_version
            if new is not None:
                produced[key] = new
            else:
                produced.pop(key, None)
            yield Change(rv, kind, old, new)
