"""The compact resume log: replays are exactly the changes applied; old ones are 410; it stays
small and nothing in the store grows under churn."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from luban.resources import engine
from luban.resources.changelog import Change
from luban.resources.engine import matcher, run
from luban.resources.query import parse_query
from luban.resources.store import Entry, SortIndex, Store
from luban.resources.watch import translate

Seen = tuple[int, str, bytes | None, bytes | None]


def _pod(name: str, rv: int, rng: random.Random, ns: str = "n") -> dict[str, Any]:
    """An object shaped like a pod's metadata and status (a few hundred bytes)."""
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"namespace": ns, "name": name, "resourceVersion": str(rv),
                         "uid": f"{rng.getrandbits(64):016x}",
                         "creationTimestamp": f"2026-01-0{rng.randint(1, 9)}T00:00:00Z",
                         "labels": {"app": rng.choice("abc"), "hash": f"{rng.getrandbits(32):x}"}},
            "spec": {"nodeName": f"node-{rng.randint(0, 9)}", "containers": [
                {"name": "main", "image": "registry.example.com/app:v1",
                 "args": ["--port=8080", "--verbose"]}]},
            "status": {"phase": rng.choice(["Running", "Pending", "Failed"]),
                       "restarts": rng.randint(0, 3)}}  # fmt: skip


def _as_seen(change: Change) -> Seen:
    return (change.rv, change.type, change.old.raw if change.old else None,
            change.new.raw if change.new else None)  # fmt: skip


def _reparsed(change: Change, store: Store) -> Change:
    def entry(e: Entry | None) -> Entry | None:
        return None if e is None else Entry.from_raw(e.raw, store.layout)

    return Change(change.rv, change.type, entry(change.old), entry(change.new))


def _churn(store: Store, steps: int, rng: random.Random, rv: int = 1) -> int:
    """Random updates, deletions, re-creations of deleted names and relists; the last rv."""
    live: dict[str, dict[str, Any]] = {}
    for step in range(steps):
        rv += 1
        name = f"p{rng.randint(0, 40)}"
        roll = rng.random()
        if step % 97 == 96:  # a relist: some objects changed, some gone, some new
            objs = [o if rng.random() < 0.7 else _pod(n, rv, rng) for n, o in live.items()
                    if rng.random() < 0.8] + [_pod(f"r{step}", rv, rng)]  # fmt: skip
            live = {o["metadata"]["name"]: o for o in objs}
            store.replace(objs, rv)
        elif name in live and roll < 0.25:
            store.delete(live.pop(name), rv)
        elif name in live and roll < 0.9:
            obj = live[name]
            obj["metadata"]["resourceVersion"] = str(rv)
            obj["status"]["restarts"] += 1
            if roll < 0.4:
                obj["metadata"]["labels"]["app"] = rng.choice("abc")
            store.upsert(obj, rv)
        else:
            live[name] = _pod(name, rv, rng)
            store.upsert(live[name], rv)
    return rv


