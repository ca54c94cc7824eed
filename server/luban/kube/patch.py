"""The three PATCH bodies of the Kubernetes API: JSON merge, JSON (RFC 6902), strategic merge.

Behaviour follows what the API server runs, not only the RFCs: JSON and merge patches as
gopkg.in/evanphx/json-patch.v4 applies them, strategic merge as
k8s.io/apimachinery ``pkg/util/strategicpatch/patch.go`` does, with HTTP codes as
k8s.io/apiserver ``pkg/endpoints/handlers/patch.go`` maps the errors. Inputs are never mutated.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from luban.kube import patchmeta

JSON = Any

MAX_JSON_PATCH_OPERATIONS = 10000


class PatchError(ValueError):
    """A patch that cannot be applied; ``code`` is the HTTP status the API server answers."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- JSON merge patch (RFC 7386, evanphx flavour) ---


def json_merge_patch(target: JSON, patch: JSON) -> JSON:
    """Apply a JSON merge patch: objects merge recursively, ``null`` deletes, rest replaces.

    A ``null`` patch is refused (400), as evanphx/json-patch does. Nulls inside a value that
    is not merged into an existing object are pruned, except in an array replacing an object.
    """
    if patch is None:
        raise PatchError("Invalid JSON Patch", 400)
    if not isinstance(patch, dict):
        return copy.deepcopy(patch) if isinstance(patch, list) else patch
    if not isinstance(target, dict):
        return _prune_nulls(patch)
    return _merge_docs(target, patch)


def _merge_docs(doc: dict[str, JSON], patch: dict[str, JSON]) -> dict[str, JSON]:
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
            continue
        current = out.get(key)
        if current is None or not isinstance(current, dict):
            out[key] = _prune_nulls(value)
        elif isinstance(value, dict):
            out[key] = _merge_docs(current, value)
        else:
            # evanphx returns a non-object patch value unpruned when the target is an object.
            out[key] = copy.deepcopy(value)
    return out


def _prune_nulls(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


# --- JSON patch (RFC 6902, evanphx v4 flavour) ---


def json_patch(target: JSON, operations: JSON) -> JSON:
    """Apply an RFC 6902 JSON patch as the API server does.

    Differences from a strict RFC reading, kept because kubectl users rely on them:
    ``replace`` of a missing object member adds it, negative array indices count from the end.
    Malformed bodies raise ``PatchError`` with code 400, too many operations 413, failed
    operations 422.
    """
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", 400)
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}",
            413,
        )
    doc = copy.deepcopy(target)
    for op in operations:
        doc = _apply_op(doc, op)
    return doc


def _decode_key(key: str) -> str:
    return key.replace("~1", "/").replace("~0", "~")


def _find(doc: JSON, path: str) -> tuple[JSON, str] | None:
    """The container holding the last segment of ``path`` and that segment, or None."""
    parts = path.split("/")
    if len(parts) < 2:
        return None
    node = doc
    for part in parts[1:-1]:
        try:
            child = _get(node, _decode_key(part))
        except PatchError:
            return None
        if not isinstance(child, dict | list):
            return None
        node = child
    return node, _decode_key(parts[-1])


_ATOI = re.compile(r"[+-]?[0-9]+")


def _index(container: list[JSON], key: str, *, inserting: bool = False) -> int:
    if not _ATOI.fullmatch(key):
        raise PatchError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    idx = int(key)
    size = len(container) + (1 if inserting else 0)
    if idx >= size or idx < -size:
        raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
    return idx + size if idx < 0 else idx


def _get(container: JSON, key: str) -> JSON:
    """The value at ``key`` (None when an object lacks it); raises for bad array indices."""
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, list):
        return container[_index(container, key)]
    return None


def _has(container: JSON, key: str) -> bool:
    if isinstance(container, dict):
        return key in container
    try:
        _index(container, key)
    except PatchError:
        return False
    return True


def _add(container: JSON, key: str, value: JSON) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        container.insert(_index(container, key, inserting=True), value)


def _remove(container: JSON, key: str) -> JSON:
    if isinstance(container, dict):
        if key not in container:
            raise PatchError(f"Unable to remove nonexistent key: {key}: missing value")
        return container.pop(key)
    return container.pop(_index(container, key))


