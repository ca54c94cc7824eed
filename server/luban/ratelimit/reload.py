"""Hot reload: re-read the ``rateLimits`` section when the config file changes."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from watchfiles import Change, awatch

from luban.config import ConfigError, deep_merge, env_overrides, read_config_file
from luban.ratelimit.config import PolicyConfig, check_policies
from luban.ratelimit.limits import RateLimits

logger = logging.getLogger("luban.ratelimit")

SECTION = "rateLimits"
_POLICIES = TypeAdapter(list[PolicyConfig])


def load_policies(path: Path) -> list[PolicyConfig]:
    """The ``rateLimits`` section of ``path`` (plus ``LUBAN_*`` overrides), validated.

    Raises ``ConfigError`` with one line naming the file, the key and the problem.
    """
    data = deep_merge(read_config_file(path), env_overrides(os.environ))
    try:
        return check_policies(_POLICIES.validate_python(data.get(SECTION) or []))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in (SECTION, *error["loc"]))
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise ConfigError(f"{path}: {key}: {message}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {SECTION}: {exc}") from None


async def reload_policies(path: Path, limits: RateLimits) -> bool:
    """Apply the file's policies to ``limits``; on a bad file keep the old ones and say why."""
    try:
        policies = await asyncio.to_thread(load_policies, path)
    except ConfigError as exc:
        logger.error("rate limits not reloaded, keeping the previous policies: %s", exc)
        return False
    if list(limits.config_policies) == policies:
        return True  # touched, not changed
    limits.update_policies(policies)
    logger.info("rate limits reloaded from %s: %d policies", path, len(policies))
    return True


async def watch_config(path: Path, limits: RateLimits, debounce_ms: int = 200) -> None:
    """Reload ``limits`` each time ``path`` changes, until cancelled.

    Watches the directory, not the file: editors and config-map mounts replace files.
    """
    path = await asyncio.to_thread(path.resolve)

    def is_config(change: Change, changed: str) -> bool:
        return Path(changed).name == path.name and change != Change.deleted

    async for _ in awatch(
        path.parent, watch_filter=is_config, debounce=debounce_ms, recursive=False
    ):
        await reload_policies(path, limits)
