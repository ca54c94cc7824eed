"""The cache's store in-process: incremental indexes against recomputation, relist diffs."""

from __future__ import annotations

import random
from typing import Any

from luban.resources.engine import run
from luban.resources.query import parse_query
from luban.resources.store import Store


def _obj(ns: str, name: str, rv: int, rng: random.Random) -> dict[str, Any]:
    labels = {"app": rng.choice(["a", "b", "c"])}
    if rng.random() < 0.5:
        labels["tier"] = rng.choice(["x", "y"])
    return {"metadata": {"namespace": ns, "name": name, "resourceVersion": str(rv),
                         "creationTimestamp": f"2026-01-0{rng.randint(1, 9)}T00:00:00Z",
                         "labels": labels},
            "status": {"phase": rng.choice(["Running", "Pending", None]),
                       "n": rng.choice([1, 2.5, "7", None])}}  # fmt: skip


async def test_indexes_stay_equal_to_a_recomputation_under_random_changes() -> None:
    rng = random.Random(5)
    store = Store(log_size=100_000)
    live: dict[tuple[str, str], dict[str, Any]] = {}
    queries = [
        parse_query([("labelSelector", "app in (a,b),tier"), ("sortBy", "name"), ("limit", "7"),
                     ("page", "2")]),
        parse_query([("sortBy", "status.phase"), ("ascending", "true")]),
        parse_query([("sortBy", "status.n"), ("limit", "5")]),
        parse_query([("label", "tier=x"), ("namespaces", "n1,n2")]),
    ]  # fmt: skip
    rv = 1
    for step in range(3000):
        rv += 1
        key = (f"n{rng.randint(0, 3)}", f"o{rng.randint(0, 80)}")
        if key in live and rng.random() < 0.3:
            store.delete(live.pop(key), rv)
        else:
            live[key] = _obj(*key, rv, rng)
            store.upsert(live[key], rv)
        if step % 250 == 0:
            for query in queries:  # first use builds the sort indexes; later ones maintain them
                run(store, query, None)
    reference = Store()
    reference.replace(list(live.values()), rv)
    for query in queries:
        for namespace in (None, "n2"):
            got = run(store, query, namespace)
            want = run(reference, query, namespace)
            assert [e.key for e in got.entries] == [e.key for e in want.entries]
            assert got.total == want.total
    assert store.sort_indexes  # the maintained indexes were exercised
    for index in store.sort_indexes.values():
        assert index.order == sorted(store.entries, key=lambda k: index.entry_key(store.entries[k]))
    labelled = {(k, v): {key for key, e in store.entries.items() if e.labels.get(k) == v}
                for k in ("app", "tier") for v in ("a", "b", "c", "x", "y")}  # fmt: skip
    for (k, v), keys in labelled.items():
        assert store.label_keys(k, v) == keys


async def test_a_relist_logs_the_differences_for_watchers() -> None:
    rng = random.Random(1)
    store = Store()
    keep = _obj("a", "keep", 1, rng)
    store.replace([keep, _obj("a", "change", 2, rng), _obj("a", "drop", 3, rng)], 3)
    subscription = store.subscribe()
    store.replace([keep, _obj("a", "change", 7, rng), _obj("a", "new", 8, rng)], 9)
    seen = []
    while not subscription.queue.empty():
        change = subscription.queue.get_nowait()
        assert change is not None
        entry = change.new or change.old
        assert entry is not None
        seen.append((change.type, entry.name))
    assert sorted(seen) == [("ADDED", "new"), ("DELETED", "drop"), ("MODIFIED", "change")]
    assert store.resource_version == 9
    replay = store.changes_since(3)
    assert replay is not None
    assert [c.type for c in replay] == [t for t, _ in seen]


async def test_walking_a_sort_index_and_falling_back_to_a_sort_agree_with_sorting() -> None:
    store = Store()
    objs = []
    for i in range(3000):
        name = f"{'z' if i % 75 == 0 else 'a'}-{i:05d}"
        labels = {"group": name[0], "half": str(i % 2)}
        objs.append({"metadata": {"namespace": "n", "name": name, "labels": labels,
                                  "resourceVersion": str(i + 1)}})  # fmt: skip
    store.replace(objs, 3001)
    cases = [
        # 40 matches clustered at the end: the walk gives up and sorts (page 1).
        ("group=z", lambda o: o["metadata"]["labels"]["group"] == "z"),
        ("half=1", lambda o: o["metadata"]["labels"]["half"] == "1"),  # spread evenly
    ]
    for selector, keep in cases:
        names = sorted(o["metadata"]["name"] for o in objs if keep(o))
        for ascending, page in (("true", 1), ("true", 3), ("false", 2), ("true", 40)):
            query = parse_query([("labelSelector", selector), ("sortBy", "name"),
                                 ("ascending", ascending), ("limit", "10"),
                                 ("page", str(page))])  # fmt: skip
            ordered = names if ascending == "true" else names[::-1]
            got = run(store, query, None)
            assert [e.name for e in got.entries] == ordered[(page - 1) * 10 : page * 10]
            assert got.total == len(names)