def _string_field(op: Mapping[str, JSON], name: str, kind: str) -> str:
    value = op.get(name)
    if value is None:
        raise PatchError(f"{kind} operation failed to decode {name}: missing value")
    if not isinstance(value, str):
        raise PatchError(f"json: cannot unmarshal {_go_type(value)} into Go value of type string")
    return value


def _go_type(value: JSON) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "string"


def _apply_op(doc: JSON, op: Mapping[str, JSON]) -> JSON:
    kind = op.get("op")
    if kind not in ("add", "remove", "replace", "move", "copy", "test"):
        shown = kind if isinstance(kind, str) else "unknown"
        raise PatchError(f"Unexpected kind: {shown}")
    if kind in ("move", "copy"):
        source = _string_field(op, "from", kind)
        found = _find(doc, source)
        if found is None:
            raise PatchError(
                f"{kind} operation does not apply: doc is missing from path: {source}: "
                "missing value"
            )
        container, key = found
        try:
            if kind == "move":
                value = _remove(container, key)
            else:
                value = copy.deepcopy(_get(container, key))
        except PatchError as e:
            where = f"path: '{key}'" if kind == "move" else f"from: '{source}'"
            raise PatchError(f"error in {kind} for {where}: {e}") from None
        path = _string_field(op, "path", kind)
        target = _find(doc, path)
        if target is None:
            raise PatchError(
                f"{kind} operation does not apply: doc is missing destination path: {path}: "
                "missing value"
            )
        try:
            _add(target[0], target[1], value)
        except PatchError as e:
            if kind == "copy":
                raise PatchError(f"error while adding value during copy: {e}") from None
            raise PatchError(f"error in {kind} for path: '{path}': {e}") from None
        return doc
    path = _string_field(op, "path", kind)
    found = _find(doc, path)
    if found is None:
        where = "is missing path" if kind == "test" else "doc is missing path"
        quoted = f'"{path}"' if kind in ("add", "remove") else path
        raise PatchError(f"{kind} operation does not apply: {where}: {quoted}: missing value")
    container, key = found
    value = copy.deepcopy(op.get("value"))
    try:
        if kind == "add":
            _add(container, key, value)
        elif kind == "remove":
            _remove(container, key)
        elif kind == "replace":
            if isinstance(container, list):
                if not _has(container, key):
                    raise PatchError(
                        f"replace operation does not apply: doc is missing key: {path}: "
                        "missing value"
                    )
                container[_index(container, key)] = value
            else:
                container[key] = value
        elif not _test(container, key, op):
            raise PatchError(f"testing value {path} failed: test failed")
    except PatchError as e:
        if e.message.startswith(("testing value", "replace operation")):
            raise
        raise PatchError(f"error in {kind} for path: '{path}': {e}") from None
    return doc


def _test(container: JSON, key: str, op: Mapping[str, JSON]) -> bool:
    actual = _get(container, key)
    if actual is None and not _has(container, key):
        return "value" in op and op["value"] is None
    return "value" in op and _json_equal(actual, op["value"])


def _json_equal(a: JSON, b: JSON) -> bool:
    # Type-strict: JSON true is not 1, 1 is not 1.0 (evanphx compares number text).
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# --- strategic merge patch ---

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList"
_SET_ORDER = "$setElementOrder"


def supports_strategic_merge(api_version: str, kind: str) -> bool:
    """Whether strategic merge applies; the API server answers 415 for custom resources."""
    return patchmeta.known_kind(api_version, kind)


def strategic_merge_patch(
    target: Mapping[str, JSON], patch: Mapping[str, JSON], api_version: str, kind: str
) -> dict[str, JSON]:
    """Apply a strategic merge patch to an object of a built-in type.

    Raises ``PatchError`` with 415 for unknown kinds, 400 for malformed directives, 422 for
    lists of lists and 500 for the errors the API server does not classify (missing merge keys).
    """
    if not supports_strategic_merge(api_version, kind):
        raise PatchError("strategic merge patch format is not supported", 415)
    if not isinstance(patch, Mapping):
        raise PatchError("invalid JSON document", 400)
    merger = _StrategicMerger(api_version, kind)
    return merger.merge_map(copy.deepcopy(dict(target)), copy.deepcopy(dict(patch)), ())


