"""The ``rateLimits:`` configuration: one entry per policy, validated with clear errors."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from luban.ratelimit.pattern import compile_pattern
from luban.ratelimit.rate import parse_rate

DEFAULT_MAX_KEYS = 32_768
DEFAULT_EXEMPT_PATHS = ("/healthz", "/livez", "/readyz", "/metrics")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$")
_HEADER = re.compile(r"^header:[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
HeadersMode = Literal["always", "rejected", "never"]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class MatchConfig(_Model):
    """Which requests a policy applies to; every given field must match.

    ``verbs``, ``resources`` (``pods`` or ``pods/log``) and ``namespaces`` (``""`` meaning
    cluster-wide) look at the Kubernetes request info, so they match only API resource requests.
    ``longRunning: true`` limits the policy to watches, WebSockets, exec/attach/port-forward,
    ``proxy`` and followed logs.
    """

    path: str = "/**"
    methods: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    long_running: bool = False

    @field_validator("path")
    @classmethod
    def _pattern(cls, path: str) -> str:
        compile_pattern(path)
        return path

    @field_validator("methods")
    @classmethod
    def _upper(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(m.upper() for m in methods)


class PolicyConfig(_Model):
    """One rate-limit policy (``rate`` and/or ``concurrency``).

    A policy named ``extension/route`` overrides that extension route's declared default;
    without a ``match`` it keeps the route's.
    """

    name: str
    match: MatchConfig | None = None
    key: str = "user"
    rate: str | None = None
    burst: int | None = Field(default=None, ge=1)
    mode: Literal["reject", "wait", "shadow"] = "reject"
    max_wait: float = Field(default=5.0, ge=0, le=300)
    concurrency: int | None = Field(default=None, ge=1)
    max_keys: int = Field(default=DEFAULT_MAX_KEYS, ge=1)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"{name!r} is not a policy name (letters, digits, . _ : / -)")
        return name

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        if key in ("user", "ip", "global") or _HEADER.match(key):
            return key.lower()
        raise ValueError(f"{key!r} is not one of user, ip, global, header:<name>")

    @field_validator("rate")
    @classmethod
    def _rate(cls, rate: str | None) -> str | None:
        if rate is not None:
            parse_rate(rate)
        return rate

    @model_validator(mode="after")
    def _limits_something(self) -> PolicyConfig:
        if self.enabled and self.rate is None and self.concurrency is None:
            raise ValueError(f"policy {self.name!r}: give a rate, a concurrency or both")
        return self


def _unique(policies: list[PolicyConfig]) -> list[PolicyConfig]:
    names = [p.name for p in policies]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"policy name {name!r} is used twice")
    return policies


def check_policies(policies: list[PolicyConfig]) -> list[PolicyConfig]:
    """Validator for the ``rateLimits`` list: names must be unique."""
    return _unique(policies)


def check_networks(networks: list[str]) -> list[str]:
    """Validator for ``trustedProxies``: IP addresses or CIDR networks."""
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{network!r} is not an IP address or CIDR network") from None
    return networks
