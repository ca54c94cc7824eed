"""The proxy's metrics: upstream latency, open watches and WebSockets, bytes relayed."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from luban.observability.metrics import LATENCY_BUCKETS

# ``labels()`` costs more than the observation itself; children are kept per label set, up
# to this many (label values come from requests, so the cache must not grow without bound).
MAX_CACHED_CHILDREN = 4096


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
        self._children: dict[tuple[Any, ...], Any] = {}

    def latency(self, cluster: str, verb: str, resource: str, code: str) -> Any:
        """The upstream-latency child for these labels."""
        return self._child(self.upstream_latency, (cluster, verb, resource, code))

    def relayed(self, cluster: str, direction: str) -> Any:
        """The bytes-relayed child for ``direction`` (``upstream`` or ``downstream``)."""
        return self._child(self.bytes, (cluster, direction))

    def _child(self, family: Any, labels: tuple[str, ...]) -> Any:
        key = (id(family), *labels)
        child = self._children.get(key)
        if child is None:
            child = family.labels(*labels)
            if len(self._children) < MAX_CACHED_CHILDREN:
                self._children[key] = child
        return child
