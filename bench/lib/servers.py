"""Starting the servers under test as child processes and stopping them again."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.lib.registry import BenchmarkError

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


class ServerFailed(BenchmarkError):
    """A server under test did not come up (its log tail is in the message)."""


@dataclass(frozen=True)
class RunningServer:
    """A server child process listening on ``127.0.0.1:port``."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def python() -> str:
    """The interpreter running the benchmark (the project's venv), for child servers too."""
    return sys.executable


def get_status(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """One GET: the status code and body (error statuses included)."""
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(server: RunningServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(
                f"{server.name} exited with {server.process.returncode}:\n{_log_tail(server.log)}"
            )
        try:
            if get_status(server.base_url + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise ServerFailed(f"{server.name} not ready after {timeout:g}s:\n{_log_tail(server.log)}")


def stop(server: RunningServer, grace: float = 10.0) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers."""
    if server.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@contextlib.contextmanager
def running(
    name: str,
    command: Sequence[str],
    port: int,
    log: Path,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 30.0,
) -> Iterator[RunningServer]:
    """Run ``command`` (which must serve ``/healthz`` on ``port``) for the ``with`` block.

    The child gets its own process group so that stopping it also stops its workers.
    """
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            list(command),
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(name, port, process, log)
    try:
        _wait_ready(server, ready_timeout)
        yield server
    finally:
        stop(server)