class _StrategicMerger:
    def __init__(self, api_version: str, kind: str) -> None:
        self.api_version = api_version
        self.kind = kind

    def list_meta(self, path: tuple[str, ...]) -> patchmeta.ListStrategy | None:
        return patchmeta.strategic_list_strategy(self.api_version, self.kind, path)

    def merge_key(self, path: tuple[str, ...]) -> str:
        meta = self.list_meta(path)
        return meta.keys[0] if meta and meta.kind == "map" and meta.keys else ""

    def merges(self, path: tuple[str, ...]) -> bool:
        meta = self.list_meta(path)
        return meta is not None and meta.kind != "atomic"

    def merge_map(
        self, original: dict[str, JSON], patch: dict[str, JSON], path: tuple[str, ...]
    ) -> dict[str, JSON]:
        if _DIRECTIVE in patch:
            directive = patch.pop(_DIRECTIVE)
            if directive == "replace":
                cleaned = _strip_directives(patch)
                return cleaned if isinstance(cleaned, dict) else {}
            if directive == "delete":
                return {}
            raise PatchError(f"unknown patch type: {directive} in map: {_go_map(patch)}", 500)
        self.apply_retain_keys(original, patch)
        self.apply_element_orders(original, patch, path)
        for raw_key, patch_value in patch.items():
            key, delete_list = raw_key, False
            if raw_key.startswith(_DELETE_PRIMITIVE):
                key, delete_list = _directive_target(raw_key, _DELETE_PRIMITIVE), True
            child = (*path, key)
            if patch_value is None:
                original.pop(key, None)
                continue
            if key not in original or type(original[key]) is not type(patch_value):
                if not delete_list:
                    cleaned = _strip_directives(_prune_nulls(patch_value))
                    if cleaned is _DROP:
                        original.pop(key, None)
                    else:
                        original[key] = cleaned
                continue
            current = original[key]
            if isinstance(current, dict):
                if patchmeta.replaces_map(self.api_version, self.kind, child):
                    original[key] = patch_value
                else:
                    original[key] = self.merge_map(current, patch_value, child)
            elif isinstance(current, list):
                if delete_list or self.merges(child):
                    original[key] = self.merge_list(
                        current, patch_value, child, delete_list=delete_list
                    )
                else:
                    original[key] = _strip_directives(patch_value)
            else:
                cleaned = _strip_directives(patch_value)
                if cleaned is _DROP:
                    original.pop(key, None)
                else:
                    original[key] = cleaned
        return original

    def apply_retain_keys(self, original: dict[str, JSON], patch: dict[str, JSON]) -> None:
        if _RETAIN_KEYS not in patch:
            return
        retain = patch.pop(_RETAIN_KEYS)
        if not isinstance(retain, list):
            raise PatchError("invalid patch format of retainKeys", 400)
        keep = {k for k in retain if isinstance(k, str)}
        for k, v in patch.items():
            if v is None or k.startswith((_DELETE_PRIMITIVE, _SET_ORDER)):
                continue
            if k not in keep:
                raise PatchError("invalid patch format of retainKeys", 400)
        for k in [k for k in original if k not in keep]:
            del original[k]

    def apply_element_orders(
        self, original: dict[str, JSON], patch: dict[str, JSON], path: tuple[str, ...]
    ) -> None:
        for raw_key in [k for k in patch if k.startswith(_SET_ORDER)]:
            order = patch.pop(raw_key)
            if not isinstance(order, list):
                raise PatchError(
                    f"expected a []interface {{}}, but received a {_go_kind(order)}", 500
                )
            key = _directive_target(raw_key, _SET_ORDER)
            child = (*path, key)
            merge_key = self.merge_key(child)
            current = original.get(key)
            patch_list = patch.get(key)
            if key in original and not isinstance(current, list):
                raise PatchError(
                    f"expected a []interface {{}}, but received a {_go_kind(current)}", 500
                )
            if key in patch and not isinstance(patch_list, list):
                raise PatchError(
                    f"expected a []interface {{}}, but received a {_go_kind(patch_list)}", 500
                )
            _validate_order(patch_list or [], order, merge_key)
            if key in original and key in patch:
                assert isinstance(current, list)
                assert isinstance(patch_list, list)
                if self.merges(child):
                    merged = self.merge_list(current, patch_list, child, delete_list=False)
                else:
                    merged = _strip_directives(patch_list)
            elif key in original:
                merged = list(current) if isinstance(current, list) else []
            elif key in patch:
                merged = _strip_directives(patch_list)
            else:
                continue
            _element_kind(current or [], patch_list or [])
            in_order, server_only = _partition(merged, order, merge_key)
            original[key] = _normalize_order(in_order, server_only, order, current or [], merge_key)
            patch.pop(key, None)

    def merge_list(
        self,
        original: list[JSON],
        patch: list[JSON],
        path: tuple[str, ...],
        *,
        delete_list: bool,
    ) -> list[JSON]:
        if not original and not patch:
            return original
        is_map = _element_kind(original, patch) == "map"
        merge_key = self.merge_key(path)
        if not is_map:
            if delete_list:
                return [v for v in original if not any(_same(v, d) for d in patch)]
            merged = _dedupe([*original, *patch])
        else:
            if not merge_key:
                raise PatchError(f"cannot merge lists without merge key for {'.'.join(path)}", 500)
            original, patch = _special_elements(original, patch, merge_key)
            merged = list(original)
            for item in patch:
                if merge_key not in item:
                    raise PatchError(_no_merge_key(item, merge_key), 500)
                idx = _find_by_key(merged, merge_key, item[merge_key])
                if idx is None:
                    merged.append(_strip_directives(item))
                else:
                    merged[idx] = self.merge_map(merged[idx], item, path)
        in_patch, server_only = _partition(merged, patch, merge_key)
        return _normalize_order(in_patch, server_only, patch, original, merge_key)


