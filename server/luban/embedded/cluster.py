"""Starting and stopping an embedded cluster: store, controllers and an HTTPS server.

``EmbeddedCluster`` is the Python API (an async context manager) used by ``luban cluster
serve``, by ``luban serve`` when no kubeconfig is found, and by tests::

    async with EmbeddedCluster() as cluster:          # in memory, ephemeral port
        print(cluster.url, cluster.token, cluster.kubeconfig)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from luban.embedded.api import ClusterOptions, ResourceAPI
from luban.embedded.app import ClusterApp
from luban.embedded.auth.gate import ClusterSecurity
from luban.embedded.auth.reviews import REVIEW_TYPES
from luban.embedded.controllers import Controllers
from luban.embedded.discovery import Discovery
from luban.embedded.objects import now_rfc3339
from luban.embedded.openapi import OpenAPIDocuments
from luban.embedded.registry import NAMESPACE_KEY, Registry
from luban.embedded.store import Store, Write
from luban.embedded.watch import WatchHub
from luban.files import ensure_private_dir, write_private
from luban.kube.resources import BUILTIN_TYPES
from luban.kubeconfig import client_host, write_kubeconfig
from luban.tls import ensure_serving_certificate

logger = logging.getLogger("luban.embedded")

DATABASE_FILE = "cluster.db"
KUBECONFIG_FILE = "cluster.kubeconfig"
TOKEN_FILE = "cluster-token"  # noqa: S105 - a file name, not a secret
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to whoever embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now_rfc3339(),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


class EmbeddedCluster:
    """A Kubernetes-compatible API server on SQLite (or in memory), served over HTTPS."""

    def __init__(
        self,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        options: ClusterOptions | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.tls = tls
        self.options = options or ClusterOptions()
        self.store = Store(
            data_dir / DATABASE_FILE if data_dir else None, self.options.watch_window
        )
        self.registry = Registry((*BUILTIN_TYPES, *REVIEW_TYPES))
        self.hub = WatchHub(self.store)
        self.api = ResourceAPI(self.store, self.hub, self.registry, self.options)
        self.discovery = Discovery(self.registry)
        self.openapi = OpenAPIDocuments(self.registry.all())
        self.registry.on_change(lambda: self.openapi.set_types(self.registry.all()))
        self.controllers = Controllers(self.store, self.registry, self.hub)
        self.token = ""
        self.security: ClusterSecurity | None = None
        self.url = ""
        self.ca_file: Path | None = None
        self._scratch: Path | None = None
        self._server: _QuietServer | None = None
        self._serving: asyncio.Task[None] | None = None
        self._ready = False

    @property
    def state_dir(self) -> Path:
        """Where certificates and the kubeconfig live (a temporary dir when in memory)."""
        if self.data_dir is not None:
            return self.data_dir
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="luban-cluster-"))
        return self._scratch

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig for this cluster."""
        return self.state_dir / KUBECONFIG_FILE

    def _ensure_token(self) -> str:
        path = self.state_dir / TOKEN_FILE
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        token = secrets.token_urlsafe(32)
        write_private(path, token.encode() + b"\n")
        return token

    async def _bootstrap(self) -> None:
        writes = [
            Write(NAMESPACE_KEY, "", name, _namespace(name))
            for name in INITIAL_NAMESPACES
            if self.store.get(NAMESPACE_KEY, "", name) is None
        ]
        if writes:
            _, durable = self.store.write(writes)
            await durable

    async def start(self) -> None:
        """Open the store, run the controllers and start serving."""
        ensure_private_dir(self.state_dir)
        self.token = await asyncio.to_thread(self._ensure_token)
        await self.store.start()
        await self.controllers.start()
        await self._bootstrap()
        self.security = ClusterSecurity(self.store, self.state_dir, self.token)
        await self.security.start()
        ssl: dict[str, str] = {}
        if self.tls:
            files = await asyncio.to_thread(
                ensure_serving_certificate, self.state_dir / "pki", [], "luban-cluster-ca"
            )
            ssl = {"ssl_certfile": str(files.cert), "ssl_keyfile": str(files.key)}
            self.ca_file = files.ca_cert
        app = ClusterApp(
            self.api, self.discovery, lambda: self.openapi, self.security, lambda: self._ready
        )
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            loop="none",
            http="httptools",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=5,
            **ssl,  # type: ignore[arg-type]
        )
        sock = config.bind_socket()
        port = sock.getsockname()[1]
        self._server = _QuietServer(config)
        self._serving = asyncio.create_task(
            self._server.serve(sockets=[sock]), name="luban-cluster"
        )
        while not self._server.started:
            if self._serving.done():
                await self._serving
                raise RuntimeError("the embedded cluster's server did not start")
            await asyncio.sleep(0.01)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://{client_host(self.host)}:{port}"
        ca_pem = self.ca_file.read_bytes() if self.ca_file else None
        await asyncio.to_thread(write_kubeconfig, self.kubeconfig, self.url, self.token, ca_pem,
                                "luban-embedded")  # fmt: skip
        self._ready = True
        logger.info("embedded cluster serving at %s (kubeconfig: %s)", self.url, self.kubeconfig)

    async def stop(self) -> None:
        """Stop serving (open watches end), stop the controllers, flush the store."""
        self._ready = False
        self.api.stopping.set()
        self.hub.close_all()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            while not self._serving.done():
                await asyncio.wait({self._serving}, timeout=0.25)
                self._abort_closed_connections()
            await self._serving
        if self.security is not None:
            await self.security.stop()
            self.security = None
        await self.controllers.stop()
        await self.store.stop()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _abort_closed_connections(self) -> None:
        # uvicorn closes idle keep-alive connections on shutdown, but a TLS close waits for the
        # client's close_notify, which a client idling in a pool never sends: uvicorn would
        # then wait out its whole graceful-shutdown timeout. Those connections are done; drop them.
        if self._server is None:
            return
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None and transport.is_closing():
                transport.abort()

    async def __aenter__(self) -> EmbeddedCluster:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
