"""Dotted field paths into objects, and how their values compare and sort."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from luban.kube.errors import APIError, bad_request

Path = tuple[str, ...]

# ``metadata.labels[app.kubernetes.io/name]``: brackets hold a key that contains dots.
_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

# Friendly names KubeSphere clients use for sort keys.
ALIASES: dict[str, str] = {
    "name": "metadata.name",
    "namespace": "metadata.namespace",
    "creationTimestamp": "metadata.creationTimestamp",
    "createTime": "metadata.creationTimestamp",
    "uid": "metadata.uid",
}


def parse_path(text: str, parameter: str) -> Path:
    """``a.b[c.d].e`` -> ``("a", "b", "c.d", "e")``; a 400 naming ``parameter`` if malformed."""
    text = ALIASES.get(text, text)
    parts: list[str] = []
    pos = 0
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if match is None:
            raise invalid(parameter, text, "not a dotted field path")
        parts.append(match.group(1) or match.group(2))
        pos = match.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            if pos == len(text):
                raise invalid(parameter, text, "a field path cannot end with '.'")
    if not parts:
        raise invalid(parameter, text, "empty field path")
    return tuple(parts)


def path_text(path: Path) -> str:
    """The canonical text of ``path`` (brackets around segments containing dots)."""
    return ".".join(f"[{p}]" if "." in p else p for p in path).replace(".[", "[")


def lookup(obj: Any, path: Path) -> Any:
    """The value at ``path`` in ``obj``; None when any step is missing or not a mapping."""
    node = obj
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


def text_of(value: Any) -> str | None:
    """The text a selector compares: strings as-is, booleans lowercase, numbers in decimal."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def number_of(value: Any) -> float | None:
    """A number from a JSON number or a numeric string, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def timestamp_of(value: Any) -> float | None:
    """Seconds since the epoch from an RFC 3339 timestamp string, else None."""
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def sort_key(value: Any) -> tuple[int, Any]:
    """A totally ordered key: missing < booleans < numbers < strings < anything else."""
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, repr(value))


def invalid(parameter: str, value: str, why: str) -> APIError:
    """A 400 ``Status`` naming the query parameter and the offending value."""
    error = bad_request(f"invalid value {value!r} for parameter {parameter!r}: {why}")
    error.details = {"causes": [{"reason": "FieldValueInvalid", "field": parameter,
                                 "message": why}]}  # fmt: skip
    return error
