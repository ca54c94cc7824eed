"""Everything CI checks, in order: ruff lint, ruff format, mypy, then the pytest suite.

Extra arguments go to pytest. Exits non-zero when any step fails (all steps still run).
"""

from __future__ import annotations

import subprocess
import sys
import time

STEPS: list[tuple[str, list[str]]] = [
    ("ruff check", ["ruff", "check", "."]),
    ("ruff format", ["ruff", "format", "--check", "."]),
    ("mypy", ["mypy"]),
]


def main(pytest_args: list[str]) -> int:
    steps = [*STEPS, ("pytest", ["pytest", *pytest_args])]
    failed: list[str] = []
    for name, command in steps:
        print(f"==> {name}: {' '.join(command)}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, "-m", *command], check=False).returncode
        print(f"<== {name}: exit {code} in {time.monotonic() - started:.1f}s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)}", flush=True)
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
