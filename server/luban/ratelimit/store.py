"""Limiter state per key: an LRU of aiolimiter buckets and counters of open requests."""

from __future__ import annotations

from collections import OrderedDict

from aiolimiter import AsyncLimiter

from luban.ratelimit.rate import Rate


class BucketStore:
    """One ``AsyncLimiter`` per key, at most ``max_keys`` of them (least recently used go).

    Dropping a key forgets its bucket (it starts full when the key comes back): the price
    of bounded memory under a flood of distinct keys.
    """

    __slots__ = ("_buckets", "max_keys", "rate")

    def __init__(self, rate: Rate, max_keys: int) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def get(self, key: str) -> tuple[AsyncLimiter, bool]:
        """The bucket of ``key`` and whether it was created just now."""
        buckets = self._buckets
        limiter = buckets.get(key)
        if limiter is not None:
            buckets.move_to_end(key)
            return limiter, False
        if len(buckets) >= self.max_keys:
            buckets.popitem(last=False)
        # aiolimiter's bucket holds max_rate and drains max_rate per time_period: our burst,
        # drained at the configured sustained rate.
        limiter = AsyncLimiter(self.rate.burst, self.rate.window)
        buckets[key] = limiter
        return limiter, True


def level(limiter: AsyncLimiter) -> float:
    """How full the bucket is now (aiolimiter keeps this private; headers need it)."""
    limiter.has_capacity(0)  # drains what leaked since the last look
    return float(getattr(limiter, "_level", 0.0))


def remaining(limiter: AsyncLimiter) -> int:
    """Whole requests the bucket admits right now."""
    return max(int(limiter.max_rate - level(limiter)), 0)


def seconds_until(limiter: AsyncLimiter, amount: float) -> float:
    """Seconds until the bucket has room for ``amount`` more (0 when it has now)."""
    needed = level(limiter) + amount - limiter.max_rate
    return max(needed, 0.0) * limiter.time_period / limiter.max_rate


class OpenCounter:
    """Requests open right now per key (entries vanish at zero, so memory follows load)."""

    __slots__ = ("_open", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._open)

    def try_enter(self, key: str) -> bool:
        """Count one more open request for ``key`` unless it is at the limit."""
        current = self._open.get(key, 0)
        if current >= self.limit:
            return False
        self._open[key] = current + 1
        return True

    def leave(self, key: str) -> None:
        """Count one request of ``key`` finished."""
        current = self._open.get(key, 0) - 1
        if current > 0:
            self._open[key] = current
        else:
            self._open.pop(key, None)

    def count(self, key: str) -> int:
        """Requests of ``key`` open now."""
        return self._open.get(key, 0)
