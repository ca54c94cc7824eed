"""One extension's runtime: explicit states, loading, atomic hot swap, draining and leak checks."""

from __future__ import annotations

import asyncio
import datetime
import enum
import gc
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError

from luban.extensions.freshimport import forget, import_fresh, restore
from luban.extensions.sources import ExtensionSource, describe_error, digest
from luban.extensions.version import LoadedVersion, Services
from luban_sdk import Extension

logger = logging.getLogger("luban.extensions")

LEAK_CHECK_DELAYS = (0.0, 0.5, 2.0)


class State(enum.StrEnum):
    """What an extension is doing on this replica."""

    LOADING = "Loading"
    RUNNING = "Running"
    FAILED = "Failed"
    DISABLED = "Disabled"


class LoadError(Exception):
    """A new version could not be imported, validated or started."""


@dataclass
class RuntimeStatus:
    """This replica's view of one extension (reported in the ``Extension`` object's status)."""

    state: State = State.LOADING
    version: str = ""
    message: str = ""
    last_reload: str = ""
    leak: str = ""
    restart_required: str = ""
    api_group: str = ""
    api_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The camelCase shape used in API objects."""
        return {
            "state": str(self.state),
            "version": self.version,
            "lastError": self.message,
            "lastReloadTime": self.last_reload,
            "leak": self.leak,
            "restartRequired": self.restart_required,
        }


@dataclass(frozen=True)
class SlotOptions:
    """Timeouts and checks from the kernel's ``extensions`` config."""

    startup_timeout: float = 10.0
    drain_timeout: float = 60.0
    leak_check: bool = True


