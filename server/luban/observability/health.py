"""``/healthz``, ``/livez`` and ``/readyz`` in the Kubernetes API server's style.

Parts of the kernel register named checks; ``/readyz`` answers 200 only when every
readiness check passes. ``?verbose`` lists each check; ``?exclude=name`` skips one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

Check = Callable[[], Awaitable[str | None]]
"""A check returns ``None`` when healthy, otherwise a short reason."""

logger = logging.getLogger(__name__)


async def _ping() -> str | None:
    return None


class Health:
    """Named liveness and readiness checks, and the endpoints that report them."""

    def __init__(self) -> None:
        self.liveness: dict[str, Check] = {"ping": _ping}
        self.readiness: dict[str, Check] = {"ping": _ping}

    def add_readiness(self, name: str, check: Check) -> None:
        """Register a readiness check (also counted by ``/healthz``)."""
        self.readiness[name] = check

    def remove_readiness(self, name: str) -> None:
        """Forget a readiness check."""
        self.readiness.pop(name, None)

    def checks_for(self, kind: str) -> dict[str, Check]:
        """The checks behind ``livez``, ``readyz`` or ``healthz``."""
        if kind == "livez":
            return self.liveness
        if kind == "readyz":
            return self.readiness
        return {**self.liveness, **self.readiness}

    async def failures(self, kind: str) -> list[tuple[str, str]]:
        """(name, reason) of every failing check of ``kind``; empty when healthy."""
        problems: list[tuple[str, str]] = []
        for name, check in self.checks_for(kind).items():
            try:
                problem = await check()
            except Exception:
                logger.exception("health check %s raised", name)
                problem = "check raised an error"
            if problem is not None:
                problems.append((name, problem))
        return problems

    async def _report(self, request: Request, kind: str, checks: dict[str, Check]) -> Response:
        excluded = set(request.query_params.getlist("exclude"))
        lines: list[str] = []
        failed = False
        for name, check in checks.items():
            if name in excluded:
                lines.append(f"[+]{name} excluded: ok")
                continue
            try:
                problem = await check()
            except Exception:
                logger.exception("health check %s raised", name)
                problem = "check raised an error"
            if problem is None:
                lines.append(f"[+]{name} ok")
            else:
                failed = True
                lines.append(f"[-]{name} failed: {problem}")
        verbose = "verbose" in request.query_params
        if failed:
            lines.append(f"{kind} check failed")
            return PlainTextResponse("\n".join(lines) + "\n", status_code=503)
        body = "\n".join([*lines, f"{kind} check passed"]) + "\n" if verbose else "ok"
        return PlainTextResponse(body)

    async def livez(self, request: Request) -> Response:
        """``GET /livez``: the process serves requests."""
        return await self._report(request, "livez", self.liveness)

    async def readyz(self, request: Request) -> Response:
        """``GET /readyz``: every part is ready."""
        return await self._report(request, "readyz", self.readiness)

    async def healthz(self, request: Request) -> Response:
        """``GET /healthz``: liveness and readiness together (the legacy endpoint)."""
        return await self._report(request, "healthz", {**self.liveness, **self.readiness})
