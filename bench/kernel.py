"""Benchmark ``kernel``: the kernel's request path against a bare Starlette app.

Each worker count starts ``luban serve --insecure-http`` and the baseline
(``bench/baselines/bare_starlette.py``, same uvicorn options) side by side; each case then
loads one and then the other (the order flips every round), after an unmeasured warm-up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.lib.registry import BenchmarkError
from bench.lib.report import Report, Row
from bench.lib.servers import RunningServer, free_port, get_status, python, running
from bench.lib.wrk import WrkOptions, WrkResult, add_wrk_arguments, find_wrk, options_from, run_wrk

DESCRIPTION = "kernel vs bare Starlette: GET /healthz and a routed 404, by uvicorn worker count"

KERNEL = "kernel"
BASELINE = "bare starlette"


@dataclass(frozen=True)
class Case:
    """One request shape, loaded on both servers."""

    label: str
    path: str
    status: int
    authenticated: bool


CASES = (
    Case("GET /healthz", "/healthz", 200, authenticated=False),
    Case("GET /nonexistent (404)", "/nonexistent", 404, authenticated=True),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workers``, ``--rounds``, ``--case`` and the wrk load options."""
    add_wrk_arguments(parser)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="uvicorn worker counts to compare (default: 1 2)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="R",
        help="measure each case R times, alternating the order; report medians",
    )
    parser.add_argument(
        "--case",
        choices=[case.path for case in CASES],
        action="append",
        help="only this path (repeatable; default: all)",
    )


@contextlib.contextmanager
def _servers(workers: int, scratch: Path) -> Iterator[tuple[RunningServer, RunningServer, str]]:
    data_dir = scratch / f"kernel-{workers}w"
    kernel_port, baseline_port = free_port(), free_port()
    kernel_command = [
        python(),
        "-m",
        "luban.cli",
        "serve",
        "--insecure-http",
        "--port",
        str(kernel_port),
        "--data-dir",
        str(data_dir),
        "--workers",
        str(workers),
        "--embedded",
    ]
    baseline_command = [
        python(),
        "-m",
        "bench.baselines.bare_starlette",
        "--port",
        str(baseline_port),
        "--workers",
        str(workers),
    ]
    with (
        running(
            KERNEL,
            kernel_command,
            kernel_port,
            scratch / f"kernel-{workers}w.log",
            env={"LUBAN_RESOURCES__ENABLED": "false"},
        ) as kernel,
        running(
            BASELINE, baseline_command, baseline_port, scratch / f"baseline-{workers}w.log"
        ) as baseline,
    ):
        token = (data_dir / "admin-token").read_text().strip()
        yield kernel, baseline, token


def _check_case(server: RunningServer, case: Case, headers: dict[str, str]) -> None:
    """Make sure the case really exercises what it claims before timing it."""
    status, body = get_status(server.base_url + case.path, headers)
    if status != case.status:
        raise BenchmarkError(f"{server.name} answered {status} to {case.path}, not {case.status}")
    if server.name == KERNEL and case.status == 404 and orjson.loads(body).get("kind") != "Status":
        raise BenchmarkError(f"kernel 404 is not a Kubernetes Status: {body[:200]!r}")


def _unexpected(result: WrkResult, case: Case) -> int:
    """Responses with the wrong class of status, plus socket errors."""
    wrong = result.requests - result.non_2xx if case.status >= 300 else result.non_2xx
    return wrong + result.socket_errors


def _measure(
    server: RunningServer, case: Case, headers: dict[str, str], options: WrkOptions
) -> WrkResult:
    url = server.base_url + case.path
    if options.warmup >= 1:
        run_wrk(url, options.warmup, options, headers)
    return run_wrk(url, options.duration, options, headers)


def _row(case_label: str, target: str, results: Sequence[WrkResult], case: Case) -> Row:
    rates = [r.requests_per_second for r in results]
    metrics: dict[str, float] = {
        "req/s": statistics.median(rates),
        "p50 ms": statistics.median(r.p50_ms for r in results),
        "p99 ms": statistics.median(r.p99_ms for r in results),
        "errors": sum(_unexpected(r, case) for r in results),
    }
    if len(results) > 1:
        metrics["req/s spread %"] = 100 * (max(rates) - min(rates)) / statistics.median(rates)
    return Row(case_label, target, metrics, baseline=None if target == BASELINE else BASELINE)


def _notes(options: WrkOptions, workers: Sequence[int]) -> list[str]:
    cpus = len(os.sched_getaffinity(0))
    return [
        f"wrk ({options.threads} threads, {options.connections} connections) runs on the same "
        f"{cpus} CPUs as the server under test, so it competes with the server for CPU; "
        "absolute numbers understate a dedicated client's, compare the ratios.",
        "Both servers run uvicorn with uvloop, httptools, access log off, server header off; "
        "the kernel adds its pipeline (request id, metrics, error guard, authentication).",
        "The kernel runs in front of its embedded cluster (--embedded, Resource API off); "
        "no benchmarked request reaches the upstream. Plain probes (/healthz without a "
        "query) are answered by the probe stage before the rest of the pipeline; the 404 "
        "case goes through the whole pipeline (auth, rate limits, authorization, routing).",
        "404 bodies differ: the kernel answers a JSON Kubernetes Status (160 bytes), "
        "bare Starlette a plain-text 'Not Found'.",
        *(
            [
                "With more than one worker the kernel keeps Prometheus metrics in multiprocess "
                "mode (mmap'd files shared by the workers)."
            ]
            if max(workers) > 1
            else []
        ),
    ]


def run(args: argparse.Namespace) -> Report:
    """Measure every (worker count, case, server) combination."""
    find_wrk()
    options = options_from(args)
    cases = [case for case in CASES if not args.case or case.path in args.case]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="luban-bench-") as scratch:
        for workers in args.workers:
            with _servers(workers, Path(scratch)) as (kernel, baseline, token):
                for case in cases:
                    headers = {"Authorization": f"Bearer {token}"} if case.authenticated else {}
                    _check_case(kernel, case, headers)
                    _check_case(baseline, case, headers)
                    results: dict[str, list[WrkResult]] = {KERNEL: [], BASELINE: []}
                    for round_ in range(args.rounds):
                        order = (kernel, baseline) if round_ % 2 == 0 else (baseline, kernel)
                        for server in order:
                            results[server.name].append(_measure(server, case, headers, options))
                    label = f"{case.label}, {workers} worker{'s' if workers > 1 else ''}"
                    rows.append(_row(label, KERNEL, results[KERNEL], case))
                    rows.append(_row(label, BASELINE, results[BASELINE], case))
    return Report(
        title=f"kernel vs bare Starlette ({options.connections} connections, "
        f"{options.threads} wrk threads, {options.duration:g} s per case, "
        f"{args.rounds} round{'s' if args.rounds > 1 else ''})",
        rows=rows,
        ratio_metric="req/s",
        notes=_notes(options, args.workers),
        parameters={**vars(args), "cases": [case.path for case in cases]},
    )
