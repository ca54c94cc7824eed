"""Request and response headers across the proxy: hop-by-hop removal, identity, forwarding."""

from __future__ import annotations

from collections.abc import Iterable

from luban.auth.user import UserInfo

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Never forwarded from the caller: the proxy sets these itself (the body's framing included;
# the kernel's server already answered any ``Expect: 100-continue``).
_REPLACED = frozenset(
    {b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"content-length",
     b"expect"}
)  # fmt: skip
# Set by the kernel's own HTTP server on every response: an upstream copy would duplicate it.
_DOWNSTREAM_REPLACED = frozenset({b"date"})
_WEBSOCKET = frozenset(
    {b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions",
     b"sec-websocket-protocol", b"sec-websocket-accept"}
)  # fmt: skip
IMPERSONATE_PREFIX = b"impersonate-"


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    tokens: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return tokens


def upstream_request_headers(
    headers: Iterable[tuple[bytes, bytes]],
    *,
    keep_authorization: bool,
    keep_impersonation: bool,
    websocket: bool = False,
) -> list[tuple[bytes, bytes]]:
    """The caller's headers that may go upstream (raw bytes, as the caller sent them)."""
    headers = list(headers)
    dropped = HOP_BY_HOP | _REPLACED | _connection_tokens(headers)
    if websocket:
        dropped |= _WEBSOCKET
    result: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name in dropped:
            continue
        if name == b"authorization" and not keep_authorization:
            continue
        if name == b"cookie" and not keep_authorization:
            continue
        if name.startswith(IMPERSONATE_PREFIX) and not keep_impersonation:
            continue
        result.append((name, value))
    return result


def impersonation_headers(user: UserInfo) -> list[tuple[bytes, bytes]]:
    """``Impersonate-*`` headers that make the upstream act as ``user`` (values in UTF-8)."""
    result = [(b"Impersonate-User", user.name.encode())]
    if user.uid:
        result.append((b"Impersonate-Uid", user.uid.encode()))
    result += [(b"Impersonate-Group", group.encode()) for group in user.groups]
    for key, values in user.extra.items():
        encoded = "".join(c if c.isalnum() or c in "-_.~" else f"%{ord(c):02X}" for c in key)
        name = f"Impersonate-Extra-{encoded}".encode()
        result += [(name, value.encode()) for value in values]
    return result


def forwarded_headers(
    client: str, scheme: bytes, host: bytes, prior: bytes | None
) -> list[tuple[bytes, bytes]]:
    """``X-Forwarded-For/-Proto/-Host`` (appending to a chain only a trusted proxy sent)."""
    chain = client.encode() if prior is None else prior + b", " + client.encode()
    return [
        (b"X-Forwarded-For", chain),
        (b"X-Forwarded-Proto", scheme),
        (b"X-Forwarded-Host", host),
    ]


def text_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """``headers`` as text, for aiohttp (which sends ``str`` headers as UTF-8)."""
    return [(name.decode("latin-1"), value.decode("utf-8", "replace")) for name, value in headers]


def downstream_response_headers(
    headers: Iterable[tuple[bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """Upstream response headers that may reach the caller (the server adds its own Date)."""
    lowered = [(name.lower(), value) for name, value in headers]
    dropped = HOP_BY_HOP | _DOWNSTREAM_REPLACED | _connection_tokens(lowered)
    return [(name, value) for name, value in lowered if name not in dropped]
