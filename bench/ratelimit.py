"""Benchmark ``ratelimit``: accuracy under overload and the rate-limit stage's per-request cost.

Both run in-process on the stage itself (no sockets: the quantities are the limiter's own).
Accuracy: requests offered at ``--overload`` times a policy's rate, evenly paced on the event
loop, for ``--duration`` seconds; the accepted rate is compared with the configured one.
Overhead: the same trivial ASGI app called directly and through ``RateLimitMiddleware`` in
several configurations, alternating, best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.lib.registry import BenchmarkError
from bench.lib.report import Report, Row
from luban.auth.user import UserInfo
from luban.ratelimit.config import MatchConfig, PolicyConfig
from luban.ratelimit.limits import RateLimits
from luban.ratelimit.middleware import RateLimitMiddleware

DESCRIPTION = "rate limiter: accepted rate at 5x offered load, per-request cost of the stage"

PATH = "/kapis/demo.io/v1/namespaces/default/things"
BASELINE = "route without the stage"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--duration``, ``--rate``, ``--overload``, ``--requests``, ``--rounds``."""
    parser.add_argument("--duration", type=float, default=30.0, help="accuracy run, seconds")
    parser.add_argument("--rate", type=int, default=200, help="policy rate per second")
    parser.add_argument("--overload", type=float, default=5.0, help="offered / configured")
    parser.add_argument("--requests", type=int, default=200_000, help="calls per overhead run")
    parser.add_argument("--rounds", type=int, default=5, help="overhead runs per case")


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> Message:
    return {"type": "http.request", "body": b""}


def _scope(user: str = "alice") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": PATH,
        "headers": [(b"host", b"kernel"), (b"authorization", b"Bearer x")],
        "client": ("127.0.0.1", 40000),
        "luban.user": UserInfo(name=user),
    }


async def _accuracy(rate: int, overload: float, duration: float) -> dict[str, float]:
    limits = RateLimits(
        [PolicyConfig(name="accuracy", match=MatchConfig(path="/kapis/**"), rate=f"{rate}/second")]
    )
    codes: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            codes.append(message["status"])

    stage = RateLimitMiddleware(_app, limits)
    interval = 1.0 / (rate * overload)
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while (now := loop.time()) - start < duration:
        due = int((now - start) / interval) + 1
        while sent < due:
            await stage(_scope(), _receive, send)
            sent += 1
        await asyncio.sleep(interval)
    elapsed = loop.time() - start
    accepted = codes.count(200)
    steady = (accepted - rate) / elapsed  # without the initial full bucket
    return {
        "offered/s": sent / elapsed,
        "accepted/s": accepted / elapsed,
        "error %": 100 * (accepted / elapsed - rate) / rate,
        "steady error %": 100 * (steady - rate) / rate,
        "rejected": codes.count(429),
    }


def _overhead_cases() -> list[tuple[str, RateLimits | None]]:
    huge = "1000000000/second"
    return [
        ("no policies", RateLimits()),
        (
            "20 policies, none matching",
            RateLimits(
                [
                    PolicyConfig(
                        name=f"p{i}", match=MatchConfig(path=f"/kapis/other{i}.io/**"), rate=huge
                    )
                    for i in range(20)
                ]
            ),
        ),
        (
            "1 matching policy (per user)",
            RateLimits([PolicyConfig(name="p", match=MatchConfig(path="/kapis/**"), rate=huge)]),
        ),
        (
            "1 matching policy, headers off",
            RateLimits(
                [PolicyConfig(name="p", match=MatchConfig(path="/kapis/**"), rate=huge)],
                headers="never",
            ),
        ),
        (
            "3 matching policies (user, ip, global)",
            RateLimits(
                [
                    PolicyConfig(name="u", match=MatchConfig(path="/kapis/**"), rate=huge),
                    PolicyConfig(
                        name="i", match=MatchConfig(path="/kapis/**"), rate=huge, key="ip"
                    ),
                    PolicyConfig(
                        name="g",
                        match=MatchConfig(path="/kapis/demo.io/v1/namespaces/{ns}/things"),
                        rate=huge,
                        key="global",
                    ),
                ]
            ),
        ),
    ]


async def _time_calls(app: ASGIApp, requests: int) -> float:
    async def send(message: Message) -> None:
        return None

    scopes = [_scope() for _ in range(1000)]
    gc.collect()
    started = time.perf_counter()
    for i in range(requests):
        await app(scopes[i % 1000], _receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def _overhead(requests: int, rounds: int) -> list[Row]:
    rows: list[Row] = []
    for label, limits in _overhead_cases():
        assert limits is not None
        stage = RateLimitMiddleware(_app, limits)
        base: list[float] = []
        subject: list[float] = []
        for round_ in range(rounds):
            order: list[tuple[ASGIApp, list[float]]] = [(stage, subject), (_app, base)]
            for app, into in order if round_ % 2 == 0 else reversed(order):
                into.append(await _time_calls(app, requests))
        best_subject, best_base = min(subject), min(base)
        rows.append(
            Row(
                label,
                "with rate-limit stage",
                {"us/request": best_subject, "overhead us": best_subject - best_base},
                baseline=BASELINE,
            )
        )
        rows.append(Row(label, BASELINE, {"us/request": best_base, "overhead us": 0.0}))
    return rows


def run(args: argparse.Namespace) -> Report:
    """Accuracy first (it sleeps, so it is not disturbed by the CPU-bound timing loops)."""
    if args.duration <= 0 or args.rate <= 0 or args.overload < 1:
        raise BenchmarkError("--duration and --rate must be positive, --overload at least 1")
    accuracy = asyncio.run(_accuracy(args.rate, args.overload, args.duration))
    rows = [
        Row(
            f"accuracy: {args.rate}/s policy, {args.overload:g}x offered, {args.duration:g} s",
            "rate-limit stage",
            accuracy,
        )
    ]
    rows += asyncio.run(_overhead(args.requests, args.rounds))
    return Report(
        title="Rate limiting: accuracy and per-request overhead",
        rows=rows,
        ratio_metric="us/request",
        notes=[
            "In-process: the ASGI stage called directly with a prepared scope (no sockets, "
            "no HTTP parsing), so the overhead is the stage's own cost per request.",
            "error % counts the initial full bucket (burst = rate), which adds burst/duration "
            "to the accepted rate; steady error % leaves it out.",
            "Overhead cases use a rate nobody reaches, so every request is admitted; 'headers "
            "off' is rateLimitHeaders: never (no RateLimit fields on admitted responses).",
            "Best of --rounds, subject and baseline alternating; the 2-CPU machine is shared.",
        ],
        parameters=vars(args),
    )
