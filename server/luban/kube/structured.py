"""Structured-merge-diff's walks over JSON objects: field sets, comparison, merge, removal.

The schema is reduced to a `Shape`: for a path of field names from the root
(list items skipped) it tells how a list merges (map by keys, set, atomic) and
what a map is (a struct with named fields, a granular map such as labels, or
atomic). Unknown lists are atomic; unknown maps are structs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from luban.kube import fieldsets as fs
from luban.kube.fieldsets import FieldSet, Path, PathElement
from luban.kube.goquote import go_quote

FieldPath = tuple[str, ...]
MapKind = Literal["struct", "map", "atomic"]


class ListStrategyLike(Protocol):
    """What `luban.kube.patchmeta.ListStrategy` provides."""

    @property
    def kind(self) -> str: ...
    @property
    def keys(self) -> tuple[str, ...]: ...


ListStrategyFn = Callable[[FieldPath], ListStrategyLike | None]
MapKindFn = Callable[[FieldPath], MapKind]

# Key fields the built-in OpenAPI schemas default (ports are keyed by port and protocol).
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


class StructureError(ValueError):
    """The object does not fit its list semantics (missing merge keys, duplicates...)."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _all_structs(_: FieldPath) -> MapKind:
    return "struct"


@dataclass(frozen=True)
class Shape:
    """List and map semantics of one resource type."""

    lists: ListStrategyFn
    maps: MapKindFn = _all_structs
    key_defaults: dict[str, Any] = field(default_factory=lambda: dict(KEY_DEFAULTS))

    def list_kind(self, fpath: FieldPath) -> tuple[str, tuple[str, ...]]:
        st = self.lists(fpath)
        if st is None or st.kind not in ("map", "set"):
            return "atomic", ()
        if st.kind == "map" and not st.keys:
            return "atomic", ()
        return st.kind, tuple(st.keys)

    def map_kind(self, fpath: FieldPath) -> MapKind:
        st = self.lists(fpath) if fpath else None
        if st is not None and st.kind == "atomic":
            return "atomic"
        return self.maps(fpath)

    def item_element(self, kind: str, keys: tuple[str, ...], item: Any) -> PathElement:
        """The path element naming one item of an associative list."""
        if kind == "set":
            if isinstance(item, (dict, list)) or item is None:
                raise StructureError(
                    "associative list without keys has an element that is not a scalar"
                )
            return fs.value(item)
        if not isinstance(item, dict):
            raise StructureError("associative list with keys may not have non-map elements")
        pairs = []
        for k in keys:
            if k in item:
                pairs.append((k, item[k]))
            elif k in self.key_defaults:
                pairs.append((k, self.key_defaults[k]))
        if not pairs:
            raise StructureError(
                "associative list with keys has an element that omits all key fields ["
                + " ".join(go_quote(k) for k in keys)
                + "] (and doesn't have default values for any key fields)"
            )
        return fs.key(pairs)


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "list"
    if v is None:
        return "null"
    return "scalar"


# ---------------------------------------------------------------- field sets


def to_field_set(obj: Any, shape: Shape, *, allow_duplicates: bool = True) -> FieldSet:
    """The fields an object sets (structured-merge-diff `ToFieldSet`)."""
    out = FieldSet()
    _tfs(obj, shape, (), (), out, allow_duplicates)
    return out


def _tfs(v: Any, shape: Shape, fpath: FieldPath, path: Path, out: FieldSet, dups: bool) -> None:
    if isinstance(v, dict):
        mk = shape.map_kind(fpath)
        if mk == "atomic":
            out.insert(path)
            return
        for k, child in v.items():
            cpath = (*path, fs.field(k))
            _tfs(child, shape, (*fpath, k), cpath, out, dups)
            if child is None or (isinstance(child, dict) and not child) or mk != "struct":
                out.insert(cpath)
    elif isinstance(v, list):
        kind, keys = shape.list_kind(fpath)
        if kind == "atomic":
            out.insert(path)
            return
        seen: set[PathElement] = set()
        dup: set[PathElement] = set()
        pes = []
        for item in v:
            pe = shape.item_element(kind, keys, item)
            if pe in seen:
                if not dups:
                    raise StructureError(f"duplicate entries for key {fs.element_string(pe)}")
                dup.add(pe)
            seen.add(pe)
            pes.append(pe)
        for pe in dup:
            out.insert((*path, pe))
        for pe, item in zip(pes, v, strict=True):
            if pe in dup:
                continue
            _tfs(item, shape, fpath, (*path, pe), out, dups)
            out.insert((*path, pe))
    else:
        out.insert(path)


def ensure_named_fields(s: FieldSet, shape: Shape, fpath: FieldPath = ()) -> FieldSet:
    """Also make struct fields that only have children members (`EnsureNamedFieldsAreMembers`)."""
    out = FieldSet()
    out.members = set(s.members)
    struct = shape.map_kind(fpath) != "map"
    for pe, child in s.children.items():
        if pe[0] == fs.FIELD:
            if struct:
                out.members.add(pe)
            out.children[pe] = ensure_named_fields(child, shape, (*fpath, pe[1]))
        else:
            out.children[pe] = ensure_named_fields(child, shape, fpath)
    return out


