"""A test that outlives its timeout ends the session with a clear failure, never a hang.

pyproject selects pytest-timeout's ``thread`` method. The ``signal`` method raises the
failure in whatever Python code the main thread is running when the alarm fires; in an
asyncio test that is often another task (a request the test started), which keeps the
error to itself, so the test hangs on with its timeout spent. The thread method dumps
every thread's stack and ends the process with ``os._exit(1)``. Through pytest-timeout's
timer hooks, this plugin first names the test and stops the kernels and clusters that
``tests.procs`` started, which ``os._exit`` would otherwise leave running.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import pytest_timeout

from tests.procs import kill_started

_TIMER = pytest.StashKey[threading.Timer]()


def _expire(item: pytest.Item, settings: Any) -> None:
    try:
        capture = item.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.suspend_global_capture(item)
        item.config.get_terminal_writer().line(
            f"\nTimeout: {item.nodeid} still running after {settings.timeout:g} s;"
            " ending the test session",
            red=True,
        )
        kill_started()
    finally:
        # Prints captured output and every thread's stack, then os._exit(1).
        pytest_timeout.timeout_timer(item, settings)


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """Arm the ``thread`` method's timer (other methods are left to pytest-timeout)."""
    if settings.method != "thread":
        return None
    timer = threading.Timer(settings.timeout, _expire, (item, settings))
    timer.name = f"timeout {item.nodeid}"
    timer.daemon = True
    item.stash[_TIMER] = timer
    timer.start()
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> bool | None:
    """Disarm the timer armed above, if it was ours."""
    timer = item.stash.get(_TIMER, None)
    if timer is None:
        return None
    del item.stash[_TIMER]
    timer.cancel()
    timer.join()
    return True
