"""The extension manager: discovers, loads, mounts, watches and converges extensions."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from luban.auth.user import UserInfo
from luban.config import ExtensionsConfig, deep_merge
from luban.extensions import desired
from luban.extensions.desired import ClusterDesiredState, DesiredStateError
from luban.extensions.guards import RouteLimits, declare_limits
from luban.extensions.kubeclient import CallerKubeClient
from luban.extensions.metrics import ExtensionMetrics
from luban.extensions.resourcequeries import CallerResourceQueries
from luban.extensions.slot import ExtensionSlot, SlotOptions, State, Validator
from luban.extensions.sources import (
    ExtensionSource,
    digest,
    discover_entry_points,
    environment_dirs,
    parse_ref,
)
from luban.extensions.ui import UIBundle
from luban.extensions.version import Services
from luban.extensions.watch import COMPILED_SUFFIXES, Watcher, distribution_filter
from luban.proxy.upstream import Upstream
from luban.status import send_status
from luban_sdk import Extension
from luban_sdk.context import KubeClient, ResourceQueries

logger = logging.getLogger("luban.extensions")

RESERVED_GROUPS = frozenset({desired.GROUP})
_CLUSTER_ERRORS = (DesiredStateError, aiohttp.ClientError, OSError, TimeoutError)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for part in version.split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


class ExtensionManager:
    """Owns every extension slot of this replica and the tasks that keep them current."""

    def __init__(
        self,
        config: ExtensionsConfig,
        registry: CollectorRegistry,
        kernel_version: str,
    ) -> None:
        self.config = config
        self.kernel_version = kernel_version
        self.metrics = ExtensionMetrics(registry)
        self.limits: RouteLimits | None = None
        self.upstream: Upstream | None = None
        self.replica = config.replica_id or f"{socket.gethostname()}-{os.getpid()}"
        self.slots: dict[str, ExtensionSlot] = {}
        self.claims: dict[tuple[str, str], str] = {}
        self.cluster: ClusterDesiredState | None = None
        self.wanted: dict[str, bool] = {}
        self.overrides: dict[str, Mapping[str, Any]] = {}
        self.reload_marks: dict[str, str] = {}
        self.admin: ASGIApp | None = None
        self.resources_app: ASGIApp | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._file_watches: list[Watcher] = []
        self._environment_watch: Watcher | None = None
        self._environment_watched = False
        self._reloads: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._started = False
        self._dirty: set[str] = set()
        self._report = asyncio.Event()
        self._services = Services(
            metrics=self.metrics, kube=self._kube_client, resources=self._resource_queries
        )

    # -- wiring -------------------------------------------------------------------------------

    def _resource_queries(self, user: UserInfo | None) -> ResourceQueries | None:
        if self.resources_app is None:
            return None
        return CallerResourceQueries(self.resources_app, user)

    def _kube_client(self, user: UserInfo | None) -> KubeClient | None:
        if self.upstream is None:
            return None
        return CallerKubeClient(self.upstream, user)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        # Nothing awaits these: an error would otherwise vanish with the task.
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("extensions: task %s failed", task.get_name(), exc_info=exc)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, upstream: Upstream | None) -> None:
        """Discover, reconcile with the cluster's desired state, load, then start watching."""
        self.upstream = upstream
        if upstream is not None:
            self.cluster = ClusterDesiredState(upstream)
            try:
                await self.cluster.ensure_crd()
            except _CLUSTER_ERRORS as exc:
                # Serve extensions anyway, from the config alone, rather than not at all.
                logger.error(
                    "extensions: no Extension CRD (%s); desired state is local to this replica",
                    exc,
                )
                self.cluster = None
        sources = sorted(self._discover(), key=lambda s: s.name)
        # Imports run in name order (who claims a contested prefix is deterministic);
        # startups overlap.
        gates = [asyncio.Event() for _ in sources]
        await asyncio.gather(
            *(
                self._add(source, gates[i - 1] if i else None, gates[i])
                for i, source in enumerate(sources)
            )
        )
        self._started = True
        self._watch_files()
        if self.cluster is not None:
            self._spawn(self.cluster.watch(self._on_object), "extensions-desired-watch")
            self._spawn(self._reporter(), "extensions-status-reporter")
        if self.config.watch_environment:
            self._environment_watch = Watcher(
                "extensions-environment-watch",
                [*environment_dirs(), *self.config.environment_paths],
                self._on_environment,
                step_ms=self.config.debounce_milliseconds,
                recursive=False,
                watch_filter=distribution_filter,
                on_ready=self._environment_ready,
            )
            self._environment_watch.start()

    async def stop(self) -> None:
        """Stop watching, then drain and shut down every extension."""
        watchers = [*self._file_watches]
        if self._environment_watch is not None:
            watchers.append(self._environment_watch)
        await asyncio.gather(*(w.stop() for w in watchers))
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(slot.close() for slot in self.slots.values()))
        if self.cluster is not None:
            await self._flush_reports()

    # -- discovery ----------------------------------------------------------------------------

    def _discover(self) -> list[ExtensionSource]:
        found: dict[str, ExtensionSource] = {}
        if self.config.entry_points:
            for source in discover_entry_points():
                found[source.name] = source
        for entry in self.config.sources:
            source = parse_ref(entry)
            found[source.name] = source
        return list(found.values())

    async def _add(
        self,
        source: ExtensionSource,
        after: asyncio.Event | None = None,
        imported: asyncio.Event | None = None,
    ) -> None:
        slot = ExtensionSlot(
            source=source,
            services=self._services,
            validator=Validator(check=self._check, config=self._config_for),
            options=SlotOptions(
                startup_timeout=self.config.startup_timeout_seconds,
                drain_timeout=self.config.drain_timeout_seconds,
                leak_check=self.config.leak_check,
            ),
            on_change=self._changed,
        )
        self.slots[source.name] = slot
        enabled = source.name not in self.config.disabled
        if self.cluster is not None:
            try:
                obj = await self.cluster.ensure(
                    source.name, enabled, {"luban.io/distribution": source.distribution or "none"}
                )
                self._remember(obj)
                enabled = self.wanted[source.name]
            except _CLUSTER_ERRORS as exc:
                logger.warning("extension %s: desired state unavailable: %s", source.name, exc)
        self.wanted[source.name] = enabled
        if after is not None:
            await after.wait()
        if enabled:
            await slot.load(imported=imported)
        else:
            if imported is not None:
                imported.set()
            await slot.disable()
        if self._started:
            self._watch_files()

    def _watch_files(self) -> None:
        """(Re)start watching every extension's code.

        New watchers catch up once in place: an edit pending in an old one's batch, or made
        while none watched, is not lost.
        """
        if not self.config.hot_reload:
            return
        for old in self._file_watches:
            old.cancel()
            self._spawn(old.stop(), f"{old.name}-stop")
        roots = {path: name for name, slot in self.slots.items() for path in slot.source.paths()}
        modules = [path for path in roots if path.is_file()]

        async def changed(paths: set[Path]) -> None:
            touched: dict[str, set[Path]] = {}
            for path in paths:
                for root, name in roots.items():
                    if path == root or path.is_relative_to(root):
                        touched.setdefault(name, set()).add(path)
            for name, changed_paths in touched.items():
                self._files_changed(name, changed_paths)

        step = self.config.debounce_milliseconds
        self._file_watches = [
            Watcher(
                "extensions-file-watch",
                [path for path in roots if path not in modules],
                changed,
                step_ms=step,
                on_ready=self._catch_up,
            )
        ]
        if modules:
            # A single-module extension: watch its directory, not the file. An editor's
            # atomic save replaces the file, and a watch on the file ends with the first save.
            self._file_watches.append(
                Watcher(
                    "extensions-module-watch",
                    sorted({path.parent for path in modules}),
                    changed,
                    step_ms=step,
                    recursive=False,
                    on_ready=self._catch_up,
                )
            )
        for watcher in self._file_watches:
            watcher.start()

    async def _catch_up(self) -> None:
        """Reload every extension whose files differ from what its last import read."""
        for name, slot in list(self.slots.items()):
            if slot.source_digest is None or not self.wanted.get(name, True):
                continue
            if await asyncio.to_thread(digest, slot.source.paths()) != slot.source_digest:
                logger.info("extension %s: changed while unwatched; reloading", name)
                self._request_reload(name)

    def _files_changed(self, name: str, paths: set[Path]) -> None:
        slot = self.slots.get(name)
        if slot is None:
            return
        compiled = sorted(str(p) for p in paths if p.suffix in COMPILED_SUFFIXES)
        if compiled:
            slot.mark_restart_required(f"changed {compiled[0]}: restart the kernel to apply")
            if self.config.restart_when_unswappable:
                # A graceful stop (drain, shutdown hooks); the supervisor starts a fresh
                # process: uvicorn replaces a worker, Kubernetes restarts the container.
                logger.warning("extension %s: restarting the worker to apply %s", name, compiled[0])
                os.kill(os.getpid(), signal.SIGTERM)
            return
        self._request_reload(name)

    def _request_reload(self, name: str) -> None:
        """Reload ``name`` soon; writes arriving during a swap coalesce into one more."""
        task = self._reloads.get(name)
        if task is not None and not task.done():
            self._again.add(name)
            return
        self._reloads[name] = self._spawn(self._reload_loop(name), f"reload-{name}")

    async def _reload_loop(self, name: str) -> None:
        while True:
            self._again.discard(name)
            slot = self.slots.get(name)
            if slot is None or not self.wanted.get(name, True):
                return
            await slot.load()
            if name not in self._again:
                return

    async def _remove(self, name: str) -> None:
        slot = self.slots.pop(name, None)
        if slot is None:
            return
        self._watch_files()
        await slot.close()
        self.claims = {k: v for k, v in self.claims.items() if v != name}
        self.metrics.forget(name)
        logger.info("extension %s removed (its distribution is gone)", name)

    async def _environment_ready(self) -> None:
        # After a restart of the watch (not at the first start, which follows a discovery).
        if self._environment_watched:
            await self.rediscover()
        self._environment_watched = True

    async def _on_environment(self, changes: set[Path]) -> None:
        await self.rediscover()
        # Installers write metadata files after creating the dist-info directory.
        await asyncio.sleep(1.0)
        await self.rediscover()

    async def rediscover(self) -> None:
        """Plug in newly installed distributions, unplug removed ones, reload upgraded ones."""
        sources = {s.name: s for s in await asyncio.to_thread(self._discover)}
        for name in [n for n in self.slots if n not in sources]:
            await self._remove(name)
        for name, source in sources.items():
            slot = self.slots.get(name)
            if slot is None:
                logger.info("extension %s installed (%s)", name, source.distribution)
                await self._add(source)
            elif slot.source != source:
                slot.source = source
                if self.wanted.get(name, True):
                    await slot.load()

    # -- validation ---------------------------------------------------------------------------

    def _check(self, source: ExtensionSource, ext: Extension) -> None:
        if ext.name != source.name:
            raise ValueError(
                f"entry point {source.name!r} points at an Extension named {ext.name!r}"
            )
        if _version_tuple(ext.min_kernel_version) > _version_tuple(self.kernel_version):
            raise ValueError(
                f"needs kernel >= {ext.min_kernel_version}, this is {self.kernel_version}"
            )
        if ext.api_group in RESERVED_GROUPS:
            raise ValueError(f"{ext.prefix} is reserved for the kernel")
        seen: set[tuple[str, str]] = set()
        for route in ext.routes:
            for method in ("WS",) if route.websocket else route.methods:
                if (route.path, method) in seen:
                    raise ValueError(f"route {method} {route.path} is declared twice")
                seen.add((route.path, method))
        key = (ext.api_group, ext.version)
        owner = self.claims.get(key)
        if owner is not None and owner != ext.name:
            raise ValueError(
                f"route collision: {ext.prefix} is already served by extension {owner!r}"
            )
        for other_key, other in list(self.claims.items()):
            if other == ext.name and other_key != key:
                del self.claims[other_key]
        self.claims[key] = ext.name

    def _config_for(self, name: str) -> Mapping[str, Any]:
        return deep_merge(self.config.for_extension(name), self.overrides.get(name, {}))

    # -- desired state ------------------------------------------------------------------------

    def _remember(self, obj: Mapping[str, Any]) -> tuple[bool, bool]:
        """Record an object's desired state; ``(config changed, reload requested)``."""
        name = obj["metadata"]["name"]
        spec = obj.get("spec") or {}
        self.wanted[name] = bool(spec.get("enabled", True))
        config = spec.get("config") or {}
        config_changed = self.overrides.get(name, {}) != config
        self.overrides[name] = config
        mark = (obj["metadata"].get("annotations") or {}).get(desired.RELOAD_ANNOTATION, "")
        reload = name in self.reload_marks and self.reload_marks[name] != mark
        self.reload_marks[name] = mark
        return config_changed, reload

    async def _on_object(self, obj: Mapping[str, Any]) -> None:
        name = obj["metadata"]["name"]
        config_changed, reload = self._remember(obj)
        if name in self.slots:
            self._spawn(self._converge(name, config_changed or reload), f"converge-{name}")

    async def _converge(self, name: str, reload: bool = False) -> None:
        slot = self.slots.get(name)
        if slot is None:
            return
        enabled = self.wanted.get(name, True)
        if not enabled and slot.status.state is not State.DISABLED:
            await slot.disable()
        elif enabled and (slot.status.state is State.DISABLED or reload):
            await slot.load()

    def _changed(self, slot: ExtensionSlot) -> None:
        if slot.current is not None:
            declare_limits(self.limits, slot.current.extension)
        elif self.limits is not None:
            self.limits.remove_route_defaults(slot.name)
        self._dirty.add(slot.name)
        self._report.set()

    async def _reporter(self) -> None:
        while True:
            await self._report.wait()
            self._report.clear()
            await self._flush_reports()
            await asyncio.sleep(0.05)

    async def _flush_reports(self) -> None:
        assert self.cluster is not None
        dirty, self._dirty = self._dirty, set()
        for name in dirty:
            slot = self.slots.get(name)
            if slot is None:
                continue
            try:
                await self.cluster.report(name, self.replica, slot.status.as_dict())
            except _CLUSTER_ERRORS as exc:
                logger.debug("extension %s: status report failed: %s", name, exc)

    # -- admin operations ---------------------------------------------------------------------

    async def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable ``name`` everywhere (the cluster object) or locally."""
        if self.cluster is not None:
            obj = await self.cluster.set_enabled(name, enabled)
            self._remember(obj)
        else:
            self.wanted[name] = enabled
        await self._converge(name)

    async def reload(self, name: str) -> bool:
        """Reload ``name`` on every replica (via the object) or locally; ``False`` on failure."""
        slot = self.slots[name]
        if self.cluster is not None:
            obj = await self.cluster.request_reload(name)
            self._remember(obj)
        if not self.wanted.get(name, True):
            return False
        return await slot.load()

    def describe(self, name: str) -> dict[str, Any]:
        """The ``Extension`` object as the admin API shows it (this replica's state merged in)."""
        slot = self.slots[name]
        base: dict[str, Any] = {}
        if self.cluster is not None:
            base = dict(self.cluster.objects.get(name) or {})
        status = dict(base.get("status") or {})
        replicas = dict(status.get("replicas") or {})
        replicas[self.replica] = slot.status.as_dict()
        current = slot.current.extension if slot.current is not None else None
        return {
            "apiVersion": f"{desired.GROUP}/{desired.VERSION}",
            "kind": "Extension",
            "metadata": base.get("metadata") or {"name": name},
            "spec": {**(base.get("spec") or {}), "enabled": self.wanted.get(name, True)},
            "status": {
                **status,
                "replicas": replicas,
                "replica": self.replica,
                "distribution": slot.source.distribution,
                "displayName": current.display_name if current else "",
                "description": current.description if current else "",
                "apiGroup": slot.status.api_group,
                "version": slot.status.api_version,
            },
        }

    # -- routing ------------------------------------------------------------------------------

    def route_for(self, path: str) -> ASGIApp | None:
        """The ASGI app that owns ``path``, or ``None`` when no extension claims it."""
        if path.startswith("/kapis/"):
            parts = path.split("/", 4)
            if len(parts) < 4:
                return None
            if parts[2] in RESERVED_GROUPS:
                return self.admin
            name = self.claims.get((parts[2], parts[3]))
            slot = self.slots.get(name) if name is not None else None
            return _SlotApp(slot) if slot is not None else None
        if path.startswith("/dist/"):
            name = path.split("/", 3)[2]
            slot = self.slots.get(name)
            if slot is None or slot.current is None or slot.current.extension.ui_dir is None:
                return _NotFound(f"no UI bundle for extension {name!r}")
            return UIBundle(name, slot.current.extension.ui_dir)
        return None


class _SlotApp:
    """Serves one request with whatever version the slot holds at this instant."""

    __slots__ = ("slot",)

    def __init__(self, slot: ExtensionSlot) -> None:
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        version = self.slot.current
        if version is not None:
            await version(scope, receive, send)
            return
        state = self.slot.status.state
        prefix = f"/kapis/{self.slot.status.api_group}/{self.slot.status.api_version}"
        scope["luban.route"] = prefix + "/**"
        code = 404 if state is State.DISABLED else 503
        message = (
            f"extension {self.slot.name} is disabled"
            if code == 404
            else f"extension {self.slot.name} is not available ({state}): "
            + self.slot.status.message
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008 if code == 404 else 1013})
            return
        await send_status(send, code, message)


class _NotFound:
    def __init__(self, message: str) -> None:
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_status(send, 404, self.message)
