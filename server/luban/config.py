"""Kernel configuration: a YAML file, then ``LUBAN_*`` environment variables, then CLI flags.

Keys are camelCase in YAML (like Kubernetes objects). Environment variables name a key path
with ``__`` between levels, in any case and with or without underscores inside a key:
``LUBAN_SERVER__PORT=9443`` or ``LUBAN_SERVER__GRACEPERIODSECONDS=5``. Values from the
environment are parsed as YAML scalars/flows, so ``true``, ``8080`` and ``[a, b]`` work.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from luban.ratelimit.config import (
    DEFAULT_EXEMPT_PATHS,
    HeadersMode,
    PolicyConfig,
    check_networks,
    check_policies,
)

ENV_PREFIX = "LUBAN_"


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the key and what is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class TLSConfig(_Section):
    """How the kernel serves HTTPS."""

    enabled: bool = True
    cert_file: Path | None = None
    key_file: Path | None = None
    extra_names: list[str] = Field(default_factory=list)

    @field_validator("extra_names")
    @classmethod
    def _names_are_hosts(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or any(c in name for c in "/ @") or (":" in name and not _is_ip(name)):
                raise ValueError(f"{name!r} is not a host name or IP address")
        return names


class ServerConfig(_Section):
    """Where and how the kernel listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=9443, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    grace_period_seconds: float = Field(default=30.0, ge=0)
    tls: TLSConfig = Field(default_factory=TLSConfig)


class LogConfig(_Section):
    """Logging output."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"
    access: bool = False


AuthenticatorName = Literal["adminToken", "tokenFile", "oidc", "tokenReview"]
DEFAULT_AUTHENTICATORS: tuple[AuthenticatorName, ...] = (
    "adminToken",
    "tokenFile",
    "oidc",
    "tokenReview",
)


class TokenReviewConfig(_Section):
    """Asking the upstream who a token belongs to (TokenReview), and caching the answer."""

    ttl_seconds: float = Field(default=10.0, ge=0)
    negative_ttl_seconds: float = Field(default=2.0, ge=0)
    max_entries: int = Field(default=4096, ge=0)
    audiences: list[str] = Field(default_factory=list)


class OIDCConfig(_Section):
    """Trusting ID tokens of an OpenID Connect issuer."""

    issuer_url: str = Field(alias="issuerURL", pattern=r"^https://")
    client_id: str = Field(alias="clientID", min_length=1)
    audiences: list[str] = Field(default_factory=list)
    username_claim: str = "sub"
    username_prefix: str | None = None
    groups_claim: str = ""
    groups_prefix: str = ""
    required_claims: dict[str, str] = Field(default_factory=dict)
    ca_file: Path | None = None
    clock_skew_seconds: int = Field(default=60, ge=0, le=600)
    jwks_refresh_interval_seconds: float = Field(default=10.0, ge=0)


class AuthorizationConfig(_Section):
    """SubjectAccessReview caching for kernel-served routes."""

    ttl_seconds: float = Field(default=5.0, ge=0, le=300)
    negative_ttl_seconds: float = Field(default=5.0, ge=0, le=300)
    max_entries: int = Field(default=10000, ge=0)


class AuthConfig(_Section):
    """Who may call the kernel."""

    require: bool = True
    authenticators: list[AuthenticatorName] = Field(
        default_factory=lambda: list(DEFAULT_AUTHENTICATORS)
    )
    token_file: Path | None = None
    token_review: TokenReviewConfig = Field(default_factory=TokenReviewConfig)
    oidc: OIDCConfig | None = None
    anonymous: bool = False
    authorization: AuthorizationConfig = Field(default_factory=AuthorizationConfig)


class AuditConfig(_Section):
    """The audit log: one JSON line per request (``path: "-"`` is stdout; unset: off)."""

    path: str | None = None


class ClusterEntry(_Section):
    """A further upstream cluster, served under ``/clusters/{name}/``."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    kubeconfig: Path
    context: str | None = None


class UpstreamConfig(_Section):
    """The Kubernetes API server the kernel fronts (none found: the embedded cluster)."""

    kubeconfig: Path | None = None
    context: str | None = None
    embedded: bool = False
    clusters: list[ClusterEntry] = Field(default_factory=list)

    @field_validator("clusters")
    @classmethod
    def _unique_names(cls, clusters: list[ClusterEntry]) -> list[ClusterEntry]:
        names = [c.name for c in clusters]
        for name in names:
            if names.count(name) > 1 or name == "default":
                raise ValueError(f"cluster name {name!r} is reserved or used twice")
        return clusters


class ProxyConfig(_Section):
    """How the Kubernetes API proxy forwards requests."""

    identity: Literal["impersonate", "passthrough"] = "impersonate"
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    accept_paths: list[str] = Field(default_factory=list)
    reject_paths: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)
    small_body_bytes: int = Field(default=64 * 1024, ge=0)

    @field_validator("accept_paths", "reject_paths")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return patterns


