"""Requests written byte for byte over TLS, so no client library normalizes the path first."""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from tests.procs import KernelProcess


def connect(kernel: KernelProcess) -> ssl.SSLSocket:
    """A TLS connection to the kernel, trusting its generated CA."""
    parts = urlsplit(kernel.url)
    assert parts.hostname
    assert parts.port
    assert kernel.ca_file
    context = ssl.create_default_context(cafile=str(kernel.ca_file))
    raw = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return context.wrap_socket(raw, server_hostname=parts.hostname)


def request(
    kernel: KernelProcess, target: bytes, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Send ``GET target`` as given; return the status code and the raw response."""
    headers = {"Host": urlsplit(kernel.url).netloc, "Connection": "close", **(headers or {})}
    lines = [b"GET " + target + b" HTTP/1.1"]
    lines += [f"{k}: {v}".encode() for k, v in headers.items()]
    with connect(kernel) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data
