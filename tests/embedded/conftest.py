from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.procs import ClusterProcess, run_cluster


@dataclass
class Kubectl:
    """The pinned kubectl against one kubeconfig, with its own cache dir."""

    binary: Path
    kubeconfig: Path
    home: Path

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "HOME": str(self.home), "KUBECACHEDIR": str(self.home / "cache")},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcess]:
    """One ``luban cluster serve`` process per test module."""
    with run_cluster(tmp_path_factory.mktemp("cluster") / "data") as process:
        yield process


@pytest.fixture(scope="module")
def kctl(cluster: ClusterProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    import sys

    return Kubectl(
        Path(sys.executable).parent / "kubectl",
        cluster.kubeconfig,
        tmp_path_factory.mktemp("kubectl-home"),
    )
