"""A compiled policy: what it matches, how it keys requests, and its limiter state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import Scope

from luban.kube.requestinfo import RequestInfo
from luban.ratelimit.config import MatchConfig, PolicyConfig
from luban.ratelimit.metrics import PolicyMetrics
from luban.ratelimit.pattern import PathPattern, compile_pattern
from luban.ratelimit.rate import Rate, parse_rate
from luban.ratelimit.store import BucketStore, OpenCounter

USER_KEY = "luban.user"
REQUEST_INFO_KEY = "luban.request_info"
MAX_KEY_LENGTH = 256
_LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
_LONG_RUNNING_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy"})

KeyFunction = Callable[[Scope, str], str]


def _user_key(scope: Scope, ip: str) -> str:
    user = scope.get(USER_KEY)
    # Unauthenticated callers (public routes, passthrough) are told apart by address.
    return str(user.name) if user is not None else "\x00ip:" + ip


def _ip_key(scope: Scope, ip: str) -> str:
    return ip


def _global_key(scope: Scope, ip: str) -> str:
    return ""


def _header_key(name: str) -> KeyFunction:
    raw = name.lower().encode("latin-1")

    def key(scope: Scope, ip: str) -> str:
        value: bytes
        for header, value in scope["headers"]:
            if header == raw:
                return value[:MAX_KEY_LENGTH].decode("latin-1")
        return ""  # requests without the header share one bucket

    return key


def key_function(key: str) -> KeyFunction:
    """The function that names a request's bucket for ``key`` (user, ip, global, header:X)."""
    if key.startswith("header:"):
        return _header_key(key.removeprefix("header:"))
    return {"user": _user_key, "ip": _ip_key, "global": _global_key}[key]


def is_long_running(scope: Scope, info: RequestInfo | None) -> bool:
    """Watches, WebSockets, exec/attach/port-forward, proxy and followed logs."""
    if scope["type"] == "websocket":
        return True
    if info is None or not info.is_resource_request:
        return False
    if info.verb in _LONG_RUNNING_VERBS or info.subresource in _LONG_RUNNING_SUBRESOURCES:
        return True
    return info.subresource == "log" and b"follow=true" in scope.get("query_string", b"")


@dataclass(eq=False)
class Policy:
    """One policy, ready for the hot path."""

    config: PolicyConfig
    match: MatchConfig
    metrics: PolicyMetrics
    source: str = "config"
    pattern: PathPattern = field(init=False)
    rate: Rate | None = field(init=False)
    buckets: BucketStore | None = field(init=False)
    open: OpenCounter | None = field(init=False)
    key_of: KeyFunction = field(init=False)
    methods: frozenset[str] = field(init=False)
    needs_info: bool = field(init=False)

    def __post_init__(self) -> None:
        config, match = self.config, self.match
        self.pattern = compile_pattern(match.path)
        self.rate = parse_rate(config.rate, config.burst) if config.rate else None
        self.buckets = BucketStore(self.rate, config.max_keys) if self.rate else None
        self.open = OpenCounter(config.concurrency) if config.concurrency else None
        self.key_of = key_function(config.key)
        self.methods = frozenset(match.methods)
        self.needs_info = bool(
            match.verbs or match.resources or match.namespaces or match.long_running
        )

    @property
    def name(self) -> str:
        """The policy's name (``extension/route`` for extension defaults)."""
        return self.config.name

    @property
    def definition(self) -> tuple[PolicyConfig, MatchConfig]:
        """What decides whether a reloaded policy may keep this one's buckets."""
        return self.config, self.match

    def adopt(self, previous: Policy) -> None:
        """Keep ``previous``'s buckets and open counts (same definition, reloaded)."""
        self.buckets, self.open = previous.buckets, previous.open

    def matches(self, scope: Scope, method: str) -> bool:
        """Whether this policy applies to a request its path pattern matched."""
        if self.methods and method not in self.methods:
            return False
        if not self.needs_info:
            return True
        info: RequestInfo | None = scope.get(REQUEST_INFO_KEY)
        match = self.match
        if match.long_running and not is_long_running(scope, info):
            return False
        if not (match.verbs or match.resources or match.namespaces):
            return True
        if info is None or not info.is_resource_request:
            return False
        if match.verbs and info.verb not in match.verbs:
            return False
        if match.resources:
            resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
            if resource not in match.resources:
                return False
        return not match.namespaces or info.namespace in match.namespaces