def exclude_prefixes(s: FieldSet, prefixes: Iterable[FieldPath]) -> FieldSet:
    """Drop the given field paths and everything under them (the reset-fields filter)."""
    prefixes = list(prefixes)
    if not prefixes:
        return s
    return s.recursive_difference(FieldSet.of(*(fs.path_of(*p) for p in prefixes if p)))


# ---------------------------------------------------------------- comparison


@dataclass
class Comparison:
    """Paths added, modified and removed going from one object to another."""

    added: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    removed: FieldSet = field(default_factory=FieldSet)

    def filtered(self, prefixes: Iterable[FieldPath]) -> Comparison:
        prefixes = list(prefixes)
        return Comparison(
            exclude_prefixes(self.added, prefixes),
            exclude_prefixes(self.modified, prefixes),
            exclude_prefixes(self.removed, prefixes),
        )

    def same(self) -> bool:
        return self.added.empty() and self.modified.empty() and self.removed.empty()


def compare(old: Any, new: Any, shape: Shape) -> Comparison:
    """Structured-merge-diff `Compare` of two objects (either may be MISSING)."""
    c = Comparison()
    _cmp(old, new, shape, (), (), c)
    return c


def _nonnull_kind(lhs: Any, rhs: Any) -> str:
    for v in (rhs, lhs):
        if v is not MISSING and v is not None:
            return _kind(v)
    return "scalar"


def _is_empty(v: Any) -> bool:
    return v is MISSING or v is None or (isinstance(v, (dict, list)) and not v)


