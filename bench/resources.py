"""Benchmark ``resources``: the Resource API's cache with N realistic pods (default 100,000).

Three parts:

1. End to end: a fake upstream (``bench/lib/pods_upstream.py``, its own process) serves the
   pods; ``luban serve --kubeconfig`` fronts it. Measured: the initial sync (first request),
   the kernel's RSS growth against the pods' JSON bytes, query latency over HTTP, and watch
   events applied per second: MODIFIED events, then churn (pods also deleted and replaced by
   new ones) until the watch-resume change log is full and most objects were replaced, after
   which the memory ratio is the steady state the <= 1.5x target is about. Side by side, the
   naive approach: list from the upstream, filter and sort per request.
2. The storage choice, in-process on the same pods: a plain dict of parsed objects scanned
   per query, SQLite in memory with extracted columns and a label table (Rancher Steve's
   design), and the store the kernel uses (JSON bytes + label/namespace/sort indexes).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from bench.lib.pods_upstream import serve
from bench.lib.registry import BenchmarkError
from bench.lib.report import Report, Row
from luban.kube.selectors import parse_label_selector
from luban.resources.engine import run as run_query
from luban.resources.query import parse_query
from luban.resources.store import Store

DESCRIPTION = "Resource API cache: 100k pods, sync, query latency, watch events/s, memory"

BROAD = "tier=frontend"  # a third of the pods
NARROW = "app=app-17"  # 0.5% of the pods
NAME = "7a3"  # substring of about 1% of the names
NAIVE = "naive (list upstream per request)"
DICT = "dict of parsed objects"
MEMORY_TARGET = 1.5  # cache memory <= 1.5x the objects' JSON bytes (issue #8)
STEADY = f"memory, steady state: change log full, after churn (target <= {MEMORY_TARGET}x)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pods", type=int, default=100_000, help="pods in the cache")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per query")
    parser.add_argument("--events", type=int, default=60_000, help="watch events to apply")
    parser.add_argument("--churn", type=int, default=200_000,
                        help="churn events (status updates, deletions, new pods) before the "
                             "steady-state memory measurement")  # fmt: skip
    parser.add_argument("--naive-rounds", type=int, default=3,
                        help="naive requests per query (0: skip the naive baseline)")  # fmt: skip
    parser.add_argument("--no-storage", action="store_true",
                        help="skip the in-process comparison of storage designs")  # fmt: skip


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return {"p50 ms": statistics.median(ordered) * 1000, "p99 ms": p99 * 1000}


def _time(call: Callable[[], Any], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _kubeconfig(path: Path, port: int) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "bench",
        "clusters": [{"name": "bench", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "bench", "user": {"token": "bench-token"}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
    }))  # fmt: skip
    return path


QUERIES = {
    "labelSelector (1/3) + sortBy=name + page=50&limit=10": {
        "labelSelector": BROAD, "sortBy": "name", "page": "50", "limit": "10"},
    "labelSelector (0.5%) + sortBy=name + page=50&limit=10": {
        "labelSelector": NARROW, "sortBy": "name", "page": "5", "limit": "10"},
    "name substring, default sort, limit=10": {"name": NAME, "limit": "10"},
    "no filter, sortBy=name, page=100&limit=10": {"sortBy": "name", "page": "100", "limit": "10"},
}  # fmt: skip


def _naive(upstream: str, params: dict[str, str]) -> int:
    """List from the upstream (label selector applied there), then filter, sort and page."""
    query = {"labelSelector": params["labelSelector"]} if "labelSelector" in params else {}
    items = httpx.get(f"{upstream}/api/v1/pods", params=query, timeout=300).json()["items"]
    if "name" in params:
        items = [o for o in items if params["name"] in o["metadata"]["name"].lower()]
    key = params.get("sortBy", "creationTimestamp")
    items.sort(key=lambda o: (o["metadata"][key], o["metadata"]["namespace"]), reverse=True)
    limit = int(params.get("limit", len(items)))
    page = int(params.get("page", 1))
    body = orjson.dumps({"items": items[(page - 1) * limit : page * limit],
                         "totalItems": len(items)})  # fmt: skip
    return len(body)


def _end_to_end(args: argparse.Namespace, upstream: str, json_bytes: int) -> list[Row]:
    from tests.procs import run_kernel  # the test helper starts `luban serve` the same way

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-resources-") as tmp:
        root = Path(tmp)
        port = int(upstream.rsplit(":", 1)[1])
        config = root / "luban.yaml"
        config.write_text(yaml.safe_dump({
            "upstream": {"kubeconfig": str(_kubeconfig(root / "upstream.kubeconfig", port))},
            "resources": {"initialSyncTimeoutSeconds": 300},
        }))  # fmt: skip
        with run_kernel(root / "data", "--insecure-http", "--config", str(config)) as kernel:
            http = httpx.Client(base_url=kernel.url, headers=kernel.auth, timeout=300)
            time.sleep(1.0)
            before = _rss_kib(kernel.process.pid)
            start = time.perf_counter()
            first = http.get("/kapi/v1/pods", params={"limit": "0"})
            sync = time.perf_counter() - start
            if first.status_code != 200:
                raise BenchmarkError(f"first list answered {first.status_code}: {first.text}")
            total = first.json()["totalItems"]
            gc_rss = _rss_kib(kernel.process.pid)
            rows.append(Row("initial sync (first request)", "luban", {
                "objects": total, "seconds": sync, "objects/s": total / sync}))  # fmt: skip
            held = _json_bytes_metric(http)
            rows.append(Row("memory", "luban", {
                "JSON MB": held / 1e6, "RSS growth MB": (gc_rss - before) * 1024 / 1e6,
                "RSS growth / JSON": (gc_rss - before) * 1024 / held}))  # fmt: skip
            for label, params in QUERIES.items():
                http.get("/kapi/v1/pods", params=params)  # warm-up: builds a sort index
                samples = _time(lambda p=params: http.get("/kapi/v1/pods", params=p),  # type: ignore[misc]
                                args.requests)  # fmt: skip
                baseline = NAIVE if args.naive_rounds else None
                rows.append(Row(label, "luban", _percentiles(samples), baseline=baseline))
                if args.naive_rounds:
                    naive = _time(lambda p=params: _naive(upstream, p), args.naive_rounds)  # type: ignore[misc]
                    rows.append(Row(label, NAIVE, _percentiles(naive)))
            rows.append(_events(http, upstream, args.events, "modify"))
            after = _rss_kib(kernel.process.pid)
            rows.append(Row("memory after the MODIFIED events", "luban", {
                "RSS growth MB": (after - before) * 1024 / 1e6,
                "RSS growth / JSON": (after - before) * 1024 / held}))  # fmt: skip
            if args.churn:
                rows.append(_events(http, upstream, args.churn, "churn"))
                for label, params in QUERIES.items():
                    samples = _time(lambda p=params: http.get("/kapi/v1/pods", params=p),  # type: ignore[misc]
                                    max(10, args.requests // 3))  # fmt: skip
                    rows.append(Row(f"{label}, after churn", "luban", _percentiles(samples)))
                held = _json_bytes_metric(http)
                after = _rss_kib(kernel.process.pid)
                rows.append(Row(STEADY, "luban", {
                    "JSON MB": held / 1e6, "RSS growth MB": (after - before) * 1024 / 1e6,
                    "RSS growth / JSON": (after - before) * 1024 / held}))  # fmt: skip
    return rows


def _json_bytes_metric(http: httpx.Client) -> float:
    """The cache's JSON bytes, as the kernel exports them (after its next housekeeping tick)."""
    time.sleep(1.5)  # the gauge is refreshed every second: skip a value from mid-sync
    for _ in range(100):
        for line in http.get("/metrics").text.splitlines():
            if line.startswith("luban_resource_cache_json_bytes{"):
                return float(line.rsplit(" ", 1)[1])
        time.sleep(0.1)
    raise BenchmarkError("the kernel exports no luban_resource_cache_json_bytes")


