"""Process-level behaviour: unhandled errors, SIGTERM drain, workers, plain HTTP."""

from __future__ import annotations

import gc
import signal
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.procs import REPO, run_kernel

TEST_KERNEL = [sys.executable, str(REPO / "tests" / "servers" / "kernel_with_test_routes.py")]


def test_unhandled_error_is_a_500_status_without_internals_and_logged_with_request_id(
    tmp_path: Path,
) -> None:
    with run_kernel(tmp_path / "data", command=TEST_KERNEL) as kernel:
        response = httpx.get(
            kernel.url + "/test/boom",
            headers={**kernel.auth, "X-Request-Id": "boom-1"},
            verify=kernel.verify,
        )
        assert response.status_code == 500
        body = response.json()
        assert body["kind"] == "Status"
        assert body["reason"] == "InternalError"
        assert "boom-1" in body["message"]
        assert "hunter2" not in response.text
        assert "Traceback" not in response.text
        # The kernel keeps serving afterwards.
        assert httpx.get(kernel.url + "/healthz", verify=kernel.verify).text == "ok"
        deadline = time.monotonic() + 5
        while "RuntimeError" not in kernel.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = kernel.log()
        assert "RuntimeError" in log
        assert "request_id=boom-1" in log


def test_sigterm_lets_an_in_flight_request_finish_then_exits_zero(tmp_path: Path) -> None:
    with run_kernel(tmp_path / "data", "--grace-period", "10", command=TEST_KERNEL) as kernel:
        results: list[httpx.Response] = []

        def slow_call() -> None:
            results.append(
                httpx.get(
                    kernel.url + "/test/slow",
                    params={"seconds": "1.5"},
                    headers=kernel.auth,
                    verify=kernel.verify,
                    timeout=20,
                )
            )

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(0.5)  # the request is in flight
        started = time.monotonic()
        kernel.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # No new connections once draining.
        try:
            httpx.get(kernel.url + "/healthz", verify=kernel.verify, timeout=2)
            accepted_new = True
        except httpx.TransportError:
            accepted_new = False
        caller.join(20)
        assert kernel.process.wait(20) == 0
        assert not accepted_new
        assert results[0].status_code == 200
        assert results[0].text == "finished"
        assert time.monotonic() - started >= 0.9


def test_grace_period_bounds_the_drain(tmp_path: Path) -> None:
    with run_kernel(tmp_path / "data", "--grace-period", "1", command=TEST_KERNEL) as kernel:
        outcomes: list[object] = []

        def stuck_call() -> None:
            try:
                response = httpx.get(
                    kernel.url + "/test/slow",
                    params={"seconds": "60"},
                    headers=kernel.auth,
                    verify=kernel.verify,
                    timeout=30,
                )
                outcomes.append(response.status_code)
            except httpx.HTTPError as exc:
                outcomes.append(exc)

        caller = threading.Thread(target=stuck_call)
        caller.start()
        time.sleep(0.5)
        started = time.monotonic()
        kernel.process.send_signal(signal.SIGTERM)
        assert kernel.process.wait(20) == 0
        assert time.monotonic() - started < 8
        caller.join(20)
        # The stuck request was cut off (no 200 after a 60 s sleep), not waited for.
        assert outcomes
        assert outcomes[0] != 200, outcomes


def test_two_workers_serve_and_stop_cleanly(tmp_path: Path) -> None:
    with run_kernel(tmp_path / "data", "--workers", "2", "--insecure-http") as kernel:
        assert kernel.url.startswith("http://")
        assert kernel.ca_file is None
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(kernel.url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for _ in range(20):
            assert httpx.get(kernel.url + "/version", headers=kernel.auth).status_code == 200
        metrics = httpx.get(kernel.url + "/metrics").text
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("luban_http_requests_total{") and 'route="/version"' in line
        )
        assert total == 20  # summed over both workers' shared metric files
        assert kernel.terminate() == 0


def test_worker_factory_applies_the_process_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Workers are spawned interpreters: without this they ran with Python's default GC
    # thresholds (measured: ~50% more CPU per proxied request with 2 workers).
    import luban.app

    monkeypatch.setenv(luban.app.SETTINGS_ENV, "{}")
    created: list[object] = []
    monkeypatch.setattr(luban.app, "create_app", created.append)
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        luban.app.create_app_from_environment()
        assert gc.get_threshold() == (50_000, 50, 1000)
    finally:
        gc.set_threshold(*before)
    assert len(created) == 1
