"""The kernel's admin token: generated once per data dir, kept in a 0600 file."""

from __future__ import annotations

import secrets
from pathlib import Path

from luban.files import write_private

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret


def ensure_admin_token(data_dir: Path) -> str:
    """Return the admin token stored in ``data_dir``, generating it on first use."""
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    write_private(path, token.encode() + b"\n")
    return token
