"""List queries: selectors, ``limit``/``continue`` paging over a consistent snapshot."""

from __future__ import annotations

import base64
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from luban.embedded.store import Stored
from luban.kube.errors import APIError, bad_request
from luban.kube.resources import ResourceType
from luban.kube.selectors import (
    SelectorError,
    object_field,
    parse_field_selector,
    parse_label_selector,
)

SNAPSHOT_TTL = 300.0
MAX_SNAPSHOTS = 256

Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class ListQuery:
    """The selection part of a list or watch request."""

    predicate: Predicate
    label_selector: str
    field_selector: str
    name: str | None  # metadata.name=X pinned by the field selector (or a watch on one object)


def _always(obj: dict[str, Any]) -> bool:
    return True


def parse_list_query(rt: ResourceType, params: Mapping[str, str], name: str = "") -> ListQuery:
    """Parse ``labelSelector``/``fieldSelector`` (400 when malformed or unsupported)."""
    label_text = params.get("labelSelector", "")
    field_text = params.get("fieldSelector", "")
    try:
        labels = parse_label_selector(label_text) if label_text else None
        fields = parse_field_selector(field_text) if field_text else None
    except SelectorError as exc:
        raise bad_request(f"unable to parse requirement: {exc}") from None
    supported = {"metadata.name", "metadata.namespace", *rt.field_selectors}
    pinned = name or None
    if fields is not None:
        for field_name, op, value in fields.requirements:
            if field_name not in supported:
                raise bad_request(f"field label not supported: {field_name}")
            if field_name == "metadata.name" and op in ("=", "==") and pinned is None:
                pinned = value
    predicates: list[Predicate] = []
    if labels is not None and not labels.empty:
        predicates.append(lambda obj: labels.matches(obj["metadata"].get("labels") or {}))
    if fields is not None and not fields.empty:
        predicates.append(lambda obj: fields.matches(lambda path: object_field(obj, path)))
    if name:
        predicates.append(lambda obj: obj["metadata"].get("name") == name)
    if not predicates:
        predicate: Predicate = _always
    elif len(predicates) == 1:
        predicate = predicates[0]
    else:
        predicate = lambda obj: all(p(obj) for p in predicates)  # noqa: E731
    return ListQuery(predicate, label_text, field_text, pinned)


def parse_limit(params: Mapping[str, str]) -> int:
    """The ``limit`` parameter (0: no limit)."""
    raw = params.get("limit", "")
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"invalid value for limit: {raw!r} is not an integer") from None
    return max(value, 0)


class Snapshots:
    """List results held for ``continue`` tokens, so later pages see the first page's state."""

    def __init__(self) -> None:
        self._held: OrderedDict[str, tuple[float, int, list[Stored]]] = OrderedDict()

    def hold(self, items: list[Stored], rv: int) -> str:
        """Keep ``items`` (as of ``rv``) and return an id for them."""
        now = time.monotonic()
        while self._held and (
            len(self._held) >= MAX_SNAPSHOTS
            or next(iter(self._held.values()))[0] < now - SNAPSHOT_TTL
        ):
            self._held.popitem(last=False)
        snapshot_id = secrets.token_hex(8)
        self._held[snapshot_id] = (now, rv, items)
        return snapshot_id

    def get(self, snapshot_id: str) -> tuple[int, list[Stored]] | None:
        """The held items and their rv, or ``None`` when expired."""
        entry = self._held.get(snapshot_id)
        if entry is None or entry[0] < time.monotonic() - SNAPSHOT_TTL:
            return None
        return entry[1], entry[2]


def encode_continue(snapshot_id: str, rv: int, offset: int) -> str:
    """An opaque continue token."""
    return base64.urlsafe_b64encode(
        orjson.dumps({"s": snapshot_id, "rv": rv, "o": offset})
    ).decode()


EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


def decode_continue(token: str) -> tuple[str, int, int]:
    """(snapshot id, rv, offset) of a continue token (400 when malformed)."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["s"]), int(data["rv"]), int(data["o"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion"
        ) from None


def expired_continue() -> APIError:
    """410 for a continue token whose snapshot is gone."""
    return APIError(410, EXPIRED_CONTINUE, "Expired")
