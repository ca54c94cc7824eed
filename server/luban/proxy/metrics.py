"""The proxy's metrics: upstream latency, open watches and WebSockets, bytes relayed."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from luban.observability.metrics import LATENCY_BUCKETS


class ProxyMetrics:
    """Metric families of the Kubernetes proxy, registered in the kernel's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.upstream_latency = Histogram(
            "luban_proxy_upstream_duration_seconds",
            "Time until the upstream's response headers, by cluster, verb, resource and code.",
            ["cluster", "verb", "resource", "code"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.open_watches = Gauge(
            "luban_proxy_open_watches", "Watches relayed right now.", ["cluster"],
            registry=registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.open_websockets = Gauge(
            "luban_proxy_open_websockets", "WebSocket sessions relayed right now.", ["cluster"],
            registry=registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.bytes = Counter(
            "luban_proxy_bytes_total",
            "Body bytes relayed, by direction (upstream = to the API server).",
            ["cluster", "direction"],
            registry=registry,
        )
        self.errors = Counter(
            "luban_proxy_upstream_errors_total",
            "Requests the upstream could not answer, by cluster and kind of failure.",
            ["cluster", "reason"],
            registry=registry,
        )
