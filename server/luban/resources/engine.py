"""Answering a :class:`Query` from a :class:`Store`: candidates from indexes, then predicates,
then order (a maintained sort index when most objects match, a sort of the matches otherwise),
then the page.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from luban.kube.selectors import LabelSelector, Requirement
from luban.resources.fields import path_text, sort_key, text_of
from luban.resources.query import Query, SortKey, Term
from luban.resources.store import Entry, Key, Store

Predicate = Callable[[Entry], bool]
_INDEXED_OPS = ("=", "==", "in", "exists")
# Fewer candidates than this: a name search looks at each rather than at the name index.
NAME_SCAN_LIMIT = 2000


@dataclass
class Result:
    """One page of a list, with the total and any requested summaries."""

    entries: list[Entry]
    total: int
    resource_version: int
    summary: dict[str, dict[str, int]]


def _term_predicate(term: Term) -> Predicate:
    path, test = term.path, term.test
    return lambda e: test(e.value(path))


def _any_of(terms: list[Term]) -> Predicate:
    tests = [_term_predicate(t) for t in terms]
    if len(tests) == 1:
        return tests[0]
    return lambda e: any(t(e) for t in tests)


def _owners(entry: Entry) -> list[Any]:
    refs = entry.value(("metadata", "ownerReferences"))
    return refs if isinstance(refs, list) else []


def _mapping_match(get: Callable[[Entry], Any], key: str, value: str | None) -> Predicate:
    def test(entry: Entry) -> bool:
        mapping = get(entry)
        if not isinstance(mapping, dict) or key not in mapping:
            return False
        return value is None or mapping[key] == value

    return test


def predicates(query: Query, namespace: str | None, indexed: bool = False) -> list[Predicate]:
    """The query's filters as predicates (``indexed``: without those :func:`run` applies itself
    from the indexes, and without the name search it applies inline)."""
    result: list[Predicate] = []
    if namespace is not None and not indexed:
        result.append(lambda e: e.namespace == namespace)
    if query.namespaces is not None and not indexed:
        spaces = query.namespaces
        result.append(lambda e: e.namespace in spaces)
    if query.name and not indexed:
        needle = query.name
        result.append(lambda e: needle in e.folded)
    if query.names is not None:
        names = query.names
        result.append(lambda e: e.name in names)
    if query.uid is not None:
        uid, uid_path = query.uid, ("metadata", "uid")
        result.append(lambda e: e.value(uid_path) == uid)
    selector = query.label_selector
    if indexed:
        rest = tuple(r for r in selector.requirements if r.operator not in _INDEXED_OPS)
        selector = LabelSelector(rest, selector.nothing)
    if not selector.empty:
        result.append(lambda e: selector.matches(e.labels))
    for key, value in query.labels:
        if indexed and value is not None:
            continue
        result.append(_mapping_match(lambda e: e.labels, key, value))
    annotations = ("metadata", "annotations")
    for key, value in query.annotations:
        result.append(_mapping_match(lambda e: e.value(annotations), key, value))
    if query.owner_uid is not None:
        owner = query.owner_uid
        result.append(lambda e: any(isinstance(r, dict) and r.get("uid") == owner
                                    for r in _owners(e)))  # fmt: skip
    if query.owner_kind is not None:
        kind = query.owner_kind
        result.append(lambda e: any(isinstance(r, dict) and r.get("kind") == kind
                                    for r in _owners(e)))  # fmt: skip
    result += [_term_predicate(t) for t in query.field_terms]
    result += [_any_of(group) for group in query.filters]
    return result


def matcher(query: Query, namespace: str | None) -> Predicate:
    """Whether one entry satisfies every filter of ``query`` (for watches)."""
    return _conjunction(predicates(query, namespace))


def _conjunction(tests: list[Predicate]) -> Predicate:
    if not tests:
        return lambda e: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda e: first(e) and second(e)
    return lambda e: all(t(e) for t in tests)


def _requirement_keys(store: Store, requirement: Requirement) -> set[Key]:
    if requirement.operator == "exists":
        return store.label_key_keys(requirement.key)
    result: set[Key] = set()
    for value in requirement.values:
        result |= store.label_keys(requirement.key, value)
    return result


def candidates(store: Store, query: Query, namespace: str | None) -> set[Key] | None:
    """Keys that may match according to the indexes (None: every key)."""
    sets: list[set[Key]] = []
    if namespace is not None:
        sets.append(store.namespace_keys(namespace))
    if query.namespaces is not None:
        union: set[Key] = set()
        for space in query.namespaces:
            union |= store.namespace_keys(space)
        sets.append(union)
    for requirement in query.label_selector.requirements:
        if requirement.operator in _INDEXED_OPS:
            sets.append(_requirement_keys(store, requirement))
    for key, value in query.labels:
        if value is not None:
            sets.append(store.label_keys(key, value))
    if query.label_selector.nothing:
        return set()
    if not sets:
        return None
    sets.sort(key=len)
    result = set(sets[0])
    for other in sets[1:]:
        result &= other
    return result


def _sorted_entries(entries: list[Entry], keys: list[SortKey]) -> list[Entry]:
    """Multi-key stable sort; ties broken by namespace/name in the first key's direction."""
    first_desc = keys[0].descending if keys else False
    ordered = sorted(entries, key=lambda e: (e.namespace, e.name), reverse=first_desc)
    for key in reversed(keys):
        path = key.path
        ordered.sort(key=lambda e: sort_key(e.value(path)), reverse=key.descending)
    return ordered


