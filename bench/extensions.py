"""Benchmark ``extensions``: hot-swap latency, memory across swaps, start with 20 extensions.

Each case runs a real ``luban serve --embedded`` child process (``luban_sdk.testing``) whose
extensions live in a temporary site directory. Swap latency is measured from the write of
the extension's file to the first response that comes from the new code (polled
back-to-back over one keep-alive HTTPS connection). RSS is the kernel process's ``VmRSS``
after warm-up swaps and again after ``--rss-swaps`` more. Start time is from spawning the
process to the kernel announcing it serves (kubeconfig written), which includes starting the
embedded cluster; the same with no extension is the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.lib.registry import BenchmarkError
from bench.lib.report import Report, Row
from luban_sdk.testing import LubanKernel, start_kernel

DESCRIPTION = "extensions: swap latency, RSS over swaps, enable/disable convergence, start"

SOURCE = """
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from luban_sdk import Extension

extension = Extension(name="{name}", api_group="{name}.bench.io", version="v1")


@extension.get("/answer")
async def answer(request: Request) -> Response:
    return JSONResponse({{"answer": "{answer}"}})
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--swaps``, ``--rss-swaps``, ``--extensions``, ``--starts``, ``--rounds``."""
    parser.add_argument("--swaps", type=int, default=50, help="swaps timed for latency")
    parser.add_argument("--rss-swaps", type=int, default=200, help="swaps between RSS samples")
    parser.add_argument("--extensions", type=int, default=20, help="extensions for start time")
    parser.add_argument("--starts", type=int, default=3, help="kernel starts per case (best)")
    parser.add_argument("--rounds", type=int, default=10, help="disable/enable rounds")


def _write_extension(site: Path, name: str, answer: str) -> Path:
    package = site / f"bench_{name.replace('-', '_')}"
    package.mkdir(parents=True, exist_ok=True)
    init = package / "__init__.py"
    init.write_text(SOURCE.format(name=name, answer=answer))
    return init


def _source(name: str) -> str:
    return f"{name}=bench_{name.replace('-', '_')}:extension"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchmarkError("no VmRSS in /proc (Linux only)")


def _swap(http: httpx.Client, init: Path, name: str, answer: str, timeout: float = 30) -> float:
    """Write a new version; seconds until the first response from it."""
    url = f"/kapis/{name}.bench.io/v1/answer"
    start = time.perf_counter()
    init.write_text(SOURCE.format(name=name, answer=answer))
    while True:
        response = http.get(url)
        if response.status_code != 200:
            raise BenchmarkError(f"swap {answer}: {response.status_code} {response.text[:200]}")
        if response.json()["answer"] == answer:
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise BenchmarkError(f"swap {answer} not served after {timeout} s")


def _client(kernel: LubanKernel) -> httpx.Client:
    return httpx.Client(
        base_url=kernel.url,
        verify=kernel.ssl_context(),
        headers={"Authorization": f"Bearer {kernel.token}"},
        timeout=30,
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _swaps(work: Path, swaps: int, rss_swaps: int) -> list[Row]:
    site = work / "site"
    init = _write_extension(site, "swap", "v0")
    kernel = start_kernel(work / "swap-kernel", [_source("swap")], pythonpath=[str(site)])
    try:
        with _client(kernel) as http:
            latencies = [_swap(http, init, "swap", f"v{i}") for i in range(1, swaps + 1)]
            time.sleep(3)  # let the last retired versions drain and be collected
            before = _rss_kb(kernel.process.pid)
            for i in range(rss_swaps):
                _swap(http, init, "swap", f"r{i}")
            time.sleep(3)
            after = _rss_kb(kernel.process.pid)
            leaks = [
                line
                for line in http.get("/metrics").text.splitlines()
                if line.startswith("luban_extension_leaks_total")
            ]
    finally:
        kernel.stop()
    leaked = sum(float(line.rsplit(" ", 1)[1]) for line in leaks)
    return [
        Row(
            f"swap latency, {swaps} swaps (write -> first new response)",
            "p50 <= 300 ms",
            {
                "p50 ms": statistics.median(latencies) * 1000,
                "p99 ms": _percentile(latencies, 0.99) * 1000,
                "max ms": max(latencies) * 1000,
            },
        ),
        Row(
            f"RSS growth over {rss_swaps} swaps",
            "<= 10 MB",
            {
                "RSS before MB": before / 1024,
                "RSS after MB": after / 1024,
                "growth MB": (after - before) / 1024,
                "leaks reported": leaked,
            },
        ),
    ]


def _start(work: Path, count: int, starts: int) -> list[Row]:
    site = work / "many"
    names = [f"ext{i:02d}" for i in range(count)]
    for name in names:
        _write_extension(site, name, "ok")
    rows = []
    for label, sources in (
        (f"kernel start with {count} extensions", [_source(n) for n in names]),
        ("kernel start with no extension", []),
    ):
        best = float("inf")
        for attempt in range(starts):
            began = time.perf_counter()
            kernel = start_kernel(
                work / f"start-{len(sources)}-{attempt}", sources, pythonpath=[str(site)]
            )
            best = min(best, time.perf_counter() - began)
            try:
                if sources:
                    with _client(kernel) as http:
                        for name in names:
                            url = f"/kapis/{name}.bench.io/v1/answer"
                            if http.get(url).status_code != 200:
                                raise BenchmarkError(f"{name} is not served after start")
            finally:
                kernel.stop()
        rows.append(Row(label, "<= 2 s" if sources else "baseline", {"start s": best}))
    return rows


def _cluster(data_dir: Path) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "luban.cli", "cluster", "serve", "--port", "0",
         "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (data_dir / "cluster.kubeconfig").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise BenchmarkError("the embedded cluster did not start")
        time.sleep(0.05)
    return process


def _converge(work: Path, rounds: int) -> list[Row]:
    """Disable/enable on kernel A; time until kernel B (same cluster) answers 404/200."""
    site = work / "conv"
    _write_extension(site, "conv", "ok")
    cluster = _cluster(work / "conv-cluster")
    kubeconfig = work / "conv-cluster" / "cluster.kubeconfig"
    kernels: list[LubanKernel] = []
    local: list[float] = []
    remote: list[float] = []
    url = "/kapis/conv.bench.io/v1/answer"
    admin = "/kapis/extensions.luban.io/v1alpha1/extensions/conv"
    try:
        for name in ("a", "b"):
            kernels.append(
                start_kernel(
                    work / f"conv-{name}", [_source("conv")], None, [str(site)], kubeconfig
                )
            )
        with _client(kernels[0]) as a, _client(kernels[1]) as b:
            for i in range(rounds):
                for action, code in (("disable", 404), ("enable", 200)):
                    began = time.perf_counter()
                    if a.post(f"{admin}/{action}").status_code != 200:
                        raise BenchmarkError(f"{action} refused")
                    # Kernel A converged before answering the admin call.
                    if a.get(url).status_code != code:
                        raise BenchmarkError(f"round {i}: kernel A answered before converging")
                    local.append(time.perf_counter() - began)
                    while b.get(url).status_code != code:
                        if time.perf_counter() - began > 30:
                            raise BenchmarkError(f"round {i}: kernel B never converged")
                    remote.append(time.perf_counter() - began)
    finally:
        for kernel in kernels:
            kernel.stop()
        cluster.terminate()
        cluster.wait(20)
    return [
        Row(
            f"disable/enable x{rounds}, kernel A (admin call sent -> A answers 404/200)",
            "404 within 1 s",
            {"p50 ms": statistics.median(local) * 1000, "max ms": max(local) * 1000},
        ),
        Row(
            f"disable/enable x{rounds}, kernel B on the same cluster (-> B answers)",
            "404 within 1 s",
            {"p50 ms": statistics.median(remote) * 1000, "max ms": max(remote) * 1000},
        ),
    ]


def run(args: argparse.Namespace) -> Report:
    """Swap latency and RSS on one kernel, then start times."""
    if min(args.swaps, args.rss_swaps, args.extensions, args.starts, args.rounds) < 1:
        raise BenchmarkError("counts must be positive")
    with tempfile.TemporaryDirectory(prefix="luban-bench-ext-") as tmp:
        work = Path(tmp)
        rows = _swaps(work, args.swaps, args.rss_swaps)
        rows += _converge(work, args.rounds)
        rows += _start(work, args.extensions, args.starts)
    return Report(
        title="Extensions: hot swap and start",
        rows=rows,
        notes=[
            "Real kernel child process on an embedded cluster, HTTPS on loopback.",
            "Start time includes the embedded cluster and TLS setup; compare with the "
            "no-extension baseline row for the extensions' own share.",
        ],
        parameters=vars(args),
    )
