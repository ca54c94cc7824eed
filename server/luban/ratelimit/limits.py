"""The rate-limit engine: config policies plus extension route defaults, swapped atomically."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry

from luban.ratelimit.clientip import ClientAddress
from luban.ratelimit.config import (
    DEFAULT_EXEMPT_PATHS,
    HeadersMode,
    MatchConfig,
    PolicyConfig,
    check_policies,
)
from luban.ratelimit.metrics import PolicyMetrics, RateLimitMetrics
from luban.ratelimit.policy import Policy
from luban.ratelimit.table import PolicyTable

logger = logging.getLogger("luban.ratelimit")


class RateLimits:
    """Every active policy of the kernel, and the API parts use to change them.

    Config policies (``rateLimits:``) come from the kernel's settings and hot reload;
    extensions declare defaults for their routes with :meth:`set_route_defaults`. A config
    policy named ``extension/route`` overrides that route's default. A policy whose definition
    did not change keeps its buckets across every update.
    """

    def __init__(
        self,
        policies: Sequence[PolicyConfig] = (),
        *,
        trusted_proxies: Iterable[str] = (),
        headers: HeadersMode = "always",
        exempt_paths: Iterable[str] = DEFAULT_EXEMPT_PATHS,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.clients = ClientAddress(trusted_proxies)
        self.headers: HeadersMode = headers
        self.exempt_paths = tuple(exempt_paths)
        self.metrics = RateLimitMetrics(registry)
        self._config: dict[str, PolicyConfig] = {}
        self._defaults: dict[str, PolicyConfig] = {}
        self.table = PolicyTable((), self.exempt_paths)
        self.update_policies(policies)

    @property
    def policies(self) -> tuple[Policy, ...]:
        """The active policies, in config order, then extension defaults."""
        return self.table.policies

    @property
    def config_policies(self) -> tuple[PolicyConfig, ...]:
        """The policies from the config file, as last applied."""
        return tuple(self._config.values())

    def policy(self, name: str) -> Policy | None:
        """The active policy called ``name``, if any."""
        return next((p for p in self.table.policies if p.name == name), None)

    def update_policies(self, policies: Sequence[PolicyConfig]) -> None:
        """Replace the config policies (hot reload); unchanged ones keep their buckets."""
        check_policies(list(policies))
        self._config = {p.name: p for p in policies}
        self._rebuild()

    def set_route_defaults(
        self,
        extension: str,
        route_name: str,
        path_pattern: str,
        methods: Sequence[str],
        rate: str | None,
        key: str = "user",
        *,
        burst: int | None = None,
        concurrency: int | None = None,
    ) -> None:
        """Declare an extension route's default limit, as the SDK's ``rate_limit=`` asks.

        ``path_pattern`` is the route's full kernel path (``/kapis/{group}/{version}/...``,
        ``{param}`` segments allowed). The policy is called ``extension/route_name``; a config
        policy of that name overrides it. Raises ``ValueError`` for a bad rate, key or pattern.
        """
        name = f"{extension}/{route_name}"
        default = PolicyConfig(
            name=name,
            match=MatchConfig(path=path_pattern, methods=tuple(methods)),
            key=key,
            rate=rate,
            burst=burst,
            concurrency=concurrency,
        )
        if self._defaults.get(name) != default:
            self._defaults[name] = default
            self._rebuild()

    def remove_route_defaults(self, extension: str, route_name: str | None = None) -> None:
        """Forget one route's default, or all of ``extension``'s (it was disabled or removed)."""
        prefix = f"{extension}/"
        names = [
            n
            for n in self._defaults
            if (n == prefix + route_name if route_name is not None else n.startswith(prefix))
        ]
        for name in names:
            del self._defaults[name]
        if names:
            self._rebuild()

    def _effective(self) -> list[tuple[PolicyConfig, MatchConfig, str]]:
        result: list[tuple[PolicyConfig, MatchConfig, str]] = []
        for name, config in self._config.items():
            default = self._defaults.get(name)
            match = config.match or (default.match if default else None) or MatchConfig()
            if config.enabled:
                result.append((config, match, "config"))
        for name, default in self._defaults.items():
            if name not in self._config:
                assert default.match is not None
                result.append((default, default.match, "extension"))
        return result

    def _rebuild(self) -> None:
        previous = {p.name: p for p in self.table.policies}
        policies: list[Policy] = []
        for config, match, source in self._effective():
            policy = Policy(config, match, PolicyMetrics(self.metrics, config.name), source)
            old = previous.get(config.name)
            if old is not None and old.definition == policy.definition:
                policy.adopt(old)
            policies.append(policy)
        self.table = PolicyTable(policies, self.exempt_paths)
        for name in previous.keys() - {p.name for p in policies}:
            self.metrics.forget(name)
