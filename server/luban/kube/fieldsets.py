"""Field sets as structured-merge-diff knows them, and their `FieldsV1` JSON form.

A path element is a tuple `(rank, data)` so that plain tuple ordering is the
order structured-merge-diff sorts and serializes in: field names (`f:`) before
list-map keys (`k:`) before set values (`v:`) before indexes (`i:`).
Values inside keys and set items are "frozen" into tuples that sort like
structured-merge-diff's `value.Compare` (numbers < strings < bools < lists <
maps < null) and can be thawed back for serialization.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from luban.kube.goquote import go_quote

FIELD, KEY, VALUE, INDEX = 0, 1, 2, 3

PathElement = tuple[int, Any]
Path = tuple[PathElement, ...]


def field(name: str) -> PathElement:
    """The path element naming a map/struct field."""
    return (FIELD, name)


def key(fields: Iterable[tuple[str, Any]]) -> PathElement:
    """The path element of a list-map item, from its (key field, value) pairs."""
    return (KEY, tuple(sorted(((n, freeze(v)) for n, v in fields), key=lambda p: p[0])))


def value(v: Any) -> PathElement:
    """The path element of a set item (a scalar list member)."""
    return (VALUE, freeze(v))


def index(i: int) -> PathElement:
    """The path element of an item addressed by position."""
    return (INDEX, i)


def freeze(v: Any) -> tuple[Any, ...]:
    """A hashable, ordered stand-in for a JSON value."""
    if v is None:
        return (5, 0)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, list):
        return (3, tuple(freeze(x) for x in v))
    if isinstance(v, dict):
        return (4, tuple(sorted((str(k), freeze(x)) for k, x in v.items())))
    raise TypeError(f"not a JSON value: {type(v).__name__}")


def thaw(f: tuple[Any, ...]) -> Any:
    """The JSON value a frozen value stands for."""
    rank, data = f
    if rank == 5:
        return None
    if rank == 3:
        return [thaw(x) for x in data]
    if rank == 4:
        return {k: thaw(x) for k, x in data}
    return data


class FieldSet:
    """A set of paths, stored as a trie: `members` end here, `children` go deeper."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, FieldSet] = {}

    @classmethod
    def of(cls, *paths: Path) -> FieldSet:
        """A set holding the given paths."""
        s = cls()
        for p in paths:
            s.insert(p)
        return s

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self]})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.members == other.members and self.children == other.children

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Iterator[Path]:
        """Paths in structured-merge-diff's order: members, then children, depth first."""
        yield from self._iter(())

    def _iter(self, prefix: Path) -> Iterator[Path]:
        for pe in sorted(self.members):
            yield (*prefix, pe)
        for pe in sorted(self.children):
            yield from self.children[pe]._iter((*prefix, pe))

    def empty(self) -> bool:
        """True if no path is in the set (children are never kept empty)."""
        return not self.members and not self.children

    def copy(self) -> FieldSet:
        s = FieldSet()
        s.members = set(self.members)
        s.children = {pe: c.copy() for pe, c in self.children.items()}
        return s

    def insert(self, path: Path) -> None:
        """Add one path; the empty path is never a member."""
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = FieldSet()
            node = child
        node.members.add(path[-1])

    def has(self, path: Path) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            assert node is not None
            node = node.children.get(pe)
            if node is None:
                return False
        assert node is not None
        return path[-1] in node.members

    def with_prefix(self, pe: PathElement) -> FieldSet:
        """The paths under `pe`, with `pe` stripped (an empty set if none)."""
        return self.children.get(pe) or FieldSet()

    def union(self, other: FieldSet) -> FieldSet:
        s = FieldSet()
        s.members = self.members | other.members
        for pe in self.children.keys() | other.children.keys():
            a, b = self.children.get(pe), other.children.get(pe)
            s.children[pe] = a.union(b) if a is not None and b is not None else (a or b).copy()  # type: ignore[union-attr]
        return s

    def intersection(self, other: FieldSet) -> FieldSet:
        s = FieldSet()
        s.members = self.members & other.members
        for pe in self.children.keys() & other.children.keys():
            c = self.children[pe].intersection(other.children[pe])
            if not c.empty():
                s.children[pe] = c
        return s

    def difference(self, other: FieldSet) -> FieldSet:
        """Paths of self not in other; a member of other does not remove its subtree."""
        s = FieldSet()
        s.members = self.members - other.members
        for pe, c in self.children.items():
            o = other.children.get(pe)
            d = c.copy() if o is None else c.difference(o)
            if not d.empty():
                s.children[pe] = d
        return s

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like difference, but a member of other also removes everything under it."""
        s = FieldSet()
        s.members = self.members - other.members
        for pe, c in self.children.items():
            if pe in other.members:
                continue
            o = other.children.get(pe)
            d = c.copy() if o is None else c.recursive_difference(o)
            if not d.empty():
                s.children[pe] = d
        return s

    def to_fields_v1(self) -> dict[str, Any]:
        """The `FieldsV1` JSON object, keys in the order the real server writes them."""
        return self._emit(include_self=False)

    def _emit(self, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if include_self and not self.empty():
            out["."] = {}
        for pe in sorted(self.members | self.children.keys()):
            child = self.children.get(pe)
            if child is None:
                out[serialize_element(pe)] = {}
            else:
                out[serialize_element(pe)] = child._emit(include_self=pe in self.members)
        return out

    @classmethod
    def from_fields_v1(cls, data: Any) -> FieldSet:
        """Parse a `FieldsV1` object; raises ValueError if it is malformed."""
        if not isinstance(data, dict):
            raise ValueError("FieldsV1 must be a JSON object")
        children, _ = _read(data)
        return children or cls()


def _read(data: dict[str, Any]) -> tuple[FieldSet | None, bool]:
    children: FieldSet | None = None
    is_member = False
    for k, sub in data.items():
        if k == ".":
            is_member = True
            continue
        if not isinstance(sub, dict):
            raise ValueError(f"FieldsV1 entry {k!r} must be a JSON object")
        pe = deserialize_element(k)
        if pe is None:  # an element type from a future version: dropped, like upstream
            continue
        grand, child_member = _read(sub)
        if child_member or grand is not None:
            if children is None:
                children = FieldSet()
            if child_member:
                children.members.add(pe)
            if grand is not None:
                children.children[pe] = grand
    if children is None:
        is_member = True
    return children, is_member


def _go_json(v: Any) -> str:
    """Compact JSON as Go's encoder writes it (HTML-escaped, integral floats bare)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        v = int(v)
    text = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def serialize_element(pe: PathElement) -> str:
    """`f:name`, `k:{"name":"x"}`, `v:"x"` or `i:3`."""
    rank, data = pe
    if rank == FIELD:
        return "f:" + str(data)
    if rank == KEY:
        return "k:{" + ",".join(_go_json(n) + ":" + _go_json(thaw(v)) for n, v in data) + "}"
    if rank == VALUE:
        return "v:" + _go_json(thaw(data))
    return "i:" + str(data)


