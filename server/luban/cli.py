"""The ``luban`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute

from luban import __version__
from luban.config import ConfigError, load_settings
from luban.observability.logging import configure_logging

EXIT_CONFIG_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="luban",
        description="Luban: a Kubernetes kernel for consoles and platforms. It serves a proxied "
        "Kubernetes API, dynamic Resource APIs and hot-swappable extensions.",
    )
    parser.add_argument("--version", action="version", version=f"luban {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the kernel",
        description="Run the kernel. Settings come from --config, then LUBAN_* environment "
        "variables, then these flags. Serves HTTPS with a generated CA unless told otherwise "
        "and writes DATA_DIR/admin.kubeconfig for kubectl.",
    )
    serve.add_argument("--config", type=Path, metavar="FILE", help="YAML config file")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind, 0 for any free one (default 9443)")
    serve.add_argument("--data-dir", type=Path, metavar="DIR", help="state dir (default .luban)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    serve.add_argument(
        "--log-format", choices=["text", "json"], help="log line format (default text)"
    )
    serve.add_argument(
        "--insecure-http",
        action="store_true",
        default=None,
        help="serve plain HTTP (only behind a TLS-terminating proxy)",
    )
    serve.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="upstream cluster (default: $KUBECONFIG, in-cluster, ~/.kube/config, else embedded)",
    )
    serve.add_argument(
        "--embedded",
        action="store_true",
        default=None,
        help="use an embedded cluster (SQLite in DATA_DIR/cluster) as the upstream",
    )
    serve.add_argument(
        "--grace-period",
        type=float,
        metavar="SECONDS",
        help="how long SIGTERM waits for in-flight requests (default 30)",
    )

    cluster = commands.add_parser(
        "cluster",
        help="the embedded Kubernetes-compatible API server",
        description="The embedded cluster: a Kubernetes-compatible API server on SQLite.",
    )
    cluster_commands = cluster.add_subparsers(
        dest="cluster_command", metavar="COMMAND", required=True
    )
    cluster_serve = cluster_commands.add_parser(
        "serve",
        help="run the embedded cluster on its own",
        description="Run the embedded cluster. State lives in DIR/cluster.db (SQLite, WAL); "
        "it serves HTTPS with a CA it generates in DIR and writes DIR/cluster.kubeconfig "
        "(mode 0600) once it accepts requests.",
    )
    cluster_serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".luban/cluster"),
        metavar="DIR",
        help="state dir (default .luban/cluster)",
    )
    cluster_serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    cluster_serve.add_argument(
        "--port", type=int, default=6443, help="port, 0 for any free one (default 6443)"
    )
    cluster_serve.add_argument("--log-format", choices=["text", "json"], default="text")
    from luban.extensions.cli import add_parser as add_ext_parser

    add_ext_parser(commands)
    return parser


def _serve_overrides(args: argparse.Namespace) -> dict[str, Any]:
    server: dict[str, Any] = {}
    for flag, key in (("host", "host"), ("port", "port"), ("workers", "workers")):
        if getattr(args, flag) is not None:
            server[key] = getattr(args, flag)
    if args.grace_period is not None:
        server["gracePeriodSeconds"] = args.grace_period
    if args.insecure_http:
        server["tls"] = {"enabled": False}
    overrides: dict[str, Any] = {"server": server} if server else {}
    if args.data_dir is not None:
        overrides["dataDir"] = str(args.data_dir)
    if args.log_format is not None:
        overrides["log"] = {"format": args.log_format}
    upstream: dict[str, Any] = {}
    if args.kubeconfig is not None:
        upstream["kubeconfig"] = str(args.kubeconfig)
    if args.embedded:
        upstream["embedded"] = True
    if upstream:
        overrides["upstream"] = upstream
    return overrides


def main(argv: Sequence[str] | None = None, routes: Sequence[BaseRoute] = ()) -> int:
    """Entry point of the ``luban`` console script (``routes``: extra routes to serve)."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from luban.server import serve

        try:
            settings = load_settings(args.config, overrides=_serve_overrides(args))
            configure_logging(settings.log.format, settings.log.level)
            return serve(settings, routes)
        except ConfigError as exc:
            print(f"luban: config error: {exc}", file=sys.stderr)
            return EXIT_CONFIG_ERROR
    if args.command == "ext":
        from luban.extensions.cli import run as run_ext

        return run_ext(args)
    if args.command == "cluster":
        from luban.embedded.cli import serve_cluster

        configure_logging(args.log_format, "info")
        return serve_cluster(args.data_dir, args.host, args.port)
    return EXIT_CONFIG_ERROR  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
