"""A static token file, like kube-apiserver's ``--token-auth-file``, re-read when it changes.

Each line is CSV: ``token,user,uid[,"group1,group2"]``. Lines that are blank, start with
``#`` or have fewer than three columns are skipped (with a warning). The file is polled
(``stat`` in a worker thread) once a second, so a removed token stops working within ~1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import os
from pathlib import Path

from luban.auth.user import AUTHENTICATED_GROUP, UserInfo

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def parse_token_file(text: str) -> dict[str, UserInfo]:
    """Users by token from the file's text."""
    users: dict[str, UserInfo] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 3:
            logger.warning("token file line %d: needs at least token,user,uid", number)
            continue
        token, name, uid = (column.strip() for column in row[:3])
        groups = [g.strip() for g in row[3].split(",") if g.strip()] if len(row) > 3 else []
        if AUTHENTICATED_GROUP not in groups:
            groups.append(AUTHENTICATED_GROUP)
        users[token] = UserInfo(name=name, uid=uid, groups=tuple(groups))
    return users


class TokenFile:
    """The users of a token file that may appear, change or vanish at any time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._users: dict[str, UserInfo] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._task: asyncio.Task[None] | None = None

    def lookup(self, token: str) -> UserInfo | None:
        """The user a token belongs to, or ``None`` (a map lookup, as kube-apiserver does)."""
        return self._users.get(token)

    def _read(self) -> tuple[tuple[int, int, int] | None, str | None]:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None, None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp == self._stamp:
            return stamp, None
        return stamp, self.path.read_text(encoding="utf-8", errors="replace")

    async def refresh(self) -> None:
        """Re-read the file if it changed since the last look."""
        stamp, text = await asyncio.to_thread(self._read)
        if stamp is None:
            if self._users:
                logger.info("token file %s is gone; its tokens no longer work", self.path)
            self._users, self._stamp = {}, None
            return
        if text is not None:
            self._users = parse_token_file(text)
            self._stamp = stamp
            logger.info("loaded %d token(s) from %s", len(self._users), self.path)

    async def start(self) -> None:
        """Load the file and start polling it."""
        await self.refresh()
        self._task = asyncio.create_task(self._poll(), name="luban-token-file")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.refresh()
            except OSError as exc:
                logger.warning("cannot read token file %s: %s", self.path, exc)