def deserialize_element(s: str) -> PathElement | None:
    """Parse one FieldsV1 key; None for an unknown element type; ValueError if malformed."""
    if len(s) < 2 or s[1] != ":":
        raise ValueError(f"invalid FieldsV1 key {s!r}")
    kind, rest = s[0], s[2:]
    try:
        if kind == "f":
            return field(rest)
        if kind == "v":
            return value(json.loads(rest))
        if kind == "k":
            obj = json.loads(rest)
            if not isinstance(obj, dict):
                raise ValueError(f"invalid FieldsV1 key {s!r}")
            return key(obj.items())
        if kind == "i":
            return index(int(rest))
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"invalid FieldsV1 key {s!r}: {e}") from None
    return None


def _go_value_string(v: Any) -> str:
    """structured-merge-diff's `value.ToString`."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e21 else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, list):
        return "[" + ",".join(_go_value_string(x) for x in v) + "]"
    if isinstance(v, dict):
        return "".join(f"{k}={_go_value_string(x)}" for k, x in v.items())
    return "{{undefined}}"


def element_string(pe: PathElement) -> str:
    """`.name`, `[name="x"]`, `[="x"]` or `[3]`, as conflict messages print them."""
    rank, data = pe
    if rank == FIELD:
        return "." + str(data)
    if rank == KEY:
        return "[" + ",".join(f"{n}={_go_value_string(thaw(v))}" for n, v in data) + "]"
    if rank == VALUE:
        return f"[={_go_value_string(thaw(data))}]"
    return f"[{data}]"


def path_string(path: Path) -> str:
    """A path as the real server prints it, e.g. `.spec.containers[name="a"].image`."""
    return "".join(element_string(pe) for pe in path)


def path_of(*names: str) -> Path:
    """A path of field names only."""
    return tuple(field(n) for n in names)
