"""Route path patterns: ``{param}`` matches one path segment, ``**`` any number of them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

PathTest = Callable[[str], bool]
_PARAM = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")


@dataclass(frozen=True)
class PathPattern:
    """A compiled pattern: its literal leading segments (``/kapis/x.io``, for indexing; ``""``
    when it starts with a parameter or ``**``) and a fast test."""

    text: str
    prefix: str
    test: PathTest


def _always(path: str) -> bool:
    return True


def compile_pattern(text: str) -> PathPattern:
    """Compile ``text`` (``/api/v1/namespaces/{namespace}/pods``, ``/kapis/x.io/**``).

    Literal patterns compare strings, ``/prefix/**`` checks a prefix; only patterns with
    parameters elsewhere use a regular expression.
    """
    if not text.startswith("/"):
        raise ValueError(f"path pattern {text!r} must start with '/'")
    segments = text.strip("/").split("/") if text != "/" else []
    for segment in segments:
        if not segment:
            raise ValueError(f"path pattern {text!r} has an empty segment")
        if ("{" in segment or "}" in segment) and not _PARAM.match(segment):
            raise ValueError(f"path pattern {text!r}: {segment!r} is not a '{{name}}' parameter")
        if "*" in segment and segment != "**":
            raise ValueError(f"path pattern {text!r}: '*' only as a whole '**' segment")
    literal_head: list[str] = []
    for segment in segments:
        if segment == "**" or segment.startswith("{"):
            break
        literal_head.append(segment)
    first = "".join("/" + s for s in literal_head)
    literal = not any(s == "**" or s.startswith("{") for s in segments)
    if literal:
        exact = "/" + "/".join(segments)
        return PathPattern(text, first, lambda path: path == exact or path == exact + "/")
    if segments == ["**"]:
        return PathPattern(text, "", _always)
    head = segments[:-1]
    if segments[-1] == "**" and not any(s == "**" or s.startswith("{") for s in head):
        prefix = "/" + "/".join(head)
        slash = prefix + "/"
        return PathPattern(text, first, lambda path: path == prefix or path.startswith(slash))
    parts: list[str] = []
    for segment in segments:
        if segment == "**":
            # Zero or more whole segments, including the slash that precedes them.
            parts.append("(?:/[^/]+)*")
        elif segment.startswith("{"):
            parts.append("/[^/]+")
        else:
            parts.append("/" + re.escape(segment))
    regex = re.compile("".join(parts) + "/?")
    fullmatch = regex.fullmatch
    return PathPattern(text, first, lambda path: fullmatch(path) is not None)