class ExtensionsConfig(_Section):
    """The extension manager; any other key is an extension's name and holds its config."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )

    entry_points: bool = True
    sources: list[str] = Field(default_factory=list)
    disabled: list[str] = Field(default_factory=list)
    hot_reload: bool = True
    watch_environment: bool = True
    environment_paths: list[Path] = Field(default_factory=list)
    debounce_milliseconds: int = Field(default=50, ge=1, le=10_000)
    startup_timeout_seconds: float = Field(default=10.0, gt=0)
    drain_timeout_seconds: float = Field(default=60.0, ge=0)
    leak_check: bool = True
    restart_when_unswappable: bool = False
    replica_id: str = ""

    @field_validator("sources")
    @classmethod
    def _refs(cls, sources: list[str]) -> list[str]:
        for entry in sources:
            name, sep, ref = entry.partition("=")
            if not sep or not name.strip() or ":" not in ref:
                raise ValueError(f"{entry!r} must look like name=module:attribute")
        return sources

    def for_extension(self, name: str) -> dict[str, Any]:
        """The ``extensions.<name>`` mapping (an extension's config values)."""
        value = (self.model_extra or {}).get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"extensions.{name}: must be a mapping")
        return value


class ResourcesConfig(_Section):
    """The Resource API's watch-fed caches (``/kapi``, ``/kapis``)."""

    enabled: bool = True
    idle_eviction_seconds: float = Field(default=600.0, gt=0)
    initial_sync_timeout_seconds: float = Field(default=15.0, gt=0)
    read_your_writes_timeout_seconds: float = Field(default=5.0, ge=0)
    watch_timeout_seconds: float = Field(default=300.0, ge=10)
    change_log_size: int = Field(default=10_000, ge=100)
    watcher_backlog: int = Field(default=50_000, ge=100)


class Settings(_Section):
    """The whole kernel configuration."""

    data_dir: Path = Path(".luban")
    server: ServerConfig = Field(default_factory=ServerConfig)
    upstream: UpstreamConfig = Field(default_factory=UpstreamConfig)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    extensions: ExtensionsConfig = Field(default_factory=ExtensionsConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    # Rate limiting (luban.ratelimit); the rateLimits list is hot-reloaded from configFile.
    rate_limits: list[PolicyConfig] = Field(default_factory=list)
    rate_limit_headers: HeadersMode = "always"
    rate_limit_exempt_paths: list[str] = Field(default_factory=lambda: [*DEFAULT_EXEMPT_PATHS])
    trusted_proxies: list[str] = Field(default_factory=list)
    # Set from --config; not meant to be written in the file itself.
    config_file: Path | None = None

    @field_validator("rate_limits")
    @classmethod
    def _unique_policies(cls, policies: list[PolicyConfig]) -> list[PolicyConfig]:
        return check_policies(policies)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, networks: list[str]) -> list[str]:
        return check_networks(networks)

    @property
    def scheme(self) -> str:
        """``https`` unless TLS is turned off."""
        return "https" if self.server.tls.enabled else "http"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _normalize(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _model_key(model: type[BaseModel], key: str) -> tuple[str, type[BaseModel] | None] | None:
    """Map an environment key part to the model's alias and, for sections, the nested model."""
    for name, info in model.model_fields.items():
        if _normalize(name) == _normalize(key):
            nested = info.annotation
            # An optional section (``OIDCConfig | None``) is still a section.
            options = [a for a in get_args(nested) if a is not type(None)]
            if len(options) == 1:
                nested = options[0]
            section = nested if isinstance(nested, type) and issubclass(nested, BaseModel) else None
            return info.alias or name, section
    return None


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``LUBAN_A__B=value`` variables into a nested dict of overrides."""
    result: dict[str, Any] = {}
    for var, raw in environ.items():
        if not var.startswith(ENV_PREFIX) or var == "LUBAN_SETTINGS_JSON":
            continue
        parts = var[len(ENV_PREFIX) :].split("__")
        model: type[BaseModel] | None = Settings
        target = result
        for index, part in enumerate(parts):
            found = _model_key(model, part) if model is not None else None
            if found is None:
                raise ConfigError(f"{var}: no such configuration key")
            alias, model = found
            if index == len(parts) - 1:
                try:
                    target[alias] = yaml.safe_load(raw) if raw else raw
                except yaml.YAMLError as exc:
                    raise ConfigError(
                        f"{var}: not a valid value ({exc.__class__.__name__})"
                    ) from None
            else:
                target = target.setdefault(alias, {})
    return result


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in, recursively for nested mappings."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping (an empty file is an empty config)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: {problem}{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(data).__name__}")
    return data


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings from ``path``, then the environment, then ``overrides`` (CLI flags)."""
    data = read_config_file(path) if path is not None else {}
    data = deep_merge(data, env_overrides(os.environ if environ is None else environ))
    data = deep_merge(data, overrides or {})
    if path is not None:
        data["configFile"] = str(path)
    return validate_settings(data, source=str(path) if path else "configuration")


def validate_settings(data: Mapping[str, Any], source: str = "configuration") -> Settings:
    """Validate a config mapping, turning the first problem into one clear line."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        raise ConfigError(f"{source}: {key}: {message}") from None
