"""``python -m bench NAME [options]``: run one benchmark, print its table, save a JSON copy."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.lib import registry
from bench.lib.machine import machine_info
from bench.lib.report import Report, as_json, table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run a Luban benchmark; `python -m bench NAME --help` shows its options.",
        add_help=False,
    )
    parser.add_argument("name", nargs="?", help="benchmark to run")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    return parser


def _print_list() -> None:
    for name in registry.names():
        print(f"{name:<16} {registry.load(name).DESCRIPTION}")


def _save(name: str, report: Report, machine: dict[str, str], started: datetime) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}-{started:%Y%m%dT%H%M%SZ}.json"
    document = {
        "benchmark": name,
        "started": started.isoformat(),
        "command": " ".join(["python", "-m", "bench", *sys.argv[1:]]),
        "machine": machine,
        **as_json(report),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the benchmark and report; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top, rest = _top_parser().parse_known_args(argv)
    if top.list:
        _print_list()
        return 0
    if top.name is None:
        _top_parser().print_help()
        print("\nbenchmarks:")
        _print_list()
        return 0 if top.help else 2
    try:
        benchmark = registry.load(top.name)
    except KeyError:
        print(f"bench: no benchmark {top.name!r}; try --list", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog=f"python -m bench {top.name}", description=benchmark.DESCRIPTION
    )
    benchmark.add_arguments(parser)
    parser.add_argument(
        "--no-save", action="store_true", help="do not write the JSON copy under bench/results/"
    )
    args = parser.parse_args([*rest, "--help"] if top.help else rest)

    machine = machine_info()
    started = datetime.now(UTC)
    clock = time.monotonic()
    try:
        report = benchmark.run(args)
    except registry.BenchmarkError as error:
        print(f"bench {top.name}: {error}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - clock

    print(f"\n{report.title}\n")
    print(table(report))
    print()
    print("machine: " + ", ".join(f"{key} {value}" for key, value in machine.items()))
    print(f"took {elapsed:.0f} s")
    for note in report.notes:
        print(f"note: {note}")
    if not args.no_save:
        saved = _save(top.name, report, machine, started)
        print(
            f"saved {saved.relative_to(Path.cwd()) if saved.is_relative_to(Path.cwd()) else saved}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
