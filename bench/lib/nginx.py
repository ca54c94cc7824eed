"""nginx as a fast static upstream: fixed files under fixed paths, from a throwaway prefix.

The benchmark never installs nginx; it finds the binary (``/usr/sbin`` is often not on a
non-root ``PATH``) and runs it in the foreground with its own config, pid file, logs and
temporary directories in a scratch directory, listening on a loopback port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from bench.lib.registry import BenchmarkError
from bench.lib.servers import RunningServer, free_port, running

INSTALL_HINT = "apt-get install -y nginx"
NOT_FOUND = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
    '"reason":"NotFound","code":404}'
)
_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


class NginxMissing(BenchmarkError):
    """nginx is not installed."""

    def __init__(self) -> None:
        super().__init__(f"nginx is not installed; install it with: {INSTALL_HINT}")


def find_nginx() -> str:
    """The path of the nginx binary; raises :class:`NginxMissing` without one."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in _CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    raise NginxMissing()


def _config(prefix: Path, port: int, routes: Mapping[str, str], workers: int) -> str:
    # Exact-match locations, each aliased to one file: no directory lookups per request.
    locations = "\n".join(
        f"        location = {path} {{\n"
        f"            default_type application/json; alias {prefix / 'www' / name};\n        }}"
        for path, name in routes.items()
    )
    probes = "\n".join(
        f"        location = {p} {{ default_type text/plain; return 200 'ok'; }}"
        for p in ("/healthz", "/readyz", "/livez")
    )
    # Workers started by a root master switch to "nobody"; they only need to read www/.
    return f"""
worker_processes {workers};
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    open_file_cache max=16;
    open_file_cache_valid 1h;
    etag off;
    client_body_temp_path {prefix / "tmp-body"};
    proxy_temp_path {prefix / "tmp-proxy"};
    fastcgi_temp_path {prefix / "tmp-fastcgi"};
    uwsgi_temp_path {prefix / "tmp-uwsgi"};
    scgi_temp_path {prefix / "tmp-scgi"};
    server {{
        listen 127.0.0.1:{port};
{probes}
{locations}
        location / {{
            default_type application/json;
            return 404 '{NOT_FOUND}';
        }}
    }}
}}
"""


@contextlib.contextmanager
def running_nginx(
    scratch: Path, files: Mapping[str, bytes], workers: int = 1
) -> Iterator[RunningServer]:
    """Serve each ``files`` body (keyed by URL path) as JSON for the ``with`` block.

    Unknown paths answer 404 with a Kubernetes ``Status``; ``/healthz``, ``/readyz`` and
    ``/livez`` answer ``ok``.
    """
    binary = find_nginx()
    prefix = scratch / "nginx"
    www = prefix / "www"
    www.mkdir(parents=True)
    routes: dict[str, str] = {}
    for index, (path, body) in enumerate(files.items()):
        name = f"body-{index}.json"
        (www / name).write_bytes(body)
        (www / name).chmod(0o644)
        routes[path] = name
    # The scratch directory is private (0700); a root master's "nobody" workers must reach www/.
    for directory in (scratch, prefix, www):
        directory.chmod(0o755)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(_config(prefix, port, routes, workers))
    command = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    with running("nginx", command, port, prefix / "stdout.log") as server:
        yield server
