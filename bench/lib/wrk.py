"""Driving the ``wrk`` HTTP load generator and reading its ``--latency`` report."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from bench.lib.registry import BenchmarkError

INSTALL_HINT = "apt-get install -y wrk"

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkMissing(BenchmarkError):
    """``wrk`` is not on PATH."""

    def __init__(self) -> None:
        super().__init__(f"wrk is not installed or not on PATH; install it with: {INSTALL_HINT}")


class WrkOutputError(BenchmarkError):
    """``wrk`` ran but its report could not be read."""


@dataclass(frozen=True)
class WrkOptions:
    """Load shape shared by every HTTP benchmark."""

    duration: float
    connections: int
    threads: int
    warmup: float
    timeout: float = 5.0


@dataclass(frozen=True)
class WrkResult:
    """What one ``wrk`` run measured (latencies in milliseconds)."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def add_wrk_arguments(parser: argparse.ArgumentParser, duration: float = 10.0) -> None:
    """Add ``--duration --connections --threads --warmup`` to a benchmark's parser."""
    group = parser.add_argument_group("load (wrk)")
    group.add_argument(
        "--duration",
        type=float,
        default=duration,
        metavar="S",
        help=f"seconds measured per case (default {duration:g})",
    )
    group.add_argument(
        "--connections",
        type=int,
        default=64,
        metavar="C",
        help="open HTTP connections (default 64)",
    )
    group.add_argument(
        "--threads", type=int, default=2, metavar="T", help="wrk threads (default 2)"
    )
    group.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        metavar="S",
        help="unmeasured seconds before each case (default 2)",
    )


def options_from(args: argparse.Namespace) -> WrkOptions:
    """The :class:`WrkOptions` chosen on the command line."""
    return WrkOptions(args.duration, args.connections, args.threads, args.warmup)


def find_wrk() -> str:
    """The path of ``wrk``; raises :class:`WrkMissing` when it is not installed."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing()
    return path


def _millis(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse(output: str) -> WrkResult:
    """Read a ``wrk --latency`` report."""
    percentiles = {m[0]: _millis(m[1], m[2]) for m in _PERCENTILE.findall(output)}
    requests = _REQUESTS.search(output)
    rate = _RATE.search(output)
    if requests is None or rate is None or not {"50", "99"} <= percentiles.keys():
        raise WrkOutputError(f"unexpected wrk output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket = _SOCKET.search(output)
    return WrkResult(
        requests=int(requests[1]),
        seconds=_millis(requests[2], requests[3]) / 1e3,
        requests_per_second=float(rate[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


def run_wrk(
    url: str,
    duration: float,
    options: WrkOptions,
    headers: Mapping[str, str] | None = None,
) -> WrkResult:
    """Load ``url`` for ``duration`` seconds with ``options``' connections and threads."""
    command = [
        find_wrk(),
        f"--threads={options.threads}",
        f"--connections={options.connections}",
        f"--duration={max(1, round(duration))}s",
        f"--timeout={options.timeout:g}s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    command.append(url)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=duration + options.timeout + 30,
    )
    if done.returncode != 0:
        raise WrkOutputError(f"wrk exited {done.returncode}: {done.stderr.strip()}")
    return parse(done.stdout)
