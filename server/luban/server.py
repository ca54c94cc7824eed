"""Running the kernel under uvicorn: TLS files, kubeconfig, workers and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import uvicorn
from starlette.routing import BaseRoute
from uvicorn.supervisors import Multiprocess

from luban.app import SETTINGS_ENV, create_app
from luban.config import ConfigError, Settings
from luban.credentials import ensure_admin_token
from luban.files import ensure_private_dir
from luban.kubeconfig import client_host, write_kubeconfig
from luban.observability.metrics import prepare_multiprocess_dir
from luban.runtime import raise_open_file_limit, tune_garbage_collection
from luban.tls import ensure_serving_certificate
from luban.upstream import choose_upstream

logger = logging.getLogger("luban.server")

KUBECONFIG_FILE = "admin.kubeconfig"


@dataclass(frozen=True)
class TLSFiles:
    """What uvicorn needs to speak HTTPS, and the CA clients should trust."""

    cert: Path
    key: Path
    ca: Path | None


def prepare_tls(settings: Settings) -> TLSFiles | None:
    """The certificate files to serve with: the configured ones, or generated ones."""
    tls = settings.server.tls
    if not tls.enabled:
        return None
    if tls.cert_file or tls.key_file:
        if not (tls.cert_file and tls.key_file):
            raise ConfigError("server.tls: certFile and keyFile must be given together")
        for key, path in (("certFile", tls.cert_file), ("keyFile", tls.key_file)):
            if not path.is_file():
                raise ConfigError(f"server.tls.{key}: {path} is not a readable file")
        return TLSFiles(tls.cert_file, tls.key_file, None)
    names = list(tls.extra_names)
    if settings.server.host not in ("0.0.0.0", "::", ""):
        names.append(settings.server.host)
    files = ensure_serving_certificate(settings.data_dir / "pki", names)
    return TLSFiles(files.cert, files.key, files.ca_cert)


def uvicorn_config(settings: Settings, tls: TLSFiles | None, **app: object) -> uvicorn.Config:
    """uvicorn settings shared by the single- and multi-worker paths."""
    return uvicorn.Config(
        host=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        log_config=None,
        access_log=settings.log.access,
        server_header=False,
        # The kernel resolves client addresses itself (trustedProxies); uvicorn would otherwise
        # believe X-Forwarded-For from any loopback peer.
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.server.grace_period_seconds) or None,
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
        **app,  # type: ignore[arg-type]
    )


def announce(settings: Settings, tls: TLSFiles | None, port: int) -> None:
    """Write the admin kubeconfig for the bound port and say where the kernel listens."""
    url = f"{settings.scheme}://{client_host(settings.server.host)}:{port}"
    token = ensure_admin_token(settings.data_dir)
    ca_pem = tls.ca.read_bytes() if tls and tls.ca else None
    kubeconfig = settings.data_dir / KUBECONFIG_FILE
    write_kubeconfig(kubeconfig, url, token, ca_pem)
    logger.info("Luban kernel serving at %s (kubeconfig: %s)", url, kubeconfig)


def _ignore_signal(signum: int, frame: object) -> None:
    """uvicorn re-raises the signal that stopped it; after a graceful drain that is not an error."""


class EmbeddedUpstream:
    """The embedded cluster ``luban serve`` starts when it finds no other upstream.

    It runs on its own event loop in a thread, so the kernel's workers (or its single
    process) reach it over loopback like any upstream, and it stops after they drained.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.kubeconfig = data_dir / "cluster.kubeconfig"
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start the cluster and wait until it serves."""
        self._thread = threading.Thread(target=self._run, name="luban-embedded", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        from luban.embedded.cluster import EmbeddedCluster

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                cluster = EmbeddedCluster(self.data_dir)
                await cluster.start()
            except BaseException as exc:
                self._error = exc
                self._started.set()
                return
            self._started.set()
            try:
                await self._stop.wait()
            finally:
                await cluster.stop()

        asyncio.run(main())

    def stop(self) -> None:
        """Stop the cluster (after the kernel drained) and wait for it."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)


def start_upstream(settings: Settings) -> tuple[Settings, EmbeddedUpstream | None]:
    """Pick the upstream; start the embedded cluster when that is the choice."""
    choice = choose_upstream(settings.upstream.kubeconfig, settings.upstream.embedded)
    if choice.source != "embedded":
        logger.info("upstream: %s", choice.describe())
        upstream = settings.upstream.model_copy(update={"kubeconfig": choice.kubeconfig})
        return settings.model_copy(update={"upstream": upstream}), None
    embedded = EmbeddedUpstream(settings.data_dir / "cluster")
    embedded.start()
    logger.info("upstream: embedded cluster (kubeconfig: %s)", embedded.kubeconfig)
    upstream = settings.upstream.model_copy(update={"kubeconfig": embedded.kubeconfig})
    return settings.model_copy(update={"upstream": upstream}), embedded


async def _serve_single(server: uvicorn.Server, sock: socket.socket, on_started: object) -> None:
    async def wait_started() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        on_started()  # type: ignore[operator]

    watcher = asyncio.create_task(wait_started())
    try:
        await server.serve(sockets=[sock])
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


def serve(settings: Settings, routes: Sequence[BaseRoute] = ()) -> int:
    """Run the kernel until SIGTERM/SIGINT; return the process exit code.

    Extra ``routes`` (for embedding) are served by single-worker kernels only.
    """
    raise_open_file_limit()
    tune_garbage_collection()
    ensure_private_dir(settings.data_dir)
    ensure_admin_token(settings.data_dir)
    tls = prepare_tls(settings)
    signal.signal(signal.SIGTERM, _ignore_signal)
    signal.signal(signal.SIGINT, _ignore_signal)
    settings, embedded = start_upstream(settings)
    try:
        return _serve_kernel(settings, tls, routes)
    finally:
        if embedded is not None:
            embedded.stop()


def _serve_kernel(settings: Settings, tls: TLSFiles | None, routes: Sequence[BaseRoute]) -> int:
    if settings.server.workers == 1:
        config = uvicorn_config(settings, tls, app=create_app(settings, routes))
        sock = config.bind_socket()
        port = sock.getsockname()[1]
        server = uvicorn.Server(config)
        loop_factory = config.get_loop_factory()
        assert loop_factory is not None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_serve_single(server, sock, lambda: announce(settings, tls, port)))
        return 0

    if routes:
        raise ConfigError("server.workers: extra routes need a single worker")
    prepare_multiprocess_dir(settings.data_dir)
    os.environ[SETTINGS_ENV] = orjson.dumps(
        settings.model_dump(mode="json", by_alias=True)
    ).decode()
    config = uvicorn_config(
        settings, tls, app="luban.app:create_app_from_environment", factory=True
    )
    sock = config.bind_socket()
    announce(settings, tls, sock.getsockname()[1])
    Multiprocess(config, sockets=[sock]).run()
    return 0
