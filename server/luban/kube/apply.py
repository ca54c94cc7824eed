"""Server-side apply and managedFields bookkeeping, as the Kubernetes API server does them.

Pure functions over JSON objects (dicts). Two entry points:

* :func:`server_side_apply` for ``application/apply-patch+yaml`` PATCH requests;
* :func:`record_update` for every other create, update and patch.

They follow apimachinery's field manager stack (strip metadata, versioned sets, caps on
Update managers, "before-first-apply", kubectl's last-applied migration) on top of the
structured-merge-diff algorithms in :mod:`luban.kube.structured`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from luban.kube import fieldsets as fs
from luban.kube import managedfields as mf
from luban.kube.applyshapes import (
    builtin_map_kind,
    fill_missing,
    is_builtin,
    map_kind_from_schema,
    typed_zero,
)
from luban.kube.fieldsets import FieldSet
from luban.kube.managedfields import APPLY, UPDATE, Managed, ManagerKey, VersionedSet
from luban.kube.structured import (
    FieldPath,
    ListStrategyFn,
    MapKind,
    MapKindFn,
    Shape,
    StructureError,
    compare,
    drop_nulls,
    ensure_named_fields,
    exclude_prefixes,
    merge,
    remove_items,
    to_field_set,
)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FIELD_MANAGER_MAX_LENGTH = 128
BEFORE_FIRST_APPLY = "before-first-apply"
# The manager name `kubectl apply --server-side` uses; it may take over client-side apply's fields.
KUBECTL = "kubectl"

# Fields nobody owns (apimachinery's stripMetaManager).
_STRIPPED = FieldSet.of(
    fs.path_of("apiVersion"),
    fs.path_of("kind"),
    fs.path_of("metadata"),
    *(
        fs.path_of("metadata", n)
        for n in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ),
)
_CURRENT = ManagerKey("current-operation", "")


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class Conflict:
    """One field another manager owns with a different value."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    field: str

    def describe_manager(self) -> str:
        """`"mgr"`, or `"mgr" using apps/v1` for Update managers (plus any subresource)."""
        return ManagerKey(
            self.manager, self.operation, self.api_version, self.subresource
        ).describe()

    def message(self) -> str:
        return f"conflict with {self.describe_manager()}"

    def cause(self) -> dict[str, str]:
        """The Status `details.causes` item the real server sends."""
        return {"reason": "FieldManagerConflict", "message": self.message(), "field": self.field}


