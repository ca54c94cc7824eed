"""The Resource API's list query: parsed from a query string or a JSON body, validated.

Every bad value is a 400 ``Status`` naming the parameter. Semantics (also served by the
capabilities document, :mod:`luban.resources.capabilities`):

- ``filter`` terms ``path OP value`` with OP one of ``=``/``==``, ``!=``, ``~`` (case-insensitive
  substring), ``<``, ``>``, ``<=``, ``>=`` (numbers or RFC 3339 timestamps), ``in (a,b)``,
  ``notin (a,b)``; commas between terms mean OR, repeated ``filter`` parameters mean AND.
- ``sortBy`` is a comma list of paths; a ``-``/``+`` prefix sorts that key descending/ascending.
  Without any prefix the ``ascending`` parameter (default false) sets the direction (KubeSphere).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from luban.kube.selectors import (
    EVERYTHING,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from luban.resources.fields import (
    Path,
    invalid,
    number_of,
    parse_path,
    text_of,
    timestamp_of,
)

FILTER_OPERATORS = ("=", "==", "!=", "~", "<", ">", "<=", ">=", "in", "notin")
_ORDERED = ("<", ">", "<=", ">=")
_SET_TERM = re.compile(r"^\s*(?P<path>\S+?)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_LIST_PARAMS = frozenset({"names", "namespaces", "sortBy", "summary"})
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class Term:
    """One comparison of a field's value with a literal."""

    path: Path
    op: str
    literal: str
    values: frozenset[str] = frozenset()
    number: float | None = None  # for ordered comparisons: the literal as a number ...
    instant: float | None = None  # ... or as a timestamp

    def test(self, value: Any) -> bool:
        """Whether ``value`` (the object's value at :attr:`path`) satisfies the term."""
        op = self.op
        if op in ("=", "=="):
            return text_of(value) == self.literal
        if op == "!=":
            return text_of(value) != self.literal
        if op == "~":
            text = text_of(value)
            return text is not None and self.literal in text.lower()
        if op == "~=":  # fieldSelector's case-insensitive equality
            text = text_of(value)
            return text is not None and text.lower() == self.literal
        if op == "~!=":
            text = text_of(value)
            return text is None or text.lower() != self.literal
        if op == "in":
            return text_of(value) in self.values
        if op == "notin":
            return text_of(value) not in self.values
        actual: float | None
        wanted: float | None
        if self.number is not None:
            actual, wanted = number_of(value), self.number
        else:
            actual, wanted = timestamp_of(value), self.instant
        if actual is None or wanted is None:
            return False
        if op == "<":
            return actual < wanted
        if op == ">":
            return actual > wanted
        if op == "<=":
            return actual <= wanted
        return actual >= wanted


@dataclass(frozen=True)
class SortKey:
    """One sort key: a path and its direction."""

    path: Path
    descending: bool


@dataclass
class Query:
    """A validated list query."""

    name: str | None = None
    namespaces: frozenset[str] | None = None
    label_selector: LabelSelector = EVERYTHING
    field_terms: list[Term] = field(default_factory=list)
    filters: list[list[Term]] = field(default_factory=list)  # AND of ORs
    names: frozenset[str] | None = None
    uid: str | None = None
    owner_uid: str | None = None
    owner_kind: str | None = None
    labels: list[tuple[str, str | None]] = field(default_factory=list)
    annotations: list[tuple[str, str | None]] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    page: int = 1
    limit: int | None = None
    summary: list[Path] = field(default_factory=list)
    resource_version: int | None = None
    watch: bool = False
    bookmarks: bool = False
    timeout_seconds: float | None = None

    def paths(self) -> set[Path]:
        """Every field path the query reads (the store must keep them)."""
        result = {t.path for t in self.field_terms}
        result |= {t.path for group in self.filters for t in group}
        result |= {k.path for k in self.sort}
        result |= set(self.summary)
        if self.owner_uid is not None or self.owner_kind is not None:
            result.add(("metadata", "ownerReferences"))
        if self.annotations:
            result.add(("metadata", "annotations"))
        if self.uid is not None:
            result.add(("metadata", "uid"))
        return result


