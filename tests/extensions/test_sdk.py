"""The SDK's declarations: what authors get wrong is refused with a clear message."""

from __future__ import annotations

import importlib
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from luban_sdk import Extension, parse_rate


async def handler(request: Request) -> Response:
    return Response()


def test_declaration_collects_routes_hooks_and_guards() -> None:
    class Config(BaseModel):
        size: int = 1

    ext = Extension("demo", "demo.example.com", "v1beta1", config_model=Config)
    ext.get("/things/{name}", permission=("get", "things.demo.example.com"))(handler)
    ext.post("/things", rate_limit="20/minute", rate_limit_key="ip")(handler)

    @ext.websocket("/watch")
    async def watch(websocket: object) -> None: ...

    @ext.on_startup
    async def up() -> None: ...

    assert ext.prefix == "/kapis/demo.example.com/v1beta1"
    assert [(r.path, r.methods, r.websocket) for r in ext.routes] == [
        ("/things/{name}", ("GET",), False),
        ("/things", ("POST",), False),
        ("/watch", ("GET",), True),
    ]
    assert ext.routes[0].permission == ("get", "things.demo.example.com")
    assert (ext.routes[1].rate_limit, ext.routes[1].rate_limit_key) == ("20/minute", "ip")
    assert ext.startup_hooks == [up]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad_Name"}, "DNS label"),
        ({"api_group": "nodots"}, "dotted DNS subdomain"),
        ({"version": "1.0"}, "look like v1"),
    ],
)
def test_bad_identity_is_refused(kwargs: dict[str, str], message: str) -> None:
    values = {"name": "demo", "api_group": "demo.example.com", "version": "v1", **kwargs}
    with pytest.raises(ValueError, match=message):
        Extension(**values)


def test_bad_routes_are_refused() -> None:
    ext = Extension("demo", "demo.example.com", "v1")
    with pytest.raises(ValueError, match="must start with '/'"):
        ext.get("things")
    with pytest.raises(ValueError, match="normalized"):
        ext.get("/a/../b")
    with pytest.raises(ValueError, match="20/minute"):
        ext.get("/a", rate_limit="lots")
    with pytest.raises(ValueError, match="verb, resource"):
        ext.get("/a", permission=("get",))  # type: ignore[arg-type]
    assert parse_rate("5/second") == (5, 1.0)


def test_sdk_never_imports_the_kernel() -> None:
    code = (
        "import sys, luban_sdk, luban_sdk.testing; "
        "print([m for m in sys.modules if m == 'luban' or m.startswith('luban.')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fresh_import_ignores_bytecode_for_a_same_size_same_mtime_edit(tmp_path: Path) -> None:
    from luban.extensions.freshimport import import_fresh

    package = tmp_path / "fresh_pkg_demo"
    package.mkdir()
    init = package / "__init__.py"
    init.write_text("VALUE = 'aaaa'\n")
    py_compile.compile(str(init))  # the bytecode cache any earlier import would leave
    stat = init.stat()
    init.write_text("VALUE = 'bbbb'\n")
    os.utime(init, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.invalidate_caches()
        # The hazard: the ordinary loader trusts the cache (same mtime, same size).
        assert importlib.import_module("fresh_pkg_demo").VALUE == "aaaa"
        value, modules = import_fresh("fresh_pkg_demo:VALUE", ("fresh_pkg_demo",))
        assert value == "bbbb"
        assert set(modules) == {"fresh_pkg_demo"}
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("fresh_pkg_demo", None)