def _events(http: httpx.Client, upstream: str, count: int, mode: str) -> Row:
    prepared = httpx.post(f"{upstream}/bench/prepare", params={"count": count, "mode": mode},
                          timeout=600).json()  # fmt: skip
    if prepared["watchers"] < 1:
        raise BenchmarkError("the kernel has no watch open on the upstream")
    target, count = prepared["resourceVersion"], prepared["events"]
    start = time.perf_counter()
    httpx.post(f"{upstream}/bench/fire", timeout=300)
    while True:
        rv = int(http.get("/kapi/v1/pods", params={"limit": "0"}).headers["x-resource-version"])
        if rv >= target:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    case = ("watch events applied (MODIFIED)" if mode == "modify" else
            "watch events applied (churn: 70% MODIFIED, 30% DELETED + ADDED new pod)")  # fmt: skip
    return Row(case, "luban", {"objects": count, "seconds": elapsed, "events/s": count / elapsed})


def _in_process(upstream: str, rounds: int) -> list[Row]:
    raw = httpx.get(f"{upstream}/api/v1/pods", timeout=300).content
    pods: list[dict[str, Any]] = orjson.loads(raw)["items"]
    del raw
    rows: list[Row] = []
    selector = parse_label_selector(BROAD)

    # 1. A dict of parsed objects, scanned per query.
    start = time.perf_counter()
    plain = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
    ingest = time.perf_counter() - start

    def dict_label() -> list[Any]:
        hits = [o for o in plain.values() if selector.matches(o["metadata"].get("labels") or {})]
        hits.sort(key=lambda o: (o["metadata"]["name"], o["metadata"]["namespace"]))
        return [orjson.dumps(o) for o in hits[490:500]]

    def dict_name() -> list[Any]:
        hits = [o for o in plain.values() if NAME in o["metadata"]["name"].lower()]
        hits.sort(key=lambda o: o["metadata"]["creationTimestamp"], reverse=True)
        return [orjson.dumps(o) for o in hits[:10]]

    rows.append(Row("storage: ingest", DICT, {"seconds": ingest}))
    rows.append(Row("storage: labelSelector+sort+page", DICT,
                    _percentiles(_time(dict_label, rounds))))  # fmt: skip
    rows.append(Row("storage: name substring", DICT,
                    _percentiles(_time(dict_name, rounds))))  # fmt: skip
    plain.clear()

    # 2. SQLite in memory, extracted columns + a label table (Steve's layout).
    db = sqlite3.connect(":memory:")
    db.executescript("""
        CREATE TABLE objects (id INTEGER PRIMARY KEY, ns TEXT, name TEXT, created TEXT,
                              phase TEXT, raw BLOB, UNIQUE (ns, name));
        CREATE TABLE labels (id INTEGER, key TEXT, value TEXT);
        CREATE INDEX labels_kv ON labels (key, value, id);
        CREATE INDEX objects_name ON objects (name, ns);
        CREATE INDEX objects_created ON objects (created);
    """)
    start = time.perf_counter()
    db.executemany("INSERT INTO objects VALUES (?,?,?,?,?,?)", (
        (i, p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["creationTimestamp"],
         p["status"]["phase"], orjson.dumps(p)) for i, p in enumerate(pods)))  # fmt: skip
    label_rows = ((i, k, v) for i, p in enumerate(pods) for k, v in p["metadata"]["labels"].items())
    db.executemany("INSERT INTO labels VALUES (?,?,?)", label_rows)
    db.commit()
    ingest = time.perf_counter() - start
    pages, size = db.execute("PRAGMA page_count").fetchone()[0], db.execute(
        "PRAGMA page_size").fetchone()[0]  # fmt: skip
    key, _, value = BROAD.partition("=")

    def sql_label() -> list[Any]:
        where = "id IN (SELECT id FROM labels WHERE key=? AND value=?)"
        db.execute(f"SELECT count(*) FROM objects WHERE {where}", (key, value)).fetchone()  # noqa: S608
        return db.execute(f"SELECT raw FROM objects WHERE {where} ORDER BY name, ns "  # noqa: S608
                          "LIMIT 10 OFFSET 490", (key, value)).fetchall()  # fmt: skip

    def sql_name() -> list[Any]:
        db.execute("SELECT count(*) FROM objects WHERE instr(name, ?) > 0", (NAME,)).fetchone()
        return db.execute("SELECT raw FROM objects WHERE instr(name, ?) > 0 "
                          "ORDER BY created DESC LIMIT 10", (NAME,)).fetchall()  # fmt: skip

    updates = [(orjson.dumps(p), p["metadata"]["namespace"], p["metadata"]["name"])
               for p in pods[:20_000]]  # fmt: skip
    start = time.perf_counter()
    for update in updates:  # one statement per watch event, as an informer applies them
        db.execute("UPDATE objects SET raw=? WHERE ns=? AND name=?", update)
    db.commit()
    sql_events = len(updates) / (time.perf_counter() - start)
    rows.append(Row("storage: ingest", "sqlite in memory", {
        "seconds": ingest, "MB": pages * size / 1e6, "events/s": sql_events}))  # fmt: skip
    rows.append(Row("storage: labelSelector+sort+page", "sqlite in memory",
                    _percentiles(_time(sql_label, rounds)), DICT))  # fmt: skip
    rows.append(Row("storage: name substring", "sqlite in memory",
                    _percentiles(_time(sql_name, rounds)), DICT))  # fmt: skip
    db.close()

    # 3. The kernel's store.
    async def with_store() -> None:
        store = Store()
        start = time.perf_counter()
        store.replace(pods, 1)
        ingest = time.perf_counter() - start
        label_query = parse_query([("labelSelector", BROAD), ("sortBy", "name"), ("page", "50"),
                                   ("limit", "10")])  # fmt: skip
        name_query = parse_query([("name", NAME), ("limit", "10")])
        run_query(store, label_query, None)
        run_query(store, name_query, None)
        start = time.perf_counter()
        for n, pod in enumerate(pods[:20_000]):
            store.upsert(pod, 10 + n)
        events = 20_000 / (time.perf_counter() - start)
        rows.append(Row("storage: ingest", "luban store", {
            "seconds": ingest, "MB": store.json_bytes / 1e6, "events/s": events}))  # fmt: skip
        rows.append(Row("storage: labelSelector+sort+page", "luban store", _percentiles(
            _time(lambda: run_query(store, label_query, None), rounds)), DICT))  # fmt: skip
        rows.append(Row("storage: name substring", "luban store", _percentiles(
            _time(lambda: run_query(store, name_query, None), rounds)), DICT))  # fmt: skip

    asyncio.run(with_store())
    return rows


