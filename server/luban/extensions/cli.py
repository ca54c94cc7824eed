"""``luban ext``: scaffold an extension; list, enable, disable and reload them on a kernel."""

from __future__ import annotations

import argparse
import base64
import json
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from luban.extensions.scaffold import scaffold

ADMIN_PATH = "/kapis/extensions.luban.io/v1alpha1/extensions"
DEFAULT_KUBECONFIG = Path(".luban/admin.kubeconfig")


def add_parser(commands: Any) -> None:
    """Add ``ext`` and its subcommands to the ``luban`` parser."""
    ext = commands.add_parser(
        "ext",
        help="extensions: scaffold one, or manage them on a running kernel",
        description="Scaffold an extension package, or list/enable/disable/reload the "
        "extensions of a running kernel (via its admin API, as the cluster admin).",
    )
    sub = ext.add_subparsers(dest="ext_command", metavar="COMMAND", required=True)
    new = sub.add_parser("new", help="scaffold a working extension package")
    new.add_argument("name", help="extension name (a DNS label, e.g. my-extension)")
    new.add_argument("--dir", type=Path, default=Path(), help="parent directory (default .)")
    for command, text in (
        ("list", "list extensions and their state on this kernel"),
        ("enable", "enable an extension on every replica"),
        ("disable", "disable an extension on every replica"),
        ("reload", "reload an extension on every replica"),
    ):
        parser = sub.add_parser(command, help=text)
        if command != "list":
            parser.add_argument("name")
        parser.add_argument(
            "--kubeconfig",
            type=Path,
            default=DEFAULT_KUBECONFIG,
            help=f"the kernel's admin kubeconfig (default {DEFAULT_KUBECONFIG})",
        )


def run(args: argparse.Namespace) -> int:
    """Run ``luban ext ...``; the exit code."""
    if args.ext_command == "new":
        try:
            root = scaffold(args.name, args.dir)
        except (ValueError, FileExistsError) as exc:
            print(f"luban: {exc}", file=sys.stderr)
            return 2
        print(f"created {root} (run `pytest` there; `pip install -e {root}` to plug it in)")
        return 0
    try:
        if args.ext_command == "list":
            body = _call(args.kubeconfig, "GET", ADMIN_PATH)
            _print_table(body.get("items", []))
        else:
            body = _call(args.kubeconfig, "POST", f"{ADMIN_PATH}/{args.name}/{args.ext_command}")
            _print_table([body])
    except _ClientError as exc:
        print(f"luban: {exc}", file=sys.stderr)
        return 1
    return 0


class _ClientError(Exception):
    pass


def _call(kubeconfig: Path, method: str, path: str) -> dict[str, Any]:
    try:
        config = yaml.safe_load(kubeconfig.read_text())
    except OSError as exc:
        raise _ClientError(f"{kubeconfig}: {exc.strerror}") from None
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"].get("token", "")
    context = ssl.create_default_context()
    if "certificate-authority-data" in cluster:
        with tempfile.NamedTemporaryFile("wb", suffix=".crt") as ca:
            ca.write(base64.b64decode(cluster["certificate-authority-data"]))
            ca.flush()
            context.load_verify_locations(ca.name)
    request = urllib.request.Request(  # noqa: S310 - the kubeconfig's own https/http URL
        cluster["server"] + path, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", exc.reason)
        except ValueError:
            message = exc.reason
        raise _ClientError(f"{exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise _ClientError(f"cannot reach the kernel: {exc.reason}") from None


def _print_table(items: list[dict[str, Any]]) -> None:
    rows = [("NAME", "ENABLED", "STATE", "VERSION", "LAST ERROR")]
    for item in items:
        status = item.get("status", {})
        mine = status.get("replicas", {}).get(status.get("replica", ""), {})
        rows.append(
            (
                item["metadata"]["name"],
                str(item.get("spec", {}).get("enabled", True)).lower(),
                mine.get("state", ""),
                mine.get("version", ""),
                mine.get("lastError", ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
