"""``luban ext``: the scaffold passes its own test; list/disable/enable/reload a kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.extensions.helpers import client, extension_source, install, kernel_with_site
from tests.procs import LUBAN


def test_scaffold_passes_its_own_test(tmp_path: Path) -> None:
    made = subprocess.run(
        [*LUBAN, "ext", "new", "my-thing", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    root = tmp_path / "my-thing"
    assert (root / "my_thing" / "__init__.py").exists()
    assert '[project.entry-points."luban.extensions"]' in (root / "pyproject.toml").read_text()
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    again = subprocess.run(
        [*LUBAN, "ext", "new", "my-thing", "--dir", str(tmp_path)], capture_output=True, text=True
    )
    assert again.returncode == 2
    assert "already exists" in again.stderr
    bad = subprocess.run([*LUBAN, "ext", "new", "Bad_Name"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_list_disable_enable_reload(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "clitest", extension_source("clitest", "yes"))
    with kernel_with_site(tmp_path / "data", site) as kernel:
        kubeconfig = str(kernel.kubeconfig)

        def ext(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*LUBAN, "ext", *args, "--kubeconfig", kubeconfig],
                capture_output=True,
                text=True,
                timeout=60,
            )

        listed = ext("list")
        assert listed.returncode == 0, listed.stderr
        line = next(row for row in listed.stdout.splitlines() if row.startswith("clitest"))
        assert line.split()[:3] == ["clitest", "true", "Running"]
        disabled = ext("disable", "clitest")
        assert disabled.returncode == 0, disabled.stderr
        assert "Disabled" in disabled.stdout
        with client(kernel) as http:
            assert http.get("/kapis/clitest.test.io/v1/answer").status_code == 404
        assert "Running" in ext("enable", "clitest").stdout
        assert ext("reload", "clitest").returncode == 0
        missing = ext("reload", "nope")
        assert missing.returncode == 1
        assert "404" in missing.stderr