def run(args: argparse.Namespace) -> Report:
    """Start the fake upstream, measure the kernel end to end, then the storage options."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=serve, args=(args.pods, child), daemon=True)
    process.start()
    try:
        if not parent.poll(600):
            raise BenchmarkError("the fake upstream did not start")
        port, json_bytes = parent.recv()
        upstream = f"http://127.0.0.1:{port}"
        rows = _end_to_end(args, upstream, json_bytes)
        gc.collect()
        if not args.no_storage:
            rows += _in_process(upstream, max(10, args.requests // 10))
    finally:
        process.terminate()
        process.join(10)
    notes = []
    for row in rows:
        if row.case == STEADY:
            ratio = row.metrics["RSS growth / JSON"]
            verdict = "met" if ratio <= MEMORY_TARGET else "NOT met"
            notes.append(f"steady-state cache memory: {ratio:.2f}x the objects' JSON bytes "
                         f"(target <= {MEMORY_TARGET}x): {verdict}")  # fmt: skip
    return Report(
        title=f"Resource API cache, {args.pods:,} pods ({json_bytes / args.pods:,.0f} B JSON each)",
        rows=rows,
        ratio_metric="p50 ms",
        parameters=vars(args),
        notes=[
            *notes,
            "luban: luban serve --insecure-http, one worker, fronting the fake upstream; "
            "latency over HTTP/1.1 keep-alive from one client.",
            "naive: the same query answered by listing from the upstream (label selector "
            "applied upstream), parsing, filtering, sorting and paging per request.",
            "storage rows: in-process, same pods, no HTTP.",
        ],
    )
