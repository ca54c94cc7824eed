"""Edits that are never lost: a failing watcher, a restarting watcher, an unbuildable version."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.extensions.helpers import (
    ADMIN_API,
    answer,
    client,
    eventually,
    extension_source,
    install,
    kernel_with_site,
    replica_status,
    write,
)
from tests.procs import KernelProcess

# Startup of this extension waits until the test creates ``release``: the test decides the
# instant its load ends (and with it, the restart of the file watcher that every install causes).
GATED = """
import asyncio
from pathlib import Path

from luban_sdk import Extension

extension = Extension(name="gate", api_group="gate.test.io", version="v1")


@extension.on_startup
async def wait_for_release() -> None:
    release = Path(__file__).parent.parent / "release"
    while not release.exists():
        await asyncio.sleep(0.001)
"""


def install_module(site: Path, name: str, source: str) -> Path:
    """Install an extension that is a single module, ``ext_<name>.py``; returns its path."""
    module = site / f"ext_{name}.py"
    module.write_text(textwrap.dedent(source))
    dist = site / f"luban_test_{name}-0.1.0.dist-info"
    dist.mkdir()
    metadata = f"Metadata-Version: 2.1\nName: luban-test-{name}\nVersion: 0.1.0\n"
    (dist / "METADATA").write_text(metadata)
    (dist / "entry_points.txt").write_text(f"[luban.extensions]\n{name} = ext_{name}:extension\n")
    return module


def save_atomically(path: Path, source: str) -> None:
    """Save like most editors and ``git checkout``: a new file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(textwrap.dedent(source))
    temporary.replace(path)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    install(site, "keep", extension_source("keep", "one"))
    install_module(site, "solo", extension_source("solo", "one"))
    return site


@pytest.fixture(scope="module")
def kernel(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    config = {"extensions": {"startupTimeoutSeconds": 20}}
    with kernel_with_site(tmp_path_factory.mktemp("k") / "data", site, config) as kernel:
        yield kernel


def test_a_failing_file_watcher_recovers_and_applies_the_edit(
    kernel: KernelProcess, site: Path
) -> None:
    init = site / "ext_keep" / "__init__.py"
    with client(kernel) as http:
        assert answer(http, "keep") == "one"
        # watchfiles cannot decode this name: its watcher fails (as it does on any error from
        # inotify, e.g. ENOSPC) and drops the batch, which holds the edit below too.
        stray = init.parent / os.fsdecode(b"stray-\xff.py")
        stray.write_text("")
        write(init, extension_source("keep", "two"))
        eventually(lambda: answer(http, "keep") == "two")
        stray.unlink()
        write(init, extension_source("keep", "three"))
        eventually(lambda: answer(http, "keep") == "three")
    assert "file watcher failed" in kernel.log()


def test_an_edit_during_a_watcher_restart_is_applied(kernel: KernelProcess, site: Path) -> None:
    init = site / "ext_keep" / "__init__.py"
    with client(kernel) as http:
        write(init, extension_source("keep", "four"))
        eventually(lambda: answer(http, "keep") == "four")
        install(site, "gate", GATED)
        # The install is seen; the new extension's startup holds its load open.
        eventually(lambda: http.get(f"{ADMIN_API}/gate").status_code == 200)
        eventually(lambda: replica_status(http, "gate")["state"] == "Loading")
        # The edit lands in the current watcher's debounce window; the load ending right
        # after restarts the watcher over the new set of extensions.
        write(init, extension_source("keep", "five"))
        (site / "release").touch()
        eventually(lambda: replica_status(http, "gate")["state"] == "Running")
        eventually(lambda: answer(http, "keep") == "five")


def test_every_atomic_save_of_a_single_module_extension_applies(
    kernel: KernelProcess, site: Path
) -> None:
    module = site / "ext_solo.py"
    with client(kernel) as http:
        assert answer(http, "solo") == "one"
        for tag in ("two", "three", "four"):
            save_atomically(module, extension_source("solo", tag))
            eventually(lambda tag=tag: answer(http, "solo") == tag)


DUPLICATE_PARAMETER = """
@extension.get("/things/{name}/{name}")
async def things(request: Request) -> Response:
    return JSONResponse({})
"""


def test_a_version_whose_routes_cannot_be_built_is_refused_with_its_error(
    kernel: KernelProcess, site: Path
) -> None:
    init = site / "ext_keep" / "__init__.py"
    with client(kernel) as http:
        write(init, extension_source("keep", "six"))
        eventually(lambda: answer(http, "keep") == "six")
        write(init, extension_source("keep", "seven", extra=DUPLICATE_PARAMETER))
        status = eventually(lambda: (s := replica_status(http, "keep"))["lastError"] and s)
        assert "name" in status["lastError"]
        assert f"{init}:" in status["lastError"]
        assert status["state"] == "Running"
        assert answer(http, "keep") == "six"
        write(init, extension_source("keep", "eight"))
        eventually(lambda: answer(http, "keep") == "eight")
        assert replica_status(http, "keep")["lastError"] == ""


def test_a_kernel_starts_when_an_extension_cannot_be_built(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "fine", extension_source("fine", "yes"))
    install(site, "broken", extension_source("broken", "no", extra=DUPLICATE_PARAMETER))
    with kernel_with_site(tmp_path / "data", site) as kernel, client(kernel) as http:
        assert answer(http, "fine") == "yes"
        status = replica_status(http, "broken")
        assert status["state"] == "Failed"
        assert "things/{name}/{name}" in status["lastError"]
