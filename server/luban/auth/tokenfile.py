"""Static bearer tokens from a CSV file (``token,user,uid,"group1,group2"``), re-read on change.

The format is the API server's ``--token-auth-file``. Unlike the API server the kernel
re-reads the file while running: a background task polls its identity (mtime, size, inode)
and swaps in the new table, so a removed line stops working within one poll interval.
A file that cannot be parsed rejects every token until it is fixed (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
from pathlib import Path

from luban.auth.user import UserInfo

logger = logging.getLogger("luban.auth")

POLL_SECONDS = 0.5


class TokenFileError(ValueError):
    """A line of the token file is malformed."""


def parse_token_file(text: str) -> dict[str, UserInfo]:
    """Parse the CSV; blank lines and ``#`` comments are skipped."""
    tokens: dict[str, UserInfo] = {}
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    for number, row in enumerate(csv.reader(io.StringIO("\n".join(lines))), start=1):
        if len(row) < 3:
            raise TokenFileError(f"record {number}: want at least token,user,uid")
        token, name, uid = (field.strip() for field in row[:3])
        if not token or not name:
            raise TokenFileError(f"record {number}: token and user must not be empty")
        if token in tokens:
            raise TokenFileError(f"record {number}: duplicate token")
        groups: tuple[str, ...] = ()
        if len(row) > 3:
            groups = tuple(g.strip() for g in ",".join(row[3:]).split(",") if g.strip())
        tokens[token] = UserInfo(name=name, uid=uid, groups=groups)
    return tokens


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def read_token_file(path: Path, identity: tuple[int, int, int, int] | None) -> dict[str, UserInfo]:
    """The file's tokens; none when it is missing or malformed (logged)."""
    if identity is None:
        logger.warning("token file %s is missing: no static tokens", path)
        return {}
    try:
        return parse_token_file(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TokenFileError, csv.Error) as exc:
        logger.error("token file %s rejected, no static tokens until fixed: %s", path, exc)
        return {}


class TokenFileAuthenticator:
    """Recognises the tokens listed in ``path``; follows edits to the file."""

    def __init__(self, path: Path, poll_seconds: float = POLL_SECONDS) -> None:
        self.path = path
        self.poll_seconds = poll_seconds
        self._tokens: dict[str, UserInfo] = {}
        self._identity: tuple[int, int, int, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self.reloads = 0
        self._load(_identity(path))

    async def authenticate_token(self, token: str) -> UserInfo | None:
        """The user the file lists for ``token``, or ``None``."""
        return self._tokens.get(token)

    def _load(self, identity: tuple[int, int, int, int] | None) -> None:
        self._tokens = read_token_file(self.path, identity)
        self._identity = identity
        self.reloads += 1

    async def start(self) -> None:
        """Start following the file."""
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name="luban-token-file")

    async def stop(self) -> None:
        """Stop following the file."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            identity = await asyncio.to_thread(_identity, self.path)
            if identity != self._identity:
                self._tokens = await asyncio.to_thread(read_token_file, self.path, identity)
                self._identity = identity
                self.reloads += 1
                logger.info("token file %s reloaded (%d tokens)", self.path, len(self._tokens))
