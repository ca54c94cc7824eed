"""Duplicate keys in JSON and YAML request bodies, found the way the API server's strict
decoders report them.

orjson and PyYAML keep the last of two equal keys without a word. Under
``fieldValidation=Strict`` or ``Warn`` the real server reports each one: the JSON decoder of
``sigs.k8s.io/json`` as ``duplicate field "<path>"`` (document order, paths like
``spec.template.spec.containers[0].imagePullPolicy``), the YAML one (``yaml.v2`` strict) as
``line <n>: key "<key>" already set in map``.

The JSON check is two-staged so that the common case stays cheap: :func:`json_has_duplicates`
compares how many strings the body holds with how many its decoded value holds (one
``orjson.dumps`` and a few byte counts); only when they differ does :func:`json_duplicates`
decode the body again, keeping every key, to name the duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from luban.kube.goquote import go_quote


def _strings(data: bytes) -> int:
    """How many JSON strings (keys and values) ``data``, valid JSON, holds.

    Each string has two unescaped quotes. A quote inside one is ``\\"``; dropping every
    ``\\\\`` (an escaped backslash) first leaves exactly those to subtract.
    """
    quotes = data.count(b'"')
    if b"\\" in data:
        if b"\\\\" in data:
            data = data.replace(b"\\\\", b"")
        quotes -= data.count(b'\\"')
    return quotes // 2


def json_has_duplicates(body: bytes, decoded: Any) -> bool:
    """Whether ``body`` (valid JSON that decoded to ``decoded``) repeats a key in an object.

    A repeated key drops at least one string (itself) from the decoded value, and nothing
    else does, so the counts differ exactly when a key repeats.
    """
    try:
        again = orjson.dumps(decoded)
    except (TypeError, orjson.JSONEncodeError):
        return True  # cannot tell cheaply: let the full scan decide
    return _strings(body) != _strings(again)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in document order, repeats included."""


@dataclass(frozen=True)
class KeyEvent:
    """One key of a JSON document, in document order."""

    ordinal: int
    path: str
    key: str
    duplicate: bool


def _events(tree: Any) -> Iterator[KeyEvent]:
    """Every key of ``tree`` (decoded with :class:`_Pairs` objects) in document order.

    Paths put ``.`` before a key and ``[i]`` after a list, like ``sigs.k8s.io/json``.
    Iterative, so deep documents cannot exhaust the stack.
    """
    ordinal = 0
    # (value, path, key or None for a list item, duplicate)
    todo: list[tuple[Any, str, str | None, bool]] = [(tree, "", None, False)]
    while todo:
        value, path, key, duplicate = todo.pop()
        if key is not None:
            ordinal += 1
            yield KeyEvent(ordinal, path, key, duplicate)
        later: list[tuple[Any, str, str | None, bool]] = []
        if isinstance(value, _Pairs):
            seen: set[str] = set()
            for k, v in value:
                later.append((v, f"{path}.{k}" if path else k, k, k in seen))
                seen.add(k)
        elif isinstance(value, list):
            later = [(v, f"{path}[{i}]", None, False) for i, v in enumerate(value)]
        todo.extend(reversed(later))


@dataclass(frozen=True)
class JSONDuplicates:
    """The repeated keys of a JSON body and where every key first stands."""

    repeated: list[KeyEvent] = field(default_factory=list)
    first: dict[str, int] = field(default_factory=dict)


NO_JSON_DUPLICATES = JSONDuplicates()


def key_events(body: bytes) -> list[KeyEvent]:
    """All keys of the JSON ``body`` in document order, repeats marked."""
    try:
        tree = json.loads(body, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return []
    return list(_events(tree))


def json_duplicates(body: bytes) -> JSONDuplicates:
    """The repeated keys of the JSON ``body`` (document order) and each key path's first
    position, which orders them among unknown-field errors."""
    repeated: list[KeyEvent] = []
    first: dict[str, int] = {}
    for event in key_events(body):
        if event.duplicate:
            repeated.append(event)
        else:
            first.setdefault(event.path, event.ordinal)
    return JSONDuplicates(repeated, first)


def check_json(body: bytes, decoded: Any) -> JSONDuplicates:
    """:func:`json_duplicates` when :func:`json_has_duplicates` says there are any."""
    if not json_has_duplicates(body, decoded):
        return NO_JSON_DUPLICATES
    return json_duplicates(body)


# --- YAML ------------------------------------------------------------------------------------

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _go_key(key: Any) -> str:
    """A YAML key as yaml.v2 prints it with ``%#v``."""
    if isinstance(key, str):
        return go_quote(key)
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


class _CheckingLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, noting each mapping key that repeats an earlier one."""

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self.repeated: list[tuple[int, int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[type, Any]] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                marker = (type(key), key)
                if marker in seen:
                    mark = key_node.start_mark
                    message = f"line {mark.line + 1}: key {_go_key(key)} already set in map"
                    self.repeated.append((mark.line, mark.column, message))
                seen.add(marker)
        return super().construct_mapping(node, deep)


def load_yaml(body: bytes, check: bool) -> tuple[Any, list[str]]:
    """``yaml.safe_load(body)`` and, when ``check``, yaml.v2's strict errors for repeated
    keys (``line 12: key "paused" already set in map``) in document order."""
    if not check:
        return yaml.safe_load(body), []
    loader = _CheckingLoader(body)
    try:
        value = loader.get_single_data()
    finally:
        loader.dispose()
    return value, [message for _line, _col, message in sorted(loader.repeated)]
