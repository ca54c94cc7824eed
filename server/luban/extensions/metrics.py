"""Metric families of the extension manager."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

STATES = ("Loading", "Running", "Failed", "Disabled")
SWAP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30)


class ExtensionMetrics:
    """State per extension, reloads, swap duration, requests and leaks."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.state = Gauge(
            "luban_extension_state",
            "1 for the state each extension is in on this replica, else 0.",
            ["extension", "state"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.reloads = Counter(
            "luban_extension_reloads_total",
            "Loads and hot swaps of extensions, by result (ok, failed).",
            ["extension", "result"],
            registry=registry,
        )
        self.swap_duration = Histogram(
            "luban_extension_swap_duration_seconds",
            "Time to import, validate and start a new version and switch to it.",
            ["extension"],
            buckets=SWAP_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "luban_extension_requests_total",
            "Requests served by extensions, by extension and status code.",
            ["extension", "code"],
            registry=registry,
        )
        self.leaks = Counter(
            "luban_extension_leaks_total",
            "Swapped-out versions whose modules or objects were still alive after draining.",
            ["extension"],
            registry=registry,
        )

    def set_state(self, extension: str, state: str) -> None:
        """Mark ``state`` as the current one of ``extension``."""
        for name in STATES:
            self.state.labels(extension, name).set(1 if name == state else 0)

    def forget(self, extension: str) -> None:
        """Drop the state series of an extension that was removed."""
        for name in STATES:
            with contextlib.suppress(KeyError):
                self.state.remove(extension, name)
