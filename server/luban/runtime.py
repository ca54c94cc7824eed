"""Process-wide settings every Luban server process applies at start."""

from __future__ import annotations

import gc
import resource


def raise_open_file_limit() -> None:
    """Raise the soft open-files limit to the hard one (each proxied watch holds two fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tune_garbage_collection() -> None:
    """Make full collections rare: stores and caches hold many long-lived, acyclic dicts.

    With the default thresholds a full collection scans every cached object every few
    thousand allocations-heavy requests, a pause measured as 100-200 ms p99 write latency on
    the embedded cluster with 10k objects (bench/embedded.py: 148 ms -> 19 ms).
    """
    gc.set_threshold(50_000, 50, 1000)
