"""Running ``luban`` as a real process on an ephemeral port, the way operators run it."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
LUBAN = [sys.executable, "-m", "luban.cli"]
# Every process started here and not yet stopped (killed when a test times out).
_started: set[subprocess.Popen[bytes]] = set()


def kill_started() -> None:
    """SIGKILL every process started here that is still running."""
    for process in list(_started):
        if process.poll() is None:
            process.kill()


@dataclass
class KernelProcess:
    """A running ``luban serve``: its URL, admin token, CA file and the process itself."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    url: str
    token: str
    ca_file: Path | None
    log_file: Path

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What httpx should verify the server with: the generated CA, if any."""
        if self.ca_file is None:
            return True
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def wait_for_kubeconfig(
    data_dir: Path, process: subprocess.Popen[bytes], log: Path, name: str = "admin.kubeconfig"
) -> dict:
    path = data_dir / name
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"luban exited with {process.returncode}:\n{log.read_text()}")
        if path.exists():
            return yaml.safe_load(path.read_text())
        time.sleep(0.05)
    raise TimeoutError(f"no kubeconfig after 30 s:\n{log.read_text()}")


@dataclass
class ClusterProcess:
    """A running ``luban cluster serve``."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    url: str
    token: str
    log_file: Path

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "cluster.kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def terminate(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@contextmanager
def run_cluster(data_dir: Path, *args: str) -> Iterator[ClusterProcess]:
    """Start ``luban cluster serve --port 0`` on ``data_dir``; SIGTERM it afterwards."""
    log_file = data_dir.parent / f"{data_dir.name}.cluster.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "cluster.kubeconfig").unlink(missing_ok=True)
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [*LUBAN, "cluster", "serve", "--port", "0", "--data-dir", str(data_dir), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    _started.add(process)
    try:
        config = wait_for_kubeconfig(data_dir, process, log_file, "cluster.kubeconfig")
        yield ClusterProcess(
            process=process,
            data_dir=data_dir,
            url=config["clusters"][0]["cluster"]["server"],
            token=config["users"][0]["user"]["token"],
            log_file=log_file,
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _started.discard(process)


@contextmanager
def run_kernel(
    data_dir: Path,
    *args: str,
    command: Sequence[str] = (*LUBAN, "serve"),
    env: dict[str, str] | None = None,
) -> Iterator[KernelProcess]:
    """Start ``luban serve --port 0`` in ``data_dir`` and stop it (SIGTERM) afterwards."""
    log_file = data_dir.parent / f"{data_dir.name}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    stale = data_dir / "admin.kubeconfig"
    stale.unlink(missing_ok=True)
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", "0", "--data-dir", str(data_dir), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
    _started.add(process)
    try:
        config = wait_for_kubeconfig(data_dir, process, log_file)
        cluster = config["clusters"][0]["cluster"]
        ca = data_dir / "pki" / "ca.crt"
        kernel = KernelProcess(
            process=process,
            data_dir=data_dir,
            url=cluster["server"],
            token=config["users"][0]["user"]["token"],
            ca_file=ca if "certificate-authority-data" in cluster else None,
            log_file=log_file,
        )
        yield kernel
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _started.discard(process)