@dataclass
class Validator:
    """Kernel-side checks of a freshly imported declaration."""

    check: Callable[[ExtensionSource, Extension], None]
    config: Callable[[str], Mapping[str, Any]]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ExtensionSlot:
    """Holds the version serving an extension and swaps it for a new one safely."""

    source: ExtensionSource
    services: Services
    validator: Validator
    options: SlotOptions
    on_change: Callable[[ExtensionSlot], None]
    current: LoadedVersion | None = None
    status: RuntimeStatus = field(default_factory=RuntimeStatus)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    retiring: set[asyncio.Task[None]] = field(default_factory=set)
    # What the last import attempt read (successful or not): a watcher catching up after a
    # restart reloads when the files no longer match it.
    source_digest: str | None = None

    @property
    def name(self) -> str:
        """The extension's name (its entry point name)."""
        return self.source.name

    def _set(self, state: State, message: str | None = None) -> None:
        self.status.state = state
        if message is not None:
            self.status.message = message
        self.services.metrics.set_state(self.name, str(state))
        self.on_change(self)

    async def load(
        self, after: asyncio.Event | None = None, imported: asyncio.Event | None = None
    ) -> bool:
        """Import, validate and start a new version, then switch to it. ``False`` on failure.

        A failure leaves the serving version (if any) in place and records the error.
        ``after``/``imported`` order the import phase of several slots (deterministic
        claims when two extensions want the same prefix); startups still overlap.
        """
        async with self.lock:
            started = time.perf_counter()
            if self.current is None:
                self._set(State.LOADING)
            try:
                new = await self._prepare(after, imported)
            except LoadError as exc:
                self.services.metrics.reloads.labels(self.name, "failed").inc()
                self.status.last_reload = _now()
                logger.warning("extension %s: load failed: %s", self.name, exc)
                self._set(State.RUNNING if self.current else State.FAILED, str(exc))
                return False
            old, self.current = self.current, new
            ext = new.extension
            self.status.version = ext.extension_version or self.source.distribution_version
            self.status.api_group, self.status.api_version = ext.api_group, ext.version
            self.status.last_reload = _now()
            self.status.restart_required = ""
            self.services.metrics.reloads.labels(self.name, "ok").inc()
            self.services.metrics.swap_duration.labels(self.name).observe(
                time.perf_counter() - started
            )
            self._set(State.RUNNING, "")
            logger.info(
                "extension %s: %s %s in %.0f ms",
                self.name,
                "swapped to" if old else "loaded",
                self.status.version or "new version",
                (time.perf_counter() - started) * 1000,
            )
            if old is not None:
                self._retire(old)
            return True

    async def _prepare(
        self, after: asyncio.Event | None, imported: asyncio.Event | None
    ) -> LoadedVersion:
        try:
            if after is not None:
                await after.wait()
            obj, modules, config = await self._import()
        finally:
            if imported is not None:
                imported.set()
        roots = self.source.paths()
        try:
            version = LoadedVersion(self.source, obj, modules, config, self.services)
        except Exception as exc:
            # Building its routes can still fail (the SDK checks what it can at declaration).
            self._discard(modules)
            raise LoadError(describe_error(exc, roots)) from None
        try:
            await asyncio.wait_for(version.startup(), self.options.startup_timeout)
        except asyncio.CancelledError:
            await version.shutdown()
            self._discard(modules)
            raise
        except Exception as exc:
            await version.shutdown()
            self._discard(modules)
            if isinstance(exc, TimeoutError):
                raise LoadError(
                    f"startup did not finish within {self.options.startup_timeout:g} s"
                ) from None
            raise LoadError("startup failed: " + describe_error(exc, roots)) from None
        return version

    async def _import(self) -> tuple[Extension, dict[str, ModuleType], BaseModel | None]:
        roots = self.source.paths()
        # Before the import: an edit landing while it runs then no longer matches the digest.
        self.source_digest = await asyncio.to_thread(digest, roots)
        try:
            obj, modules = await asyncio.to_thread(
                import_fresh, self.source.ref, self.source.packages
            )
        except BaseException as exc:
            if not isinstance(exc, Exception):
                raise
            raise LoadError(describe_error(exc, roots)) from None
        config = None
        try:
            if not isinstance(obj, Extension):
                raise TypeError(f"{self.source.ref} is a {type(obj).__name__}, not an Extension")
            self.validator.check(self.source, obj)
            values = self.validator.config(self.name)
            if obj.config_model is not None:
                config = obj.config_model.model_validate(dict(values))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            self._discard(modules)
            raise LoadError(f"config extensions.{self.name}.{where}: {error['msg']}") from None
        except Exception as exc:
            self._discard(modules)
            raise LoadError(describe_error(exc, roots)) from None
        return obj, modules, config

    def _discard(self, modules: dict[str, ModuleType]) -> None:
        """Drop a failed version's modules; the serving version's come back."""
        forget(self.source.packages, modules)
        if self.current is not None:
            restore(self.current.modules)

    async def disable(self, state: State = State.DISABLED) -> None:
        """Stop serving (new requests get 404), drain and shut down the current version."""
        async with self.lock:
            old, self.current = self.current, None
            self._set(state)
            if old is not None:
                forget(self.source.packages, old.modules)
                self._retire(old)

    def mark_restart_required(self, why: str) -> None:
        """A change that cannot be swapped in-process (compiled module, dependencies)."""
        self.status.restart_required = why
        self.on_change(self)

    def _retire(self, old: LoadedVersion, check_leaks: bool = True) -> None:
        task = asyncio.create_task(
            self._drain_and_check(old, check_leaks), name=f"retire-{self.name}"
        )
        self.retiring.add(task)
        task.add_done_callback(self.retiring.discard)

    async def _drain_and_check(self, old: LoadedVersion, check_leaks: bool) -> None:
        try:
            await asyncio.wait_for(old.drained(), self.options.drain_timeout)
        except TimeoutError:
            logger.warning(
                "extension %s: %d requests still running after %g s; shutting down anyway",
                self.name,
                old.in_flight,
                self.options.drain_timeout,
            )
        await old.shutdown()
        if not (self.options.leak_check and check_leaks):
            return
        refs: list[weakref.ref[Any]] = [weakref.ref(old.extension)]
        refs += [weakref.ref(m) for m in old.modules.values()]
        old.modules.clear()
        del old
        alive: list[Any] = []
        for delay in LEAK_CHECK_DELAYS:
            # References can linger briefly (a connection's last request, a finishing task).
            await asyncio.sleep(delay)
            gc.collect()
            alive = [r() for r in refs if r() is not None]
            if not alive:
                break
            alive.clear()
        alive = [r() for r in refs if r() is not None]
        if alive:
            what = getattr(alive[0], "__name__", type(alive[0]).__name__)
            self.status.leak = f"{len(alive)} objects of a swapped-out version still alive ({what})"
            self.services.metrics.leaks.labels(self.name).inc()
            logger.warning("extension %s: %s", self.name, self.status.leak)
            alive.clear()
            self.on_change(self)
        elif self.status.leak:
            self.status.leak = ""
            self.on_change(self)

    async def close(self) -> None:
        """Kernel shutdown: stop serving, drain, run shutdown hooks, wait for all of it."""
        async with self.lock:
            old, self.current = self.current, None
            if old is not None:
                self._retire(old, check_leaks=False)
        if self.retiring:
            await asyncio.gather(*self.retiring, return_exceptions=True)
