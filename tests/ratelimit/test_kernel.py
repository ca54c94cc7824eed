"""``luban serve --config FILE`` with rate limits: 429s on a real kernel, live reload."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.procs import KernelProcess, run_kernel

LIMITED = "/limited/thing"  # a kernel 404: authenticated, routed, answered by the kernel
POLICY = """\
rateLimits:
  - name: limited
    match: {{path: /limited/**, methods: [GET]}}
    rate: "{rate}"
"""


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ratelimit") / "luban.yaml"


@pytest.fixture(scope="module")
def kernel(config_file: Path) -> Iterator[KernelProcess]:
    config_file.write_text(POLICY.format(rate="3/minute"))
    data = config_file.parent / "data"
    with run_kernel(data, "--config", str(config_file), "--embedded") as process:
        yield process


def _until(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_limits_from_the_config_file_apply_and_reload_live(
    kernel: KernelProcess, config_file: Path
) -> None:
    with httpx.Client(base_url=kernel.url, verify=kernel.verify, headers=kernel.auth) as client:
        codes = [client.get(LIMITED).status_code for _ in range(5)]
        assert codes == [404, 404, 404, 429, 429]
        refused = client.get(LIMITED)
        body = orjson.loads(refused.content)
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "TooManyRequests", 429)
        assert refused.headers["x-luban-ratelimit-policy"] == "limited"
        assert refused.headers["ratelimit-policy"] == '"limited";q=3;w=60'
        assert int(refused.headers["retry-after"]) == body["details"]["retryAfterSeconds"]
        assert client.get("/livez").status_code == 200

        config_file.write_text(POLICY.format(rate="100/minute"))
        _until(lambda: client.get(LIMITED).status_code == 404)
        assert client.get(LIMITED).headers["ratelimit-policy"] == '"limited";q=100;w=60'

        # A bad edit keeps the running policies and says why in one line.
        config_file.write_text(POLICY.format(rate="lots"))
        _until(lambda: "rate limits not reloaded" in kernel.log())
        line = next(x for x in kernel.log().splitlines() if "rate limits not reloaded" in x)
        assert "rateLimits.0.rate" in line
        assert "'lots' is not a rate" in line
        assert client.get(LIMITED).headers["ratelimit-policy"] == '"limited";q=100;w=60'

        config_file.write_text("rateLimits: []\n")
        _until(lambda: "ratelimit" not in client.get(LIMITED).headers)

        metrics = client.get("/metrics").text
        assert 'luban_ratelimit_requests_total{outcome="rejected",policy="limited"}' in metrics
