"""A flood of distinct keys cannot grow memory without bound (LRU of ``maxKeys`` buckets)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.procs import REPO

FLOOD = textwrap.dedent(
    """
    import asyncio, gc
    from luban.ratelimit.config import PolicyConfig
    from luban.ratelimit.limits import RateLimits

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    async def main():
        limits = RateLimits([PolicyConfig(name="flood", key="ip", rate="10/second")])
        policy = limits.policy("flood")
        gc.collect()
        before = rss_mb()
        for i in range(1_000_000):
            bucket, _ = policy.buckets.get(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:{i}")
            await bucket.acquire()
        gc.collect()
        print(rss_mb() - before, len(policy.buckets))

    asyncio.run(main())
    """
)


def test_a_million_distinct_keys_stay_under_50_mb() -> None:
    result = subprocess.run(
        [sys.executable, "-c", FLOOD],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=REPO,
    )
    growth, held = result.stdout.split()
    assert int(held) == 32_768  # the default maxKeys
    assert float(growth) < 50, f"RSS grew {growth} MB"