async def test_a_resume_replays_exactly_the_changes_applied_and_older_ones_are_410() -> None:
    rng = random.Random(7)
    store = Store(log_size=300)
    store.replace([], 1)
    subscription = store.subscribe(limit=100_000)  # sees every change with whole objects
    last = _churn(store, 2000, rng)
    applied: list[Change] = []
    while not subscription.queue.empty():
        change = subscription.queue.get_nowait()
        assert change is not None
        applied.append(change)
    assert len(applied) > 300  # the log is full and has dropped changes
    oldest = store.oldest_resumable
    assert oldest > 1
    filters: list[Callable[[Entry], bool]] = [
        matcher(parse_query([]), None),
        matcher(parse_query([("labelSelector", "app=a")]), None),
        matcher(parse_query([("fieldSelector", "status.phase=Running")]), None),
    ]
    store.ensure_paths([("status", "phase")])  # registered after most changes were logged
    for since in sorted({oldest, oldest + 1, (oldest + last) // 2, last - 3, last}):
        replay = store.changes_since(since)
        assert replay is not None
        expected = [c for c in applied if c.rv > since]
        assert [_as_seen(c) for c in replay] == [_as_seen(c) for c in expected]
        # A filtered watcher sees the events it would see with every version kept whole
        # (parsed now: the live changes' old entries predate the status.phase registration).
        whole = [_reparsed(c, store) for c in expected]
        for matches in filters:
            got = [translate(c, matches) for c in replay]
            want = [translate(c, matches) for c in whole]
            assert [(e[0], e[1].raw) if e else None for e in got] == [
                (e[0], e[1].raw) if e else None for e in want
            ]
    assert store.changes_since(oldest - 1) is None
    assert store.changes_since(0) is None


async def test_the_log_keeps_replaced_versions_compactly() -> None:
    rng = random.Random(3)
    store = Store(log_size=1000)
    pods = [_pod(f"p{i}", 1, rng) for i in range(1000)]
    store.replace(pods, 1)
    replaced = 0
    for rv, pod in enumerate(pods, start=2):
        replaced += len(store.entries[("n", pod["metadata"]["name"])].raw)
        pod["metadata"]["resourceVersion"] = str(rv)
        pod["status"]["restarts"] += 1
        store.upsert(pod, rv)
    assert len(store.log) == 1000
    logged = sum(len(r.old or b"") for r in store.log._records)
    assert logged < replaced / 5  # a delta of a few dozen bytes per ~500-byte object
    replay = store.changes_since(1)
    assert replay is not None
    assert all(c.old is not None and c.old.obj()["status"]["restarts"] + 1
               == c.new.obj()["status"]["restarts"] for c in replay if c.new)  # fmt: skip


async def test_nothing_grows_under_churn() -> None:
    rng = random.Random(11)
    store = Store(log_size=200)
    store.replace([], 1)
    for query in (parse_query([("labelSelector", "app=a"), ("sortBy", "name")]),
                  parse_query([("sortBy", "status.phase")])):  # fmt: skip
        store.ensure_paths(query.paths())
        for key in query.sort:
            store.sort_index(key.path)
    store.label_index("app")
    _churn(store, 3000, rng)
    entries = store.entries
    assert len(store.log) == 200
    assert store.json_bytes == sum(len(e.raw) for e in entries.values())
    for index in store.sort_indexes.values():
        assert index.order == sorted(entries, key=lambda k: index.entry_key(entries[k]))
    # Label indexes: only the label key queries used, exactly the current values.
    assert set(store.by_label) == {"app"}
    values = {e.labels["app"] for e in entries.values()}
    assert set(store.by_label["app"]) == values
    for value in values:
        keys = {k for k, e in entries.items() if e.labels["app"] == value}
        assert store.label_keys("app", value) == keys
    assert set(store.by_namespace) == {e.namespace for e in entries.values()}
    assert all(e.key is k for k, e in entries.items())  # one key tuple per object


@pytest.mark.parametrize("path", ["metadata.name", "metadata.namespace",
                                  "metadata.creationTimestamp", "status.phase"])  # fmt: skip
async def test_a_sort_index_in_small_blocks_stays_sorted(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SortIndex, "BLOCK", 3)  # splits and emptied blocks on every few changes
    rng = random.Random(path)
    store = Store(log_size=100)
    store.replace([_pod(f"p{i}", 1, rng, ns=f"ns{i % 3}") for i in range(20)], 1)
    index = store.sort_index(tuple(path.split(".")))
    _churn(store, 1500, rng)
    entries = store.entries
    assert index.order == sorted(entries, key=lambda k: index.entry_key(entries[k]))
    assert list(index.keys(descending=True)) == index.order[::-1]
    assert all(len(block) <= 6 for block in index.blocks)
    assert index.lasts == [block[-1] for block in index.blocks]


@pytest.mark.parametrize("limit", [0, 10_000])  # through the name index / entry by entry
async def test_name_search_agrees_with_a_scan(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "NAME_SCAN_LIMIT", limit)
    monkeypatch.setattr(SortIndex, "BLOCK", 4)
    rng = random.Random(limit)
    store = Store(log_size=100)
    odd = [_pod(name, 1, rng) for name in ("a\nb", "ab\n", "\nab", "Web-1", "WEB")]
    store.replace(odd + [_pod(f"p{i}", 1, rng) for i in range(30)], 1)
    needles = ["a", "b", "ab", "a\nb", "\n", "p1", "1", "web", "p", "zz", "b\nx", "new"]
    for step in ("", "add", "churn", "add", "add"):
        if step == "add":  # additions alone change a block (right after its text was built)
            for i in range(3):
                rv = rng.randint(10_000, 99_999)
                store.upsert(_pod(f"new{rv}-p{i}", rv, rng), rv)
        elif step == "churn":
            _churn(store, 300, rng)  # names come and go; blocks split, empty and are rebuilt
        for needle in needles:
            for namespace in (None, "n"):
                query = parse_query([("name", needle), ("sortBy", "name"), ("ascending", "true")])
                got = [e.key for e in run(store, query, namespace).entries]
                want = sorted((k for k, e in store.entries.items()
                               if needle in k[1].lower()), key=lambda k: (k[1], k[0]))  # fmt: skip
                assert got == want, (needle, step)
