"""Rates such as ``"100/minute"`` or ``"10/second"``: parsing and the bucket they describe."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+?)s?\s*$")


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period`` seconds, with a bucket of ``burst`` requests."""

    count: float
    period: float
    burst: float

    @property
    def per_second(self) -> float:
        """The sustained rate."""
        return self.count / self.period

    @property
    def window(self) -> float:
        """Seconds an empty bucket takes to refill completely (the IETF ``w`` parameter)."""
        return self.burst / self.per_second


def parse_rate(text: str, burst: float | None = None) -> Rate:
    """Parse ``"N/unit"`` or ``"N/K unit"`` (units: second, minute, hour, day; s, m, h, d).

    The bucket holds ``burst`` requests, by default ``N``: ``"100/minute"`` admits up to 100 at
    once and then one every 0.6 s.
    """
    found = _RATE.match(text.lower())
    if found is None or found.group(3) not in _UNITS:
        raise ValueError(f"{text!r} is not a rate like '100/minute' or '10/second'")
    count = float(found.group(1))
    period = float(found.group(2) or 1) * _UNITS[found.group(3)]
    if count <= 0 or period <= 0:
        raise ValueError(f"{text!r}: the rate must be positive")
    size = count if burst is None else burst
    if size < 1:
        raise ValueError(f"burst {burst!r} must be at least 1")
    return Rate(count, period, size)