def _bool(parameter: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise invalid(parameter, value, "must be true or false")


def _int(parameter: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise invalid(parameter, value, "must be an integer") from None
    if number < minimum:
        raise invalid(parameter, value, f"must be at least {minimum}")
    return number


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses and brackets."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_term(text: str, parameter: str = "filter") -> Term:
    """One ``filter`` term."""
    match = _SET_TERM.match(text)
    if match is not None:
        values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
        if not values:
            raise invalid(parameter, text, f"{match['op']} needs at least one value")
        return Term(parse_path(match["path"], parameter), match["op"], "", values)
    depth = 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0 and ch in "=!<>~":
            two = text[i : i + 2]
            op = two if two in ("!=", "<=", ">=", "==") else ch
            if op == "!":
                break
            path = parse_path(text[:i].strip(), parameter)
            literal = text[i + len(op) :].strip()
            if op == "~":
                return Term(path, op, literal.lower())
            if op in _ORDERED:
                number = number_of(literal)
                instant = timestamp_of(literal) if number is None else None
                if number is None and instant is None:
                    raise invalid(parameter, text, f"{op} needs a number or an RFC 3339 time")
                return Term(path, op, literal, number=number, instant=instant)
            return Term(path, op, literal)
    raise invalid(parameter, text, f"expected 'path OP value' with OP one of {FILTER_OPERATORS}")


def _key_value(parameter: str, text: str) -> tuple[str, str | None]:
    key, sep, value = text.partition("=")
    if not key:
        raise invalid(parameter, text, "expected key=value or key")
    return key, (value if sep else None)


def _sort(text: str, ascending: bool) -> list[SortKey]:
    items = [s.strip() for s in _split_top(text)]
    if any(not s for s in items):
        raise invalid("sortBy", text, "empty sort key")
    prefixed = any(s[0] in "+-" for s in items)
    keys: list[SortKey] = []
    for item in items:
        descending = not ascending if not prefixed else item.startswith("-")
        keys.append(SortKey(parse_path(item.lstrip("+-"), "sortBy"), descending))
    return keys


def parse_query(params: Iterable[tuple[str, str]]) -> Query:
    """Parse query-string pairs (repeated parameters allowed) into a :class:`Query`."""
    query = Query()
    single: dict[str, str] = {}
    for key, value in params:
        if key == "filter":
            query.filters.append([parse_term(t) for t in _split_top(value) if t.strip()])
        elif key == "label":
            query.labels.append(_key_value(key, value))
        elif key == "annotation":
            query.annotations.append(_key_value(key, value))
        elif key == "summary":
            query.summary += [parse_path(p.strip(), key) for p in value.split(",") if p.strip()]
        else:
            single[key] = value
    get = single.get
    if (name := get("name")) is not None:
        query.name = name.lower() or None
    if namespaces := get("namespaces"):
        query.namespaces = frozenset(n for n in namespaces.split(",") if n)
    if selector := get("labelSelector"):
        try:
            query.label_selector = parse_label_selector(selector)
        except SelectorError as exc:
            raise invalid("labelSelector", selector, str(exc)) from None
    if selector := get("fieldSelector"):
        query.field_terms = _field_terms(selector)
    if names := get("names"):
        query.names = frozenset(n for n in names.split(",") if n)
    query.uid = get("uid") or None
    query.owner_uid = get("ownerReference") or None
    query.owner_kind = get("ownerKind") or None
    ascending = _bool("ascending", get("ascending", "false"))
    query.sort = _sort(get("sortBy") or "creationTimestamp", ascending)
    if (page := get("page")) is not None:
        query.page = _int("page", page, 1)
    if (limit := get("limit")) is not None:
        query.limit = None if limit == "-1" else _int("limit", limit, 0)
    if rv := get("resourceVersion"):
        query.resource_version = _int("resourceVersion", rv, 0)
    query.watch = _bool("watch", get("watch", "false"))
    query.bookmarks = _bool("allowWatchBookmarks", get("allowWatchBookmarks", "false"))
    if (timeout := get("timeoutSeconds")) is not None:
        query.timeout_seconds = float(_int("timeoutSeconds", timeout, 0))
    return query


def _field_terms(text: str) -> list[Term]:
    try:
        selector = parse_field_selector(text)
    except SelectorError as exc:
        raise invalid("fieldSelector", text, str(exc)) from None
    terms: list[Term] = []
    for path_text, op, value in selector.requirements:
        path = parse_path(path_text, "fieldSelector")
        if value.startswith("~"):
            terms.append(Term(path, "~!=" if op == "!=" else "~=", value[1:].lower()))
        else:
            terms.append(Term(path, op, value))
    return terms


def body_params(body: Any) -> list[tuple[str, str]]:
    """The query-string pairs equivalent to a JSON query body (``POST .../query``)."""
    if not isinstance(body, Mapping):
        raise invalid("body", type(body).__name__, "a query body must be a JSON object")
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        values = value if isinstance(value, list) else [value]
        texts: list[str] = []
        for item in values:
            if isinstance(item, bool):
                texts.append("true" if item else "false")
            elif isinstance(item, int | float | str):
                texts.append(str(item))
            else:
                raise invalid(str(key), repr(item), "must be a string, number, boolean or list")
        if key in _LIST_PARAMS and isinstance(value, list):
            pairs.append((key, ",".join(texts)))
        else:
            pairs += [(key, t) for t in texts]
    return pairs
