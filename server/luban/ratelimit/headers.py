"""IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, structured fields).

``RateLimit-Policy: "per-user";q=10;w=1`` states a policy (quota ``q`` per window ``w``
seconds); ``RateLimit: "per-user";r=3;t=1`` what is left (``r``) and the seconds until the
quota is whole again (``t``). Several policies are comma-separated list members.
"""

from __future__ import annotations

import functools
import math

from aiolimiter import AsyncLimiter

from luban.ratelimit.rate import Rate
from luban.ratelimit.store import level

POLICY_HEADER = b"ratelimit-policy"
STATE_HEADER = b"ratelimit"
REJECTED_BY_HEADER = b"x-luban-ratelimit-policy"


@functools.lru_cache(maxsize=1024)
def _sf_string(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def whole_seconds(seconds: float) -> int:
    """Seconds as the non-negative integer the fields and ``Retry-After`` carry (rounded up)."""
    return max(math.ceil(seconds - 1e-9), 0)


@functools.lru_cache(maxsize=1024)
def policy_item(name: str, rate: Rate) -> str:
    """One ``RateLimit-Policy`` member."""
    return f"{_sf_string(name)};q={int(rate.burst)};w={max(whole_seconds(rate.window), 1)}"


def state_item(name: str, limiter: AsyncLimiter, reset: float | None = None) -> str:
    """One ``RateLimit`` member for ``limiter`` now (``reset``: seconds, when known)."""
    current = level(limiter)
    left = max(int(limiter.max_rate - current), 0)
    if reset is None:
        reset = current * limiter.time_period / limiter.max_rate
    return f"{_sf_string(name)};r={left};t={whole_seconds(reset)}"
