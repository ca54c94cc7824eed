"""How an extension's declared route guards reach the kernel's authorizer and rate limiter.

Permissions are checked per request with the pipeline's authorizer (``luban.auth``, put in
the scope by the authorization stage). Rate limits are declared to the kernel's rate limiter
(``luban.ratelimit``) as route defaults when a version starts serving, and withdrawn when it
stops, so config policies of the same name override them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from luban_sdk import Extension


class RouteLimits(Protocol):
    """The part of ``luban.ratelimit.limits.RateLimits`` extensions use."""

    def set_route_defaults(
        self,
        extension: str,
        route_name: str,
        path_pattern: str,
        methods: Sequence[str],
        rate: str | None,
        key: str = "user",
    ) -> None:
        """Declare a route's default limit."""
        ...

    def remove_route_defaults(self, extension: str, route_name: str | None = None) -> None:
        """Withdraw one or all of an extension's route defaults."""
        ...


def split_resource(resource: str) -> tuple[str, str]:
    """``deployments.apps`` -> ``("deployments", "apps")``; ``pods`` -> ``("pods", "")``."""
    name, _, group = resource.partition(".")
    return name, group


def declare_limits(limits: RouteLimits | None, ext: Extension) -> None:
    """Replace ``ext``'s rate-limit defaults with those its routes declare now."""
    if limits is None:
        return
    limits.remove_route_defaults(ext.name)
    for route in ext.routes:
        if route.rate_limit is not None:
            limits.set_route_defaults(
                ext.name,
                route.name,
                ext.prefix + route.path,
                route.methods,
                route.rate_limit,
                route.rate_limit_key,
            )
