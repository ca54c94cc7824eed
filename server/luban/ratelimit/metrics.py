"""Rate-limit metrics: outcomes per policy, keys held and requests open per policy."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge

OUTCOMES = ("admitted", "rejected", "waited", "shadow_rejected")


class RateLimitMetrics:
    """The families, registered in the kernel's registry."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.requests = Counter(
            "luban_ratelimit_requests_total",
            "Requests a rate-limit policy decided on, by policy and outcome "
            "(admitted, rejected, waited: admitted after queueing, shadow_rejected).",
            ["policy", "outcome"],
            registry=registry,
        )
        self.keys = Gauge(
            "luban_ratelimit_keys",
            "Distinct keys (users, IPs...) a policy holds limiter state for.",
            ["policy"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.open = Gauge(
            "luban_ratelimit_open_requests",
            "Long-running requests open under a concurrency policy.",
            ["policy"],
            registry=registry,
            multiprocess_mode="livesum",
        )

    def forget(self, policy: str) -> None:
        """Drop a removed policy's gauges (its counters stay: they are history)."""
        for gauge in (self.keys, self.open):
            with contextlib.suppress(KeyError):
                gauge.remove(policy)


class PolicyMetrics:
    """One policy's metric children, looked up once instead of on every request."""

    __slots__ = ("admitted", "keys", "open", "rejected", "shadow_rejected", "waited")

    def __init__(self, metrics: RateLimitMetrics, policy: str) -> None:
        self.admitted = metrics.requests.labels(policy, "admitted")
        self.rejected = metrics.requests.labels(policy, "rejected")
        self.waited = metrics.requests.labels(policy, "waited")
        self.shadow_rejected = metrics.requests.labels(policy, "shadow_rejected")
        self.keys = metrics.keys.labels(policy)
        self.open = metrics.open.labels(policy)
