"""Reading a server's process group from /proc: its processes, memory and CPU time."""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def raise_open_file_limit() -> int:
    """Raise this process's soft open-files limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _stat_fields(pid: int) -> list[str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the command name (which may hold spaces and parentheses); index 0 is field 3.
    return stat[stat.rindex(")") + 2 :].split()


def group_pids(pgid: int) -> list[int]:
    """Every live process in process group ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def rss_bytes(pgid: int) -> int:
    """The summed resident set size of process group ``pgid`` (a server and its workers)."""
    total = 0
    for pid in group_pids(pgid):
        with contextlib.suppress(OSError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


def cpu_seconds(pgid: int) -> float:
    """User plus system CPU time used so far by the live processes of group ``pgid``."""
    ticks = 0
    for pid in group_pids(pgid):
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / TICKS
