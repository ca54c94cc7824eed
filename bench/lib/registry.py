"""Finding the benchmarks: every module directly under ``bench/`` is one."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path
from typing import Protocol, cast

from bench.lib.report import Report

BENCH_DIR = Path(__file__).resolve().parent.parent


class Benchmark(Protocol):
    """What a benchmark module ``bench/<name>.py`` provides."""

    DESCRIPTION: str
    """One line for ``python -m bench --list``."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the benchmark's own options (load shape, cases) to its parser."""

    def run(self, args: argparse.Namespace) -> Report:
        """Measure, and return the rows to print; raise ``BenchmarkError`` to fail cleanly."""


class BenchmarkError(RuntimeError):
    """A benchmark cannot run here (a tool is missing, a server did not start)."""


def names() -> list[str]:
    """The names of the available benchmarks, sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(BENCH_DIR)])
        if not info.ispkg and not info.name.startswith("_")
    )


def load(name: str) -> Benchmark:
    """Import ``bench.<name>`` and check that it is a benchmark."""
    if name not in names():
        raise KeyError(name)
    module = importlib.import_module(f"bench.{name}")
    for attribute in ("DESCRIPTION", "add_arguments", "run"):
        if not hasattr(module, attribute):
            raise TypeError(f"bench/{name}.py has no {attribute}")
    return cast(Benchmark, module)
