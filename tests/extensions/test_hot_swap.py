"""Hot swap of an installed extension's real files while the kernel serves."""

from __future__ import annotations

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
    uninstall,
    write,
)
from tests.procs import KernelProcess


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    install(site, "swap", extension_source("swap", "one"))
    return site


@pytest.fixture(scope="module")
def kernel(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    with kernel_with_site(tmp_path_factory.mktemp("k") / "data", site) as kernel:
        yield kernel


def test_edit_syntax_error_and_fix(kernel: KernelProcess, site: Path) -> None:
    init = site / "ext_swap" / "__init__.py"
    with client(kernel) as http:
        assert answer(http, "swap") == "one"
        # Same size as before: a stale-bytecode loader would keep answering "one".
        write(init, extension_source("swap", "two"))
        eventually(lambda: answer(http, "swap") == "two")

        write(init, extension_source("swap", "bad") + "\ndef broken(:\n")
        status = eventually(lambda: (s := replica_status(http, "swap"))["lastError"] and s)
        assert "SyntaxError" in status["lastError"]
        assert f"{init}:" in status["lastError"]
        assert status["state"] == "Running"
        assert answer(http, "swap") == "two"

        write(init, extension_source("swap", "three"))
        eventually(lambda: answer(http, "swap") == "three")
        status = replica_status(http, "swap")
        assert status["lastError"] == ""
        assert status["state"] == "Running"
        assert status["leak"] == ""


def test_runtime_error_at_import_names_file_and_line(kernel: KernelProcess, site: Path) -> None:
    init = site / "ext_swap" / "__init__.py"
    with client(kernel) as http:
        write(init, extension_source("swap", "four", extra="\nraise RuntimeError('boom')\n"))
        status = eventually(lambda: (s := replica_status(http, "swap"))["lastError"] and s)
        assert "RuntimeError: boom" in status["lastError"]
        assert f"{init}:" in status["lastError"]
        write(init, extension_source("swap", "five"))
        eventually(lambda: answer(http, "swap") == "five")


def test_a_changed_compiled_module_asks_for_a_restart(kernel: KernelProcess, site: Path) -> None:
    native = site / "ext_swap" / "native.so"
    with client(kernel) as http:
        native.write_bytes(b"not really ELF")
        status = eventually(lambda: (s := replica_status(http, "swap"))["restartRequired"] and s)
        assert "native.so" in status["restartRequired"]
        assert answer(http, "swap") is not None


def test_restart_when_unswappable_stops_the_worker_gracefully(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "native", extension_source("native", "yes"))
    config = {"extensions": {"restartWhenUnswappable": True}}
    with kernel_with_site(tmp_path / "data", site, config) as kernel:
        with client(kernel) as http:
            assert answer(http, "native") == "yes"
        (site / "ext_native" / "native.so").write_bytes(b"x")
        assert kernel.process.wait(30) == 0
    assert "restarting the worker" in kernel.log()


def test_install_and_uninstall_at_runtime(kernel: KernelProcess, site: Path) -> None:
    with client(kernel) as http:
        assert http.get("/kapis/late.test.io/v1/answer").status_code == 404
        install(site, "late", extension_source("late", "here"))
        eventually(lambda: answer(http, "late") == "here")
        names = [i["metadata"]["name"] for i in http.get(ADMIN_API).json()["items"]]
        assert "late" in names
        uninstall(site, "late")
        eventually(lambda: http.get("/kapis/late.test.io/v1/answer").status_code == 404)
        names = [i["metadata"]["name"] for i in http.get(ADMIN_API).json()["items"]]
        assert "late" not in names
