#!/usr/bin/env python3
"""Bootstrap and run Luban from a fresh checkout with nothing but Python 3.11+ and pip.

    python3 dev.py serve [luban serve flags]   run the kernel (embedded cluster by default)
    python3 dev.py test  [pytest args]         lint, type-check and run the whole test suite

It installs uv (the project's package manager) into ./.tools on first use, then lets uv
create .venv from uv.lock. Idempotent: later runs reuse both. Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
USAGE = "usage: python3 dev.py serve [FLAGS...] | test [PYTEST ARGS...]"


def find_uv() -> str:
    """A usable uv executable, installing it into ./.tools when there is none."""
    local = TOOLS / "bin" / "uv"
    if local.exists():
        return str(local)
    print("dev.py: installing uv into .tools/ (first run only)", file=sys.stderr)
    # --target keeps it out of the system environment (works where PEP 668 forbids pip installs).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--upgrade",
            "--target",
            str(TOOLS),
            "uv",
        ],
        check=True,
    )
    if not local.exists():
        sys.exit("dev.py: pip installed uv but no .tools/bin/uv appeared")
    return str(local)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - a clear message on old Pythons
        sys.exit("dev.py: Luban needs Python 3.11 or newer")
    if not argv or argv[0] not in ("serve", "test"):
        sys.exit(USAGE)
    uv = find_uv()
    if argv[0] == "serve":
        command = [uv, "run", "--frozen", "luban", "serve", *argv[1:]]
    else:
        command = [uv, "run", "--frozen", "python", "scripts/check.py", *argv[1:]]
    os.chdir(ROOT)
    os.execv(uv, command)  # noqa: S606 - replaces this process so signals reach the server


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
