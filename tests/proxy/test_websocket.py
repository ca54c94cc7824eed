"""WebSocket relays (exec-style) through the kernel to a channel-protocol upstream: frames,
subprotocol negotiation, close codes both ways, client abort, SPDY refusal, Origin checks."""

from __future__ import annotations

import base64
import os
import ssl
import threading
import time

import aiohttp
import httpx
import pytest

from tests.procs import KernelProcess
from tests.proxy import rawhttp
from tests.proxy.conftest import ALLOWED_ORIGIN, Upstreams
from tests.proxy.upstreams import CHANNEL_PROTOCOLS, WebSocketSession

EXEC = "/clusters/ws/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true"


def _ssl(kernel: KernelProcess) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(kernel.ca_file))


def _session_running(upstreams: Upstreams, command: str) -> WebSocketSession:
    """The upstream session started for ``command`` (sessions of other tests may interleave)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for session in upstreams.plain.sessions:
            if session.command == command:
                return session
        time.sleep(0.02)
    raise AssertionError(f"no upstream session ran {command!r}")


def _ended(session: WebSocketSession) -> threading.Event:
    session.ended.wait(5)
    return session.ended


@pytest.mark.parametrize("protocol", CHANNEL_PROTOCOLS)
async def test_frames_round_trip(
    kernel: KernelProcess, upstreams: Upstreams, protocol: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            kernel.url + EXEC, protocols=(protocol,), headers=kernel.auth, ssl=_ssl(kernel)
        ) as ws,
    ):
        assert ws.protocol == protocol
        payload = os.urandom(1000) if protocol != "base64.channel.k8s.io" else b"echo hi\n"
        if protocol == "base64.channel.k8s.io":
            await ws.send_str("0" + base64.b64encode(payload).decode())
            frames = [await ws.receive_str() for _ in range(2)]
            assert frames == ["1" + base64.b64encode(payload).decode(),
                              "2" + base64.b64encode(payload).decode()]  # fmt: skip
        else:
            await ws.send_bytes(b"\x00" + payload)
            assert await ws.receive_bytes() == b"\x01" + payload
            assert await ws.receive_bytes() == b"\x02" + payload
        if protocol == "v5.channel.k8s.io":  # v5: closing stdin ends the session
            await ws.send_bytes(b"\xff\x00")
            assert (await ws.receive_bytes()).startswith(b"\x03")
            closing = await ws.receive()
            assert closing.type == aiohttp.WSMsgType.CLOSE
            assert closing.data == 1000


async def test_upstream_chooses_the_subprotocol(
    kernel: KernelProcess, upstreams: Upstreams
) -> None:
    command = f"choose-{os.urandom(4).hex()}"
    path = EXEC.replace("command=sh", f"command={command}") + "&prefer=v4.channel.k8s.io"
    async with aiohttp.ClientSession() as http, http.ws_connect(
        kernel.url + path, protocols=CHANNEL_PROTOCOLS, headers=kernel.auth, ssl=_ssl(kernel),
    ) as ws:  # fmt: skip
        assert ws.protocol == "v4.channel.k8s.io"
        # Sessions of earlier tests may still be recorded: find this one by its command.
        assert _session_running(upstreams, command).protocol == "v4.channel.k8s.io"


async def test_upstream_close_code_and_reason_reach_the_client(
    kernel: KernelProcess,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            kernel.url + EXEC,
            protocols=("v4.channel.k8s.io",),
            headers=kernel.auth,
            ssl=_ssl(kernel),
        ) as ws,
    ):
        await ws.send_bytes(b"\x00close:4001:bye now")
        message = await ws.receive()
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert (message.data, message.extra) == (4001, "bye now")


async def test_client_close_code_and_reason_reach_the_upstream(
    kernel: KernelProcess, upstreams: Upstreams
) -> None:
    command = f"close-{os.urandom(4).hex()}"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            kernel.url + EXEC.replace("command=sh", f"command={command}"),
            protocols=("v4.channel.k8s.io",),
            headers=kernel.auth,
            ssl=_ssl(kernel),
        ) as ws,
    ):
        await ws.close(code=4002, message=b"client done")
    session = _session_running(upstreams, command)
    assert _ended(session).is_set()
    assert (session.close_code, session.close_reason) == (4002, "client done")


def test_client_abort_closes_the_upstream(kernel: KernelProcess, upstreams: Upstreams) -> None:
    command = f"abort-{os.urandom(4).hex()}"
    path = EXEC.replace("command=sh", f"command={command}")
    sock = rawhttp.connect(kernel)
    key = base64.b64encode(os.urandom(16)).decode()
    host = kernel.url.removeprefix("https://")
    sock.sendall(
        (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
         f"Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n"
         f"Authorization: {kernel.auth['Authorization']}\r\n\r\n").encode()
    )  # fmt: skip
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    session = _session_running(upstreams, command)
    sock.close()  # no close frame: the caller just went away
    assert _ended(session).is_set()


def test_spdy_upgrade_gets_a_status_asking_for_websockets(client: httpx.Client) -> None:
    response = client.post(
        "/clusters/ws/api/v1/namespaces/default/pods/web/exec?command=sh",
        headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                 "X-Stream-Protocol-Version": "v4.channel.k8s.io"},
    )  # fmt: skip
    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["kind"] == "Status"
    assert "WebSocket" in body["message"]


@pytest.mark.parametrize(("origin", "allowed"), [(ALLOWED_ORIGIN, True),
                                                 ("https://evil.example", False)])  # fmt: skip
async def test_websocket_origin_is_checked(
    kernel: KernelProcess, upstreams: Upstreams, origin: str, allowed: bool
) -> None:
    count = len(upstreams.plain.sessions)
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(
                kernel.url + EXEC, protocols=("v4.channel.k8s.io",), ssl=_ssl(kernel),
                headers={**kernel.auth, "Origin": origin},
            ) as ws:  # fmt: skip
                await ws.send_bytes(b"\x00x")
                assert await ws.receive_bytes() == b"\x01x"
                refused = None
        except aiohttp.WSServerHandshakeError as exc:
            refused = exc.status
    assert (refused is None) == allowed
    if not allowed:
        assert refused == 403
        assert len(upstreams.plain.sessions) == count