class ApplyConflict(Exception):
    """A 409: the apply would change fields other managers own (retry with force)."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        super().__init__(_conflict_message(conflicts))

    @property
    def message(self) -> str:
        return str(self)

    def status(self) -> dict[str, Any]:
        """The Kubernetes Status object of the 409 response."""
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": "Conflict",
            "details": {"causes": [c.cause() for c in self.conflicts]},
            "code": 409,
        }


class ApplyBadRequest(ValueError):
    """A 400: the applied object cannot be applied (managedFields set, broken lists...)."""


def _conflict_message(conflicts: list[Conflict]) -> str:
    if len(conflicts) == 1:
        c = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {c.describe_manager()}: {c.field}"
    by_manager: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for c in conflicts:
        version = c.api_version if c.operation == UPDATE else ""
        ident = ManagerKey(c.manager, c.operation, version, c.subresource).identifier()
        by_manager.setdefault(ident, []).append(c.field)
        names[ident] = c.describe_manager()
    lines = []
    for ident in sorted(by_manager):
        lines.append(f"conflicts with {names[ident]}:")
        lines.extend(f"- {f}" for f in by_manager[ident])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


# ---------------------------------------------------------------- manager names


def default_manager(user_agent: str) -> str:
    """The field manager of a request without `fieldManager`.

    The User-Agent before its first `/`, printable characters only, at most 128 bytes:
    `kubectl-edit/v1.30.0 (linux/amd64) kubernetes/abc` -> `kubectl-edit`.
    """
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/")[0]:
        if not ch.isprintable():
            continue
        n = len(ch.encode("utf-8", "surrogatepass"))
        if size + n > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)


# ---------------------------------------------------------------- helpers


def _shape(
    obj: Mapping[str, Any], strategy: ListStrategyFn, map_kind: MapKindFn | None, builtin: bool
) -> Shape:
    if map_kind is None:
        map_kind = builtin_map_kind(str(obj.get("kind", ""))) if builtin else _deduced_map_kind
    return Shape(strategy, map_kind)


def _deduced_map_kind(path: FieldPath) -> MapKind:
    return builtin_map_kind("")(path) if not path or path[0] == "metadata" else "struct"


def _without_managed_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    # A JSON round trip is a deep copy several times faster than copy.deepcopy.
    out: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return out


def _with_managed_fields(obj: dict[str, Any], managed: Managed) -> dict[str, Any]:
    entries = mf.encode(managed)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        if not entries:
            return obj
        meta = obj["metadata"] = {}
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    return obj


def _decode_or_empty(entries: Any) -> Managed:
    try:
        return mf.decode(entries)
    except ValueError:
        return Managed.empty()


def _managed_fields_of(obj: Mapping[str, Any] | None) -> Any:
    meta = obj.get("metadata") if obj else None
    return meta.get("managedFields") if isinstance(meta, Mapping) else None


def _strip(managed: Managed, key: ManagerKey) -> None:
    vs = managed.sets.get(key)
    if vs is None:
        return
    rest = vs.fields.difference(_STRIPPED)
    if rest.empty():
        del managed.sets[key]
    else:
        vs.fields = rest


def _go_json(v: Any) -> str:
    """Go's json encoding of an unstructured object: sorted keys, compact, HTML-escaped."""
    text = json.dumps(_ints(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _ints(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
        return int(v)
    if isinstance(v, dict):
        return {k: _ints(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_ints(x) for x in v]
    return v


# ---------------------------------------------------------------- the merge.Updater core


class _Conflicts(Exception):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def _update_managers(
    old: Any,
    new: Any,
    shape: Shape,
    managed: Managed,
    workflow: ManagerKey,
    force: bool,
    reset: tuple[FieldPath, ...],
) -> Any:
    """Take changed fields away from every other manager (or report them as conflicts)."""
    cmp = compare(old, new, shape).filtered(reset)
    changed = cmp.modified.union(cmp.added)
    conflicts: dict[ManagerKey, FieldSet] = {}
    for key, vs in managed.sets.items():
        if key == workflow:
            continue
        hit = vs.fields.intersection(changed)
        if not hit.empty():
            conflicts[key] = hit
    if conflicts and not force:
        out: list[Conflict] = []
        for key in sorted(conflicts, key=ManagerKey.identifier):
            vs = managed.sets[key]
            out.extend(
                Conflict(
                    key.manager,
                    UPDATE if not vs.applied else APPLY,
                    vs.api_version,
                    key.subresource,
                    fs.path_string(p),
                )
                for p in conflicts[key]
            )
        raise _Conflicts(out)
    for key in list(managed.sets):
        if key == workflow:
            continue
        vs = managed.sets[key]
        vs.fields = vs.fields.difference(conflicts.get(key, FieldSet())).difference(cmp.removed)
        if vs.fields.empty():
            del managed.sets[key]
    return cmp


def _prune(
    merged: Any, shape: Shape, managed: Managed, applier: ManagerKey, last: VersionedSet | None
) -> Any:
    """Remove what the applier applied last time but not now, unless someone else owns it."""
    if last is None or last.fields.empty():
        return merged
    last_named = ensure_named_fields(last.fields, shape)
    pruned = remove_items(merged, last_named, shape)
    merged_set = ensure_named_fields(to_field_set(merged, shape), shape)
    # Add back what any manager (the applier's new config included) owns.
    owned = FieldSet()
    for vs in managed.sets.values():
        owned = owned.union(vs.fields)
    pruned_set = ensure_named_fields(to_field_set(pruned, shape), shape)
    pruned = remove_items(
        merged, merged_set.difference(pruned_set.union(ensure_named_fields(owned, shape))), shape
    )
    # Add back what was pruned but never the applier's (unowned, or owned by updaters).
    pruned_set = ensure_named_fields(to_field_set(pruned, shape), shape)
    return remove_items(merged, merged_set.difference(pruned_set).intersection(last_named), shape)


def _apply_once(
    live: dict[str, Any],
    applied: dict[str, Any],
    shape: Shape,
    managed: Managed,
    key: ManagerKey,
    api_version: str,
    force: bool,
    reset: tuple[FieldPath, ...],
    now: str,
) -> tuple[dict[str, Any], Managed]:
    managed = managed.copy()
    try:
        merged = merge(live, applied, shape)
        config_set = exclude_prefixes(to_field_set(applied, shape, allow_duplicates=False), reset)
    except StructureError as e:
        raise ApplyBadRequest(str(e)) from None
    last = managed.sets.get(key)
    managed.sets[key] = VersionedSet(config_set, api_version, True)
    merged = _prune(merged, shape, managed, key, last)
    _update_managers(live, merged, shape, managed, key, force, reset)
    result = drop_nulls(merged)
    if result != drop_nulls(live):
        managed.times[key] = now
    _strip(managed, key)
    return result, managed


def _record(
    old: Any,
    new: Any,
    shape: Shape,
    managed: Managed,
    key: ManagerKey,
    reset: tuple[FieldPath, ...],
    now: str,
) -> Managed:
    """apimachinery's Update path: the changed fields become `key`'s."""
    managed = managed.copy()
    cmp = _update_managers(old, new, shape, managed, _CURRENT, True, reset)
    current = cmp.modified.union(cmp.added).difference(_STRIPPED)
    if not current.empty():
        prev = managed.sets.get(key)
        fields = current if prev is None else current.union(prev.fields)
        managed.sets[key] = VersionedSet(fields, key.api_version, False)
        managed.times[key] = now
    mf.cap_update_managers(managed)
    return managed


def _allowed_by_last_applied(live: Mapping[str, Any], shape: Shape, api_version: str) -> FieldSet:
    """Fields client-side apply recorded in last-applied and still hold that value."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str) or not text:
        return FieldSet()
    try:
        last = json.loads(text)
    except ValueError:
        return FieldSet()
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return FieldSet()
    try:
        last_set = to_field_set(last, shape)
        cmp = compare(last, _without_managed_fields(live), shape)
    except StructureError:
        return FieldSet()
    return last_set.difference(cmp.modified).difference(cmp.added).difference(cmp.removed)


def _set_last_applied(obj: dict[str, Any], applied: Mapping[str, Any]) -> None:
    annotations = (obj.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED):
        return
    config = copy.deepcopy(dict(applied))
    meta = config.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(LAST_APPLIED, None)
        if not meta["annotations"]:
            del meta["annotations"]
    annotations[LAST_APPLIED] = _go_json(config) + "\n"


# ---------------------------------------------------------------- public entry points


def server_side_apply(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    manager: str,
    force: bool,
    strategy: ListStrategyFn,
    *,
    map_kind: MapKindFn | None = None,
    subresource: str = "",
    reset_fields: Iterable[FieldPath] = (),
    builtin: bool | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """Apply `applied` for `manager` over `live` (None: create) and return the new object.

    The result carries the updated `metadata.managedFields`. `strategy` gives list semantics
    by field path, `map_kind` which maps are structs/granular/atomic (default: built-in
    tables, or `map_kind_from_schema` for custom resources); `reset_fields` are field paths
    nobody may own through this endpoint (e.g. `("status",)` on a main resource with a status
    subresource). Raises ApplyConflict (409) or ApplyBadRequest (400).
    """
    if not isinstance(applied, Mapping):
        raise ApplyBadRequest("apply patch must be an object")
    api_version, kind = applied.get("apiVersion"), applied.get("kind")
    if not isinstance(api_version, str) or not api_version or not isinstance(kind, str) or not kind:
        raise ApplyBadRequest("apiVersion and kind must be set in an apply patch")
    meta = applied.get("metadata")
    if isinstance(meta, Mapping) and meta.get("managedFields") is not None:
        raise ApplyBadRequest("metadata.managedFields must be nil")
    if builtin is None:
        builtin = is_builtin(api_version)
    shape = _shape(applied, strategy, map_kind, builtin)
    reset = tuple(tuple(p) for p in reset_fields)
    now = now or mf.now_rfc3339()
    key = ManagerKey(manager, APPLY, "", subresource)
    config = copy.deepcopy(dict(applied))

    managed = _decode_or_empty(_managed_fields_of(live))
    if live is None:
        live_body: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    else:
        live_body = _without_managed_fields(live)
        if not managed.sets:
            # Fields set before anyone applied belong to "before-first-apply".
            first = ManagerKey(BEFORE_FIRST_APPLY, UPDATE, api_version, subresource)
            managed = _record(
                typed_zero(live_body, builtin), live_body, shape, managed, first, reset, now
            )

    try:
        result, managed = _apply_once(
            live_body, config, shape, managed, key, api_version, force, reset, now
        )
    except _Conflicts as e:
        if manager != KUBECTL or live is None:
            raise ApplyConflict(e.conflicts) from None
        allowed = _allowed_by_last_applied(live, shape, api_version)
        remaining = [c for c in e.conflicts if not _has_path_string(allowed, c.field)]
        if remaining:
            raise ApplyConflict(remaining) from None
        result, managed = _apply_once(
            live_body, config, shape, managed, key, api_version, True, reset, now
        )

    if manager == KUBECTL:
        _set_last_applied(result, applied)
    return _with_managed_fields(result, managed)


def _has_path_string(s: FieldSet, text: str) -> bool:
    return any(fs.path_string(p) == text for p in s)


def record_update(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    manager: str,
    operation: Literal["Update"],
    strategy: ListStrategyFn,
    *,
    map_kind: MapKindFn | None = None,
    subresource: str = "",
    reset_fields: Iterable[FieldPath] = (),
    builtin: bool | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """Track a create (`old` None), update or non-apply patch: the fields that changed become
    `manager`'s and leave everyone else's. Returns `new` with `metadata.managedFields` set.

    `new.metadata.managedFields` as sent by the client wins when valid and non-empty, `[]`
    clears tracking (and an object without managedFields stays untracked on update); anything
    else falls back to the live object's. Never raises: a failure keeps the old entries.
    """
    assert operation == UPDATE
    api_version = str(new.get("apiVersion", ""))
    if builtin is None:
        builtin = is_builtin(api_version)
    shape = _shape(new, strategy, map_kind, builtin)
    reset = tuple(tuple(p) for p in reset_fields)
    sent = _managed_fields_of(new)
    live_entries = _managed_fields_of(old)

    if subresource:
        managed = _decode_or_empty(live_entries)
    elif mf.is_reset(sent):
        managed = Managed.empty()
    else:
        try:
            managed = mf.decode(sent)
        except ValueError:
            managed = Managed.empty()
        if not managed.sets:
            managed = _decode_or_empty(live_entries)

    new_body = _without_managed_fields(new)
    if not managed.sets and old is not None:
        return new_body  # upstream stops tracking objects whose managedFields were cleared
    # A stored built-in object always has its zero-value structs (a typed Go object would).
    zero = typed_zero(new_body, builtin)
    old_body = zero if old is None else fill_missing(_without_managed_fields(old), zero)
    key = ManagerKey(manager or "unknown", UPDATE, api_version, subresource)
    try:
        managed = _record(old_body, new_body, shape, managed, key, reset, now or mf.now_rfc3339())
    except (StructureError, _Conflicts):
        managed = _decode_or_empty(live_entries)
    return _with_managed_fields(new_body, managed)


__all__ = [
    "BEFORE_FIRST_APPLY",
    "LAST_APPLIED",
    "ApplyBadRequest",
    "ApplyConflict",
    "Conflict",
    "builtin_map_kind",
    "default_manager",
    "is_builtin",
    "map_kind_from_schema",
    "record_update",
    "server_side_apply",
    "typed_zero",
]
