"""Installing throwaway extension distributions into a site directory a kernel watches."""

from __future__ import annotations

import os
import shutil
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.procs import KernelProcess, run_kernel

ADMIN_API = "/kapis/extensions.luban.io/v1alpha1/extensions"


def install(site: Path, name: str, source: str, version: str = "0.1.0") -> Path:
    """Install distribution ``luban-test-<name>`` (package ``ext_<name>``) into ``site``.

    Returns the package's ``__init__.py``. The entry point ``<name>`` is ``ext_<name>:extension``.
    """
    package = site / f"ext_{name.replace('-', '_')}"
    package.mkdir(parents=True, exist_ok=True)
    init = package / "__init__.py"
    init.write_text(textwrap.dedent(source))
    dist = f"luban_test_{name.replace('-', '_')}"
    staging = site / f".{dist}-{version}.staging"
    staging.mkdir()
    (staging / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: luban-test-{name}\nVersion: {version}\n"
    )
    (staging / "entry_points.txt").write_text(
        f"[luban.extensions]\n{name} = {package.name}:extension\n"
    )
    # Like an installer finishing: the dist-info appears whole.
    staging.rename(site / f"{dist}-{version}.dist-info")
    return init


def uninstall(site: Path, name: str) -> None:
    """Remove what :func:`install` put in ``site``."""
    for path in site.glob(f"luban_test_{name.replace('-', '_')}-*.dist-info"):
        shutil.rmtree(path)
    shutil.rmtree(site / f"ext_{name.replace('-', '_')}", ignore_errors=True)


def write(path: Path, source: str) -> None:
    """Replace a file's content the way an editor saving it does."""
    path.write_text(textwrap.dedent(source))


def extension_source(name: str, answer: str, *, group: str | None = None, extra: str = "") -> str:
    """A small extension: ``GET /answer`` returns ``{"answer": answer}``."""
    return f'''
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from luban_sdk import Extension

extension = Extension(name="{name}", api_group="{group or name + ".test.io"}", version="v1")


@extension.get("/answer")
async def answer(request: Request) -> Response:
    return JSONResponse({{"answer": "{answer}"}})
{extra}
'''


@contextmanager
def kernel_with_site(
    data_dir: Path,
    site: Path,
    config: dict[str, Any] | None = None,
    args: tuple[str, ...] = ("--embedded",),
) -> Iterator[KernelProcess]:
    """A kernel whose environment includes ``site`` (on PYTHONPATH, watched for installs)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "extensions": {"environmentPaths": [str(site)], "startupTimeoutSeconds": 2},
    }
    for key, value in (config or {}).items():
        if key == "extensions":
            settings["extensions"].update(value)
        else:
            settings[key] = value
    config_file = data_dir.parent / f"{data_dir.name}.yaml"
    config_file.write_text(yaml.safe_dump(settings))
    pythonpath = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    with run_kernel(
        data_dir, *args, "--config", str(config_file), env={"PYTHONPATH": pythonpath}
    ) as kernel:
        yield kernel


def client(kernel: KernelProcess, token: str | None = None) -> httpx.Client:
    """An HTTPS client for ``kernel``, authenticated as the admin unless told otherwise."""
    return httpx.Client(
        base_url=kernel.url,
        verify=kernel.verify,
        headers={"Authorization": f"Bearer {token or kernel.token}"},
        timeout=30,
    )


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02) -> Any:
    """Poll ``check`` until it returns a truthy value (generous deadline: shared CPUs)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


def replica_status(http: httpx.Client, name: str) -> dict[str, Any]:
    """This kernel's runtime state of ``name`` as the admin API reports it."""
    body = http.get(f"{ADMIN_API}/{name}").json()
    status: dict[str, Any] = body["status"]["replicas"][body["status"]["replica"]]
    return status


def answer(http: httpx.Client, name: str) -> str | None:
    """``GET /kapis/<name>.test.io/v1/answer``'s answer, or None when not 200."""
    response = http.get(f"/kapis/{name}.test.io/v1/answer")
    return response.json()["answer"] if response.status_code == 200 else None