def run(store: Store, query: Query, namespace: str | None) -> Result:
    """Answer ``query`` (restricted to ``namespace``, if any) from ``store``."""
    store.ensure_paths(query.paths())
    keys = candidates(store, query, namespace)
    tests = predicates(query, namespace, indexed=True)
    entries = store.entries
    needle = query.name
    if needle and (keys is None or len(keys) > NAME_SCAN_LIMIT):
        named = store.search_names(needle)  # the common search box, from the name index
        keys = set(named) if keys is None else keys.intersection(named)
        needle = None
    matched: list[Entry] | None = None
    if tests or keys is None or query.name:
        pool: Iterable[Entry] = entries.values() if keys is None else (entries[k] for k in keys)
        if needle:  # few candidates: look at each, inline, without a call per object
            pool = [e for e in pool if needle in e.folded]
        test = _conjunction(tests)
        matched = [e for e in pool if test(e)] if tests else list(pool)
        total = len(matched)
    else:
        total = len(keys)  # the indexes alone decided: no entry needs a look
    start = (query.page - 1) * query.limit if query.limit is not None else 0
    end = start + query.limit if query.limit is not None else total
    page = _order(store, matched, keys, query.sort, start, end, total)
    summary: dict[str, dict[str, int]] = {}
    if query.summary:
        every = matched if matched is not None else [entries[k] for k in keys or ()]
        summary = {path_text(p): _counts(every, p) for p in query.summary}
    return Result(page, total, store.resource_version, summary)


def _order(
    store: Store,
    matched: list[Entry] | None,
    found: set[Key] | None,
    keys: list[SortKey],
    start: int,
    end: int,
    total: int,
) -> list[Entry]:
    """The page ``[start:end]`` of the matches (``matched``, else the keys ``found``) in order."""
    if start >= total:
        return []
    entries = store.entries
    size = max(len(store), 1)
    # Walking a maintained index visits about end * size / total keys; sorting costs n log n.
    walk_cost = min(size, end * size / max(total, 1))
    sort_cost = 4 * total * math.log2(total + 2)
    if len(keys) != 1 or total < 64 or walk_cost > sort_cost:
        if matched is None:
            matched = [entries[k] for k in found or ()]
        return _sorted_entries(matched, keys)[start:end]
    index = store.sort_index(keys[0].path)
    if total == size:
        in_order = index.keys(keys[0].descending)
        return [entries[k] for _, k in zip(range(end), in_order, strict=False)][start:]
    wanted = (found or set()) if matched is None else {e.key for e in matched}
    page: list[Entry] = []
    seen = 0
    # Matches can cluster far down the index (names sharing a prefix): past the cost of a
    # sort, stop walking and sort instead.
    budget = int(sort_cost)
    for steps, key in enumerate(index.keys(keys[0].descending)):
        if key in wanted:
            if seen >= start:
                page.append(entries[key])
                if len(page) >= end - start:
                    return page
            seen += 1
        elif steps > budget:
            every = matched if matched is not None else [entries[k] for k in wanted]
            return _sorted_entries(every, keys)[start:end]
    return page


def _counts(entries: list[Entry], path: tuple[str, ...]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for entry in entries:
        text = text_of(entry.value(path))
        counts[text if text is not None else ""] += 1
    return dict(counts)