def _leaf(lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    if lhs is MISSING:
        c.added.insert(path)
    elif rhs is MISSING:
        c.removed.insert(path)
    elif not _equal(lhs, rhs):
        c.modified.insert(path)


def _equal(a: Any, b: Any) -> bool:
    if _kind(a) != _kind(b) or isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _cmp(lhs: Any, rhs: Any, shape: Shape, fpath: FieldPath, path: Path, c: Comparison) -> None:
    kind = _nonnull_kind(lhs, rhs)
    lk = _kind(lhs) if lhs is not MISSING else "null"
    if lk not in ("null", kind):
        # The type changed: the old value's fields are gone, the new one's are added.
        _cmp(lhs, MISSING, shape, fpath, path, c)
        _cmp(MISSING, rhs, shape, fpath, path, c)
        node = FieldSet.of(path)
        c.removed = c.removed.difference(node)
        c.added = c.added.difference(node)
        c.modified.insert(path)
        return
    if kind == "scalar":
        _leaf(lhs, rhs, path, c)
        return
    if kind == "map":
        if shape.map_kind(fpath) == "atomic" or (_is_empty(lhs) and _is_empty(rhs)):
            _leaf(lhs, rhs, path, c)
            return
        lm = lhs if isinstance(lhs, dict) else {}
        rm = rhs if isinstance(rhs, dict) else {}
        for k in lm.keys() | rm.keys():
            _cmp(
                lm.get(k, MISSING), rm.get(k, MISSING), shape, (*fpath, k), (*path, fs.field(k)), c
            )
    else:
        lkind, keys = shape.list_kind(fpath)
        if lkind == "atomic" or (_is_empty(lhs) and _is_empty(rhs)):
            _leaf(lhs, rhs, path, c)
            return
        _cmp_lists(
            lhs if isinstance(lhs, list) else [],
            rhs if isinstance(rhs, list) else [],
            shape,
            lkind,
            keys,
            fpath,
            path,
            c,
        )
    if lhs is MISSING:
        c.added.insert(path)
    elif rhs is MISSING:
        c.removed.insert(path)


def _group(
    items: list[Any], shape: Shape, kind: str, keys: tuple[str, ...]
) -> dict[PathElement, list[Any]]:
    groups: dict[PathElement, list[Any]] = {}
    for item in items:
        try:
            pe = shape.item_element(kind, keys, item)
        except StructureError:
            continue
        groups.setdefault(pe, []).append(item)
    return groups


def _cmp_lists(
    lhs: list[Any],
    rhs: list[Any],
    shape: Shape,
    kind: str,
    keys: tuple[str, ...],
    fpath: FieldPath,
    path: Path,
    c: Comparison,
) -> None:
    lg = _group(lhs, shape, kind, keys)
    rg = _group(rhs, shape, kind, keys)
    for pe in list(lg) + [pe for pe in rg if pe not in lg]:
        ll, rl = lg.get(pe, []), rg.get(pe, [])
        ipath = (*path, pe)
        if len(ll) <= 1 and len(rl) <= 1:
            _cmp(ll[0] if ll else MISSING, rl[0] if rl else MISSING, shape, fpath, ipath, c)
        elif len(ll) >= 2 and len(rl) >= 2:
            if len(ll) != len(rl) or not all(_equal(a, b) for a, b in zip(ll, rl, strict=True)):
                c.modified.insert(ipath)
        elif len(ll) >= 2:
            if rl:
                _cmp(MISSING, rl[0], shape, fpath, ipath, c)
            c.removed.insert(ipath)
        else:
            if ll:
                _cmp(ll[0], MISSING, shape, fpath, ipath, c)
            c.added.insert(ipath)


# ---------------------------------------------------------------- merge


def merge(live: Any, config: Any, shape: Shape) -> Any:
    """Structured-merge-diff `Merge`: the applied config merged over the live object."""
    return _merge(live, config, shape, ())


def _merge(lhs: Any, rhs: Any, shape: Shape, fpath: FieldPath) -> Any:
    if rhs is MISSING:
        return copy.deepcopy(lhs)
    replaced = lhs is MISSING or lhs is None or rhs is None or _kind(lhs) != _kind(rhs)
    if replaced and (rhs is not None or lhs is MISSING or _kind(lhs) == "scalar"):
        return copy.deepcopy(rhs)
    kind = _nonnull_kind(lhs, rhs)
    if kind == "map":
        if shape.map_kind(fpath) == "atomic" or (_is_empty(lhs) and _is_empty(rhs)):
            return copy.deepcopy(rhs)
        lm = lhs if isinstance(lhs, dict) else {}
        rm = rhs if isinstance(rhs, dict) else {}
        out = {}
        for k in [*lm, *(k for k in rm if k not in lm)]:
            out[k] = _merge(lm.get(k, MISSING), rm.get(k, MISSING), shape, (*fpath, k))
        return out
    if kind == "list":
        lkind, keys = shape.list_kind(fpath)
        if lkind == "atomic" or (_is_empty(lhs) and _is_empty(rhs)):
            return copy.deepcopy(rhs)
        return _merge_lists(
            lhs if isinstance(lhs, list) else [],
            rhs if isinstance(rhs, list) else [],
            shape,
            lkind,
            keys,
            fpath,
        )
    return copy.deepcopy(rhs)


def _merge_lists(
    lhs: list[Any], rhs: list[Any], shape: Shape, kind: str, keys: tuple[str, ...], fpath: FieldPath
) -> list[Any]:
    rpes = [shape.item_element(kind, keys, item) for item in rhs]
    robs: dict[PathElement, Any] = {}
    for pe, item in zip(rpes, rhs, strict=True):
        if pe in robs:
            raise StructureError(f"duplicate entries for key {fs.element_string(pe)}")
        robs[pe] = item
    lpes: list[PathElement] = []
    lobs: dict[PathElement, Any] = {}
    for i, item in enumerate(lhs):
        try:
            pe = shape.item_element(kind, keys, item)
        except StructureError:
            pe = (9, i)  # an invalid live item stays where it is
        lobs[pe] = MISSING if pe in lobs else item  # a duplicated live item merges as absent
        lpes.append(pe)
    shared = [pe for pe in rpes if pe in lobs]
    nxt = 0  # index of the next shared element in config order
    merged_r: set[PathElement] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                merged_r.add(pe)
                out.append(_merge(lobs[pe], robs[pe], shape, fpath))
                li += 1
                ri += 1
                nxt += 1
                continue
            if pe in robs and nxt < len(shared) and shared[nxt] != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in robs:
                out.append(_merge(lhs[li], MISSING, shape, fpath))
                li += 1
                continue
            if pe in merged_r:
                li += 1
        if ri < len(rpes):
            pe = rpes[ri]
            merged_r.add(pe)
            out.append(_merge(lobs.get(pe, MISSING), robs[pe], shape, fpath))
            ri += 1
            if nxt < len(shared) and shared[nxt] == pe:
                nxt += 1
    return out


# ---------------------------------------------------------------- removal


def remove_items(obj: Any, to_remove: FieldSet, shape: Shape) -> Any:
    """Structured-merge-diff `RemoveItems`: drop member paths, recurse into children.

    A map or list left with nothing becomes null, as upstream does; callers drop nulls.
    """
    return _remove(obj, to_remove, shape, ())


def _remove(v: Any, s: FieldSet, shape: Shape, fpath: FieldPath) -> Any:
    if isinstance(v, dict):
        if not v:
            return None
        if shape.map_kind(fpath) == "atomic":
            return None
        out = {}
        for k, child in v.items():
            pe = fs.field(k)
            if pe in s.members:
                continue
            sub = s.children.get(pe)
            out[k] = _remove(child, sub, shape, (*fpath, k)) if sub is not None else child
        return out or None
    if isinstance(v, list):
        kind, keys = shape.list_kind(fpath)
        if not v or kind == "atomic":
            return None
        items = []
        for item in v:
            try:
                pe = shape.item_element(kind, keys, item)
            except StructureError:
                items.append(item)
                continue
            if pe in s.members:
                continue
            sub = s.children.get(pe)
            items.append(_remove(item, sub, shape, fpath) if sub is not None else item)
        return items or None
    return v


def drop_nulls(v: Any) -> Any:
    """Remove null map values, recursively (typed decoding drops them on the real server)."""
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v