class _Drop:
    """Marker for a value that is itself a directive and so is dropped."""


_DROP: Any = _Drop()


def _strip_directives(value: JSON) -> JSON:
    """removeDirectives: drop maps holding ``$patch`` and ``$``-directive keys of new values."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return _DROP
        out: dict[str, JSON] = {}
        for k, v in value.items():
            if k == _RETAIN_KEYS or k.startswith((_SET_ORDER, _DELETE_PRIMITIVE)):
                continue
            cleaned = _strip_directives(v)
            if cleaned is not _DROP:
                out[k] = cleaned
        return out
    if isinstance(value, list):
        return [c for c in (_strip_directives(v) for v in value) if c is not _DROP]
    return value


def _directive_target(raw_key: str, prefix: str) -> str:
    head, sep, rest = raw_key.partition("/")
    if not sep or head != prefix:
        which = "primitive list" if prefix == _DELETE_PRIMITIVE else "setElementOrder list"
        raise PatchError(f"invalid patch format of {which}", 400)
    return rest


def _go_kind(value: JSON) -> str:
    if value is None:
        return "nil"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return {bool: "bool", str: "string", int: "int64", float: "float64"}.get(type(value), "?")


def _go_map(value: Mapping[str, JSON]) -> str:
    return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(value.items())) + "]"


def _no_merge_key(item: JSON, merge_key: str) -> str:
    shown = _go_map(item) if isinstance(item, dict) else str(item)
    return f"map: {shown} does not contain declared merge key: {merge_key}"


def _same(a: JSON, b: JSON) -> bool:
    return type(a) is type(b) and bool(a == b)


def _element_kind(*lists: Sequence[JSON]) -> str:
    """'map' or 'scalar' for the items of all lists; mixed kinds or nested lists are errors."""
    seen: type | None = None
    for items in lists:
        for v in items:
            t = type(v)
            if seen is None:
                if t is list:
                    raise PatchError("lists of lists are not supported", 422)
                seen = t
            elif t is not seen:
                raise PatchError("list element types are not identical", 500)
    if seen is None:
        raise PatchError("no elements in any of the given slices", 500)
    return "map" if seen is dict else "scalar"


def _dedupe(items: list[JSON]) -> list[JSON]:
    out: list[JSON] = []
    for v in items:
        if not any(_same(v, o) for o in out):
            out.append(v)
    return out


def _find_by_key(items: list[JSON], key: str, value: JSON) -> int | None:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchError(f"value for key {i} is not a map", 500)
        if key in item and _same(item[key], value):
            return i
    return None


def _special_elements(
    original: list[JSON], patch: list[JSON], merge_key: str
) -> tuple[list[JSON], list[JSON]]:
    """Apply ``$patch: delete`` and ``$patch: replace`` items of a merging list."""
    plain: list[JSON] = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise PatchError(_no_merge_key(item, merge_key), 500)
            if _find_by_key(original, merge_key, item[merge_key]) is not None:
                original = [
                    o
                    for o in original
                    if not (merge_key in o and _same(o[merge_key], item[merge_key]))
                ]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch", 500)
        else:
            raise PatchError(f"unknown patch type: {directive} in map: {_go_map(item)}", 500)
    if replace:
        return [_strip_directives(p) for p in plain], []
    return original, plain


def _key_of(item: JSON, merge_key: str) -> JSON:
    return item.get(merge_key) if merge_key and isinstance(item, dict) else item


def _position(order: Sequence[JSON], item: JSON, merge_key: str) -> int:
    wanted = _key_of(item, merge_key)
    for i, o in enumerate(order):
        if _same(_key_of(o, merge_key), wanted):
            return i
    return -1


def _partition(
    merged: list[JSON], by: Sequence[JSON], merge_key: str
) -> tuple[list[JSON], list[JSON]]:
    if merge_key:
        for item in merged:
            if not isinstance(item, dict) or merge_key not in item:
                raise PatchError(_no_merge_key(item, merge_key), 500)
    inside = [m for m in merged if _position(by, m, merge_key) >= 0]
    outside = [m for m in merged if _position(by, m, merge_key) < 0]
    return inside, outside


def _normalize_order(
    patch_items: list[JSON],
    server_only: list[JSON],
    patch_order: Sequence[JSON],
    server_order: Sequence[JSON],
    merge_key: str,
) -> list[JSON]:
    """Order patch items by the patch, server-only items by the live list, then interleave.

    Mirrors normalizeElementOrder/mergeSortedSlice in strategicpatch/patch.go: a server-only
    item goes before a patch item only when both are in the live list and it came first
    there, so items new to the list land before the remaining server-only ones.
    """
    if merge_key:
        for item in [*patch_order, *server_order]:
            if isinstance(item, dict) and merge_key not in item and _DIRECTIVE not in item:
                raise PatchError(_no_merge_key(item, merge_key), 500)
    patch_items = sorted(patch_items, key=lambda x: _position(patch_order, x, merge_key))
    server_only = sorted(server_only, key=lambda x: _position(server_order, x, merge_key))
    out: list[JSON] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if j >= len(patch_items):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(patch_items[j])
            j += 1
        else:
            li = _position(server_order, server_only[i], merge_key)
            ri = _position(server_order, patch_items[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patch_items[j])
                j += 1
    return out


def _validate_order(patch_list: list[JSON], order: list[JSON], merge_key: str) -> None:
    """Items of the patch list must appear in ``$setElementOrder`` in the same order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        items = [
            p for p in patch_list if not (isinstance(p, dict) and p.get(_DIRECTIVE) == "delete")
        ]
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        if isinstance(items[pi], dict) and _DIRECTIVE in items[pi]:
            pi += 1
            continue
        left, right = items[pi], order[oi]
        if merge_key:
            for side in (left, right):
                if not isinstance(side, dict) or merge_key not in side:
                    raise PatchError(_no_merge_key(side, merge_key), 500)
            equal = _same(left[merge_key], right[merge_key])
        else:
            equal = _same(left, right)
        if equal:
            pi += 1
        oi += 1
    if pi < len(items):
        raise PatchError(
            f"The order in patch list:\n{patch_list}\n doesn't match {_SET_ORDER} list:\n{order}\n",
            500,
        )
